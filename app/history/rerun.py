"""``ledgerlab verify --rerun RUN_ID``: execute a recorded run again from its events
alone and compare it with what was recorded.

Everything comes from the log: the dataset blob, the seed, the configuration, the
starting checkpoint, and for every epoch the labels as of the position that epoch
recorded (``EpochCompleted.labels_position``), handed in through ``LiveLabels`` as the
live runner would have. The run goes through ``app.training.execution.execute``,
the code every runner uses; there is no second training loop. A stopped run is
rerun for the epochs it recorded.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.project.dataset_store import DatasetImages, created_event
from app.project.errors import ProjectError
from app.project.mapper import from_record
from app.project.projections import build_projections
from domain.events import EventRegistry
from domain.initial_map import decode_map
from domain.learning.config import TrainingConfig
from domain.projections.project import ReadModelClass
from domain.training_events import CheckpointSaved, EpochCompleted, TrainingStarted, run_stream
from eventstore import EventStore

if TYPE_CHECKING:
    from app.training.spec import EpochOutput

WALL_CLOCK = frozenset({"seconds", "samples_per_s", "evaluation_seconds"})


@dataclass
class RerunReport:
    run_id: str
    epochs: int = 0
    checkpoints: int = 0
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


def rerun(
    store: EventStore,
    registry: EventRegistry,
    extra_parts: tuple[ReadModelClass, ...],
    run_id: str,
    on_epoch: Callable[[int, int], None] | None = None,
) -> RerunReport:
    from app.training.execution import LiveLabels, execute
    from app.training.recorder import library_versions, training_images
    from app.training.spec import RunSpec

    started, epochs, checkpoints = _recorded(store, registry, extra_parts, run_id)
    report = RerunReport(run_id)
    here = library_versions()
    changed = {k: (v, here.get(k)) for k, v in started.versions.items() if here.get(k) != v}
    if changed:
        report.notes.append(
            "recorded with other library versions ("
            + ", ".join(f"{k} {a} here {b}" for k, (a, b) in changed.items())
            + "): small differences are expected"
        )
    state = build_projections(store, registry, until=started.labels_position, extra_parts=())
    latent = state.latent_map.current
    config = TrainingConfig.from_dict(started.config)
    spec = RunSpec(
        run_id=run_id,
        images=training_images(DatasetImages(store.get_blob, created_event(store, registry)), config),
        labels=state.labels.labels.copy(),
        labels_position=state.position,
        config=config,
        seed=started.seed,
        num_classes=len(state.info.class_names),
        epoch_offset=started.epoch_offset,
        checkpoint=store.get_blob(started.start_checkpoint) if started.start_checkpoint else None,
        previous_map=None if latent is None else decode_map(store.get_blob(latent.map_sha256)),
    )
    live = LiveLabels(spec.labels, spec.labels_position)

    def feed(position: int) -> None:
        nonlocal state
        if position < state.position:  # never in a log written by Ledgerlab; rebuild to be safe
            state = build_projections(store, registry, until=position)
        elif position > state.position:
            state.apply(store.read_all(after=state.position, until=position))
        live.update(state.labels.labels.copy(), position)

    feed(epochs[0].labels_position)
    outputs = execute(spec, lambda: False, live)
    try:
        for i, output in enumerate(outputs):
            recorded = epochs[i]
            _compare(report, recorded, output, checkpoints)
            if on_epoch is not None:
                on_epoch(i + 1, len(epochs))
            if i + 1 == len(epochs):
                break
            feed(epochs[i + 1].labels_position)
    finally:
        outputs.close()
    if report.epochs < len(epochs):
        report.differences.append(
            f"the rerun ended after {report.epochs} of the {len(epochs)} recorded epochs"
        )
    return report


def _recorded(
    store: EventStore, registry: EventRegistry, extra_parts: tuple[ReadModelClass, ...], run_id: str
) -> tuple[TrainingStarted, list[EpochCompleted], dict[int, str]]:
    """(its TrainingStarted, its EpochCompleted in order, {epoch: checkpoint sha})."""
    events = [from_record(record, registry) for record in store.read_stream(run_stream(run_id))]
    started = next((e for e in events if isinstance(e, TrainingStarted)), None)
    if started is None:
        runs = build_projections(store, registry, extra_parts=extra_parts).extras.get("training")
        known = ", ".join(runs.runs) if runs is not None and runs.runs else "none"
        raise ProjectError(
            f"there is no run {run_id!r} in this project (runs: {known}); "
            "`ledgerlab log PATH --type TrainingStarted` lists them"
        )
    epochs = [e for e in events if isinstance(e, EpochCompleted)]
    if not epochs:
        raise ProjectError(f"run {run_id} recorded no epoch: there is nothing to rerun")
    checkpoints = {e.epoch: e.checkpoint_sha256 for e in events if isinstance(e, CheckpointSaved)}
    return started, epochs, checkpoints


def _compare(
    report: RerunReport, recorded: EpochCompleted, output: EpochOutput, checkpoints: dict[int, str]
) -> None:
    report.epochs += 1
    epoch = recorded.epoch
    if output.epoch != epoch:
        report.differences.append(f"epoch numbers differ: recorded {epoch}, rerun {output.epoch}")
    mine, theirs = _comparable(output.metrics), _comparable(recorded.metrics)
    for key in sorted(set(mine) | set(theirs)):
        a, b = theirs.get(key), mine.get(key)
        if a != b:
            delta = f" (difference {b - a:+.3g})" if a is not None and b is not None else ""
            report.differences.append(f"epoch {epoch} {key}: recorded {a!r}, rerun {b!r}{delta}")
    if epoch in checkpoints:
        report.checkpoints += 1
        sha = hashlib.sha256(output.checkpoint).hexdigest()
        if sha != checkpoints[epoch]:
            report.differences.append(
                f"epoch {epoch} checkpoint: recorded {checkpoints[epoch][:12]}…, rerun {sha[:12]}…"
            )


def _comparable(metrics: dict[str, Any]) -> dict[str, float | None]:
    """As recorded: wall-clock figures left out, non-finite values as None."""
    return {
        k: (None if v is None or not math.isfinite(v) else float(v))
        for k, v in metrics.items()
        if k not in WALL_CLOCK
    }
