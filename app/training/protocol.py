"""How the worker process and the ``ProcessRunner`` talk.

In: a private folder holding ``job.json`` + ``job.npz`` (images, labels, map, checkpoint);
then commands on the worker's stdin, one JSON object a line: ``{"cmd": "stop"}`` and
``{"cmd": "labels", "position": P, "file": NAME}`` (an ``.npy`` in the folder).
Out: one JSON object a line on stdout (``started``, ``progress``, ``epoch`` with the name
of its payload ``.npz``, ``completed``, ``stopped``, ``failed``); free text on stderr.
The worker never opens the project.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from app.training.spec import EpochOutput, RunSpec
from domain.learning.config import TrainingConfig

JOB_JSON, JOB_ARRAYS = "job.json", "job.npz"


def write_job(folder: Path, spec: RunSpec) -> None:
    arrays: dict[str, np.ndarray] = {"images": spec.images, "labels": spec.labels}
    if spec.previous_map is not None:
        arrays["previous_map"] = spec.previous_map
    if spec.checkpoint is not None:
        arrays["checkpoint"] = np.frombuffer(spec.checkpoint, dtype=np.uint8)
    np.savez(folder / JOB_ARRAYS, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    (folder / JOB_JSON).write_text(
        json.dumps(
            {
                "run_id": spec.run_id,
                "labels_position": spec.labels_position,
                "config": spec.config.to_dict(),
                "seed": spec.seed,
                "num_classes": spec.num_classes,
                "epoch_offset": spec.epoch_offset,
                "compilation_cache": spec.compilation_cache,
            }
        )
    )


def read_job(folder: Path) -> RunSpec:
    meta = json.loads((folder / JOB_JSON).read_text())
    with np.load(folder / JOB_ARRAYS, allow_pickle=False) as arrays:
        checkpoint = arrays["checkpoint"].tobytes() if "checkpoint" in arrays else None
        previous = arrays["previous_map"] if "previous_map" in arrays else None
        config = TrainingConfig.from_dict(meta.pop("config"))
        return RunSpec(
            images=arrays["images"],
            labels=arrays["labels"],
            checkpoint=checkpoint,
            previous_map=previous,
            config=config,
            **meta,
        )


def write_epoch(folder: Path, output: EpochOutput) -> dict[str, Any]:
    """Store the epoch's arrays in the folder; return the line that announces them."""
    name = f"epoch-{output.epoch:06d}.npz"
    np.savez(
        folder / name,
        probabilities=output.probabilities,
        latent_map=output.latent_map,
        checkpoint=np.frombuffer(output.checkpoint, dtype=np.uint8),
    )
    return {
        "event": "epoch",
        "epoch": output.epoch,
        "metrics": output.metrics,
        "file": name,
        "meaningful": output.meaningful,
        "labels_position": output.labels_position,
        "labeled": output.labeled,
    }


def read_epoch(folder: Path, run_id: str, line: dict[str, Any]) -> EpochOutput:
    path = folder / line["file"]
    with np.load(path, allow_pickle=False) as arrays:
        output = EpochOutput(
            run_id=run_id,
            epoch=line["epoch"],
            metrics=line["metrics"],
            checkpoint=arrays["checkpoint"].tobytes(),
            probabilities=arrays["probabilities"],
            latent_map=arrays["latent_map"],
            meaningful=line["meaningful"],
            labels_position=line["labels_position"],
            labeled=line["labeled"],
        )
    path.unlink()  # the payload is in the project now; keep the folder small
    return output


def write_labels(folder: Path, labels: np.ndarray, position: int) -> dict[str, Any]:
    name = f"labels-{position}.npy"
    tmp = folder / f".{name}"
    np.save(tmp, labels)
    tmp.rename(folder / name)  # the worker never sees a half-written file
    return {"cmd": "labels", "position": position, "file": name}
