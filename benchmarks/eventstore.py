"""Event store throughput and latency, side by side with the eventsourcing library.

Peer: eventsourcing's ``SQLiteApplicationRecorder`` (BSD-3) on the same machine, same
payloads (orjson-encoded), same durability (WAL, synchronous=FULL). Baseline for single
appends: raw sqlite3 with the same pragmas, one INSERT per ``BEGIN IMMEDIATE``.

    python benchmarks/eventstore.py [--quick] [--no-record]
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

from eventstore import ANY, NewEvent, open_store


def payload(i: int) -> tuple[dict, dict]:
    """About 144 bytes of JSON, like a LabelAssigned event and its metadata."""
    data = {"sample": i % 10_000, "label": i % 10, "previous": None}
    meta = {"annotator": "ada", "at": 1795395490.123456 + i, "command": "assign_label"}
    return data, meta


def new_events(start: int, n: int) -> list[NewEvent]:
    return [NewEvent("LabelAssigned", *payload(i)) for i in range(start, start + n)]


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


def ours_batched(path: Path, total: int, batch: int) -> float:
    with open_store(path, create=True) as store:
        t = time.perf_counter()
        for start in range(0, total, batch):
            store.append("labels", new_events(start, batch), ANY)  # encoding included
        return total / (time.perf_counter() - t)


def ours_read(path: Path) -> tuple[int, float]:
    with open_store(path) as store:
        t = time.perf_counter()
        n = 0
        for event in store.read_all():
            n += 1
        return n, n / (time.perf_counter() - t)


# -- the peer ---------------------------------------------------------------------------
def peer_recorder(path: Path):
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    datastore = SQLiteDatastore(str(path))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    return datastore, recorder


def peer_events(start: int, n: int, originator, version: int):
    from eventsourcing.persistence import StoredEvent

    out = []
    for k, i in enumerate(range(start, start + n)):
        data, meta = payload(i)
        state = orjson.dumps({"data": data, "metadata": meta})
        out.append(StoredEvent(originator, version + k + 1, "LabelAssigned", state))
    return out


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
    originator = uuid.uuid4()
    t = time.perf_counter()
    for start in range(0, total, batch):
        recorder.insert_events(peer_events(start, batch, originator, start))
    rate = total / (time.perf_counter() - t)
    datastore.close()
    return rate


def peer_read(path: Path) -> tuple[int, float]:
    datastore, recorder = peer_recorder(path)
    t = time.perf_counter()
    n, start = 0, 1
    while True:
        page = recorder.select_notifications(start, 10_000)
        for notification in page:
            orjson.loads(notification.state)
            n += 1
        if len(page) < 10_000:
            break
        start = page[-1].id + 1
    rate = n / (time.perf_counter() - t)
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
        bench="single_append", impl=name, n=len(times),
        p50_us=round(percentile(times, 50) * 1e6, 1), p99_us=round(percentile(times, 99) * 1e6, 1),
        events_per_s=round(len(times) / sum(times)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
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
        single = {"raw sqlite3": latency("raw_sqlite3", raw_t), "ledgerlab": latency("ledgerlab", ours_t),
                  "eventsourcing": latency("eventsourcing", peer_t)}

        batched = {}
        for size in (10, 100, 1000):
            ours = ours_batched(d / f"b{size}.ledger", batched_total, size)
            peer = peer_batched(d / f"pb{size}.db", batched_total, size)
            batched[size] = emit(bench="batched_append", batch=size, ours_events_per_s=round(ours),
                                 peer_events_per_s=round(peer), ratio=round(ours / peer, 2))

        ours_batched(d / "read.ledger", read_total, 1000)
        peer_batched(d / "pread.db", read_total, 1000)
        n_ours, read_ours = ours_read(d / "read.ledger")
        n_peer, read_peer = peer_read(d / "pread.db")
        assert n_ours == n_peer == read_total
        read = emit(bench="read_all_decoded", events=read_total, ours_events_per_s=round(read_ours),
                    peer_events_per_s=round(read_peer), ratio=round(read_ours / read_peer, 2))

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
        lines.append(f"| batched append, batches of {size} (encoding included) | {b['ours_events_per_s']:,}/s | "
                     f"{b['peer_events_per_s']:,}/s | — | {b['ratio']}x | {target} |")
    lines.append(f"| read_all of {read_total:,} events, decoded | {read['ours_events_per_s']:,}/s | "
                 f"{read['peer_events_per_s']:,}/s | — | {read['ratio']}x | ≥ 1,000,000/s |")
    lines += [
        "",
        "Where the time goes: every row carries a sha256 chained over the previous row (tamper "
        "evidence), two canonical JSON bodies and nine columns, against the peer's one body and "
        "four columns; at batches of 1,000 that per-row work (≈ 12 µs of Python, ≈ 8 µs in "
        "SQLite here) is what separates us from the peer and from 150,000/s. Reading is bound by "
        "SQLite's row fetch plus two `orjson.loads` per row in Python; 1,000,000 decoded events/s "
        "is above what the fetch alone reaches on this machine (BASELINES: 813 k rows/s), so that "
        "target needs lazy decoding or a C reader — not done. Single-append p99 is dominated by "
        "fsync and by other load on the machine; compare the three columns of one run only.",
    ]
    record_section("eventstore", "\n".join(lines))


if __name__ == "__main__":
    main()
