"""Training speed of domain.learning against a plain PyTorch peer, on this machine.

Prints JSON lines: the float32 matmul limit (numpy 4096^2), seconds per epoch of
ours and of an eager PyTorch implementation of the same model and loss, both on
9,000 samples of the embedded set with 100 labels and batches of 128 labeled +
128 unlabeled, first-epoch times, the cold/warm persistent compilation cache,
and the ratios. Ours and the peer run in alternation (--rounds), so a busy neighbour
slows both alike. Nothing is asserted: the figures go to docs/benchmarks.md.

    .venv/bin/python benchmarks/train_speed.py [--quick] [--epochs N] [--rounds N] [--skip-cache]
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
from _report import simulated_annotator  # noqa: E402

DATA = [ROOT / "resources" / "mnist10k.npz", Path("/work/shared/data/mnist10k.npz")]
TRAINING_SAMPLES = 9_000
LABELS_PER_CLASS = 10


def speed_config(**changes):
    """The default config without shift augmentation, which the peer does not have."""
    from domain.learning.config import TrainingConfig

    return TrainingConfig(**{"augment_shift": 0, **changes})


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def embedded_set() -> tuple[np.ndarray, np.ndarray]:
    path = next(p for p in DATA if p.exists())
    with np.load(path) as data:
        return data["images"][:TRAINING_SAMPLES], data["labels"][:TRAINING_SAMPLES]


def matmul_gflops(size: int = 4096, repeats: int = 3) -> float:
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run_ours(epochs: int, **changes) -> dict:
    from domain.learning.training import TrainingJob, train

    images, truth = embedded_set()
    config = speed_config(epochs=epochs, **changes)
    started = time.perf_counter()
    seconds, first_wall = [], None
    for result in train(TrainingJob(images, simulated_annotator(truth, LABELS_PER_CLASS, 0), config)):
        seconds.append(result.metrics["seconds"])
        if first_wall is None:
            first_wall = time.perf_counter() - started
    return {"seconds": seconds, "first_epoch_wall": first_wall}


def torch_peer_epochs(
    images: np.ndarray, labels: np.ndarray, epochs: int, flush_denormal: bool = False, **changes
) -> dict:
    """The same M2 model and loss written the plain way in eager PyTorch.

    Same sizes, loss weights, Adam and batch composition as `speed_config()`; the
    unlabeled term concatenates x with each of the ten one-hot classes, as a
    straightforward implementation does.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    config = speed_config(**changes)
    # XLA flushes subnormal floats to zero; eager PyTorch does not unless asked, and
    # as weights and gradients shrink its epochs can slow down several times.
    torch.set_flush_denormal(flush_denormal)
    torch.manual_seed(0)
    classes, latent, (h1, h2) = 10, config.latent_size, config.hidden_sizes
    c1, c2 = config.classifier_sizes
    x_all = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    size = x_all.shape[1]
    classifier = nn.Sequential(
        nn.Linear(size, c1), nn.ReLU(), nn.Linear(c1, c2), nn.ReLU(), nn.Linear(c2, classes)
    )
    encoder = nn.Sequential(
        nn.Linear(size + classes, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, 2 * latent)
    )
    decoder = nn.Sequential(
        nn.Linear(latent + classes, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(), nn.Linear(h1, size)
    )
    parameters = [*classifier.parameters(), *encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate)
    eye = torch.eye(classes)
    labeled_rows = torch.from_numpy(np.flatnonzero(labels >= 0))
    y_all = torch.from_numpy(np.maximum(labels, 0))
    log_classes = float(np.log(classes))

    def neg_elbo(x, y_onehot):
        mu, log_var = encoder(torch.cat([x, y_onehot], 1)).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        logits = decoder(torch.cat([z, y_onehot], 1))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = 0.5 * (mu * mu + log_var.exp() - 1.0 - log_var).sum(1)
        return config.reconstruction_weight * rec + config.kl_weight * kl + log_classes

    batch, steps = config.batch_size, len(x_all) // config.batch_size
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        order = torch.randperm(len(x_all))
        for step in range(steps):
            x_u = x_all[order[step * batch : (step + 1) * batch]]
            rows = labeled_rows[torch.randint(len(labeled_rows), (config.labeled_batch_size,))]
            x_l, y_l = x_all[rows], y_all[rows]
            loss_l = neg_elbo(x_l, eye[y_l]).mean() + config.classifier_weight * F.cross_entropy(
                classifier(x_l), y_l
            )
            log_q = F.log_softmax(classifier(x_u), 1)
            q = log_q.exp()
            every = neg_elbo(x_u.repeat(classes, 1), eye.repeat_interleave(len(x_u), 0))
            neg_entropy = (q * log_q).sum(1)
            loss_u = (
                (q.t() * every.view(classes, -1)).sum(0) + (1.0 - config.entropy_weight) * neg_entropy
            ).mean()
            optimizer.zero_grad(set_to_none=True)
            (loss_l + loss_u).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - started)
    return {"seconds": seconds, "threads": torch.get_num_threads()}


