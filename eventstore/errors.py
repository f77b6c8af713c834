"""Errors raised by the event store.

Every message names the file (or stream) concerned and says what the person can do,
because these reach the window and the command line as they are.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the event store raises on purpose."""


class StoreNotFound(StoreError):
    """The project file does not exist and creating it was not asked for."""


class NotALedger(StoreError):
    """The file exists but is not a Ledgerlab project."""


class SchemaTooNew(StoreError):
    """The file was written by a newer release whose store layout this one cannot read."""


class StoreLocked(StoreError):
    """Another program holds the project file's write lock for longer than the busy timeout."""


class StoreCorrupt(StoreError):
    """SQLite reports the file as damaged."""


class StoreReadOnly(StoreError):
    """A write was attempted on a store opened read-only."""


class UnsupportedURL(StoreError):
    """The store URL names a backend this release does not provide."""


class EventEncodingError(StoreError):
    """An event's data or metadata cannot be encoded as JSON; nothing was written."""


class BlobNotFound(StoreError, KeyError):
    """No blob with the requested hash is stored."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class BlobCorrupt(StoreError):
    """A stored blob no longer matches its hash."""


class ConcurrencyError(StoreError):
    """The stream's version was not the expected one; nothing was written."""

    def __init__(self, stream_id: str, expected: object, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, but the append expected "
            f"{expected}: someone else changed it first; reload and try again"
        )
