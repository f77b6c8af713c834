"""What the SQLite and PostgreSQL halves of benchmarks/eventstore.py share: the payloads
and events both sides append, our batched, threaded and read-all measurements (given a
file path or a PostgreSQL URL), the peer's events, batched inserts, threaded inserts and
decoded read through any eventsourcing recorder, and the alternating rounds whose
medians are reported."""

from __future__ import annotations

import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _report  # noqa: F401  (puts the repo root on sys.path)
import orjson
from _report import emit

from eventstore import ANY, NO_STREAM, NewEvent, open_store


def payload(i: int) -> tuple[dict, dict]:
    """About 144 bytes of JSON, like a LabelAssigned event and its metadata."""
    data = {"sample": i % 10_000, "label": i % 10, "previous": None}
    meta = {"annotator": "ada", "at": 1795395490.123456 + i, "command": "assign_label"}
    return data, meta


def new_events(start: int, n: int) -> list[NewEvent]:
    return [NewEvent("LabelAssigned", *payload(i)) for i in range(start, start + n)]


# -- ours -------------------------------------------------------------------------------
def ours_batched(path: Path | str, total: int, batch: int) -> float:
    with open_store(path, create=True) as store:
        t = time.perf_counter()
        for start in range(0, total, batch):
            store.append("labels", new_events(start, batch), ANY)  # encoding included
        return total / (time.perf_counter() - t)


def ours_read(path: Path | str) -> tuple[int, float]:
    with open_store(path) as store:
        t = time.perf_counter()
        n = 0
        for event in store.read_all():
            n += 1
        return n, n / (time.perf_counter() - t)


# -- the peer (any eventsourcing recorder) ------------------------------------------------
def peer_events(start: int, n: int, originator, version: int):
    from eventsourcing.persistence import StoredEvent

    out = []
    for k, i in enumerate(range(start, start + n)):
        data, meta = payload(i)
        state = orjson.dumps({"data": data, "metadata": meta})
        out.append(StoredEvent(originator, version + k + 1, "LabelAssigned", state))
    return out


def peer_insert_batched(recorder, total: int, batch: int) -> float:
    """Events per second of ``total`` events inserted ``batch`` at a time, encoding included."""
    originator = uuid.uuid4()
    t = time.perf_counter()
    for start in range(0, total, batch):
        recorder.insert_events(peer_events(start, batch, originator, start))
    return total / (time.perf_counter() - t)


def peer_read_all(recorder) -> tuple[int, float]:
    """Every notification, 10,000 a page, each state decoded: (count, events per second)."""
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
    return n, n / (time.perf_counter() - t)


# -- writer threads (eventsourcing's own concurrent test: 4 workers, jobs of 50 events) ----
THREADS, JOB = 4, 50


def ours_threads(url: str, jobs: int, create: bool = True) -> float:
    with open_store(url, create=create) as store:

        def job(k: int) -> None:
            store.append(f"job-{uuid.uuid4().hex}", new_events(k * JOB, JOB), NO_STREAM)

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(job, range(THREADS)))  # warm up: one connection per thread
            t = time.perf_counter()
            list(pool.map(job, range(jobs)))
            return jobs * JOB / (time.perf_counter() - t)


def peer_threads(recorder, jobs: int) -> float:
    def job(k: int) -> None:
        recorder.insert_events(peer_events(k * JOB, JOB, uuid.uuid4(), 0))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(job, range(THREADS)))
        t = time.perf_counter()
        list(pool.map(job, range(jobs)))
        return jobs * JOB / (time.perf_counter() - t)


def emit_threads(bench: str, jobs: int, ours: float, peer: float, ratio: float) -> dict:
    """The JSON line of a writer-threads measurement, on SQLite or on PostgreSQL."""
    return emit(
        bench=bench,
        threads=THREADS,
        job=JOB,
        jobs=jobs,
        ours_events_per_s=round(ours),
        peer_events_per_s=round(peer),
        ratio=round(ratio, 2),
    )


def rounds(ours, peer, n: int) -> tuple[float, float, float]:
    """Alternate ours and the peer ``n`` times; medians of rates and of per-round ratios."""
    o, p = [], []
    for r in range(n):
        o.append(ours(r))
        p.append(peer(r))
    return statistics.median(o), statistics.median(p), statistics.median(a / b for a, b in zip(o, p))
