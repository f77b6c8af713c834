"""UndoHistory: per annotator, the label changes that can be undone and redone.

Derived from the log only, so undo and redo survive a restart and each person
undoes only their own changes. A change is a flat record (position, sample,
label, previous) in an ``array('q')`` -- cheap to append on the replay hot path.
Changes to many samples store ``sample = -1`` and keep their sample lists aside.

Depth is bounded (``UNDO_DEPTH`` changes per annotator) so a log of millions of
labels does not keep millions of undo records; trimming depends only on the
sequence of events, so every way of building the history agrees.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from domain.events import LabelAssigned, LabelChangeRedone, LabelChangeUndone, LabelRemoved, LabelsAssigned
from domain.projections import codec
from domain.projections.batch import LabelRun
from domain.projections.recorded import Recorded

UNDO_DEPTH = 1_000
_WIDTH = 4  # position, sample, label, previous
_BULK = -1


@dataclass(frozen=True)
class LabelChange:
    """One undoable step: ``samples`` went from ``previous`` to ``labels``."""

    position: int
    samples: tuple[int, ...]
    labels: tuple[int, ...]
    previous: tuple[int, ...]


class UndoHistory:
    name = "undo"

    def __init__(self, depth: int = UNDO_DEPTH) -> None:
        self.position = 0
        self.depth = depth
        self._done: dict[str, array[int]] = {}
        self._undone: dict[str, array[int]] = {}
        self._bulk: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self.handlers = {
            LabelAssigned: self._on_assigned,
            LabelRemoved: self._on_removed,
            LabelsAssigned: self._on_many_assigned,
            LabelChangeUndone: self._on_undone,
            LabelChangeRedone: self._on_redone,
        }

    # --- reading ---------------------------------------------------------------

    def last_done(self, annotator: str) -> LabelChange | None:
        """The change ``annotator`` would undo next."""
        return self._top(self._done.get(annotator))

    def last_undone(self, annotator: str) -> LabelChange | None:
        """The change ``annotator`` would redo next."""
        return self._top(self._undone.get(annotator))

    def undo_depth(self, annotator: str) -> int:
        return len(self._done.get(annotator, ())) // _WIDTH

    def redo_depth(self, annotator: str) -> int:
        return len(self._undone.get(annotator, ())) // _WIDTH

    def _top(self, stack: array[int] | None) -> LabelChange | None:
        if not stack:
            return None
        return self._change(stack[-_WIDTH:])

    def _change(self, rec: array[int]) -> LabelChange:
        position, sample, label, previous = rec
        if sample == _BULK:
            samples, prev = self._bulk[position]
            return LabelChange(position, samples, (label,) * len(samples), prev)
        return LabelChange(position, (sample,), (label,), (previous,))

    # --- folding ---------------------------------------------------------------

    def _push_new(self, e: Recorded, sample: int, label: int, previous: int) -> None:
        name = e.metadata.get("annotator", "")
        done = self._done.get(name)
        if done is None:
            done = self._done[name] = array("q")
        done.extend((e.position, sample, label, previous))
        undone = self._undone.get(name)
        if undone:
            # A new change ends the redo chain, as in every editor.
            del undone[:]
        if len(done) > 2 * _WIDTH * self.depth:
            del done[: len(done) - _WIDTH * self.depth]
            self._forget_unreferenced_bulk()

    def fold_label_run(self, run: LabelRun) -> None:
        """A run of LabelAssigned in bulk; ends in exactly the state that
        pushing the changes one by one (with trimming) would."""
        plan = {}
        for name, pushed in run.annotator_counts.items():
            before = len(self._done.get(name, ())) // _WIDTH
            keep = _kept_after(before, pushed, self.depth)
            plan[name] = (before, pushed, keep)
        newest = run.newest_of({name: min(pushed, keep) for name, (_, pushed, keep) in plan.items()})
        trimmed = False
        for name, (before, pushed, keep) in plan.items():
            rows = run.records_at(newest.get(name, []))
            done = self._done.get(name)
            if done is None:
                done = self._done[name] = array("q")
            if keep < before + pushed:
                # Trimmed: the newest ``keep`` records of old + new survive.
                trimmed = True
                from_old = keep - len(rows)
                old = _as_numpy(done).reshape(-1, _WIDTH)[before - from_old :]
                self._done[name] = array("q", np.concatenate([old, rows]).tobytes())
            else:
                done.frombytes(rows.tobytes())
            undone = self._undone.get(name)
            if undone:
                del undone[:]
        if trimmed:
            self._forget_unreferenced_bulk()

    def _on_assigned(self, e: Recorded) -> None:
        d = e.data
        self._push_new(e, d["sample"], d["label"], d["previous"])

    def _on_removed(self, e: Recorded) -> None:
        d = e.data
        self._push_new(e, d["sample"], -1, d["previous"])

    def _on_many_assigned(self, e: Recorded) -> None:
        d = e.data
        self._bulk[e.position] = (tuple(d["samples"]), tuple(d["previous"]))
        self._push_new(e, _BULK, d["label"], -1)

    def _on_undone(self, e: Recorded) -> None:
        self._move(e, self._done, self._undone)

    def _on_redone(self, e: Recorded) -> None:
        self._move(e, self._undone, self._done)

    def _move(self, e: Recorded, source: dict[str, array[int]], target: dict[str, array[int]]) -> None:
        name = e.metadata.get("annotator", "")
        stack = source.get(name)
        change = e.data["change"]
        if not stack:
            return
        # The decider always takes the top; search only to tolerate odd logs.
        for start in range(len(stack) - _WIDTH, -1, -_WIDTH):
            if stack[start] == change:
                rec = stack[start : start + _WIDTH]
                del stack[start : start + _WIDTH]
                target.setdefault(name, array("q")).extend(rec)
                return

    def _forget_unreferenced_bulk(self) -> None:
        if not self._bulk:
            return
        referenced = set()
        for stacks in (self._done, self._undone):
            for stack in stacks.values():
                for i in range(0, len(stack), _WIDTH):
                    if stack[i + 1] == _BULK:
                        referenced.add(stack[i])
        self._bulk = {p: v for p, v in self._bulk.items() if p in referenced}

    # --- snapshots -------------------------------------------------------------

    def snapshot(self) -> bytes:
        names = sorted(set(self._done) | set(self._undone))
        arrays = {}
        for i, name in enumerate(names):
            arrays[f"done{i}"] = _as_numpy(self._done.get(name))
            arrays[f"undone{i}"] = _as_numpy(self._undone.get(name))
        header = {
            "position": self.position,
            "depth": self.depth,
            "annotators": names,
            "bulk": [[p, list(s), list(prev)] for p, (s, prev) in sorted(self._bulk.items())],
        }
        return codec.pack(header, arrays)

    @classmethod
    def restore(cls, payload: bytes) -> UndoHistory:
        header, arrays = codec.unpack(payload)
        self = cls(depth=header["depth"])
        self.position = header["position"]
        for i, name in enumerate(header["annotators"]):
            for key, target in ((f"done{i}", self._done), (f"undone{i}", self._undone)):
                values = arrays[key]
                if len(values):
                    target[name] = array("q", values.tobytes())
        self._bulk = {p: (tuple(s), tuple(prev)) for p, s, prev in header["bulk"]}
        return self

    def state(
        self,
    ) -> tuple[int, dict[str, list[int]], dict[str, list[int]], dict[int, tuple[tuple[int, ...], ...]]]:
        """Everything this projection knows, for comparisons in tests."""
        return (
            self.position,
            {k: list(v) for k, v in self._done.items() if v},
            {k: list(v) for k, v in self._undone.items() if v},
            dict(self._bulk),
        )


def _kept_after(before: int, pushed: int, depth: int) -> int:
    """How many records a stack of ``before`` (<= 2 * depth) holds after
    ``pushed`` more, when a push that makes it exceed ``2 * depth`` trims it
    back to ``depth`` -- the per-event rule, in closed form."""
    total = before + pushed
    if total <= 2 * depth:
        return total
    return depth + (total - (2 * depth + 1)) % (depth + 1)


def _as_numpy(stack: array[int] | None) -> np.ndarray:
    if not stack:
        return np.zeros(0, dtype=np.int64)
    return np.frombuffer(stack.tobytes(), dtype=np.int64)
