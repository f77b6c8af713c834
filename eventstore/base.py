"""The contract every backend honours; shared behaviour built on top of it."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence

from .model import ExpectedVersion, NewEvent, RecordedEvent, Snapshot, Verification


class EventStore(abc.ABC):
    """An append-only log of opaque events, plus snapshots and content-addressed blobs."""

    url: str

    # -- events ---------------------------------------------------------------
    @abc.abstractmethod
    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: ExpectedVersion
    ) -> int:
        """Append ``events`` atomically; return the last global position written."""

    @abc.abstractmethod
    def read_stream(self, stream_id: str, from_version: int = 1) -> Iterator[RecordedEvent]:
        """The stream's events from ``from_version`` on, in order."""

    @abc.abstractmethod
    def stream_version(self, stream_id: str) -> int:
        """The stream's current version; 0 when it does not exist."""

    @abc.abstractmethod
    def read_all(self, after: int = 0, until: int | None = None) -> Iterator[RecordedEvent]:
        """Every event with ``after < position <= until``, in order, fetched lazily in pages."""

    @abc.abstractmethod
    def head(self) -> int:
        """The last committed global position; 0 for an empty store."""

    @abc.abstractmethod
    def wait_for_new(self, after: int, timeout: float) -> int:
        """Block until an event past ``after`` is committed (by anyone) or ``timeout`` passes.

        Returns the head position, which is ``> after`` unless the wait timed out.
        """

    def subscribe(
        self,
        after: int = 0,
        should_stop: Callable[[], bool] = lambda: False,
        poll: float = 0.5,
    ) -> Iterator[RecordedEvent]:
        """Catch up from ``after``, then follow new events until ``should_stop()``."""
        position = after
        while not should_stop():
            for event in self.read_all(after=position):
                position = event.position
                yield event
            if should_stop():
                return
            self.wait_for_new(position, poll)

    # -- snapshots (a cache: deleting one never loses anything) -----------------
    @abc.abstractmethod
    def save_snapshot(self, name: str, position: int, payload: bytes) -> None: ...

    @abc.abstractmethod
    def load_snapshot(self, name: str) -> Snapshot | None: ...

    @abc.abstractmethod
    def delete_snapshot(self, name: str) -> None: ...

    # -- blobs -------------------------------------------------------------------
    @abc.abstractmethod
    def put_blob(self, data: bytes) -> str:
        """Store ``data`` once; return its sha256 hex digest (idempotent)."""

    @abc.abstractmethod
    def get_blob(self, sha256: str) -> bytes: ...

    @abc.abstractmethod
    def has_blob(self, sha256: str) -> bool: ...

    # -- integrity and lifetime --------------------------------------------------
    def chain_hash(self, position: int) -> str | None:
        """The hash chain's value at ``position`` (hex), naming the log up to there;
        None when the position is not in the log or the backend keeps no chain."""
        return None

    @abc.abstractmethod
    def verify(self) -> Verification:
        """Recompute the hash chain; report the first broken position, if any."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
