"""The layout of a project in PostgreSQL: one schema per project, in one place.

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
