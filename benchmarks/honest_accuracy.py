"""Is the held-out accuracy honest, and what does holding labels out cost?

For each annotator seed (0-4 by default) a simulated annotator labels 10 samples per
class (100 labels) of the first 9,000 samples of the embedded set, as in
label_efficiency.py, and one run of 20 epochs trains per held-out share (``0``:
nothing held out, the cost baseline). Per run it prints the
shown estimate (the held-out accuracy of the last epoch with its Wilson 95 %
interval, or "too few") against the truth: the accuracy on the unlabeled samples
(and on the 1,000 samples the model never saw), whether the truth falls inside the
interval, and in how many epochs it did. Per share: coverage over the seeds
(target: at least 4 of 5) and the mean and minimum accuracy, whose difference from
the baseline is what the held-out share costs.

    .venv/bin/python benchmarks/honest_accuracy.py [--shares 0 0.25 0.3]
        [--seeds 0 1 2 3 4] [--epochs 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from _report import simulated_annotator  # noqa: E402

from domain.accuracy import AccuracyEstimate  # noqa: E402
from domain.learning.config import TrainingConfig  # noqa: E402
from domain.learning.training import TrainingJob, evaluate, train  # noqa: E402

DATA = [ROOT / "resources" / "mnist10k.npz", Path("/work/shared/data/mnist10k.npz")]
TRAINING_SAMPLES = 9_000
PER_CLASS = 10
TARGET_COVERED = 4  # of 5 seeds


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def one_run(data: tuple[np.ndarray, ...], config: TrainingConfig, seed: int) -> dict:
    train_images, train_truth, test_images, test_truth = data
    labels = simulated_annotator(train_truth, PER_CLASS, seed)
    unlabeled = labels < 0
    started = time.perf_counter()
    covered_epochs, shown_epochs, last, truth = 0, 0, None, 0.0
    for result in train(TrainingJob(train_images, labels, config)):
        truth = float(np.mean(result.probabilities.argmax(axis=1)[unlabeled] == train_truth[unlabeled]))
        estimate = shown(result.metrics)
        if estimate is not None and not estimate.too_few:
            shown_epochs += 1
            covered_epochs += int(estimate.low <= truth <= estimate.high)
        last = result
    assert last is not None
    probabilities, _ = evaluate(last.checkpoint, test_images, config)
    estimate = shown(last.metrics)
    inside = None if estimate is None or estimate.too_few else estimate.low <= truth <= estimate.high
    return {
        "holdout_share": config.holdout_share,
        "annotator_seed": seed,
        "unlabeled_accuracy": round(truth, 4),
        "test_accuracy": round(float(np.mean(probabilities.argmax(axis=1) == test_truth)), 4),
        "shown": None if estimate is None else estimate.text(),
        "heldout_n": None if estimate is None else estimate.n,
        "inside": inside,
        "epochs_inside": f"{covered_epochs} of {shown_epochs}",
        "training_accuracy": last.metrics["accuracy"],
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_average_1min": os.getloadavg()[0],
    }


def shown(metrics: dict) -> AccuracyEstimate | None:
    """The estimate a person is shown for an epoch (None: nothing held out)."""
    n = metrics.get("heldout_n")
    if n is None:
        return None
    return AccuracyEstimate.from_counts(int(metrics["heldout_correct"]), int(n), "held-out")


def summary(runs: list[dict], baseline: list[dict] | None) -> dict:
    accuracy = [r["unlabeled_accuracy"] for r in runs]
    record = {
        "holdout_share": runs[0]["holdout_share"],
        "seeds": [r["annotator_seed"] for r in runs],
        "covered": f"{sum(r['inside'] is True for r in runs)} of {len(runs)}"
        if runs[0]["holdout_share"]
        else None,
        "too_few": sum(r["inside"] is None for r in runs) if runs[0]["holdout_share"] else None,
        "unlabeled_mean": round(float(np.mean(accuracy)), 4),
        "unlabeled_min": round(min(accuracy), 4),
        "test_mean": round(float(np.mean([r["test_accuracy"] for r in runs])), 4),
    }
    if runs[0]["holdout_share"] > 0:
        record["target_met"] = sum(r["inside"] is True for r in runs) >= min(TARGET_COVERED, len(runs))
    if baseline and runs is not baseline:
        record["cost_points"] = round(
            100 * (statistics.mean(r["unlabeled_accuracy"] for r in baseline) - record["unlabeled_mean"]), 2
        )
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.25], help="held-out shares")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 epochs, seed 0, share 0.25: a smoke run")
    args = parser.parse_args()
    from app.training.allocator import keep_freed_memory

    keep_freed_memory()  # as the app's training processes do
    path = next(p for p in DATA if p.exists())
    with np.load(path) as loaded:
        images, truth = loaded["images"], loaded["labels"]
    data = (
        images[:TRAINING_SAMPLES],
        truth[:TRAINING_SAMPLES],
        images[TRAINING_SAMPLES:],
        truth[TRAINING_SAMPLES:],
    )
    shares, seeds, epochs = args.shares, args.seeds, args.epochs
    if args.quick:
        shares, seeds, epochs = [0.25], [0], 3
    emit(
        {
            "benchmark": "honest_accuracy",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0],
            "shares": shares,
            "annotator_seeds": seeds,
            "labels": PER_CLASS * 10,
            "epochs": epochs,
        }
    )
    baseline: list[dict] | None = None
    summaries = []
    for share in shares:
        config = TrainingConfig(epochs=epochs, holdout_share=share, holdout_min_labels=1)
        runs = []
        for seed in seeds:
            runs.append(one_run(data, config, seed))
            emit(runs[-1])
        if share == 0:
            baseline = runs
        summaries.append(summary(runs, baseline))
        emit(summaries[-1])
    for record in summaries:
        emit({"summary": record})


if __name__ == "__main__":
    main()
