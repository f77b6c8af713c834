"""The contract every backend honours; shared behaviour built on top of it."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence

from .model import ExpectedVersion, NewEvent, RecordedEvent, Snapshot, StreamAppend, Verification
from .validation import check_int


class EventStore(abc.ABC):
    """An append-only log of opaque events, plus snapshots and content-addressed blobs."""

    url: str
    """Where the store lives, never with a password in it: it appears in messages."""

    # -- events ---------------------------------------------------------------
    @abc.abstractmethod
    def append_batch(self, appends: Sequence[StreamAppend]) -> int:
        """Append to several streams in one transaction: all or nothing.

        ``appends`` is a sequence of ``(stream_id, events, expected_version)``. Each
        expected version is checked against the stream as the earlier entries of the same
        call leave it, so one stream may appear twice. When any entry conflicts or cannot
        be encoded, nothing of any entry is written. Entries without events are skipped.
        Returns the last global position written (the head when nothing was).
        """

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: ExpectedVersion) -> int:
        """Append ``events`` atomically; return the last global position written."""
        return self.append_batch([(stream_id, events, expected_version)])

    @abc.abstractmethod
    def read_stream(
        self,
        stream_id: str,
        after: int = 0,
        limit: int | None = None,
        backwards: bool = False,
        *,
        from_version: int | None = None,
    ) -> Iterator[RecordedEvent]:
        """The stream's events with ``version > after``, oldest first (newest first when
        ``backwards``), at most ``limit`` of them; fetched lazily in pages.

        ``from_version=n`` is the older spelling of ``after=n - 1``.
        """

    @abc.abstractmethod
    def stream_version(self, stream_id: str) -> int:
        """The stream's current version; 0 when it does not exist."""

    @abc.abstractmethod
    def read_all(
        self, after: int = 0, until: int | None = None, limit: int | None = None
    ) -> Iterator[RecordedEvent]:
        """Every event with ``after < position <= until``, in order, at most ``limit`` of
        them, fetched lazily in pages."""

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

    @abc.abstractmethod
    def snapshot_names(self) -> list[str]: ...

    # -- blobs -------------------------------------------------------------------
    @abc.abstractmethod
    def put_blob(self, data: bytes | bytearray | memoryview) -> str:
        """Store ``data`` once; return its sha256 hex digest (idempotent)."""

    @abc.abstractmethod
    def get_blob(self, sha256: str) -> bytes: ...

    @abc.abstractmethod
    def has_blob(self, sha256: str) -> bool: ...

    def read_blob_range(self, sha256: str, offset: int, length: int) -> bytes:
        """At most ``length`` bytes of a stored blob from ``offset`` (fewer past its end),
        reading only those where the backend can: one image of a 16 MB dataset chunk. Not
        checked against the blob's hash, which needs all of it; ``get_blob`` and ``verify``
        find damage. Raises ``BlobNotFound`` like ``get_blob``."""
        check_int("offset", offset, minimum=0)
        check_int("length", length, minimum=0)
        return self.get_blob(sha256)[offset : offset + length]

    # -- integrity and lifetime --------------------------------------------------
    def chain_hash(self, position: int) -> str | None:
        """The hash chain's value at ``position`` (hex), naming the log up to there;
        None when the position is not in the log or the backend keeps no chain."""
        return None

    @abc.abstractmethod
    def verify(self) -> Verification:
        """Recompute the hash chain; report the first broken position, if any."""

    @abc.abstractmethod
    def integrity_check(self) -> str:
        """The backend's own storage check: ``"ok"`` when sound, else what is wrong."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