def run_torch(epochs: int, flush_denormal: bool = False, **changes) -> dict:
    images, truth = embedded_set()
    return torch_peer_epochs(
        images, simulated_annotator(truth, LABELS_PER_CLASS, 0), epochs, flush_denormal, **changes
    )


def steady(seconds: list[float]) -> float:
    later = seconds[1:] or seconds
    return statistics.median(later)


def first_epoch_in_fresh_process(cache_dir: str) -> dict:
    """One epoch in a new interpreter with the persistent cache in `cache_dir`."""
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, __file__, "--child-first-epoch", cache_dir],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    record = json.loads(output.strip().splitlines()[-1])
    record["process_wall"] = time.perf_counter() - started
    return record


def child_first_epoch(cache_dir: str) -> None:
    started = time.perf_counter()
    from app.training.programs import FolderProgramStore
    from domain.learning.training import TrainingJob, train

    # As the app's runners do: compiled programs kept, JAX's own cache off (issue 19).
    tune_allocator()
    images, truth = embedded_set()
    # As the app's runners do (app.training.execution): compiled programs beside the cache.
    job = TrainingJob(
        images,
        simulated_annotator(truth, LABELS_PER_CLASS, 0),
        speed_config(epochs=1),
        programs=FolderProgramStore(cache_dir + "-programs"),
    )
    imported = time.perf_counter()
    result = next(train(job))
    emit(
        {
            "first_epoch_seconds": result.metrics["seconds"],
            "first_result_after_start": time.perf_counter() - imported,
            "import_and_load": imported - started,
        }
    )


def tune_allocator() -> bool:
    """What the app's training processes do (app.training.execution); process-wide,
    so the PyTorch peer in this process gets the same allocator."""
    from app.training.allocator import keep_freed_memory

    return keep_freed_memory()


