"""The labeling loop of benchmarks/active_learning.py: a simulated person labels ten
samples a round, picked by each strategy, while the real training loop retrains; the
accuracy-against-labels trajectories, their summary and their plot."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np
from _report import ROOT, emit  # noqa: I001  (puts the repository on sys.path)

from domain.suggestions import suggest

TRAINING_SAMPLES = 9_000  # as benchmarks/label_efficiency.py: the rest is held out
ROUND = 10  # labels per round
STRATEGY_ORDER = ("auto", "random", "typical", "uncertain", "diverse")
TARGET_AUTO_AT_100 = 0.97
TARGET_GAIN_AT_20 = 0.05


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
