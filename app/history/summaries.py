"""One line per event, for the history panel, ``ledgerlab log`` and the commands
that report what they recorded. The one place that knows how each event reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Names = Sequence[str]


def summarize(event_type: str, data: dict[str, Any], names: Names = ()) -> str:
    """A one-line description of an event's data; class numbers shown by ``names``."""
    describe = _SUMMARIES.get(event_type)
    if describe is None:
        return event_type
    try:
        return describe(data, lambda label: _name(label, names))
    except (KeyError, TypeError, IndexError, ValueError):  # a foreign or damaged event
        return event_type


def _name(label: int, names: Names) -> str:
    return "(none)" if label < 0 else names[label] if label < len(names) else str(label)


def _short(sha: str | None) -> str:
    return (sha or "")[:12]


def _metrics(m: dict[str, Any]) -> str:
    parts = [f"loss {m['loss']:.3f}"] if m.get("loss") is not None else []
    if m.get("accuracy") is not None:
        parts.append(f"labeled acc {m['accuracy']:.1%}")
    return ", ".join(parts) or "no metrics"


def _undo_redo(verb: str) -> Callable:
    def describe(d: dict[str, Any], n: Callable[[int], str]) -> str:
        moves = ", ".join(
            f"sample {s}: {n(p)} -> {n(lab)}" for s, lab, p in zip(d["samples"], d["labels"], d["previous"])
        )
        return f"{verb} the change at position {d['change']}" + (
            f" ({moves})" if moves else " (changed since by others: nothing to put back)"
        )

    return describe


_SUMMARIES: dict[str, Callable[[dict, Callable[[int], str]], str]] = {
    "ProjectCreated": lambda d, n: (
        f"created {d['name']!r}: {d['shape'][0]} samples, classes {', '.join(d['class_names']) or '(none)'}"
    ),
    "ProjectBranched": lambda d, n: f"branched from {d['parent_path']} at position {d['parent_position']}",
    "ClassAdded": lambda d, n: f"added class {d['index']}={d['name']}",
    "ClassRenamed": lambda d, n: f"renamed class {d['index']}: {d['old_name']} -> {d['new_name']}",
    "LatentMapComputed": lambda d, n: (
        f"latent map ({d['method']}" + (f", run {d['run_id']})" if d.get("run_id") else ")")
    ),
    "LabelAssigned": lambda d, n: f"sample {d['sample']}: {n(d['previous'])} -> {n(d['label'])}",
    "LabelRemoved": lambda d, n: f"sample {d['sample']}: {n(d['previous'])} -> (none)",
    "LabelsAssigned": lambda d, n: f"{len(d['samples'])} samples -> {n(d['label'])}",
    "LabelChangeUndone": _undo_redo("undid"),
    "LabelChangeRedone": _undo_redo("redid"),
    "ModelConfigured": lambda d, n: "model configured: " + ", ".join(
        f"{k}={v}" for k, v in sorted(d["config"].items()) if k != "epochs"
    ),
    "TrainingStarted": lambda d, n: (
        f"run {d['run_id']} started: {d['epochs']} epochs, seed {d['seed']}, {d['runner']} runner"
        + (f", continues {d['continues']}" if d.get("continues") else "")
    ),
    "EpochCompleted": lambda d, n: (
        f"run {d['run_id']} epoch {d['epoch']}: {_metrics(d['metrics'])}, {d['labeled']} labeled"
    ),
    "CheckpointSaved": lambda d, n: (
        f"run {d['run_id']} checkpoint at epoch {d['epoch']} ({_short(d['checkpoint_sha256'])}, {d['size']:,} bytes)"
    ),
    "PredictionsComputed": lambda d, n: (
        f"run {d['run_id']} predictions at epoch {d['epoch']}" + ("" if d["meaningful"] else " (no labels yet)")
    ),
    "TrainingCompleted": lambda d, n: f"run {d['run_id']} completed after {d['epochs']} epochs",
    "TrainingStopped": lambda d, n: f"run {d['run_id']} stopped after {d['epochs']} epochs: {d.get('reason', '')}",
    "TrainingFailed": lambda d, n: f"run {d['run_id']} failed after {d['epochs']} epochs: {d['message']}",
    "TrainingInterrupted": lambda d, n: f"run {d['run_id']} interrupted after {d['epochs']} epochs",
}
