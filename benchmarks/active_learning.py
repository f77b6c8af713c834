"""Active learning and label quality, measured on the embedded MNIST 10k set.

(a) Latency of `suggest` (10 suggestions) at 10,000 MNIST samples and at a
    synthetic 100,000 (the 10,000 tiled with pixel jitter, 784-dim uint8), pixel PCA
    included, with no labels (typical) and with 500 labels and a model (diverse).
(b) Label-error flags: 500 labels drawn at random, 5 % and 10 % of them flipped to
    another class at random; precision and recall of `find_label_issues` at the
    tool's cut, over several label sets, on the principal components of the pixels.
    With --with-run also on a trained run's class probabilities (20 epochs under
    the run's labels, flips included; ~1 min per run on one core).
(c) Cold start: random against typical picks (from the pixels, as the tool makes
    them) of 10 and 20 labels, judged by the accuracy on every other sample of a
    logistic regression on 50 principal components trained on the picked labels
    (a cheap proxy of the first model).
(d) The labeling loop: a simulated annotator who answers with the true labels labels
    the first 9,000 samples in rounds of 10, each strategy choosing the next 10 from
    the model trained so far (random, typical, uncertain, diverse, auto); between
    rounds the run goes on as the window's does, one run whose labels change under
    it (`train(..., labels_for_epoch=...)`, the live-labels path of the training
    panel), --epochs-per-round epochs per round. Accuracy on the unlabeled pool and on
    the 1,000 held-out samples at the budgets (10, 20, 50, 100 labels by default).
    uncertain and diverse need a model, so their first 10 labels are random picks;
    auto and typical start with typical picks as the tool does. auto and random run
    with --core-seeds annotator seeds, the other three with --other-seeds; training
    seed 0 throughout, so the seeds differ only in which samples are picked. The
    plot (accuracy vs labels, one line per strategy) goes to docs/active_learning.png
    when matplotlib is importable.

Prints one JSON line per figure.

    taskset -c 0 .venv/bin/python benchmarks/active_learning.py [--quick] [--with-run]
        [--only latency|flags|cold|loop ...] [--epochs-per-round 2] [--budgets 10 20 50 100]
        [--core-seeds 3] [--other-seeds 1] [--plot-from results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from _report import ROOT, emit  # noqa: I001  (puts the repository on sys.path)
from active_learning_loop import ROUND, STRATEGY_ORDER, labeling_loop, loop_summary, plot

from domain.clustering import pixel_features
from domain.label_quality import find_label_issues
from domain.suggestions import suggest

DATA = [ROOT / "resources" / "mnist10k.npz", Path("/work/shared/data/mnist10k.npz")]
LABELS = 500
PLOT = ROOT / "docs" / "active_learning.png"


def load() -> tuple[np.ndarray, np.ndarray]:
    path = next(p for p in DATA if p.exists())
    with np.load(path) as data:
        return data["images"].reshape(len(data["images"]), -1), data["labels"]


def timed(call, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def latency(pixels: np.ndarray, truth: np.ndarray, repeats: int) -> None:
    rng = np.random.default_rng(0)
    tiled = np.concatenate(
        [
            np.clip(pixels.astype(np.int16) + rng.integers(-8, 9, pixels.shape), 0, 255).astype(np.uint8)
            for _ in range(10)
        ]
    )
    for images in (pixels, tiled):
        n = images.shape[0]
        probabilities = rng.dirichlet(np.full(10, 0.3), n).astype(np.float32)
        labels = np.full(n, -1)
        some = rng.choice(n, LABELS, replace=False)
        with_labels = labels.copy()
        with_labels[some] = np.tile(truth, n // truth.size)[some]
        cases = [
            ("typical", labels, None),
            ("typical", with_labels, None),
            ("uncertain", with_labels, probabilities),
            ("diverse", with_labels, probabilities),
        ]
        for strategy, given, probs in cases:
            seconds, _ = timed(
                lambda: suggest(strategy, 10, labels=given, pixels=images, probabilities=probs, seed=0),
                repeats,
            )
            emit(
                benchmark="suggest_latency",
                samples=n,
                strategy=strategy,
                labels=int((given >= 0).sum()),
                seconds=round(seconds, 3),
            )
        seconds, _ = timed(lambda: pixel_features(images), repeats)
        emit(benchmark="pixel_pca", samples=n, dims=50, seconds=round(seconds, 3))


def flipped_labels(truth: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels of LABELS random samples with `fraction` of them flipped, and the flipped."""
    rng = np.random.default_rng(seed)
    labeled = rng.choice(truth.size, LABELS, replace=False)
    labels = np.full(truth.size, -1)
    labels[labeled] = truth[labeled]
    flipped = rng.choice(labeled, int(round(fraction * LABELS)), replace=False)
    labels[flipped] = (truth[flipped] + rng.integers(1, 10, flipped.size)) % 10
    return labels, flipped


