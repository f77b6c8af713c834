"""Plain-text and JSON descriptions of a project, for the CLI (and any view)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import combinations
from typing import TYPE_CHECKING, Any

from app.quality.accuracy import ProspectiveAccuracy, prospective_accuracy, run_accuracy
from app.quality.review import label_acts
from domain.accuracy import AccuracyEstimate
from domain.label_quality import Disagreement, LabelChange, annotator_disagreements

if TYPE_CHECKING:
    from app.project.live import Project
    from domain.events import Event


def summary(project: Project) -> dict[str, Any]:
    info, labels = project.info, project.labels
    counts = labels.counts.tolist() if info.created else []
    latent = project.state.latent_map.current
    accuracy = prospective_accuracy(project)
    return {
        "name": info.project_name,
        "path": str(project.address),
        "samples": info.sample_count,
        "shape": list(info.shape),
        "classes": list(info.class_names),
        "events": project.event_count,
        "position": project.position,
        "labeled": labels.labeled,
        "per_class": dict(zip(info.class_names, counts)),
        **annotator_figures(label_acts(project.events())),
        "source": info.source,
        "dataset_sha256": info.dataset_sha256,
        "latent_map": None if latent is None else {"sha256": latent.map_sha256, "method": latent.method},
        "created_at": iso_time(info.created_at) if info.created else None,
        "branched_from": None
        if info.parent_path is None
        else {"path": info.parent_path, "position": info.parent_position},
        "runs": runs(project, accuracy),
        # Labels compared with the prediction in force when they were given (see
        # app.quality.accuracy): the model had not trained on any of them.
        "prospective_accuracy": accuracy.as_dict(),
    }


def current_labels(changes: Iterable[LabelChange]) -> dict[str, dict[int, int]]:
    """Annotator -> sample -> their latest label (samples they last unlabeled left out)."""
    out: dict[str, dict[int, int]] = {}
    for change in changes:
        mine = out.setdefault(change.annotator, {})
        if change.label is None:
            mine.pop(change.sample, None)
        else:
            mine[change.sample] = change.label
    return out


def cohen_kappa(pairs: list[tuple[int, int]]) -> float | None:
    """Cohen's kappa of two raters over ``pairs``; None when undefined (no pairs, or
    both gave one and the same class throughout, where chance agreement is certain)."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first: dict[int, int] = {}
    second: dict[int, int] = {}
    for a, b in pairs:
        first[a] = first.get(a, 0) + 1
        second[b] = second.get(b, 0) + 1
    chance = sum(count * second.get(label, 0) for label, count in first.items()) / (n * n)
    return None if chance >= 1.0 else (observed - chance) / (1.0 - chance)


def annotator_figures(changes: Iterable[LabelChange]) -> dict[str, Any]:
    """``annotators``: NAME -> {"labels": samples whose latest label from NAME stands};
    ``agreement``: per pair, Cohen's kappa over the samples both labeled ("overlaps")."""
    current = current_labels(changes)
    names = sorted(name for name, mine in current.items() if mine)
    agreement = []
    for a, b in combinations(names, 2):
        both = sorted(current[a].keys() & current[b].keys())
        pairs = [(current[a][s], current[b][s]) for s in both]
        kappa = cohen_kappa(pairs)
        agreement.append(
            {
                "annotators": [a, b],
                "overlaps": len(pairs),
                "agreed": sum(x == y for x, y in pairs),
                "kappa": None if kappa is None else round(kappa, 4),
            }
        )
    return {"annotators": {name: {"labels": len(current[name])} for name in names}, "agreement": agreement}


def conflicts(project: Project) -> tuple[Disagreement, ...]:
    """Samples whose annotators' latest labels differ (``domain.label_quality``)."""
    return annotator_disagreements(label_acts(project.events()))


def runs(project: Project, accuracy: ProspectiveAccuracy | None = None) -> list[dict[str, Any]]:
    """Training runs, oldest first: status, epochs completed, the last epoch's metrics
    (``accuracy`` there is training accuracy, on the labels the run trained on) and the
    honest ``accuracy_estimate``: held-out when the run kept labels out of training,
    else prospective (None when nothing was compared yet)."""
    training = project.state.extras.get("training")
    if training is None:
        return []
    folded = accuracy or prospective_accuracy(project)

    def estimate(run_id: str, metrics: dict[str, Any] | None) -> dict[str, Any] | None:
        found = run_accuracy(folded, run_id, metrics)  # held-out when the run kept labels out
        return None if found is None else found.as_dict()

    return [
        {
            "run_id": run.run_id,
            "status": run.status,
            "epochs": len(run.epochs),
            "last_epoch": run.last_epoch,
            "metrics": run.last_metrics,
            "runner": run.runner,
            "seed": run.seed,
            "continues": run.continues,
            "checkpoint": run.checkpoint,
            "accuracy_estimate": estimate(run.run_id, run.last_metrics),
        }
        for run in training.runs.values()
    ]


def run_line(run: dict[str, Any]) -> str:
    """A run as one line of ``ledgerlab info``: the honest estimate first, training
    accuracy after it and named so."""
    metrics = run["metrics"]
    loss = f"loss {metrics['loss']:.3f}" if metrics.get("loss") is not None else "no epoch yet"
    line = f"{run['run_id']}  {run['status']}  {run['epochs']} epochs (to epoch {run['last_epoch']}), {loss}"
    found = run.get("accuracy_estimate")
    if found is not None:
        line += f", accuracy {estimate_from(found).text()}"
    if metrics.get("accuracy") is not None:
        line += f", training accuracy (on its own labels) {metrics['accuracy']:.1%}"
    return line


def prospective_line(figures: dict[str, Any]) -> str | None:
    """The project's prospective accuracy as a line of ``ledgerlab info`` (None before any)."""
    if not figures["n"]:
        return None
    overall = AccuracyEstimate.from_counts(figures["correct"], figures["n"], "prospective").text()
    recent = figures.get("recent") or {}
    if recent and recent["n"] < figures["n"]:
        last = AccuracyEstimate.from_counts(recent["correct"], recent["n"], "prospective").text()
        overall += f"; last {recent['window']} labels: {last}"
    return overall


def estimate_from(figures: dict[str, Any]) -> AccuracyEstimate:
    return AccuracyEstimate(
        figures["value"], figures["low"], figures["high"], figures["n"], figures["method"]
    )


def describe_event(event: Event, names: tuple[str, ...]) -> str:
    """One line for a domain event (its class's ``summary``, as in the history)."""
    return event.summary(names)


def shape_text(shape: tuple[int, ...]) -> str:
    if not shape:
        return "no dataset"
    n, *rest = shape
    kind = "grey" if len(rest) == 2 else f"{rest[2]} channels"
    return f"{n} samples {rest[0]}×{rest[1]} {kind}"


def classes_text(names: tuple[str, ...]) -> str:
    return (
        ", ".join(f"{i}={n}" for i, n in enumerate(names))
        or "(none yet: add some with `ledgerlab add-class`)"
    )


def iso_time(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="seconds")
