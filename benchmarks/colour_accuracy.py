"""Accuracy on coloured digits at 100 labels: the convolutional model against the MLP.

A coloured-digit set (domain.colour_digits, seed 0, --variant textured or cluttered) of
the 10,000 embedded digits, 32 x 32 x 3. For each annotator seed (0-4 by default) a
simulated annotator labels 10 samples per class (100 labels, as label_efficiency.py) and
each model (`MODELS`: the conv model, the conv model with ``augment_colour``, the MLP;
every other setting the default) trains for --epochs epochs. Accuracy is that of q(y|x)
against the true digits of all 10,000 samples (and of the unlabeled ones), per epoch and
at the end; per model the mean and minimum over the seeds, against the target of a 90 %
mean for the convolutional model. Without --quick the figures go to docs/benchmarks.md
("Colour digits, VARIANT").

    .venv/bin/python benchmarks/colour_accuracy.py [--variant textured] [--epochs N]
        [--seeds 0 1 2 3 4] [--models conv conv-colour mlp] [--count 10000] [--quick]
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
from _report import machine, record_section, simulated_annotator  # noqa: E402

from domain.colour_digits import VARIANTS, make_colour_digits  # noqa: E402

DATA = [ROOT / "resources" / "mnist10k.npz", Path("/work/shared/data/mnist10k.npz")]
PER_CLASS = 10
TARGET_MEAN = 0.90
SET_SEED = 0


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


# Model choices: the model, and the settings that differ from the defaults.
MODELS = {
    "conv": ("conv", {}),
    "conv-colour": ("conv", {"augment_colour": True}),
    "mlp": ("mlp", {}),
}


def colour_set(count: int, variant: str) -> tuple[np.ndarray, np.ndarray]:
    path = next(p for p in DATA if p.exists())
    with np.load(path) as data:
        digits, truth = data["images"][:count], data["labels"][:count]
    return make_colour_digits(digits, truth, SET_SEED, variant=variant)


def one_run(images: np.ndarray, truth: np.ndarray, model: str, epochs: int, seed: int) -> dict:
    from domain.learning.config import TrainingConfig
    from domain.learning.training import TrainingJob, train

    kind, changes = MODELS[model]
    config = TrainingConfig(model=kind, epochs=epochs, **changes)
    labels = simulated_annotator(truth, PER_CLASS, seed)
    unlabeled = labels < 0
    started = time.perf_counter()
    per_epoch, seconds, last = [], [], None
    for result in train(TrainingJob(images, labels, config)):
        predicted = result.probabilities.argmax(axis=1)
        per_epoch.append(round(float(np.mean(predicted == truth)), 4))
        seconds.append(round(float(result.metrics["seconds"] or 0.0), 1))
        emit({"model": model, "annotator_seed": seed, "epoch": result.epoch, "accuracy": per_epoch[-1]})
        last = result
    assert last is not None
    predicted = last.probabilities.argmax(axis=1)
    return {
        "model": model,
        "annotator_seed": seed,
        "epochs": epochs,
        "accuracy": per_epoch[-1],
        "unlabeled_accuracy": round(float(np.mean(predicted[unlabeled] == truth[unlabeled])), 4),
        "best_epoch_accuracy": max(per_epoch),
        "per_epoch": per_epoch,
        "epoch_seconds": seconds,
        "heldout_accuracy": last.metrics.get("heldout_accuracy"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def summary(runs: list[dict]) -> dict:
    accuracy = [r["accuracy"] for r in runs]
    return {
        "model": runs[0]["model"],
        "seeds": [r["annotator_seed"] for r in runs],
        "mean": round(float(np.mean(accuracy)), 4),
        "min": round(min(accuracy), 4),
        "unlabeled_mean": round(float(np.mean([r["unlabeled_accuracy"] for r in runs])), 4),
        "median_epoch_seconds": float(np.median([s for r in runs for s in r["epoch_seconds"]])),
    }


def section(
    runs: dict[str, list[dict]], summaries: list[dict], epochs: int, count: int, started: str, variant: str
) -> str:
    seeds = summaries[0]["seeds"]
    lines = [
        f"## Colour digits, {variant} (`benchmarks/colour_accuracy.py --variant {variant}`)",
        "",
        f"Run {started}; {machine()}. The coloured-digit set (`domain/colour_digits.py`, "
        f"variant {variant}, seed {SET_SEED}; `python -m benchmarks.colour_digits OUT.npz` writes "
        f"it) of the first {count:,} embedded digits at 32×32×3, 100 labels (10 per class) "
        f"chosen by annotator seeds {', '.join(map(str, seeds))}; each model with every other "
        f"setting at its default (0.25 of the labels held out) for {epochs} epochs; conv-colour "
        "is the conv model with `augment_colour`. Accuracy of q(y|x) against the true "
        "digits of all samples (in brackets: of the unlabeled ones).",
        "",
        f"![coloured digits, {variant}](images/colour_digits_{variant}.png)",
        "",
        "| model | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | min | s / epoch |",
        "|---|" + "---:|" * (len(seeds) + 3),
    ]
    for record in summaries:
        cells = [
            f"{100 * r['accuracy']:.1f} ({100 * r['unlabeled_accuracy']:.1f})" for r in runs[record["model"]]
        ]
        lines.append(
            f"| {record['model']} | "
            + " | ".join(cells)
            + f" | **{100 * record['mean']:.2f}** | {100 * record['min']:.2f} | {record['median_epoch_seconds']:.0f} |"
        )
    lines += ["", "Accuracy after each epoch (all samples, %):", ""]
    for model, model_runs in runs.items():
        for r in model_runs:
            lines.append(
                f"- {model}, seed {r['annotator_seed']}: "
                + ", ".join(f"{100 * a:.1f}" for a in r["per_epoch"])
            )
    convs = [s for s in summaries if s["model"].startswith("conv")]
    if convs:
        best = max(convs, key=lambda s: s["mean"])
        met = best["mean"] >= TARGET_MEAN
        lines += [
            "",
            f"Verdict: the convolutional model's best mean ({best['model']}) is "
            f"{100 * best['mean']:.2f} % against the target of {100 * TARGET_MEAN:.0f} %: "
            f"**{'met' if met else 'not met'}** (after {epochs} epochs).",
        ]
    return "\n".join(lines)


def from_log(path: str) -> None:
    """Record the section from a run's printed JSON lines (also a run cut short: the seeds
    it finished)."""
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.startswith("{")]
    header = next(line for line in lines if line.get("benchmark") == "colour_accuracy")
    runs: dict[str, list[dict]] = {}
    for line in lines:
        if "per_epoch" in line:
            runs.setdefault(line["model"], []).append(line)
    finished = set.intersection(*({r["annotator_seed"] for r in model_runs} for model_runs in runs.values()))
    runs = {m: [r for r in model_runs if r["annotator_seed"] in finished] for m, model_runs in runs.items()}
    summaries = [summary(model_runs) for model_runs in runs.values()]
    for record in summaries:
        emit({"summary": record})
    variant = header.get("variant", "cluttered")
    record_section(
        f"colour-accuracy-{variant}",
        section(runs, summaries, header["epochs"], header["samples"], header["date"], variant),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", default=["conv", "conv-colour", "mlp"], choices=list(MODELS))
    parser.add_argument("--variant", default="textured", choices=VARIANTS, help="which coloured-digit set")
    parser.add_argument("--count", type=int, default=10_000, help="samples (at most 10,000)")
    parser.add_argument(
        "--quick", action="store_true", help="1 epoch, seed 0, 2,000 samples; nothing recorded"
    )
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--from-log", metavar="LOG", help="record the section from a run's output")
    args = parser.parse_args()
    if args.from_log:
        from_log(args.from_log)
        return
    from app.training.allocator import keep_freed_memory

    keep_freed_memory()  # as the app's training processes do
    epochs, seeds, count = args.epochs, args.seeds, args.count
    if args.quick:
        epochs, seeds, count = 1, [0], 2_000
    if not 1 <= count <= 10_000 or epochs < 1:
        parser.error("--count must be between 1 and 10,000 and --epochs at least 1")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    made = time.perf_counter()
    images, truth = colour_set(count, args.variant)
    emit(
        {
            "benchmark": "colour_accuracy",
            "date": started,
            "cpus": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0],
            "samples": count,
            "set_seconds": round(time.perf_counter() - made, 1),
            "annotator_seeds": seeds,
            "labels": PER_CLASS * 10,
            "epochs": epochs,
            "models": args.models,
            "variant": args.variant,
        }
    )
    runs: dict[str, list[dict]] = {model: [] for model in args.models}
    for seed in seeds:  # seed-major, so a run cut short still compares the models
        for model in args.models:
            runs[model].append(one_run(images, truth, model, epochs, seed))
            emit(runs[model][-1])
    summaries = [summary(model_runs) for model_runs in runs.values()]
    for record in summaries:
        emit({"summary": record})
    if not (args.quick or args.no_record):
        record_section(
            f"colour-accuracy-{args.variant}", section(runs, summaries, epochs, count, started, args.variant)
        )


if __name__ == "__main__":
    main()