def compare(rounds: int, epochs: int, label: str, **changes) -> None:
    """Ours and the peer in alternation, so a noisy neighbour slows both sides alike;
    the steady figure of each is the median of all epochs after each run's first."""
    ours_runs, peer_runs = [], []
    for number in range(1, rounds + 1):
        ours = run_ours(epochs, **changes)
        emit(
            {
                "implementation": "ours (JAX/Flax NNX)",
                "model": label,
                "round": number,
                "epoch_seconds": [round(v, 3) for v in ours["seconds"]],
                "first_epoch_wall_incl_setup_and_eval": round(ours["first_epoch_wall"], 3),
                "load_average_1min": load_average(),
            }
        )
        peer = run_torch(epochs, **changes)
        emit(
            {
                "implementation": "PyTorch eager peer",
                "model": label,
                "round": number,
                "epoch_seconds": [round(v, 3) for v in peer["seconds"]],
                "threads": peer["threads"],
                "load_average_1min": load_average(),
            }
        )
        ours_runs.append(ours["seconds"])
        peer_runs.append(peer["seconds"])
    ours_steady = statistics.median(v for run in ours_runs for v in run[1:] or run)
    peer_steady = statistics.median(v for run in peer_runs for v in run[1:] or run)
    emit(
        {
            "model": label,
            "ours_steady_epoch_seconds": round(ours_steady, 3),
            "peer_steady_epoch_seconds": round(peer_steady, 3),
            "ratio": "peer / ours (>1: ours faster)",
            "value": round(peer_steady / ours_steady, 3),
            "per_round": [round(steady(p) / steady(o), 3) for o, p in zip(ours_runs, peer_runs)],
        }
    )


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs each, for a smoke run")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per implementation")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternations of ours and the peer on the default model"
    )
    parser.add_argument(
        "--skip-cache", action="store_true", help="skip the cold/warm compilation-cache subprocesses"
    )
    parser.add_argument(
        "--first-epoch-only", action="store_true", help="only the cold/warm first-epoch subprocesses"
    )
    parser.add_argument("--child-first-epoch", metavar="CACHE_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_first_epoch:
        child_first_epoch(args.child_first_epoch)
        return
    epochs = 2 if args.quick else args.epochs
    rounds = 1 if args.quick else args.rounds
    emit(
        {
            "benchmark": "train_speed",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(),
            "load_average_1min": load_average(),
            "epochs": epochs,
            "rounds": rounds,
            "freed_memory_kept": tune_allocator(),
        }
    )
    limit = matmul_gflops()
    emit({"measure": "matmul_float32_4096", "gflops": round(limit, 1)})
    if not args.first_epoch_only:
        speeds(args, rounds, epochs)
    if not args.skip_cache:
        first_epochs()


def first_epochs(warm_runs: int = 3) -> None:
    with tempfile.TemporaryDirectory(prefix="ledgerlab-jax-cache-") as folder:
        cache = os.path.join(folder, "jax")
        cold = first_epoch_in_fresh_process(cache)
        warm = [first_epoch_in_fresh_process(cache) for _ in range(warm_runs)]
    emit(
        {
            "measure": "first epoch in a fresh process",
            "cold_cache": cold,
            "warm_cache": warm,
            "load_average_1min": load_average(),
        }
    )


def speeds(args, rounds: int, epochs: int) -> None:
    compare(rounds, epochs, "default model")
    if not args.quick:
        flushed = run_torch(epochs, flush_denormal=True)
        emit(
            {
                "implementation": "PyTorch eager peer, torch.set_flush_denormal(True)",
                "epoch_seconds": flushed["seconds"],
                "steady_epoch_seconds": round(steady(flushed["seconds"]), 3),
                "load_average_1min": load_average(),
            }
        )
        compare(1, epochs, "previous default model, hidden 512-256", hidden_sizes=(512, 256))
    if not args.quick:
        # The full default config (augmentation on) against the one before the affine
        # warp and distribution alignment, in alternation.
        augmented = {
            "ours, default config (warped views, distribution alignment)": {},
            "ours, previous default (whole-pixel shifts, no alignment)": {
                "augment_warp": 0.0,
                "distribution_alignment": False,
                "learning_rate": 1e-3,
            },
        }
        runs: dict[str, list[float]] = {name: [] for name in augmented}
        for _ in range(2):
            for name, changes in augmented.items():
                runs[name] += run_ours(3, augment_shift=2, **changes)["seconds"][1:]
        for name, seconds in runs.items():
            emit(
                {
                    "implementation": name,
                    "epoch_seconds": [round(v, 3) for v in seconds],
                    "steady_epoch_seconds": round(statistics.median(seconds), 3),
                    "load_average_1min": load_average(),
                }
            )


if __name__ == "__main__":
    main()
