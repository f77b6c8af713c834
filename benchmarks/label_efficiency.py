"""How much a hundred labels buy: accuracy on the unlabeled samples, epoch by epoch.

A simulated annotator labels 10 samples per class (seeded) of the first 9,000
samples of the embedded set, using the true labels, which otherwise serve only
to score: accuracy on the 8,900 unlabeled training samples and on the 1,000
held-out samples the model never saw. Prints one JSON line per epoch with the
wall-clock since training started. The issue's target is >= 92 %.

Map purity: the mean fraction of each training sample's 10 nearest neighbours on
a 2-D map that share its true class, for the PCA of the pixels (the map before any
training), the PCA of the z means alone (the map up to now) and the map training
yields (`class_map`), after epochs 1, 5 and the last.

    .venv/bin/python benchmarks/label_efficiency.py [--epochs N] [--quick]
                     [--set field=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from domain.learning.config import TrainingConfig  # noqa: E402
from domain.learning.map_layout import latent_map, neighbour_purity, principal_components  # noqa: E402
from domain.learning.training import TrainingJob, evaluate, train  # noqa: E402

DATA = [ROOT / "resources" / "mnist10k.npz", Path("/work/shared/data/mnist10k.npz")]
TRAINING_SAMPLES = 9_000
TARGET = 0.92
MAP_EPOCHS = (1, 5)


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def simulated_annotator(truth: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.full(truth.shape, -1, np.int64)
    for digit in np.unique(truth):
        labels[rng.choice(np.flatnonzero(truth == digit), per_class, replace=False)] = digit
    return labels


def parse_settings(pairs: list[str]) -> dict:
    """`--set classifier_weight=50` style overrides, values parsed as JSON."""
    settings = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        settings[name] = json.loads(text)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs to train (default: the config's)")
    parser.add_argument("--quick", action="store_true", help="3 epochs, for a smoke run")
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--annotator-seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a TrainingConfig field (JSON value)")
    args = parser.parse_args()
    from app.training.allocator import keep_freed_memory

    keep_freed_memory()  # as the app's training processes do
    path = next(p for p in DATA if p.exists())
    with np.load(path) as data:
        images, truth = data["images"], data["labels"]
    train_images, train_truth = images[:TRAINING_SAMPLES], truth[:TRAINING_SAMPLES]
    held_out_images, held_out_truth = images[TRAINING_SAMPLES:], truth[TRAINING_SAMPLES:]
    labels = simulated_annotator(train_truth, args.labels_per_class, args.annotator_seed)
    settings = parse_settings(args.set)
    if args.quick:
        settings["epochs"] = 3
    elif args.epochs is not None:
        settings["epochs"] = args.epochs
    config = TrainingConfig(**settings)
    unlabeled = labels < 0
    emit({"benchmark": "label_efficiency", "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                  time.gmtime()),
          "cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
          "labels": int((~unlabeled).sum()), "training_samples": TRAINING_SAMPLES,
          "config": config.to_dict()})
    emit({"map_purity_10nn": {"pixels_pca": round(neighbour_purity(
        principal_components(train_images.reshape(TRAINING_SAMPLES, -1) / 255.0),
        train_truth), 4)}})
    started = time.perf_counter()
    reached = None
    last = None
    scoring = 0.0  # seconds spent on map purity, left out of the wall-clock
    for result in train(TrainingJob(train_images, labels, config)):
        wall = time.perf_counter() - started - scoring
        predicted = result.probabilities.argmax(axis=1)
        accuracy = float(np.mean(predicted[unlabeled] == train_truth[unlabeled]))
        if reached is None and accuracy >= TARGET:
            reached = {"epoch": result.epoch, "wall_seconds": round(wall, 1)}
        emit({"epoch": result.epoch, "unlabeled_accuracy": round(accuracy, 4),
              "labeled_accuracy": result.metrics["accuracy"],
              "loss": round(result.metrics["loss"], 3),
              "epoch_seconds": round(result.metrics["seconds"], 2),
              "wall_seconds": round(wall, 1), "load_average_1min": os.getloadavg()[0]})
        last = result
        if result.epoch in MAP_EPOCHS or result.epoch == config.epochs:
            scoring_started = time.perf_counter()
            _, z_means = evaluate(result.checkpoint, train_images, config)
            emit({"epoch": result.epoch, "map_purity_10nn": {
                "z_pca": round(neighbour_purity(latent_map(z_means), train_truth), 4),
                "class_map": round(neighbour_purity(result.latent_map, train_truth), 4)}})
            scoring += time.perf_counter() - scoring_started
    probabilities, _ = evaluate(last.checkpoint, held_out_images, config)
    emit({"final_unlabeled_accuracy": accuracy,
          "held_out_accuracy": float(np.mean(probabilities.argmax(axis=1) == held_out_truth)),
          "target": TARGET, "target_reached": reached,
          "wall_seconds": round(time.perf_counter() - started - scoring, 1)})


if __name__ == "__main__":
    main()
