"""The layout of a `.ledger` file (SQLite), in one place: its tables, how they are
created, and how a file is recognised as one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import NotALedger, SchemaTooNew

APPLICATION_ID = 0x4C4C4142  # "LLAB" in the SQLite header marks a Ledgerlab project
SCHEMA_VERSION = 1
PAGE_SIZE = 20_000

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        position       INTEGER PRIMARY KEY,
        stream_id      TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        type           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        data           BLOB    NOT NULL,
        metadata       BLOB    NOT NULL,
        recorded_at    REAL    NOT NULL,
        hash           BLOB    NOT NULL,
        UNIQUE (stream_id, version)
    )""",
    # The log is append-only at the database level too; verify() catches whoever
    # drops these triggers to edit a row anyway.
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        name     TEXT    PRIMARY KEY,
        position INTEGER NOT NULL,
        payload  BLOB    NOT NULL,
        saved_at REAL    NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS blobs (
        sha256 TEXT    PRIMARY KEY,
        size   INTEGER NOT NULL,
        data   BLOB    NOT NULL
    )""",
)

COLUMNS = "position, stream_id, version, type, schema_version, data, metadata, recorded_at"
INSERT = (
    "INSERT INTO events (position, stream_id, version, type, schema_version, data, metadata,"
    " recorded_at, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_CHUNK = 100  # 900 parameters: within even the old SQLITE_MAX_VARIABLE_NUMBER of 999
INSERT_MANY = (
    INSERT.split(" VALUES ")[0] + " VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * INSERT_CHUNK)
)
INSERT_RUN = (
    INSERT.split(" VALUES ")[0]
    + " VALUES "
    + ", ".join(
        f"(?1 + {k}, ?2, ?3 + {k}, ?4, ?5, ?{7 + 3 * k}, ?{8 + 3 * k}, ?6, ?{9 + 3 * k})"
        for k in range(INSERT_CHUNK)
    )
)
"""The same rows as INSERT_MANY when the chunk is one run: one stream with consecutive
positions and versions, one type and schema version. The shared values are bound once
(``?1``..``?6``: first position, stream, first version, type, schema version, recorded_at)
and each row binds only its data, metadata and hash: 306 parameters instead of 900."""
STREAM_VERSION = "SELECT MAX(version) FROM events WHERE stream_id = ?"
LAST_ROW = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
NO_UPPER_BOUND = 2**62  # the key a backwards read starts below


def create_schema(conn: sqlite3.Connection) -> None:
    """The tables and header of a new project file, in one transaction (nothing when
    another process created them between our check and our lock)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        (user_version,) = conn.execute("PRAGMA user_version").fetchone()
        if user_version == 0:
            for statement in SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.rollback()


def check_header(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database that is not a project, or one written by a newer release."""
    (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    (user_version,) = conn.execute("PRAGMA user_version").fetchone()
    if app_id != APPLICATION_ID:
        raise NotALedger(
            f"{path} is an SQLite database but not a Ledgerlab project; "
            "open a *.ledger file, or create a project with `ledgerlab new`"
        )
    if user_version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{path} was written by a newer Ledgerlab (store schema {user_version}; "
            f"this release reads up to {SCHEMA_VERSION}): upgrade Ledgerlab to open it. "
            "The file was not changed."
        )
