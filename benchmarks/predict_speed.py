"""`ledgerlab predict` throughput: our classifier-only inference (domain/learning/inference.py,
the function the command runs) against the same classifier in eager PyTorch, on the
embedded 10k set. Prints JSON lines; nothing is asserted (figures: docs/benchmarks.md).

Both classify all 10,000 images, preprocessing included (uint8 -> float32 / 255), in
batches of 500 (ours: the evaluation batch, which keeps results bitwise those of the
project's own predictions; the peer: the same batches under torch.inference_mode).
The weights are the same arrays (a freshly initialised default classifier, 784-256-128-10).
Ours and the peer run in alternation (--rounds), so a busy neighbour slows both alike.

    .venv/bin/python benchmarks/predict_speed.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

DATA = [ROOT / "resources" / "mnist10k.npz", Path("/work/shared/data/mnist10k.npz")]
BATCH = 500


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def embedded_images() -> np.ndarray:
    path = next(p for p in DATA if p.exists())
    with np.load(path) as data:
        return data["images"]


def default_weights(input_size: int) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
    import jax

    from domain.learning.config import TrainingConfig
    from domain.learning.inference import classifier_weights
    from domain.learning.step import initial_state

    config = TrainingConfig()
    _, state = initial_state(config, input_size, 10, jax.random.PRNGKey(0))
    return classifier_weights(state.params), tuple(config.classifier_sizes)


def ours(weights, images, hidden) -> np.ndarray:
    from domain.learning.inference import predict

    return predict(weights, images, hidden, 10)


def torch_peer(weights, hidden):
    """The same classifier the plain way: nn.Linear layers, ReLU, softmax, eager."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    for i in range(len(hidden) + 1):
        name = f"hidden.{i}" if i < len(hidden) else "logits"
        kernel = torch.from_numpy(np.array(weights[f"{name}.kernel"]))
        linear = nn.Linear(kernel.shape[0], kernel.shape[1])
        with torch.no_grad():
            linear.weight.copy_(kernel.T)
            linear.bias.copy_(torch.from_numpy(np.array(weights[f"{name}.bias"])))
        layers += [linear, nn.ReLU()] if i < len(hidden) else [linear]
    model = nn.Sequential(*layers).eval()

    def classify(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
        with torch.inference_mode():
            parts = [torch.softmax(model(x[i : i + BATCH]), dim=1) for i in range(0, len(x), BATCH)]
        return torch.cat(parts).numpy()

    return classify


def timed(work) -> tuple[float, object]:
    started = time.perf_counter()
    out = work()
    return time.perf_counter() - started, out


def side(which: str, weights_file: str, count: int, repeats: int) -> dict:
    """One side in a process of its own (so neither's thread pool slows the other): a
    first call, then ``repeats`` timed calls on ``count`` images."""
    images = embedded_images()[:count]
    with np.load(weights_file) as stored:
        weights = {name: stored[name] for name in stored.files}
    hidden = tuple(int(weights[f"hidden.{i}.bias"].shape[0]) for i in range(len(weights) // 2 - 1))
    work = (lambda: ours(weights, images, hidden)) if which == "ours" else torch_peer(weights, hidden)
    run = work if which == "ours" else (lambda: work(images))
    first, out = timed(run)
    seconds = [timed(run)[0] for _ in range(repeats)]
    np.save(weights_file + f".{which}.npy", np.asarray(out))
    return {"first": first, "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 images, 2 rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--side", choices=("ours", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(args.side, args.weights, args.count, 3)))
        return 0
    count, rounds = (1_000, 2) if args.quick else (len(embedded_images()), args.rounds)
    weights, _ = default_weights(784)
    mine: list[float] = []
    theirs: list[float] = []
    firsts: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        weights_file = os.path.join(folder, "weights.npz")
        np.savez(weights_file, **weights)  # type: ignore[arg-type]
        for _ in range(rounds):
            for which, into in (("ours", mine), ("peer", theirs)):
                command = [sys.executable, __file__, "--side", which, "--weights", weights_file]
                done = subprocess.run(
                    [*command, "--count", str(count)], capture_output=True, text=True, check=True
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
                into.extend(result["seconds"])
                if which == "ours":
                    firsts.append(result["first"])
        a, b = np.load(weights_file + ".ours.npy"), np.load(weights_file + ".peer.npy")
    emit({"what": "agreement", "max_abs_difference": float(np.abs(a - b).max())})
    ours_rate, peer_rate = count / statistics.median(mine), count / statistics.median(theirs)
    emit(
        {
            "what": "predict throughput",
            "images": count,
            "ours_images_per_s": round(ours_rate),
            "ours_best_images_per_s": round(count / min(mine)),
            "ours_first_call_s": round(statistics.median(firsts), 3),
            "peer_images_per_s": round(peer_rate),
            "peer_best_images_per_s": round(count / min(theirs)),
            "ratio_median": round(ours_rate / peer_rate, 2),
            "ratio_best": round(min(theirs) / min(mine), 2),
            "rounds": rounds,
            "timed_calls_per_side": len(mine),
            "load": round(os.getloadavg()[0], 2),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
