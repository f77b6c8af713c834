"""Model bundles: one run's classifier taken out of the project as one file (a zip), to
classify images that were never in it (``ledgerlab export --model``, ``ledgerlab predict``).

A bundle holds ``manifest.json`` (format and version, class names, input shape and
preprocessing, the classifier's sizes, the run's settings, metrics and honest accuracy,
the dataset's fingerprint, library versions) and ``weights.npz`` (the classifier's
arrays, taken from the run's checkpoint blob). Neither JAX nor Qt is needed to write or
read one: the checkpoint's msgpack is decoded here, so the window can export too.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from app.history.export import write_atomically
from app.project.errors import ProjectError
from app.project.live import Project
from app.quality.accuracy import run_accuracy
from app.quality.runs import RunLog, find_run, training_of
from domain.learning.config import ConfigError, TrainingConfig

FORMAT = "ledgerlab-model"
FORMAT_VERSION = 1
SUFFIX = ".llmodel"
PREPROCESSING = "pixels flattened row by row (channels last), uint8 divided by 255 to float32 in [0, 1]"
_LIBRARIES = ("ledgerlab", "jax", "jaxlib", "flax", "optax", "numpy")
_CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class Bundle:
    manifest: dict[str, Any]
    weights: dict[str, np.ndarray]

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["class_names"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.manifest["input"]["shape"])

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.manifest["classifier"]["hidden_sizes"])

    @property
    def num_classes(self) -> int:
        return int(self.manifest["classifier"]["num_classes"])


@dataclass(frozen=True)
class ExportedModel:
    run_id: str
    epoch: int
    size: int


# --- writing ----------------------------------------------------------------------------------


def export_model(
    project: Project,
    out: str | os.PathLike[str],
    run_id: str | None = None,
    epoch: int | None = None,
    log: RunLog | None = None,
) -> ExportedModel:
    """Write the classifier of ``run_id`` at checkpoint ``epoch`` to ``out`` (default: the run
    that drives the window, at its latest checkpoint). Written beside ``out`` and renamed.
    ``log``: the log as already folded (the Runs panel's), caught up instead of read again."""
    target = Path(out).expanduser()
    if target.suffix.lower() != SUFFIX:
        raise ProjectError(f"{target}: export a model to a {SUFFIX} file")
    run_id = run_id or _default_run(project)
    run = find_run(project, run_id)
    log = (log or RunLog(project)).catch_up(project)
    checkpoints = log.checkpoint_blobs.get(run_id, {})
    if not checkpoints:
        raise ProjectError(f"run {run_id} saved no checkpoint: there is no model to export")
    if epoch is None:
        epoch = max(checkpoints)
    elif epoch not in checkpoints:
        saved = ", ".join(map(str, sorted(checkpoints)))
        raise ProjectError(f"run {run_id} has no checkpoint at epoch {epoch}: choose one of {saved}")
    config = dict(run.config)
    try:  # as recorded: settings missing from an older log take the values it trained with
        hidden = TrainingConfig.from_dict(config).classifier_sizes
    except (ConfigError, TypeError) as exc:
        raise ProjectError(f"run {run_id}'s settings cannot be read by this release ({exc})") from exc
    weights = classifier_arrays(project.get_blob(checkpoints[epoch]), len(hidden))
    info = project.info
    names = list(info.class_names)
    classes = int(weights["logits.bias"].shape[0])
    names += [f"class {i}" for i in range(len(names), classes)]  # a run that knew more classes
    metrics = run.metrics[run.epochs.index(epoch)] if epoch in run.epochs else {}
    estimate = run_accuracy(log.accuracy, run_id, metrics)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": time.time(),
        "project": info.project_name,
        "run_id": run_id,
        "epoch": epoch,
        "class_names": names[:classes],
        "input": {"shape": list(info.shape[1:]), "dtype": "uint8", "preprocessing": PREPROCESSING},
        "classifier": {
            "kind": "conv" if any(name.startswith("convs.") for name in weights) else "mlp",
            "hidden_sizes": list(hidden),
            "num_classes": classes,
            "activation": "relu",
            "output": "softmax",
        },
        "config": config,
        "dataset_sha256": info.dataset_sha256,
        "metrics": metrics,
        "accuracy_estimate": None if estimate is None else estimate.as_dict(),
        "versions": library_versions(),
    }
    arrays = io.BytesIO()
    np.savez(arrays, **weights)  # type: ignore[arg-type]  # (numpy stubs: keywords are arrays)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        z.writestr("weights.npz", arrays.getvalue())
    data = buffer.getvalue()
    write_atomically(target, [data])
    return ExportedModel(run_id, epoch, len(data))


