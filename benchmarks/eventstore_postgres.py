"""The PostgreSQL half of benchmarks/eventstore.py: ours against eventsourcing's
``PostgresApplicationRecorder`` on one PostgreSQL server started from the ``pgserver``
wheel (Unix socket, default synchronous_commit=on), same payloads; appends in batches
of 1, 100 and 1,000 (a fresh project for ours, a fresh schema for the peer, each
round), four writer threads in jobs of 50 events, and a decoded read of every event;
each figure is the median of 3 alternating rounds."""

from __future__ import annotations

from pathlib import Path

import _report  # noqa: F401  (puts the repo root on sys.path)
from _report import emit
from eventstore_shared import (
    THREADS,
    emit_threads,
    ours_batched,
    ours_read,
    ours_threads,
    peer_insert_batched,
    peer_read_all,
    peer_threads,
    rounds,
)


def pg_server(folder: Path) -> str:
    import pgserver

    return pgserver.get_server(folder, cleanup_mode="stop").get_uri()


def pg_url(uri: str, project: str) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}project={project}"


def pg_peer(uri: str, schema: str, pool_size: int = 1):
    import psycopg
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
    from psycopg import sql

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    socket_dir = uri.split("host=", 1)[1].split("&", 1)[0]
    datastore = PostgresDatastore(
        dbname="postgres",
        host=socket_dir,
        port=5432,
        user="postgres",
        password="",
        schema=schema,
        pool_size=pool_size,
    )
    recorder = PostgresApplicationRecorder(datastore)
    recorder.create_table()
    return datastore, recorder


def pg_peer_batched(uri: str, schema: str, total: int, batch: int) -> float:
    datastore, recorder = pg_peer(uri, schema)
    rate = peer_insert_batched(recorder, total, batch)
    datastore.close()
    return rate


def pg_peer_threads(uri: str, schema: str, jobs: int) -> float:
    datastore, recorder = pg_peer(uri, schema, pool_size=THREADS)
    rate = peer_threads(recorder, jobs)
    datastore.close()
    return rate


def pg_peer_read(uri: str, schema: str) -> tuple[int, float]:
    datastore, recorder = pg_peer(uri, schema)
    n, rate = peer_read_all(recorder)
    datastore.close()
    return n, rate


def postgres_section(folder: Path, quick: bool) -> dict:
    uri = pg_server(folder)
    n_rounds = 3
    total = 10_000 if quick else 50_000
    jobs = 40 if quick else 200
    out: dict = {}
    for size in (1, 100, 1000):
        size_total = total // 50 if size == 1 else total
        o, p, ratio = rounds(
            lambda r: ours_batched(pg_url(uri, f"o{size}_{r}"), size_total, size),
            lambda r: pg_peer_batched(uri, f"p{size}_{r}", size_total, size),
            n_rounds,
        )
        out[f"batch {size}"] = emit(
            bench="pg_batched_append",
            batch=size,
            ours_events_per_s=round(o),
            peer_events_per_s=round(p),
            ratio=round(ratio, 2),
        )
    o, p, ratio = rounds(
        lambda r: ours_threads(pg_url(uri, f"ot{r}"), jobs),
        lambda r: pg_peer_threads(uri, f"pt{r}", jobs),
        n_rounds,
    )
    out["threads"] = emit_threads("pg_threads_append", jobs, o, p, ratio)
    read_total = 100_000 if quick else 300_000
    ours_batched(pg_url(uri, "oread"), read_total, 1000)
    pg_peer_batched(uri, "pread", read_total, 1000)
    o, p, ratio = rounds(
        lambda r: ours_read(pg_url(uri, "oread"))[1], lambda r: pg_peer_read(uri, "pread")[1], n_rounds
    )
    out["read"] = emit(
        bench="pg_read_all_decoded",
        events=read_total,
        ours_events_per_s=round(o),
        peer_events_per_s=round(p),
        ratio=round(ratio, 2),
    )
    return out
