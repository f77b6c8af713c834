"""Exports: the labels as CSV or JSON, the whole log as JSON lines.

Files are written beside their target and renamed into place, so an
interrupted export never leaves half a file under the requested name.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

from app.project.errors import ProjectError
from app.project.live import Project
from domain.events import class_name
from domain.projections.training import ModelOutput
from eventstore import RecordedEvent
from eventstore.codec import GENESIS, chain_hash, encode


def label_rows(project: Project) -> list[dict]:
    labels = project.labels
    names = project.info.class_names
    values, who, when = labels.labels, labels.annotator_ids, labels.changed_at
    annotators = labels.annotators
    rows = []
    for sample in (values >= 0).nonzero()[0].tolist():
        label = int(values[sample])
        rows.append(
            {
                "sample": sample,
                "label": names[label],
                "label_index": label,
                "annotator": annotators[who[sample]] if who[sample] >= 0 else "",
                "time": _iso(float(when[sample])),
            }
        )
    return rows


def export_labels(project: Project, out: str | os.PathLike[str]) -> int:
    """Write every labeled sample to ``out`` (.csv or .json); returns the row count."""
    target = Path(out).expanduser()
    rows = label_rows(project)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        text = io.StringIO()
        writer = csv.DictWriter(
            text, ["sample", "label", "label_index", "annotator", "time"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        data = text.getvalue().encode()
    elif suffix == ".json":
        document = {
            "project": project.info.project_name,
            "position": project.position,
            "classes": list(project.info.class_names),
            "labels": rows,
        }
        data = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    else:
        raise ProjectError(f"{target}: export labels to a .csv or .json file")
    write_atomically(target, [data])
    return len(rows)


@dataclass(frozen=True)
class ExportedPredictions:
    run_id: str
    epoch: int
    rows: int


def export_predictions(
    project: Project, out: str | os.PathLike[str], run_id: str | None = None
) -> ExportedPredictions:
    """Write one row per sample: ``sample``, ``predicted`` (class name), ``confidence``,
    ``label`` (the person's, empty if none), then each class's probability. The
    predictions are a run's latest (default: the latest run's that has any)."""
    target = Path(out).expanduser()
    if target.suffix.lower() != ".csv":
        raise ProjectError(f"{target}: export predictions to a .csv file")
    found = _latest_predictions(project, run_id)
    probabilities = np.load(io.BytesIO(project.get_blob(found.sha256)), allow_pickle=False)
    names = project.info.class_names
    classes = probabilities.shape[1]
    fixed = ["sample", "predicted", "confidence", "label"]
    # A class named like a fixed column keeps its column apart.
    columns = [f"p({name})" if name in fixed else name for name in names[:classes]]
    columns += [f"class {i}" for i in range(len(columns), classes)]  # a run that knew more classes
    values = project.labels.labels
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(fixed + columns)
    for sample in range(probabilities.shape[0]):
        label = int(values[sample]) if sample < len(values) else -1
        writer.writerow(
            [
                sample,
                class_name(int(predicted[sample]), names),
                f"{confidence[sample]:.6f}",
                "" if label < 0 else class_name(label, names),
                *(f"{p:.6f}" for p in probabilities[sample]),
            ]
        )
    write_atomically(target, [text.getvalue().encode()])
    return ExportedPredictions(found.run_id, found.epoch, int(probabilities.shape[0]))


def _latest_predictions(project: Project, run_id: str | None) -> ModelOutput:
    """The last predictions of ``run_id`` (default: of the latest run that made any); a
    ``ProjectError`` when there are none. Predictions of a model that had seen no label
    are clusters, not the person's classes: they are not exported. Read from the training
    projection (each run's latest, in the order runs last predicted), which the log's
    checked decoding built."""
    training = project.state.training
    if run_id is not None and training.get(run_id) is None:
        known = ", ".join(training.runs) or "none yet"
        raise ProjectError(f"there is no run {run_id!r} in {project.path} (runs: {known})")
    latest = training.run_predictions
    if run_id is None:
        found = next((p for p in reversed(latest.values()) if p.meaningful), None)
        if found is None:
            raise ProjectError(
                "there are no predictions to export: train the model on some labels first"
                + (" (the runs so far saw no label)" if latest else "")
            )
        return found
    chosen = latest.get(run_id)
    if chosen is None:
        raise ProjectError(f"run {run_id} has no predictions yet (it recorded no epoch)")
    if not chosen.meaningful:
        raise ProjectError(f"run {run_id} saw no label: its predictions are clusters, not your classes")
    return chosen


def export_events(
    project: Project, out: str | os.PathLike[str], stored_hash: Callable[[int], str | None] | None = None
) -> int:
    """Write the whole log, one JSON object per line (blobs are referenced by hash).

    Each line carries its event's chain ``hash``: sha256 over the previous line's hash
    and this event, exactly as the store chains it, so ``import-events`` can tell an
    export that was edited. With ``stored_hash(position)`` (the store's own chain), the
    last hash is compared with the store's: equal means every line is what was
    recorded; else nothing is written."""
    target = Path(out).expanduser()
    if target.suffix.lower() != ".jsonl":
        raise ProjectError(f"{target}: export events to a .jsonl file")
    count = 0

    def lines() -> Iterator[bytes]:
        nonlocal count
        previous, last = GENESIS, 0
        for e in project.events():
            count += 1
            previous, last = event_hash(previous, e), e.position
            yield orjson.dumps({**e._asdict(), "hash": previous.hex()}) + b"\n"
        if stored_hash is not None and last and stored_hash(last) != previous.hex():
            raise ProjectError(
                f"{project.path}: the events read do not match the file's hash chain at position "
                f"{last}: the log is damaged; nothing was exported. Run `ledgerlab verify "
                f"{project.path}` to find the first damaged event"
            )

    write_atomically(target, lines())
    return count


def event_hash(previous: bytes, e: RecordedEvent) -> bytes:
    """The chain hash of a recorded event after ``previous``, as the store computes it
    (its bodies encoded again canonically: the same bytes it hashed)."""
    return chain_hash(
        previous,
        e.position,
        e.stream_id,
        e.version,
        e.type,
        e.schema_version,
        e.recorded_at,
        encode(e.type, "data", e.data),
        encode(e.type, "metadata", e.metadata),
    )


def write_atomically(target: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``target`` whole or not at all (beside it, synced, then moved into
    place); a ``ProjectError`` saying what to do when the folder is missing or not writable."""
    folder = target.parent
    if not folder.is_dir():
        raise ProjectError(f"cannot write {target}: the folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    except OSError as exc:
        raise ProjectError(f"cannot write in {folder} ({exc.strerror}); choose another place") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ProjectError(f"cannot write {target} ({exc.strerror}); choose another place") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")
