"""Exports: the labels as CSV or JSON, the whole log as JSON lines.

Files are written beside their target and renamed into place, so an
interrupted export never leaves half a file under the requested name.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import orjson

from app.project.errors import ProjectError
from app.project.live import Project


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
    _write(target, [data])
    return len(rows)


def export_events(project: Project, out: str | os.PathLike[str]) -> int:
    """Write the whole log, one JSON object per line (blobs are referenced by hash)."""
    target = Path(out).expanduser()
    if target.suffix.lower() != ".jsonl":
        raise ProjectError(f"{target}: export events to a .jsonl file")
    count = 0

    def lines() -> Iterator[bytes]:
        nonlocal count
        for e in project.events():
            count += 1
            yield orjson.dumps(e._asdict()) + b"\n"

    _write(target, lines())
    return count


def _write(target: Path, chunks: Iterable[bytes]) -> None:
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
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ProjectError(f"cannot write {target} ({exc.strerror}); choose another place") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")
