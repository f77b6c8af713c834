"""Deciders: ``decide(state, command) -> list[Event]``, pure and total.

``state`` is a ``ProjectProjections`` (or anything with ``info``, ``labels``
and ``history`` read models). Refusals raise ``DomainError`` with a message a
person can act on; nothing is recorded for a change that changes nothing.
"""

from __future__ import annotations

import unicodedata
from functools import singledispatch
from typing import Protocol

from domain import commands as c
from domain import events as ev
from domain.errors import DomainError
from domain.projections.labels import NO_LABEL, LabelSet
from domain.projections.project_info import ProjectInfo
from domain.projections.undo import UndoHistory

MAX_CLASS_NAME = 100


class DecisionState(Protocol):
    """The read models a decider consults (``ProjectProjections`` has them)."""

    @property
    def info(self) -> ProjectInfo: ...

    @property
    def labels(self) -> LabelSet: ...

    @property
    def history(self) -> UndoHistory: ...


def decide(state: DecisionState, command: c.Command) -> list[ev.Event]:
    """The events that carry out ``command`` on ``state`` (may be empty)."""
    if not isinstance(command, c.CreateProject) and not state.info.created:
        raise DomainError("this project has not been created yet: create it first")
    return _decide(command, state)


@singledispatch
def _decide(command: object, state: DecisionState) -> list[ev.Event]:
    raise DomainError(f"unknown command {type(command).__name__}")


@_decide.register
def _(cmd: c.CreateProject, state: DecisionState) -> list[ev.Event]:
    if state.info.created:
        raise DomainError(f"the project {state.info.project_name!r} already exists")
    if not cmd.shape or cmd.shape[0] < 1:
        raise DomainError("a project needs a dataset with at least one sample")
    check_name("project name", cmd.name)
    names = tuple(_check_class_name(n, ()) for n in cmd.class_names)
    _check_unique(names)
    return [
        ev.ProjectCreated(
            cmd.name,
            cmd.dataset_sha256,
            tuple(cmd.shape),
            names,
            cmd.source,
            tuple(cmd.dataset_chunks),
            cmd.chunk_samples,
            tuple(cmd.thumbnail_chunks),
            cmd.thumbnail_samples,
            tuple(cmd.thumbnail_shape),
        ),
        ev.LatentMapComputed(cmd.map_sha256, cmd.shape[0], 2, cmd.map_method),
    ]


@_decide.register
def _(cmd: c.AssignLabel, state: DecisionState) -> list[ev.Event]:
    sample = _check_sample(cmd.sample, state)
    label = resolve_class(cmd.label, state)
    previous = state.labels.label_of(sample)
    if previous == label:
        return _confirmed((sample,), label, cmd.annotator, state)
    return [ev.LabelAssigned(sample, label, previous)]


@_decide.register
def _(cmd: c.RemoveLabel, state: DecisionState) -> list[ev.Event]:
    sample = _check_sample(cmd.sample, state)
    previous = state.labels.label_of(sample)
    if previous == NO_LABEL:
        return []
    return [ev.LabelRemoved(sample, previous)]


@_decide.register
def _(cmd: c.AssignLabelToMany, state: DecisionState) -> list[ev.Event]:
    if not cmd.samples:
        raise DomainError("no samples are selected: select at least one sample to label")
    label = resolve_class(cmd.label, state)
    samples = tuple(dict.fromkeys(_check_sample(s, state) for s in cmd.samples))
    changed = tuple(s for s in samples if state.labels.label_of(s) != label)
    kept = tuple(s for s in samples if state.labels.label_of(s) == label)
    confirmed = _confirmed(kept, label, cmd.annotator, state)
    if not changed:
        return confirmed
    previous = tuple(state.labels.label_of(s) for s in changed)
    return [ev.LabelsAssigned(changed, label, previous), *confirmed]


def _confirmed(samples: tuple[int, ...], label: int, annotator: str, state: DecisionState) -> list[ev.Event]:
    """A ``LabelConfirmed`` for those of ``samples`` (all labeled ``label`` already)
    whose label someone other than ``annotator`` gave; nothing for one's own labels
    (that is no news) or when who asks is unknown."""
    if not annotator:
        return []
    others = tuple(s for s in samples if state.labels.annotator_of(s) not in (annotator, None))
    return [ev.LabelConfirmed(others, label)] if others else []


@_decide.register
def _(cmd: c.AddClass, state: DecisionState) -> list[ev.Event]:
    names = state.info.class_names
    name = _check_class_name(cmd.name, names)
    return [ev.ClassAdded(len(names), name)]


