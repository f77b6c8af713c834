"""The layout of a project in PostgreSQL: one schema per project, and every statement on it, in one place.

Bodies are ``bytea`` holding the exact JSON bytes that were hashed: ``jsonb`` would
reorder keys and normalise numbers, and the chain could no longer be recomputed.
"""

from __future__ import annotations

from psycopg import sql

SCHEMA_VERSION = 1
PAGE_SIZE = 20_000
COPY_THRESHOLD = 8  # rows; below it one pipelined INSERT beats COPY's extra round trip

COLUMNS = "position, stream_id, version, type, schema_version, data, metadata, recorded_at"


def create_statements(schema: str) -> list[sql.Composed]:
    s = sql.Identifier(schema)
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s),
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {}.ledger_meta (
                key   text PRIMARY KEY,
                value text NOT NULL
            )"""
        ).format(s),
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {}.events (
                position       bigint           PRIMARY KEY,
                stream_id      text             NOT NULL,
                version        integer          NOT NULL,
                type           text             NOT NULL,
                schema_version integer          NOT NULL,
                data           bytea            NOT NULL,
                metadata       bytea            NOT NULL,
                recorded_at    double precision NOT NULL,
                hash           bytea            NOT NULL,
                UNIQUE (stream_id, version)
            )"""
        ).format(s),
        # The log is append-only at the database level too; verify() catches whoever
        # disables this trigger to edit a row anyway.
        sql.SQL(
            """CREATE OR REPLACE FUNCTION {}.events_append_only() RETURNS trigger
               LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'events are append-only'; END $$"""
        ).format(s),
        sql.SQL(
            """CREATE OR REPLACE TRIGGER events_no_change BEFORE UPDATE OR DELETE OR TRUNCATE
               ON {0}.events FOR EACH STATEMENT EXECUTE FUNCTION {0}.events_append_only()"""
        ).format(s),
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {}.snapshots (
                name     text             PRIMARY KEY,
                position bigint           NOT NULL,
                payload  bytea            NOT NULL,
                saved_at double precision NOT NULL
            )"""
        ).format(s),
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {}.blobs (
                sha256 text   PRIMARY KEY,
                size   bigint NOT NULL,
                data   bytea  NOT NULL
            )"""
        ).format(s),
        sql.SQL(
            "INSERT INTO {}.ledger_meta (key, value) VALUES ('schema_version', {})"
            " ON CONFLICT (key) DO NOTHING"
        ).format(s, sql.Literal(str(SCHEMA_VERSION))),
    ]


def channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel of a project (a wake-up hint, never a data path)."""
    return f"ledgerlab_{schema}"[:63]


class Statements:
    """Every statement of one project, composed once with its schema name quoted."""

    def __init__(self, s: sql.Identifier) -> None:
        f = sql.SQL
        cols = f(COLUMNS)
        self.layout_version = f("SELECT value FROM {}.ledger_meta WHERE key = 'schema_version'").format(s)
        self.lock = f("LOCK TABLE {}.events IN EXCLUSIVE MODE").format(s)
        self.versions = f(
            "SELECT stream_id, MAX(version) FROM {}.events WHERE stream_id = ANY(%s) GROUP BY stream_id"
        ).format(s)
        self.last_row = f("SELECT position, hash FROM {}.events ORDER BY position DESC LIMIT 1").format(s)
        self.insert = f(
            "INSERT INTO {}.events ({}, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(s, cols)
        self.copy = f("COPY {}.events ({}, hash) FROM STDIN (FORMAT BINARY)").format(s, cols)
        self.notify = f("SELECT pg_notify(%s, %s)").format()
        self.stream_version = f("SELECT MAX(version) FROM {}.events WHERE stream_id = %s").format(s)
        self.stream_forwards = f(
            "SELECT {} FROM {}.events WHERE stream_id = %s AND version > %s ORDER BY version LIMIT %s"
        ).format(cols, s)
        self.stream_backwards = f(
            "SELECT {} FROM {}.events WHERE stream_id = %s AND version > %s AND version < %s"
            " ORDER BY version DESC LIMIT %s"
        ).format(cols, s)
        self.all_after = f("SELECT {} FROM {}.events WHERE position > %s ORDER BY position LIMIT %s").format(
            cols, s
        )
        self.all_between = f(
            "SELECT {} FROM {}.events WHERE position > %s AND position <= %s ORDER BY position LIMIT %s"
        ).format(cols, s)
        self.head = f("SELECT MAX(position) FROM {}.events").format(s)
        self.save_snapshot = f(
            "INSERT INTO {}.snapshots (name, position, payload, saved_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (name) DO UPDATE SET position = excluded.position,"
            " payload = excluded.payload, saved_at = excluded.saved_at"
        ).format(s)
        self.load_snapshot = f(
            "SELECT name, position, payload, saved_at FROM {}.snapshots WHERE name = %s"
        ).format(s)
        self.delete_snapshot = f("DELETE FROM {}.snapshots WHERE name = %s").format(s)
        self.snapshot_names = f("SELECT name FROM {}.snapshots ORDER BY name").format(s)
        self.put_blob = f(
            "INSERT INTO {}.blobs (sha256, size, data) VALUES (%s, %s, %s) ON CONFLICT (sha256) DO NOTHING"
        ).format(s)
        self.get_blob = f("SELECT data FROM {}.blobs WHERE sha256 = %s").format(s)
        self.has_blob = f("SELECT 1 FROM {}.blobs WHERE sha256 = %s").format(s)
        self.blob_range = f("SELECT substring(data FROM %s FOR %s) FROM {}.blobs WHERE sha256 = %s").format(s)
        self.hash_at = f("SELECT hash FROM {}.events WHERE position = %s").format(s)
        self.stored_page = f(
            "SELECT {}, hash FROM {}.events WHERE position > %s ORDER BY position LIMIT %s"
        ).format(cols, s)
        self.position_summary = f("SELECT COUNT(*), MIN(position), MAX(position) FROM {}.events").format(s)
        self.scan_blobs = f("SELECT COUNT(*), SUM(length(data)) FROM {}.blobs").format(s)
        self.scan_snapshots = f("SELECT COUNT(*), SUM(length(payload)) FROM {}.snapshots").format(s)
