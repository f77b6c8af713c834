"""Plain-text and JSON descriptions of a project, for the CLI (and any view)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.project.live import Project
    from domain.events import Event


def summary(project: Project) -> dict[str, Any]:
    info, labels = project.info, project.labels
    counts = labels.counts.tolist() if info.created else []
    latent = project.state.latent_map.current
    return {
        "name": info.project_name,
        "path": str(project.path),
        "samples": info.sample_count,
        "shape": list(info.shape),
        "classes": list(info.class_names),
        "events": project.event_count,
        "position": project.position,
        "labeled": labels.labeled,
        "per_class": dict(zip(info.class_names, counts)),
        "annotators": list(labels.annotators),
        "source": info.source,
        "dataset_sha256": info.dataset_sha256,
        "latent_map": None if latent is None else {"sha256": latent.map_sha256, "method": latent.method},
        "created_at": iso_time(info.created_at) if info.created else None,
        "branched_from": None if info.parent_path is None else {"path": info.parent_path, "position": info.parent_position},
        "runs": runs(project),
    }


def runs(project: Project) -> list[dict[str, Any]]:
    """Training runs, oldest first: status, epochs completed and the last epoch's metrics."""
    training = project.state.extras.get("training")
    if training is None:
        return []
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
        }
        for run in training.runs.values()
    ]


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
    return ", ".join(f"{i}={n}" for i, n in enumerate(names)) or "(none yet: add some with `ledgerlab add-class`)"


def iso_time(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds")
