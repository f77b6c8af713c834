"""Commands: what a person asks for. A decider turns them into events or refuses.

A class may be named by its name or by its number (``label: int | str``);
names are matched first, so MNIST's classes "0".."9" work either way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CreateProject:
    name: str
    dataset_sha256: str
    shape: tuple[int, ...]
    class_names: tuple[str, ...]
    source: str
    map_sha256: str
    map_method: str = "pca"
    # The dataset's blobs, ``chunk_samples`` images each; none: the one blob ``dataset_sha256``.
    dataset_chunks: tuple[str, ...] = ()
    chunk_samples: int = 0


@dataclass(frozen=True)
class AssignLabel:
    sample: int
    label: int | str


@dataclass(frozen=True)
class RemoveLabel:
    sample: int


@dataclass(frozen=True)
class AssignLabelToMany:
    samples: tuple[int, ...]
    label: int | str


@dataclass(frozen=True)
class AddClass:
    name: str


@dataclass(frozen=True)
class RenameClass:
    label: int | str
    new_name: str


@dataclass(frozen=True)
class Undo:
    """Undo the annotator's own latest label change that is not yet undone."""

    annotator: str


@dataclass(frozen=True)
class Redo:
    annotator: str


Command = CreateProject | AssignLabel | RemoveLabel | AssignLabelToMany | AddClass | RenameClass | Undo | Redo
