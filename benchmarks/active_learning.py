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

from domain.clustering import pixel_features
from domain.label_quality import find_label_issues
from domain.suggestions import suggest

DATA = [ROOT / "resources" / "mnist10k.npz", Path("/work/shared/data/mnist10k.npz")]
LABELS = 500
PLOT = ROOT / "docs" / "active_learning.png"
TRAINING_SAMPLES = 9_000  # as benchmarks/label_efficiency.py: the rest is held out
ROUND = 10  # labels per round
STRATEGY_ORDER = ("auto", "random", "typical", "uncertain", "diverse")
TARGET_AUTO_AT_100 = 0.97
TARGET_GAIN_AT_20 = 0.05


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


class _MemoryPrograms:
    """Compiled programs kept in memory across the loop's runs (one compile per shape)."""

    salt = "benchmarks.active_learning"

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self._data.get(key)

    def put(self, key: str, data: bytes) -> None:
        self._data[key] = data


def pick(
    strategy: str, labels: np.ndarray, pixels: np.ndarray, probabilities: np.ndarray | None, seed: int
) -> list[int]:
    """The annotator's next ROUND samples, as the tool would suggest them."""
    if strategy in ("uncertain", "diverse") and probabilities is None:
        strategy = "random"  # no model yet: these need one
    return list(
        suggest(strategy, ROUND, labels=labels, pixels=pixels, probabilities=probabilities, seed=seed).samples
    )


