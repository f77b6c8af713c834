"""ProjectInfo (name, dataset, classes) and LatentMap (the current 2-D map)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from domain.errors import DomainError
from domain.events import ClassAdded, ClassRenamed, LatentMapComputed, ProjectBranched, ProjectCreated
from domain.projections.recorded import Recorded


class ProjectInfo:
    name = "info"

    def __init__(self) -> None:
        self.position = 0
        self.created = False
        self.project_name = ""
        self.dataset_sha256 = ""
        self.shape: tuple[int, ...] = ()
        self.class_names: tuple[str, ...] = ()
        self.source = ""
        self.created_at = 0.0
        self.created_by = ""
        # Set on a branch: where its copied history came from (``ProjectBranched``).
        self.parent_path: str | None = None
        self.parent_position: int | None = None
        self.handlers = {
            ProjectBranched: self._on_branched,
            ProjectCreated: self._on_created,
            ClassAdded: self._on_class_added,
            ClassRenamed: self._on_class_renamed,
        }

    @property
    def sample_count(self) -> int:
        return self.shape[0] if self.shape else 0

    def class_index(self, name: str) -> int | None:
        try:
            return self.class_names.index(name)
        except ValueError:
            return None

    def _on_created(self, e: Recorded) -> None:
        d = e.data
        self.created = True
        self.project_name = d["name"]
        self.dataset_sha256 = d["dataset_sha256"]
        self.shape = tuple(d["shape"])
        self.class_names = tuple(d["class_names"])
        if not all(isinstance(name, str) for name in self.class_names):
            raise DomainError(
                f"the event at position {e.position} is damaged: its class names are not all text"
            )
        self.source = d["source"]
        self.created_at = e.metadata.get("at") or e.recorded_at
        self.created_by = e.metadata.get("annotator", "")

    def _on_branched(self, e: Recorded) -> None:
        self.parent_path = e.data["parent_path"]
        self.parent_position = e.data["parent_position"]

    def _on_class_added(self, e: Recorded) -> None:
        self.class_names = (*self.class_names, _name(e, "name"))

    def _on_class_renamed(self, e: Recorded) -> None:
        names = list(self.class_names)
        names[e.data["index"]] = _name(e, "new_name")
        self.class_names = tuple(names)

    def _fields(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "created": self.created,
            "project_name": self.project_name,
            "dataset_sha256": self.dataset_sha256,
            "shape": list(self.shape),
            "class_names": list(self.class_names),
            "source": self.source,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "parent_path": self.parent_path,
            "parent_position": self.parent_position,
        }

    def snapshot(self) -> bytes:
        return json.dumps(self._fields()).encode()

    @classmethod
    def restore(cls, payload: bytes) -> ProjectInfo:
        fields = json.loads(payload)
        self = cls()
        for key, value in fields.items():
            setattr(self, key, tuple(value) if isinstance(value, list) else value)
        return self

    def state(self) -> dict[str, Any]:
        return self._fields()


@dataclass(frozen=True)
class LatentMapRef:
    """Where the current map lives: a float32 (samples x dims) blob."""

    map_sha256: str
    samples: int
    dims: int
    method: str
    run_id: str | None
    position: int


class LatentMap:
    name = "latent_map"

    def __init__(self) -> None:
        self.position = 0
        self.current: LatentMapRef | None = None
        self.handlers = {LatentMapComputed: self._on_computed}

    def _on_computed(self, e: Recorded) -> None:
        d = e.data
        self.current = LatentMapRef(
            d["map_sha256"], d["samples"], d["dims"], d["method"], d.get("run_id"), e.position
        )

    def snapshot(self) -> bytes:
        ref = self.current
        return json.dumps({"position": self.position, "current": ref and ref.__dict__}).encode()

    @classmethod
    def restore(cls, payload: bytes) -> LatentMap:
        fields = json.loads(payload)
        self = cls()
        self.position = fields["position"]
        self.current = fields["current"] and LatentMapRef(**fields["current"])
        return self


def _name(e: Recorded, field: str) -> str:
    """A class name from an event; a damaged event (a name that is not text) says so."""
    name = e.data[field]
    if not isinstance(name, str):
        raise DomainError(f"the event at position {e.position} is damaged: its {field} is not text")
    return name