@_decide.register
def _(cmd: c.RenameClass, state: DecisionState) -> list[ev.Event]:
    index = resolve_class(cmd.label, state)
    old = state.info.class_names[index]
    if isinstance(cmd.new_name, str) and cmd.new_name.strip() == old:
        return []
    new_name = _check_class_name(cmd.new_name, state.info.class_names)
    return [ev.ClassRenamed(index, old, new_name)]


@_decide.register
def _(cmd: c.Undo, state: DecisionState) -> list[ev.Event]:
    check_name("annotator name", cmd.annotator)
    change = state.history.last_done(cmd.annotator)
    if change is None:
        raise DomainError(f"nothing to undo: {cmd.annotator} has no label changes left to undo")
    # Only samples still showing this change are put back; a later change by
    # someone else wins over an undo.
    current = state.labels.label_of
    kept = [
        (s, prev, new)
        for s, new, prev in zip(change.samples, change.labels, change.previous)
        if current(s) == new
    ]
    return [ev.LabelChangeUndone(change.position, *_columns(kept))]


@_decide.register
def _(cmd: c.Redo, state: DecisionState) -> list[ev.Event]:
    check_name("annotator name", cmd.annotator)
    change = state.history.last_undone(cmd.annotator)
    if change is None:
        raise DomainError(f"nothing to redo: {cmd.annotator} has not undone anything since their last change")
    current = state.labels.label_of
    kept = [
        (s, new, prev)
        for s, new, prev in zip(change.samples, change.labels, change.previous)
        if current(s) == prev
    ]
    return [ev.LabelChangeRedone(change.position, *_columns(kept))]


def _columns(rows: list[tuple[int, int, int]]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    if not rows:
        return (), (), ()
    samples, labels, previous = zip(*rows)
    return samples, labels, previous


# --- validation --------------------------------------------------------------


def _check_sample(sample: object, state: DecisionState) -> int:
    n = state.info.sample_count
    if isinstance(sample, bool) or not isinstance(sample, int):
        raise DomainError(f"sample {sample!r} is not a sample number: use a whole number 0–{n - 1}")
    if not 0 <= sample < n:
        raise DomainError(f"sample {sample} is out of range: the dataset has {n} samples (0–{n - 1})")
    return sample


def resolve_class(label: int | str, state: DecisionState) -> int:
    """A class number from a name or a number; names win, so "3" means the class
    named "3" if there is one, else class number 3."""
    names = state.info.class_names
    if isinstance(label, str):
        text = label.strip()
        if text in names:
            return names.index(text)
        if text.lstrip("-").isdigit():
            label = int(text)
    if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(names):
        return label
    if not names:
        raise DomainError(f"unknown class {label!r}: the project has no classes yet; add one first")
    listing = ", ".join(f"{i}={n}" for i, n in enumerate(names))
    raise DomainError(
        f"unknown class {label!r}: the classes are {listing}; use a name or number from "
        "this list, or add the class first"
    )


# Names are shown one per line (``ledgerlab log``, error messages, the history panel):
# control characters and line or paragraph separators would break those lines, and
# lone surrogates cannot be stored as UTF-8.
_FORBIDDEN_CATEGORIES = {
    "Cc": "a control character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "a lone surrogate",
}


def check_name(what: str, name: object) -> str:
    """``name`` if it can be shown on one line; else a ``DomainError`` naming the
    character and its place. ``what`` is how the message calls it ("class name")."""
    if not isinstance(name, str):
        raise DomainError(f"the {what} must be text, not {type(name).__name__}")
    for place, char in enumerate(name, 1):
        kind = _FORBIDDEN_CATEGORIES.get(unicodedata.category(char))
        if kind is not None:
            shown = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}.get(char, kind)
            raise DomainError(
                f"the {what} {name!r} contains {shown} (U+{ord(char):04X}, character {place}): "
                "names are shown on one line, so remove it"
            )
    return name


def _check_class_name(name: str, existing: tuple[str, ...]) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        raise DomainError("a class name cannot be empty: give the class a name")
    check_name("class name", text)
    if len(text) > MAX_CLASS_NAME:
        raise DomainError(f"class name {text[:20]!r}… is too long: use at most {MAX_CLASS_NAME} characters")
    if text in existing:
        raise DomainError(
            f"class {text!r} already exists (number {existing.index(text)}): choose another name"
        )
    return text


def _check_unique(names: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DomainError(f"class {n!r} is listed twice: give each class one distinct name")
        seen.add(n)