def score_flags(
    labels: np.ndarray, features: np.ndarray, truth: np.ndarray, flipped: np.ndarray, seed: int
) -> dict:
    started = time.perf_counter()
    issues = find_label_issues(labels, features, 10, seed=seed)
    seconds = time.perf_counter() - started
    flagged = {issue.sample for issue in issues}
    hits = flagged & set(flipped.tolist())
    right_class = sum(
        1 for issue in issues if issue.sample in hits and issue.suggested == truth[issue.sample]
    )
    return {
        "flags": len(flagged),
        "flipped": int(flipped.size),
        "precision": round(len(hits) / max(len(flagged), 1), 3),
        "recall": round(len(hits) / flipped.size, 3),
        "suggested_class_right": f"{right_class}/{len(hits)}",
        "seconds": round(seconds, 2),
    }


def label_errors(pixels: np.ndarray, truth: np.ndarray, seeds: int, with_run: bool) -> None:
    features = pixel_features(pixels)
    for fraction in (0.05, 0.10):
        rows = []
        for seed in range(seeds):
            labels, flipped = flipped_labels(truth, fraction, seed)
            rows.append(score_flags(labels, features, truth, flipped, seed))
            emit(
                benchmark="label_issues",
                features="pixels_pca50",
                flipped_fraction=fraction,
                seed=seed,
                **rows[-1],
            )
        emit(
            benchmark="label_issues_summary",
            features="pixels_pca50",
            flipped_fraction=fraction,
            label_sets=seeds,
            precision_mean=round(statistics.mean(r["precision"] for r in rows), 3),
            precision_min=min(r["precision"] for r in rows),
            recall_mean=round(statistics.mean(r["recall"] for r in rows), 3),
            recall_min=min(r["recall"] for r in rows),
            seconds_median=statistics.median(r["seconds"] for r in rows),
        )
        if with_run:
            run_features(pixels, truth, fraction, features)


def run_features(pixels: np.ndarray, truth: np.ndarray, fraction: float, pca: np.ndarray) -> None:
    """A run trained on the flipped labels: its probabilities as features, and beside PCA."""
    from domain.learning.config import TrainingConfig
    from domain.learning.training import TrainingJob, train

    labels, flipped = flipped_labels(truth, fraction, 0)
    started = time.perf_counter()
    last = None
    for result in train(TrainingJob(pixels.reshape(-1, 28, 28), labels, TrainingConfig())):
        last = result
    probabilities = last.probabilities
    unlabeled = labels < 0
    emit(
        benchmark="label_issues_run",
        flipped_fraction=fraction,
        epochs=last.epoch,
        train_seconds=round(time.perf_counter() - started, 1),
        run_accuracy_on_unlabeled=round(
            float(np.mean(probabilities[unlabeled].argmax(1) == truth[unlabeled])), 4
        ),
        run_agrees_with_flipped_labels=f"{int(np.sum(probabilities[flipped].argmax(1) == labels[flipped]))}/{flipped.size}",
    )
    for name, features in (
        ("run_probabilities", probabilities),
        ("pca50_plus_run_probabilities", np.hstack([pca / pca.std(), 3 * probabilities])),
    ):
        emit(
            benchmark="label_issues",
            features=name,
            flipped_fraction=fraction,
            seed=0,
            **score_flags(labels, features, truth, flipped, 0),
        )


