"""Ledgerlab's append-only event store: opaque events, snapshots and blobs.

It knows nothing of labels, models or Qt. ``open_store`` is the one way in::

    with open_store("/home/me/digits.ledger", create=True) as store:
        store.append("project", [NewEvent("Something", {"n": 1})], NO_STREAM)

A project is a SQLite file (the default) or, for a team, a schema in a PostgreSQL
database (``postgresql://host/DB?project=NAME``); both pass one contract test-suite.
"""

from __future__ import annotations

import os

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
from .model import ANY, NO_STREAM, NewEvent, RecordedEvent, Snapshot, StreamAppend, Verification
from .sqlite import SQLiteEventStore
from .urls import is_postgres, postgres_target, sqlite_path

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
    "StreamAppend",
    "UnsupportedURL",
    "Verification",
    "open_store",
    "sqlite_path",
]


def open_store(
    url: str | os.PathLike[str],
    create: bool = False,
    *,
    read_only: bool = False,
    busy_timeout: float = 10.0,
) -> EventStore:
    """Open the store at ``url``; with ``create=True`` a missing project is created.

    ``url`` is a path to a ``.ledger`` file, ``sqlite:///abs/path.ledger``, or
    ``postgresql://[user@]host[:port]/DATABASE?project=NAME`` (further libpq parameters
    such as ``host=/socket/folder`` or ``sslmode=require`` pass through; the project is a
    schema of that database).

    Raises a ``StoreError`` subclass that names the project and what to do when it is
    missing, is not a Ledgerlab project, was written by a newer release, or is damaged.
    """
    if is_postgres(url):
        # Imported here: psycopg loads only for those who use PostgreSQL.
        from .postgres import PostgresEventStore

        return PostgresEventStore(
            postgres_target(os.fspath(url)),
            create=create,
            read_only=read_only,
            busy_timeout=busy_timeout,
        )
    return SQLiteEventStore(sqlite_path(url), create=create, read_only=read_only, busy_timeout=busy_timeout)
