"""Who did what kind of event at each position: two small integer columns, so the
history can be filtered and counted over a million events without reading them.

Built by reading the log once and kept as a snapshot (``history.index.v1``; a
cache like every snapshot), then caught up from the position it reached.
"""

from __future__ import annotations

import math

import numpy as np

from domain.errors import DomainError
from domain.projections import codec
from eventstore import EventStore, RecordedEvent, StoreReadOnly

SNAPSHOT_NAME = "history.index.v1"
SAVE_AFTER = 10_000  # events caught up before the index is saved again


class HistoryIndex:
    def __init__(self) -> None:
        self.position = 0
        self._types = np.zeros(0, np.uint16)
        self._annotators = np.zeros(0, np.uint16)
        self.type_names: list[str] = []
        self.annotator_names: list[str] = []
        self._type_ids: dict[str, int] = {}
        self._annotator_ids: dict[str, int] = {}
        self._saved = 0

    # -- reading ----------------------------------------------------------------------
    def positions(self, type_name: str | None = None, annotator: str | None = None) -> np.ndarray:
        """Positions of the events of that type and/or annotator, oldest first."""
        mask = np.ones(self.position, bool)
        for value, ids, column in (
            (type_name, self._type_ids, self._types),
            (annotator, self._annotator_ids, self._annotators),
        ):
            if value is not None:
                code = ids.get(value)
                if code is None:
                    return np.zeros(0, np.int64)
                mask &= column[: self.position] == code
        return np.flatnonzero(mask) + 1

    # -- building ---------------------------------------------------------------------
    def add(self, events: list) -> None:
        """Index events that follow ``position``: older ones are ignored, and so is a
        batch that leaves a gap (``catch_up`` reads the gap from the store instead)."""
        events = [e for e in events if e.position > self.position]
        if not events or events[0].position != self.position + 1:
            return
        types = [self._code(self._type_ids, self.type_names, e.type) for e in events]
        who = [self._code(self._annotator_ids, self.annotator_names, annotator_of(e)) for e in events]
        end = events[-1].position
        if end > len(self._types):
            grow = max(end, 2 * len(self._types))
            self._types = np.resize(self._types, grow)
            self._annotators = np.resize(self._annotators, grow)
        at = np.fromiter((e.position - 1 for e in events), np.int64, len(events))
        self._types[at] = types
        self._annotators[at] = who
        self.position = end

    @staticmethod
    def _code(ids: dict[str, int], names: list[str], name: str) -> int:
        code = ids.get(name)
        if code is None:
            code = ids[name] = len(names)
            names.append(name)
        return code

    def catch_up(self, store: EventStore) -> None:
        batch: list = []
        for e in store.read_all(after=self.position):
            batch.append(e)
            if len(batch) == 50_000:
                self.add(batch)
                batch = []
        self.add(batch)
        if self.position - self._saved >= SAVE_AFTER:
            self.save(store)

    # -- persistence --------------------------------------------------------------------
    def save(self, store: EventStore) -> None:
        header = {"position": self.position, "types": self.type_names, "annotators": self.annotator_names}
        payload = codec.pack(
            header, {"types": self._types[: self.position], "annotators": self._annotators[: self.position]}
        )
        try:
            store.save_snapshot(SNAPSHOT_NAME, self.position, payload)
            self._saved = self.position
        except StoreReadOnly:
            pass

    @classmethod
    def load(cls, store: EventStore) -> HistoryIndex:
        self = cls()
        snapshot = store.load_snapshot(SNAPSHOT_NAME)
        if snapshot is None:
            return self
        try:
            header, arrays = codec.unpack(snapshot.payload)
            self._types = arrays["types"].astype(np.uint16)
            self._annotators = arrays["annotators"].astype(np.uint16)
            self.type_names = list(header["types"])
            self.annotator_names = list(header["annotators"])
        except (DomainError, KeyError):
            return cls()
        self._type_ids = {n: i for i, n in enumerate(self.type_names)}
        self._annotator_ids = {n: i for i, n in enumerate(self.annotator_names)}
        self.position = self._saved = min(int(header["position"]), len(self._types))
        return self


def annotator_of(e: RecordedEvent) -> str:
    """Who recorded ``e``, as text; metadata comes from a file and may be anything."""
    who = e.metadata.get("annotator")
    return who if isinstance(who, str) else "" if who is None else repr(who)


def recorded_time(e: RecordedEvent) -> float:
    """When ``e`` was recorded by the annotator's clock, else by the store's."""
    at = e.metadata.get("at")
    if isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at):
        return float(at)
    return e.recorded_at