def cold_start(pixels: np.ndarray, truth: np.ndarray, seeds: int) -> None:
    from sklearn.linear_model import LogisticRegression

    features = pixel_features(pixels)
    features /= features.std()
    for budget in (10, 20):
        for strategy in ("random", "typical"):
            accuracies, classes = [], []
            for seed in range(seeds):
                picked = list(
                    suggest(
                        strategy, budget, labels=np.full(truth.size, -1), pixels=pixels, seed=seed
                    ).samples
                )
                rest = np.setdiff1d(np.arange(truth.size), picked)
                classes.append(len(set(truth[picked].tolist())))
                if classes[-1] < 2:
                    accuracies.append(float(np.mean(truth[rest] == truth[picked[0]])))
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = LogisticRegression(max_iter=1000).fit(features[picked], truth[picked])
                accuracies.append(float(model.score(features[rest], truth[rest])))
            emit(
                benchmark="cold_start",
                strategy=strategy,
                labels=budget,
                label_sets=seeds,
                accuracy_mean=round(statistics.mean(accuracies), 4),
                accuracy_min=round(min(accuracies), 4),
                classes_covered_mean=round(statistics.mean(classes), 1),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and label sets")
    parser.add_argument(
        "--with-run", action="store_true", help="also train a run (20 epochs, ~1 min) per flip rate"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("latency", "flags", "cold", "loop"),
        default=["latency", "flags", "cold", "loop"],
        help="parts to run",
    )
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        default=[10, 20, 50, 100],
        help="labels at which the loop is scored (multiples of 10)",
    )
    parser.add_argument(
        "--epochs-per-round", type=int, default=2, help="epochs trained after each round of 10 labels"
    )
    parser.add_argument(
        "--fresh-at",
        type=int,
        nargs="*",
        default=[20, 100],
        help="budgets at which the labels also train a fresh run",
    )
    parser.add_argument("--fresh-epochs", type=int, default=8, help="epochs of those fresh runs")
    parser.add_argument("--core-seeds", type=int, default=3, help="annotator seeds for auto and random")
    parser.add_argument(
        "--other-seeds", type=int, default=1, help="annotator seeds for typical, uncertain and diverse"
    )
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGY_ORDER), choices=STRATEGY_ORDER)
    parser.add_argument(
        "--out", type=Path, default=None, help="append the loop's per-run records to this JSON-lines file"
    )
    parser.add_argument(
        "--plot-from",
        type=Path,
        default=None,
        help="no runs: summarise and plot the al_loop records of this file",
    )
    parser.add_argument("--plot", type=Path, default=PLOT, help="where the plot goes")
    args = parser.parse_args()
    if args.plot_from is not None:
        records = [
            r
            for r in map(json.loads, args.plot_from.read_text().splitlines())
            if r.get("benchmark") == "al_loop"
        ]
        epochs = args.epochs_per_round
        plot(
            loop_summary(records),
            args.plot,
            f"rounds of {ROUND} labels, {epochs} epochs of the default config per round, one continued run",
        )
        return
    pixels, truth = load()
    emit(
        benchmark="active_learning",
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        cpus=os.cpu_count(),
        affinity=len(os.sched_getaffinity(0)),
        load_average_1min=round(os.getloadavg()[0], 2),
    )
    if "latency" in args.only:
        latency(pixels, truth, repeats=1 if args.quick else 3)
    if "flags" in args.only:
        label_errors(pixels, truth, seeds=3 if args.quick else 10, with_run=args.with_run)
    if "cold" in args.only:
        cold_start(pixels, truth, seeds=3 if args.quick else 10)
    if "loop" in args.only:
        budgets, epochs, core, other, strategies = (
            args.budgets,
            args.epochs_per_round,
            args.core_seeds,
            args.other_seeds,
            args.strategies,
        )
        fresh_at, fresh_epochs = args.fresh_at, args.fresh_epochs
        if args.quick:  # a smoke run: two strategies, one seed, 20 labels, 1 epoch a round
            budgets, epochs, core, other, strategies = [10, 20], 1, 1, 0, ["auto", "random"]
            fresh_at, fresh_epochs = [20], 1
        if any(b % ROUND or b < ROUND for b in budgets):
            parser.error(f"budgets must be multiples of {ROUND}")
        records = labeling_loop(
            pixels.reshape(-1, 28, 28),
            truth,
            sorted(budgets),
            epochs,
            core,
            other,
            strategies,
            args.out,
            fresh_at,
            fresh_epochs,
        )
        rows = loop_summary(records)
        if not args.quick:
            plot(
                rows,
                args.plot,
                f"rounds of {ROUND} labels, {epochs} epochs of the default "
                f"config per round, one continued run",
            )


if __name__ == "__main__":
    main()