def trajectory(
    strategy: str,
    seed: int,
    images: np.ndarray,
    truth: np.ndarray,
    held_images: np.ndarray,
    held_truth: np.ndarray,
    budgets: list[int],
    epochs_per_round: int,
    programs: _MemoryPrograms,
    fresh_at: list[int],
    fresh_epochs: int,
) -> list[dict]:
    """One annotator labeling in rounds of ROUND up to max(budgets); a record per budget.

    At the budgets in `fresh_at` the same labels also train a fresh run of
    `fresh_epochs` epochs (a person pressing Train anew), to tell how good the picks
    are apart from how the continued run learned from them.
    """
    from domain.learning.config import TrainingConfig
    from domain.learning.training import TrainingJob, evaluate, train

    rounds = max(budgets) // ROUND
    config = TrainingConfig(epochs=rounds * epochs_per_round)
    pixels = images.reshape(len(images), -1)
    labels = np.full(truth.size, -1, np.int64)
    order: list[int] = []  # the samples in the order they were labeled

    def label_round(probabilities: np.ndarray | None, number: int) -> None:
        picked = pick(strategy, labels, pixels, probabilities, seed * 1000 + number)
        assert np.all(labels[picked] < 0) and len(picked) == ROUND
        labels[picked] = truth[picked]
        order.extend(int(i) for i in picked)

    started = time.perf_counter()
    suggest_seconds = 0.0
    label_round(None, 0)
    records = []
    job = TrainingJob(images, labels.copy(), config, programs=programs)
    for result in train(job, labels_for_epoch=lambda epoch: labels.copy()):
        if result.epoch % epochs_per_round:
            continue
        count = int((labels >= 0).sum())
        if count in budgets:
            unlabeled = labels < 0
            predicted = result.probabilities.argmax(axis=1)
            held, _ = evaluate(result.checkpoint, held_images, config)
            fresh = {}
            if count in fresh_at:
                fresh = fresh_run(images, truth, labels, held_images, held_truth, fresh_epochs, programs)
            records.append(
                emit(
                    benchmark="al_loop",
                    strategy=strategy,
                    seed=seed,
                    labels=count,
                    pool_accuracy=round(float(np.mean(predicted[unlabeled] == truth[unlabeled])), 4),
                    held_out_accuracy=round(float(np.mean(held.argmax(axis=1) == held_truth)), 4),
                    classes_labeled=len(set(truth[labels >= 0].tolist())),
                    epochs=result.epoch,
                    wall_seconds=round(time.perf_counter() - started, 1),
                    suggest_seconds=round(suggest_seconds, 1),
                    **fresh,
                    samples=order[:count],
                )
            )
        if count < max(budgets):
            begun = time.perf_counter()
            label_round(result.probabilities, count // ROUND)
            suggest_seconds += time.perf_counter() - begun
    return records


def _default_config() -> dict:
    from domain.learning.config import TrainingConfig

    return TrainingConfig().to_dict()


def fresh_run(
    images: np.ndarray,
    truth: np.ndarray,
    labels: np.ndarray,
    held_images: np.ndarray,
    held_truth: np.ndarray,
    epochs: int,
    programs: _MemoryPrograms,
) -> dict:
    from domain.learning.config import TrainingConfig
    from domain.learning.training import TrainingJob, evaluate, train

    config = TrainingConfig(epochs=epochs)
    last = None
    for last in train(TrainingJob(images, labels.copy(), config, programs=programs)):
        pass
    assert last is not None
    unlabeled = labels < 0
    held, _ = evaluate(last.checkpoint, held_images, config)
    return {
        "fresh_epochs": epochs,
        "fresh_pool_accuracy": round(
            float(np.mean(last.probabilities[unlabeled].argmax(axis=1) == truth[unlabeled])), 4
        ),
        "fresh_held_out_accuracy": round(float(np.mean(held.argmax(axis=1) == held_truth)), 4),
    }


def labeling_loop(
    images: np.ndarray,
    truth: np.ndarray,
    budgets: list[int],
    epochs_per_round: int,
    core_seeds: int,
    other_seeds: int,
    strategies: list[str],
    out: Path | None,
    fresh_at: list[int],
    fresh_epochs: int,
) -> list[dict]:
    from app.training.allocator import keep_freed_memory

    keep_freed_memory()  # as the app's training processes do
    train_images, train_truth = images[:TRAINING_SAMPLES], truth[:TRAINING_SAMPLES]
    held_images, held_truth = images[TRAINING_SAMPLES:], truth[TRAINING_SAMPLES:]
    # Most informative first: auto and random (the targets), then the others.
    plan = [
        (strategy, seed)
        for seed in range(core_seeds)
        for strategy in strategies
        if strategy in ("auto", "random")
    ]
    plan += [
        (strategy, seed)
        for seed in range(other_seeds)
        for strategy in strategies
        if strategy not in ("auto", "random")
    ]
    emit(
        benchmark="al_loop_plan",
        budgets=budgets,
        epochs_per_round=epochs_per_round,
        round_size=ROUND,
        runs=[f"{s}/{k}" for s, k in plan],
        fresh_at=fresh_at,
        fresh_epochs=fresh_epochs,
        config=_default_config(),
        training_samples=TRAINING_SAMPLES,
        held_out=int(held_truth.size),
    )
    programs = _MemoryPrograms()
    records = []
    for strategy, seed in plan:
        rows = trajectory(
            strategy,
            seed,
            train_images.reshape(-1, 28, 28),
            train_truth,
            held_images.reshape(-1, 28, 28),
            held_truth,
            budgets,
            epochs_per_round,
            programs,
            fresh_at,
            fresh_epochs,
        )
        records += rows
        if out is not None:
            with out.open("a") as handle:
                handle.writelines(json.dumps(r) + "\n" for r in rows)
    return records


def loop_summary(records: list[dict]) -> list[dict]:
    """Mean and min over the seeds of each strategy and budget, and the targets."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in records:
        groups.setdefault((r["strategy"], r["labels"]), []).append(r)
    rows = []
    for (strategy, count), runs in sorted(
        groups.items(), key=lambda kv: (STRATEGY_ORDER.index(kv[0][0]), kv[0][1])
    ):
        pool = [r["pool_accuracy"] for r in runs]
        held = [r["held_out_accuracy"] for r in runs]
        fresh = {}
        if all("fresh_pool_accuracy" in r for r in runs):
            fresh = {
                "fresh_pool_mean": round(statistics.mean(r["fresh_pool_accuracy"] for r in runs), 4),
                "fresh_held_out_mean": round(statistics.mean(r["fresh_held_out_accuracy"] for r in runs), 4),
            }
        rows.append(
            emit(
                benchmark="al_loop_summary",
                strategy=strategy,
                labels=count,
                seeds=sorted(r["seed"] for r in runs),
                pool_mean=round(statistics.mean(pool), 4),
                pool_min=min(pool),
                held_out_mean=round(statistics.mean(held), 4),
                held_out_min=min(held),
                **fresh,
            )
        )
    for key, run in (("pool_mean", "continued run"), ("fresh_pool_mean", "fresh run")):
        mean = {(r["strategy"], r["labels"]): r[key] for r in rows if key in r}
        if ("auto", 100) in mean:
            emit(
                benchmark="al_target",
                run=run,
                target="auto >= 97 % at 100 labels (pool, mean of seeds)",
                value=mean["auto", 100],
                met=mean["auto", 100] >= TARGET_AUTO_AT_100,
                short_by=round(max(0.0, TARGET_AUTO_AT_100 - mean["auto", 100]), 4),
            )
        if ("auto", 20) in mean and ("random", 20) in mean:
            gain = round(mean["auto", 20] - mean["random", 20], 4)
            emit(
                benchmark="al_target",
                run=run,
                target="auto >= random + 5 points at 20 labels (pool)",
                value=gain,
                met=gain >= TARGET_GAIN_AT_20,
                short_by=round(max(0.0, TARGET_GAIN_AT_20 - gain), 4),
            )
    return rows


def plot(rows: list[dict], path: Path, note: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        emit(benchmark="al_plot", saved=None, reason="matplotlib is not installed")
        return
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, key, title in (
        (axes[0], "pool_mean", "unlabeled pool (of 9,000)"),
        (axes[1], "held_out_mean", "1,000 held-out samples"),
    ):
        for strategy in STRATEGY_ORDER:
            points = [(r["labels"], 100 * r[key]) for r in rows if r["strategy"] == strategy]
            if not points:
                continue
            seeds = max(len(r["seeds"]) for r in rows if r["strategy"] == strategy)
            xs, ys = zip(*points)
            axis.plot(
                xs,
                ys,
                marker="o",
                lw=2.2 if strategy == "auto" else 1.4,
                label=f"{strategy} ({seeds} seed{'s' if seeds > 1 else ''})",
            )
        axis.axhline(100 * TARGET_AUTO_AT_100, color="grey", ls=":", lw=1)
        axis.set_xscale("log")
        budgets = sorted({r["labels"] for r in rows})
        axis.set_xticks(budgets, [str(b) for b in budgets])
        axis.minorticks_off()
        axis.set_xlabel("labels")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy, % (mean of seeds)")
    axes[0].legend(loc="lower right", fontsize=8)
    figure.suptitle(f"Active learning on MNIST 10k: {note}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    emit(benchmark="al_plot", saved=str(path.relative_to(ROOT)))


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
