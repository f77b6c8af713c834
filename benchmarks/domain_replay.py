"""Domain benchmarks: projection replay rate, label command latency, opening a
project whose log holds a million label events (with and without a snapshot).

    .venv/bin/python benchmarks/domain_replay.py [--quick]

Prints one JSON object per line. Targets: replay >= 1,000,000 events/s; label
command p99 <= 1 ms plus the store's durable append; open with snapshot <= 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from app.project.bootstrap import bootstrap  # noqa: E402
from app.project.projections import PROJECT_STREAM, SNAPSHOT_NAME  # noqa: E402
from domain.events import core_registry  # noqa: E402
from domain.images import Dataset  # noqa: E402
from domain.projections import ProjectProjections  # noqa: E402
from eventstore import NewEvent, RecordedEvent, open_store  # noqa: E402

SAMPLES = 10_000
CLASSES = 10
ANNOTATORS = ("alice", "bob", "carol")


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def label_stream(n: int, seed: int = 0):
    """(sample, label, previous, annotator) for n consistent label changes."""
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, SAMPLES, n).tolist()
    labels = rng.integers(0, CLASSES, n).tolist()
    who = rng.integers(0, len(ANNOTATORS), n).tolist()
    current = [-1] * SAMPLES
    for s, label, a in zip(samples, labels, who):
        previous = current[s]
        current[s] = label
        yield s, label, previous, ANNOTATORS[a]


def created_events(registry):
    created = {
        "name": "bench",
        "dataset_sha256": "0" * 64,
        "shape": [SAMPLES, 28, 28],
        "class_names": [str(d) for d in range(CLASSES)],
        "source": "benchmark",
    }
    return [RecordedEvent(1, PROJECT_STREAM, 1, "ProjectCreated", 2, created, {}, 0.0)]


def bench_replay(n: int) -> None:
    registry = core_registry()
    events = created_events(registry)
    t0 = 1_795_000_000.0
    for i, (s, label, prev, who) in enumerate(label_stream(n), start=2):
        events.append(
            RecordedEvent(
                i,
                PROJECT_STREAM,
                i,
                "LabelAssigned",
                1,
                {"sample": s, "label": label, "previous": prev},
                {"annotator": who, "at": t0 + i, "command": "AssignLabel"},
                t0 + i,
            )
        )
    best = float("inf")
    for _ in range(3):
        state = ProjectProjections(registry)
        start = time.perf_counter()
        state.apply(events)
        best = min(best, time.perf_counter() - start)
    rate = n / best
    emit(
        bench="domain.replay",
        events=n,
        seconds=round(best, 4),
        events_per_s=round(rate),
        target=1_000_000,
        ok=rate >= 1_000_000,
    )


class TimedStore:
    """Delegates to a real store, timing each append (to split latency)."""

    def __init__(self, store):
        self._store = store
        self.appends: list[float] = []

    def append(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self._store.append(*args, **kwargs)
        finally:
            self.appends.append(time.perf_counter() - start)

    def __getattr__(self, name):
        return getattr(self._store, name)


def synthetic_dataset() -> Dataset:
    images = np.random.default_rng(1).integers(0, 256, (SAMPLES, 28, 28), dtype=np.uint8)
    return Dataset(images, source="benchmark noise", class_names=tuple(str(d) for d in range(CLASSES)))


def bench_label_latency(folder: Path, n: int) -> None:
    app = bootstrap(annotator="bench", data_dir=folder)
    with app.projects.create(folder / "latency.ledger", synthetic_dataset()) as project:
        timed = TimedStore(project._store)
        project._store = timed
        rng = np.random.default_rng(3)
        totals, appends = [], []
        for s, label in zip(rng.integers(0, SAMPLES, n).tolist(), rng.integers(0, CLASSES, n).tolist()):
            made = len(timed.appends)
            start = time.perf_counter()
            project.assign_label(s, label)
            elapsed = time.perf_counter() - start
            if len(timed.appends) > made:  # a command that changed nothing made no append
                totals.append(elapsed)
                appends.append(timed.appends[-1])
    totals_ms = np.array(totals) * 1e3
    appends_ms = np.array(appends) * 1e3
    overhead_ms = totals_ms - appends_ms
    p = lambda a, q: round(float(np.percentile(a, q)), 3)  # noqa: E731
    emit(
        bench="domain.label_latency",
        commands=len(totals_ms),
        total_p50_ms=p(totals_ms, 50),
        total_p99_ms=p(totals_ms, 99),
        append_p50_ms=p(appends_ms, 50),
        append_p99_ms=p(appends_ms, 99),
        overhead_p50_ms=p(overhead_ms, 50),
        overhead_p99_ms=p(overhead_ms, 99),
        target_overhead_p99_ms=1.0,
        ok=p(overhead_ms, 99) <= 1.0,
    )


def bench_open(folder: Path, n: int) -> None:
    app = bootstrap(annotator="bench", data_dir=folder)
    path = folder / "million.ledger"
    app.projects.create(path, synthetic_dataset()).close()
    start = time.perf_counter()
    with open_store(path) as store:
        version = store.stream_version(PROJECT_STREAM)
        batch = []
        t0 = time.time()
        for i, (s, label, prev, who) in enumerate(label_stream(n, seed=5)):
            batch.append(
                NewEvent(
                    "LabelAssigned",
                    {"sample": s, "label": label, "previous": prev},
                    {"annotator": who, "at": t0 + i * 1e-3, "command": "AssignLabel"},
                )
            )
            if len(batch) == 10_000:
                store.append(PROJECT_STREAM, batch, version)
                version += len(batch)
                batch = []
        if batch:
            store.append(PROJECT_STREAM, batch, version)
        store.delete_snapshot(SNAPSHOT_NAME)
    emit(bench="domain.build_log", events=n, seconds=round(time.perf_counter() - start, 2))

    start = time.perf_counter()
    with app.projects.open(path) as project:  # replays everything, then saves a snapshot
        opened = time.perf_counter() - start
        assert project.event_count == n + 2
    emit(
        bench="domain.open_without_snapshot",
        events=n + 2,
        seconds=round(opened, 3),
        events_per_s=round((n + 2) / opened),
    )

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with app.projects.open(path) as project:
            best = min(best, time.perf_counter() - start)
            assert project.event_count == n + 2
    with open_store(path) as store:
        size = len(store.load_snapshot(SNAPSHOT_NAME).payload)
    emit(
        bench="domain.open_with_snapshot",
        events=n + 2,
        seconds=round(best, 4),
        snapshot_bytes=size,
        target_s=0.3,
        ok=best <= 0.3,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    replay_n, latency_n, open_n = (100_000, 300, 100_000) if args.quick else (1_000_000, 3_000, 1_000_000)
    bench_replay(replay_n)
    with tempfile.TemporaryDirectory(prefix="ledgerlab-bench-") as tmp:
        bench_label_latency(Path(tmp), latency_n)
        bench_open(Path(tmp), open_n)


if __name__ == "__main__":
    main()
