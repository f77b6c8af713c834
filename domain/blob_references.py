"""Which event fields name a blob: the one list integrity checks, branches and
exports use to know what a log needs besides its events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

BLOB_FIELDS: dict[str, tuple[str, ...]] = {
    "ProjectCreated": ("dataset_sha256",),
    "LatentMapComputed": ("map_sha256",),
    "CheckpointSaved": ("checkpoint_sha256",),
    "PredictionsComputed": ("predictions_sha256",),
    "TrainingStarted": ("start_checkpoint",),
}

BLOB_KINDS: dict[str, str] = {
    "dataset_sha256": "dataset",
    "map_sha256": "latent map",
    "checkpoint_sha256": "checkpoint",
    "predictions_sha256": "predictions",
    "start_checkpoint": "starting checkpoint",
}


def blob_references(event_type: str, data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(sha256, kind) of every blob the event refers to (absent optional ones skipped)."""
    for name in BLOB_FIELDS.get(event_type, ()):
        sha = data.get(name)
        if sha:
            yield sha, BLOB_KINDS[name]
