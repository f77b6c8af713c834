"""Live sync between two workstations on one PostgreSQL project: label in one process,
seen in the other. Target on loopback: p99 <= 250 ms.

    .venv/bin/python benchmarks/live_sync.py [--quick] [--url postgresql://…/DB]

The labeling process assigns labels one at a time at a person's pace (a label every
20-60 ms, faster than anyone types). The watching process does what a window does: it
waits on the store (LISTEN/NOTIFY as a wake-up, reads by position) and catches its
``Project`` up with ``refresh()``; a listener notes, for each label, the time from the
moment the labeler decided it (the event's ``at``, same machine clock) to the moment the
watcher's read models hold it. So a figure covers decide + append + commit + notify +
wake-up + read + fold. Without ``--url`` a private PostgreSQL 16 is started with
``pgserver`` (Unix socket).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

from _report import ROOT, emit, machine, percentile, record_section  # also puts the repo on sys.path

LABELER = textwrap.dedent(
    """
    import random, sys, time
    from app.project.bootstrap import bootstrap
    url, count = sys.argv[1], int(sys.argv[2])
    rng = random.Random(0)
    with bootstrap(annotator="labeler").projects.open(url) as project:
        print("ready", flush=True)
        sys.stdin.readline()
        for s in range(count):
            project.assign_label(s, s % 3)
            time.sleep(rng.uniform(0.02, 0.06))
    """
)


def measure(url: str, count: int) -> list[float]:
    import numpy as np

    from app.project.bootstrap import bootstrap
    from domain.images import Dataset

    images = np.random.default_rng(0).integers(0, 256, (max(count, 10), 28, 28), dtype=np.uint8)
    app = bootstrap(annotator="watcher", data_dir=tempfile.mkdtemp(prefix="ledgerlab-bench-"))
    app.projects.create(url, Dataset(images=images, class_names=("a", "b", "c"), source="bench")).close()
    latencies: list[float] = []
    done = threading.Event()
    with app.projects.open(url) as project, app.projects.open_log(url) as waiter:

        def on_change(change: object) -> None:
            now = time.time()
            for e in change.events:  # type: ignore[attr-defined]
                if e.type == "LabelAssigned":
                    latencies.append(now - float(e.metadata["at"]))
            if len(latencies) >= count:
                done.set()

        project.subscribe(on_change)
        labeler = subprocess.Popen(
            [sys.executable, "-c", LABELER, url, str(count)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert labeler.stdin is not None and labeler.stdout is not None
        assert labeler.stdout.readline().strip() == "ready"
        labeler.stdin.write("go\n")
        labeler.stdin.flush()
        deadline = time.monotonic() + 60 + count * 0.2
        while not done.is_set() and time.monotonic() < deadline:
            waiter.wait_for_new(project.position, 0.5)  # the wake-up; the read is by position
            project.refresh()
        labeler.wait(timeout=60)
    return latencies


def start_server() -> tuple[str, object, Path]:
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="ledgerlab-bench-pg-"))
    server = pgserver.get_server(folder / "data", cleanup_mode="stop")
    return server.get_uri(), server, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 labels instead of 500")
    parser.add_argument("--url", help="a PostgreSQL database URL (default: a private pgserver)")
    args = parser.parse_args()
    count = 100 if args.quick else 500
    server = folder = None
    base = args.url
    if base is None:
        base, server, folder = start_server()
    url = f"{base}{'&' if '?' in base else '?'}project=bench_{uuid.uuid4().hex[:10]}"
    try:
        latencies = measure(url, count)
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
            shutil.rmtree(folder, ignore_errors=True)  # type: ignore[arg-type]
    ms = [1000 * x for x in latencies]
    p50, p99 = percentile(ms, 50), percentile(ms, 99)
    emit(
        benchmark="live_sync",
        labels=len(ms),
        p50_ms=round(p50, 1),
        p99_ms=round(p99, 1),
        max_ms=round(max(ms), 1),
        target_p99_ms=250,
        ok=p99 <= 250,
    )
    record_section(
        "live_sync",
        f"""## Live sync between two processes (PostgreSQL, issue 14)

`.venv/bin/python benchmarks/live_sync.py` (`--quick` for a smoke run). Measured {machine()}.
One process labels {len(ms)} samples one at a time (every 20-60 ms); another follows the project
as a window does (wait on the store, `Project.refresh()`). Label decided -> held by the other
process's read models: **p50 {p50:.1f} ms, p99 {p99:.1f} ms** (max {max(ms):.1f} ms; target p99 <= 250 ms)
on a local PostgreSQL 16 (pgserver, Unix socket).
""",
    )
    if p99 > 250:
        sys.exit(1)


if __name__ == "__main__":
    main()
