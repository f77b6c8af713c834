"""Commands: what a person asks for. A decider turns them into events or refuses.

A class may be named by its name or by its number (``label: int | str``);
names are matched first, so MNIST's classes "0".."9" work either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


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
    # Display thumbnails of images larger than one (none: the images are shown).
    thumbnail_chunks: tuple[str, ...] = ()
    thumbnail_samples: int = 0
    thumbnail_shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class AssignLabel:
    """Give ``sample`` the class ``label``. ``annotator`` is who asks (filled in by
    ``attributed``): giving a label that stands from someone else confirms it."""

    sample: int
    label: int | str
    annotator: str = ""


@dataclass(frozen=True)
class RemoveLabel:
    sample: int


@dataclass(frozen=True)
class AssignLabelToMany:
    samples: tuple[int, ...]
    label: int | str
    annotator: str = ""


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


def attributed(command: Command, annotator: str) -> Command:
    """``command`` with ``annotator`` as who asks, when it names one and none is given
    (the application knows who works; the decider needs it to tell a confirmation
    from giving one's own label again)."""
    if isinstance(command, AssignLabel | AssignLabelToMany) and not command.annotator:
        return replace(command, annotator=annotator)
    return command
