"""``ledgerlab predict BUNDLE DATA``: classify images outside any project with a model
bundle (``ledgerlab export P --model OUT.llmodel``).

DATA is read and validated exactly as ``ledgerlab new --dataset`` reads it (same errors,
same size rules); the images must have the bundle's input shape. The rows are those of
the predictions export (``sample``, ``predicted``, ``confidence``, ``label`` — empty
here —, one probability per class), ``sample`` being the row of a ``.npz`` or the
image's path relative to the folder. Only the classifier runs (no decoder, no Qt).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from app.cli.history import AddCommand
from app.cli.output import say
from app.project.errors import ProjectError

if TYPE_CHECKING:
    from app.history.bundle import Bundle
    from app.project.bootstrap import Application

FIXED = ["sample", "predicted", "confidence", "label"]
PROGRESS_AFTER = 2.0  # seconds of work before a progress bar is drawn


def add_commands(add: AddCommand) -> None:
    p = add(
        "predict",
        cmd_predict,
        "classify a .npz or a folder of images with a model bundle (ledgerlab export --model)",
    )
    p.add_argument("bundle", metavar="MODEL.llmodel")
    p.add_argument("data", metavar="DATA", help="a .npz file or a folder of PNG/JPEG, as for `new --dataset`")
    p.add_argument("--out", metavar="OUT.csv", help="write the predictions here (default: print them as CSV)")
    p.add_argument(
        "--json", action="store_true", help="print JSON (the predictions, or a summary with --out)"
    )


def cmd_predict(args: argparse.Namespace, app: Application) -> int:
    from app.history.bundle import read_bundle
    from app.history.export import write_atomically
    from domain.dataset import load_dataset

    out = Path(args.out).expanduser() if args.out else None
    if out is not None and out.suffix.lower() != ".csv":
        raise ProjectError(f"{out}: write predictions to a .csv file")
    bundle = read_bundle(args.bundle)
    dataset = load_dataset(args.data)
    expected, found = bundle.input_shape, dataset.shape[1:]
    if tuple(found) != tuple(expected):
        raise ProjectError(
            f"{args.data}: the images are {_shape(found)} but the model takes {_shape(expected)} images: "
            "resize them (or use a model trained on images of that size)"
        )
    probabilities = classify(bundle, at_training_size(bundle, dataset.images))
    samples = sample_names(Path(args.data).expanduser(), len(dataset))
    rows = prediction_rows(samples, probabilities, bundle.class_names)
    if out is not None:
        write_atomically(out, [csv_text(rows, bundle.class_names).encode()])
    if args.json:
        document: dict[str, Any] = {
            "model": {"run_id": bundle.manifest.get("run_id"), "epoch": bundle.manifest.get("epoch")},
            "samples": len(rows),
            "classes": bundle.class_names,
        }
        if out is not None:
            document["out"] = str(out)
        else:
            document["predictions"] = rows
        say(json.dumps(document, ensure_ascii=False))
    elif out is not None:
        say(f"wrote the predictions of {len(rows):,} images to {out}")
    else:
        sys.stdout.write(csv_text(rows, bundle.class_names))
    for note in dataset.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def at_training_size(bundle: Bundle, images: np.ndarray) -> np.ndarray:
    """``images`` as the run trained on them: shrunk to its recorded training size
    (``domain.resample``; 0 or a run recorded before the setting: as they are)."""
    from domain.resample import to_training_size

    size = bundle.manifest.get("config", {}).get("training_size", 0)
    return to_training_size(images, int(size) if isinstance(size, int) else 0)


def classify(bundle: Bundle, images: np.ndarray, stream: TextIO | None = None) -> np.ndarray:
    """The bundle's class probabilities of ``images``, with a progress bar on a terminal
    once the work has taken more than ``PROGRESS_AFTER`` seconds."""
    from domain.learning.config import ConfigError
    from domain.learning.inference import predict

    stream = stream or sys.stderr
    bar = ProgressBar(stream, "classifying")
    try:
        return predict(
            bundle.weights, images, bundle.hidden_sizes, bundle.num_classes, on_progress=bar.update
        )
    except ConfigError as exc:  # e.g. a conv bundle from before the 2x2 trunks of issue 18
        raise ProjectError(
            f"this model bundle does not fit this version's classifier ({exc}): export it again "
            "with `ledgerlab export PROJECT --model OUT.llmodel` from a run trained with this version"
        ) from exc
    finally:
        bar.close()


class ProgressBar:
    """A one-line bar on ``stream`` when it is a terminal, drawn only after
    ``PROGRESS_AFTER`` seconds (short work stays silent)."""

    def __init__(self, stream: TextIO, what: str) -> None:
        self.stream, self.what = stream, what
        self.started = time.perf_counter()
        self.drawn = False
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def update(self, done: int, total: int) -> None:
        if not self.tty or time.perf_counter() - self.started < PROGRESS_AFTER:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        self.stream.write(f"\r{self.what} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def sample_names(data: Path, count: int) -> list[str | int]:
    """Row numbers for a ``.npz``; paths relative to the folder, in the loader's order."""
    if not data.is_dir():
        return list(range(count))
    from domain.image_folder import _image_files, _rel  # the order read_folder reads them in

    names: list[str | int] = [_rel(data, f) for f in _image_files(data)]
    if len(names) != count:  # cannot happen unless the folder changed while being read
        raise ProjectError(f"{data} changed while it was read: run the command again")
    return names


def prediction_rows(
    samples: list[str | int], probabilities: np.ndarray, names: list[str]
) -> list[dict[str, Any]]:
    predicted = probabilities.argmax(axis=1)
    return [
        {
            "sample": sample,
            "predicted": names[int(k)] if int(k) < len(names) else str(int(k)),
            "confidence": float(p[int(k)]),
            "probabilities": [float(v) for v in p],
        }
        for sample, k, p in zip(samples, predicted, probabilities)
    ]


def csv_text(rows: list[dict[str, Any]], names: list[str]) -> str:
    """The columns of ``ledgerlab export --predictions`` (app.history.export)."""
    columns = [f"p({name})" if name in FIXED else name for name in names]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(FIXED + columns)
    for row in rows:
        writer.writerow(
            [
                row["sample"],
                row["predicted"],
                f"{row['confidence']:.6f}",
                "",
                *(f"{p:.6f}" for p in row["probabilities"]),
            ]
        )
    return text.getvalue()


def _shape(shape: tuple[int, ...] | list[int]) -> str:
    dims = list(shape)
    kind = "grey" if len(dims) == 2 else f"{dims[2]}-channel"
    return f"{dims[0]}×{dims[1]} {kind}"