def _default_run(project: Project) -> str:
    training = training_of(project)
    run_id = training.driving_run
    if run_id is None:
        done = [r.run_id for r in training.runs.values() if r.checkpoint is not None]
        if not done:
            raise ProjectError("there is no trained model to export: train first (`ledgerlab train`)")
        run_id = done[-1]
    return run_id


def classifier_arrays(checkpoint: bytes, hidden_layers: int) -> dict[str, np.ndarray]:
    """The classifier's arrays of a checkpoint (``domain.learning.checkpoint``: the model's
    parameters flattened in pytree order, where the classifier's come first)."""
    try:
        stored = msgpack.unpackb(checkpoint, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProjectError(f"the run's checkpoint is not readable ({exc}): it may be damaged") from exc
    if not isinstance(stored, dict) or stored.get("format") != _CHECKPOINT_FORMAT:
        raise ProjectError("the run's checkpoint is of an unknown format: it was written by another release")
    params = stored["params"]
    names = weight_names(hidden_layers, _conv_layers(params))
    if len(params) < len(names):
        raise ProjectError("the run's checkpoint holds fewer arrays than its classifier has: it is damaged")
    return {name: np.array(params[str(i)], dtype=np.float32) for i, name in enumerate(names)}


def _conv_layers(params: dict[str, Any]) -> int:
    """How many convolutions lead the classifier's arrays: the conv model's kernels are
    the only 4-D arrays (bias, kernel pairs first in the flattened order); 0 for the MLP."""
    count = 0
    while str(2 * count + 1) in params and np.ndim(params[str(2 * count + 1)]) == 4:
        count += 1
    return count


def weight_names(hidden_layers: int, conv_layers: int = 0) -> list[str]:
    """The classifier's arrays in the order its parameters flatten (as
    ``domain.learning.inference.weight_names``, which the tests hold this to)."""
    names = []
    for i in range(conv_layers):
        names += [f"convs.{i}.bias", f"convs.{i}.kernel"]
    for i in range(hidden_layers):
        names += [f"hidden.{i}.bias", f"hidden.{i}.kernel"]
    return names + ["logits.bias", "logits.kernel"]


def _ext_hook(code: int, data: bytes) -> Any:
    # flax.serialization's encoding of an ndarray (ext type 1): (shape, dtype name, C bytes).
    if code != 1:
        return msgpack.ExtType(code, data)
    shape, dtype, buffer = msgpack.unpackb(data, raw=True)
    return np.frombuffer(buffer, dtype=np.dtype(dtype.decode())).reshape(shape)


def library_versions() -> dict[str, str]:
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


# --- reading ----------------------------------------------------------------------------------


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    """The bundle at ``path``, its format and version checked; a ``ProjectError`` saying what
    is wrong (not a bundle, damaged, or made by an incompatible release)."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise ProjectError(
            f"{source} does not exist: give the path of a {SUFFIX} file (ledgerlab export --model)"
        )
    try:
        with zipfile.ZipFile(source) as z:
            manifest = json.loads(z.read("manifest.json"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ProjectError(
                    f"{source} is not a Ledgerlab model bundle (its manifest names no {FORMAT!r})"
                )
            _check_version(source, manifest)
            with np.load(io.BytesIO(z.read("weights.npz")), allow_pickle=False) as arrays:
                weights = {name: arrays[name] for name in arrays.files}
    except ProjectError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ProjectError(
            f"{source} is not a readable Ledgerlab model bundle ({exc}); export it again with "
            "`ledgerlab export PROJECT --model OUT.llmodel`"
        ) from exc
    try:
        bundle = Bundle(manifest, weights)
        _ = (bundle.class_names, bundle.input_shape, bundle.hidden_sizes, bundle.num_classes)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"{source}: the bundle's manifest is incomplete ({exc}); export it again") from exc
    return bundle


def _check_version(source: Path, manifest: dict[str, Any]) -> None:
    version = manifest.get("format_version")
    made_by = (manifest.get("versions") or {}).get("ledgerlab", "an unknown release")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectError(f"{source}: the bundle's format version {version!r} is not one Ledgerlab wrote")
    if version > FORMAT_VERSION:
        raise ProjectError(
            f"{source} was made by Ledgerlab {made_by} (bundle format {version}); this release reads "
            f"format {FORMAT_VERSION}: upgrade Ledgerlab to use it"
        )
