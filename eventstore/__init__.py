"""Ledgerlab's append-only event store: opaque events, snapshots and blobs.

It knows nothing of labels, models or Qt. ``open_store`` is the one way in::

    with open_store("/home/me/digits.ledger", create=True) as store:
        store.append("project", [NewEvent("Something", {"n": 1})], NO_STREAM)
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import EventStore
from .errors import (
    BlobCorrupt,
    BlobNotFound,
    ConcurrencyError,
    EventEncodingError,
    NotALedger,
    SchemaTooNew,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreNotFound,
    StoreReadOnly,
    UnsupportedURL,
)
from .model import ANY, NO_STREAM, NewEvent, RecordedEvent, Snapshot, Verification
from .sqlite import SQLiteEventStore

__all__ = [
    "ANY",
    "NO_STREAM",
    "BlobCorrupt",
    "BlobNotFound",
    "ConcurrencyError",
    "EventEncodingError",
    "EventStore",
    "NewEvent",
    "NotALedger",
    "RecordedEvent",
    "SchemaTooNew",
    "Snapshot",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreNotFound",
    "StoreReadOnly",
    "UnsupportedURL",
    "Verification",
    "open_store",
    "sqlite_path",
]


def sqlite_path(url: str | os.PathLike[str]) -> Path:
    """The file a ``sqlite:///…`` URL or a plain path names, made absolute."""
    text = os.fspath(url)
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://"):]
        if not rest.startswith("/"):
            raise UnsupportedURL(f"{text!r}: a sqlite URL needs an absolute path (sqlite:///home/me/p.ledger)")
        return Path("/" + rest.lstrip("/"))
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise UnsupportedURL(
            f"{text!r}: this release stores projects in SQLite files only ({scheme}:// is not "
            "available); give a path to a .ledger file"
        )
    if not text:
        raise StoreError("no project path given")
    return Path(text).expanduser().absolute()


def open_store(
    url: str | os.PathLike[str],
    create: bool = False,
    *,
    read_only: bool = False,
    busy_timeout: float = 10.0,
) -> EventStore:
    """Open the store at ``url``; with ``create=True`` a missing file is created.

    Raises a ``StoreError`` subclass that names the file and what to do when the file is
    missing, is not a Ledgerlab project, was written by a newer release, or is damaged.
    """
    return SQLiteEventStore(
        sqlite_path(url), create=create, read_only=read_only, busy_timeout=busy_timeout
    )
