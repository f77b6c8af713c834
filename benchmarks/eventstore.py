"""Event store throughput and latency, side by side with the eventsourcing library.

Peers: eventsourcing's ``SQLiteApplicationRecorder`` and ``PostgresApplicationRecorder``
(BSD-3) on the same machine, same payloads (orjson-encoded), same durability (SQLite WAL,
synchronous=FULL; the same PostgreSQL server, started from the ``pgserver`` wheel, with
its default synchronous_commit=on). Baseline for single appends: raw sqlite3 with the
same pragmas, one INSERT per ``BEGIN IMMEDIATE``. Ours and the peer's alternate in
rounds and ratios are medians of the rounds' ratios, so drift on a shared machine hits
both alike.

    python benchmarks/eventstore.py [--quick] [--no-record] [--no-postgres]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import _report  # noqa: F401  (puts the repo root on sys.path)
import orjson
from _report import emit, percentile, record_section
from eventstore_postgres import postgres_section
from eventstore_shared import (
    JOB,
    THREADS,
    emit_threads,
    new_events,
    ours_batched,
    ours_read,
    ours_threads,
    payload,
    peer_events,
    peer_insert_batched,
    peer_read_all,
    peer_threads,
    rounds,
)

from eventstore import ANY, open_store


# -- ours -------------------------------------------------------------------------------
def ours_single(path: Path, n: int) -> list[float]:
    times = []
    with open_store(path, create=True) as store:
        for i in range(n):
            events = new_events(i, 1)
            t = time.perf_counter()
            store.append("labels", events, ANY)
            times.append(time.perf_counter() - t)
    return times


# -- the peer ---------------------------------------------------------------------------
def peer_recorder(path: Path):
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    datastore = SQLiteDatastore(str(path))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    return datastore, recorder


def peer_single(path: Path, n: int) -> list[float]:
    datastore, recorder = peer_recorder(path)
    originator = uuid.uuid4()
    times = []
    for i in range(n):
        events = peer_events(i, 1, originator, i)
        t = time.perf_counter()
        recorder.insert_events(events)
        times.append(time.perf_counter() - t)
    datastore.close()
    return times


def peer_batched(path: Path, total: int, batch: int) -> float:
    datastore, recorder = peer_recorder(path)
    rate = peer_insert_batched(recorder, total, batch)
    datastore.close()
    return rate


def peer_read(path: Path) -> tuple[int, float]:
    datastore, recorder = peer_recorder(path)
    n, rate = peer_read_all(recorder)
    datastore.close()
    return n, rate


# -- raw sqlite3 --------------------------------------------------------------------------
def raw_single(path: Path, n: int) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE e (position INTEGER PRIMARY KEY, data BLOB, metadata BLOB)")
    times = []
    for i in range(n):
        data, meta = payload(i)
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO e (data, metadata) VALUES (?, ?)", (orjson.dumps(data), orjson.dumps(meta)))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t)
    conn.close()
    return times


def latency(name: str, times: list[float]) -> dict:
    return emit(
        bench="single_append",
        impl=name,
        n=len(times),
        p50_us=round(percentile(times, 50) * 1e6, 1),
        p99_us=round(percentile(times, 99) * 1e6, 1),
        events_per_s=round(len(times) / sum(times)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only (no pgserver)")
    args = parser.parse_args()
    singles = 500 if args.quick else 3000
    batched_total = 20_000 if args.quick else 200_000
    read_total = 100_000 if args.quick else 1_000_000

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        # Interleave the three in rounds so drift on a shared machine hits each alike.
        ours_t, peer_t, raw_t = [], [], []
        for r in range(3):
            raw_t += raw_single(d / f"raw{r}.db", singles // 3)
            ours_t += ours_single(d / f"ours{r}.ledger", singles // 3)
            peer_t += peer_single(d / f"peer{r}.db", singles // 3)
        single = {
            "raw sqlite3": latency("raw_sqlite3", raw_t),
            "ledgerlab": latency("ledgerlab", ours_t),
            "eventsourcing": latency("eventsourcing", peer_t),
        }

        batched = {}
        for size in (10, 100, 1000):
            ours, peer, ratio = rounds(
                lambda r: ours_batched(d / f"b{size}_{r}.ledger", batched_total // 3, size),
                lambda r: peer_batched(d / f"pb{size}_{r}.db", batched_total // 3, size),
                3,
            )
            batched[size] = emit(
                bench="batched_append",
                batch=size,
                ours_events_per_s=round(ours),
                peer_events_per_s=round(peer),
                ratio=round(ratio, 2),
            )

        jobs = 40 if args.quick else 200

        def peer_threads_sqlite(r: int) -> float:
            datastore, recorder = peer_recorder(d / f"pt{r}.db")
            rate = peer_threads(recorder, jobs)
            datastore.close()
            return rate

        ours, peer, ratio = rounds(
            lambda r: ours_threads(str(d / f"t{r}.ledger"), jobs), peer_threads_sqlite, 5
        )
        threads = emit_threads("threads_append", jobs, ours, peer, ratio)

        ours_batched(d / "read.ledger", read_total, 1000)
        peer_batched(d / "pread.db", read_total, 1000)
        n_ours, read_ours = ours_read(d / "read.ledger")
        n_peer, read_peer = peer_read(d / "pread.db")
        assert n_ours == n_peer == read_total
        read = emit(
            bench="read_all_decoded",
            events=read_total,
            ours_events_per_s=round(read_ours),
            peer_events_per_s=round(read_peer),
            ratio=round(read_ours / read_peer, 2),
        )

        pg = {} if args.no_postgres else postgres_section(d / "pg", args.quick)

    if args.no_record:
        return
    o, p, w = single["ledgerlab"], single["eventsourcing"], single["raw sqlite3"]
    lines = [
        "## Event store (`benchmarks/eventstore.py`)",
        "",
        f"Measured {_report.machine()}{' (quick run)' if args.quick else ''}. Peer: `eventsourcing` "
        "SQLiteApplicationRecorder, same payloads (~144 B of JSON per event), WAL + synchronous=FULL. "
        "Targets are measured, not asserted.",
        "",
        "| measure | ledgerlab | eventsourcing | raw sqlite3 | ours / peer | target |",
        "|---|---|---|---|---|---|",
        f"| single durable append p50 | {o['p50_us']} µs | {p['p50_us']} µs | {w['p50_us']} µs | "
        f"{p['p50_us'] / o['p50_us']:.2f}x faster | — |",
        f"| single durable append p99 | {o['p99_us']} µs | {p['p99_us']} µs | {w['p99_us']} µs | "
        f"{p['p99_us'] / o['p99_us']:.2f}x faster | ≤ 1.2x raw: **{o['p99_us'] / w['p99_us']:.2f}x** |",
        f"| single durable appends/s | {o['events_per_s']:,} | {p['events_per_s']:,} | {w['events_per_s']:,} | "
        f"{o['events_per_s'] / p['events_per_s']:.2f}x | ≥ peer |",
    ]
    for size, b in batched.items():
        target = "≥ 150,000/s" if size == 1000 else "≥ peer"
        lines.append(
            f"| batched append, batches of {size} (encoding included) | {b['ours_events_per_s']:,}/s | "
            f"{b['peer_events_per_s']:,}/s | — | {b['ratio']}x | {target} |"
        )
    lines.append(
        f"| {THREADS} writer threads, jobs of {JOB} events, {threads['jobs']} jobs | "
        f"{threads['ours_events_per_s']:,}/s | {threads['peer_events_per_s']:,}/s | — | "
        f"{threads['ratio']}x | ≥ peer |"
    )
    lines.append(
        f"| read_all of {read_total:,} events, decoded | {read['ours_events_per_s']:,}/s | "
        f"{read['peer_events_per_s']:,}/s | — | {read['ratio']}x | ≥ 1,000,000/s |"
    )
    if pg:
        lines += [
            "",
            "PostgreSQL 16.2 (pgserver wheel, Unix socket, same machine) against eventsourcing's "
            "`PostgresApplicationRecorder` on the same server, same payloads; medians of 3 alternating rounds.",
            "",
            "| measure | ledgerlab | eventsourcing | ours / peer |",
            "|---|---|---|---|",
        ]
        for name, b in pg.items():
            lines.append(
                f"| {name} | {b['ours_events_per_s']:,}/s | {b['peer_events_per_s']:,}/s | {b['ratio']}x |"
            )
    lines += [
        "",
        "Where the time goes: every row carries a sha256 chained over the previous row (tamper "
        "evidence), two canonical JSON bodies and nine columns, against the peer's one body and "
        "four columns. At batches of 1,000 the per-row Python is now ≈ 2 µs (encoding ≈ 0.6, "
        "hash chain ≈ 0.9, building the event ≈ 0.3) beside ≈ 2 µs in SQLite; whole rounds "
        "drift with the machine's load, so `benchmarks/eventstore_batch.py` compares the two "
        "batch by batch (its own section). Reading is bound by "
        "SQLite's row fetch plus two `orjson.loads` per row in Python; 1,000,000 decoded events/s "
        "is above what the fetch alone reaches on this machine (BASELINES: 813 k rows/s), so that "
        "target needs lazy decoding or a C reader — not done. Single-append p99 is dominated by "
        "fsync and by other load on the machine; compare the three columns of one run only.",
    ]
    record_section("eventstore", "\n".join(lines))


if __name__ == "__main__":
    main()
