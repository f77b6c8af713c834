"""Batched appends of 1,000 on SQLite, ours against eventsourcing's SQLite recorder,
interleaved batch by batch so that load from other processes hits both alike.

Same payloads, event construction and durability as ``benchmarks/eventstore.py`` (whose
functions it uses): each side builds its 1,000 events and appends them in one
transaction (WAL, synchronous=FULL). In each round both get a fresh file and take turns,
one batch each, the order swapped every batch; a round's ratio is the peer's total time
over ours (> 1: we are faster). Reported: the median and the lowest of the rounds'
ratios, and the ratio of the medians of each side's five fastest batches (the least
disturbed by other processes on a shared machine).

    python benchmarks/eventstore_batch.py [--rounds 7] [--batches 30] [--no-record]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import _report  # noqa: F401  (puts the repo root on sys.path)
from _report import emit, record_section

from eventstore import ANY, open_store

BATCH = 1000


def _peer_module():
    """benchmarks/eventstore.py (its name is the package's, so it is loaded by path)."""
    spec = importlib.util.spec_from_file_location(
        "eventstore_bench", Path(__file__).with_name("eventstore.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_round(folder: Path, batches: int, bench) -> tuple[float, float, list[float], list[float]]:
    """Total seconds (ours, peer) of ``batches`` interleaved batches, and each batch's time."""
    ours_times: list[float] = []
    peer_times: list[float] = []
    with open_store(folder / "ours.ledger", create=True) as store:
        datastore, recorder = bench.peer_recorder(folder / "peer.db")
        originator = uuid.uuid4()
        try:
            for k in range(batches):
                start = k * BATCH
                for side in (0, 1) if k % 2 else (1, 0):
                    t = time.perf_counter()
                    if side == 0:
                        store.append("labels", bench.new_events(start, BATCH), ANY)  # encoding included
                        ours_times.append(time.perf_counter() - t)
                    else:
                        recorder.insert_events(bench.peer_events(start, BATCH, originator, start))
                        peer_times.append(time.perf_counter() - t)
        finally:
            datastore.close()
    return sum(ours_times), sum(peer_times), ours_times, peer_times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, default=30, help="batches of 1,000 per round and side")
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    bench = _peer_module()
    load_before = os.getloadavg()
    ratios, fastest, ours_rates, peer_rates = [], [], [], []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            ours, peer, ours_times, peer_times = one_round(Path(tmp), args.batches, bench)
        ratios.append(peer / ours)
        fastest.append(statistics.median(sorted(peer_times)[:5]) / statistics.median(sorted(ours_times)[:5]))
        ours_rates.append(args.batches * BATCH / ours)
        peer_rates.append(args.batches * BATCH / peer)
        emit(
            bench="batched_append_1000_interleaved",
            round=r + 1,
            ours_events_per_s=round(ours_rates[-1]),
            peer_events_per_s=round(peer_rates[-1]),
            ratio=round(ratios[-1], 3),
            fastest5_ratio=round(fastest[-1], 3),
        )
    load_after = os.getloadavg()
    summary = emit(
        bench="batched_append_1000_interleaved_summary",
        rounds=args.rounds,
        median_ratio=round(statistics.median(ratios), 3),
        lowest_ratio=round(min(ratios), 3),
        fastest5_ratio=round(statistics.median(fastest), 3),
        load_before=[round(x, 2) for x in load_before],
        load_after=[round(x, 2) for x in load_after],
    )
    if args.no_record:
        return
    load = ", ".join(f"{x:.1f}" for x in load_before)
    lines = [
        "## Event store: batches of 1,000 on SQLite, interleaved (`benchmarks/eventstore_batch.py`)",
        "",
        f"Measured {_report.machine()}; load average {load} at the start. Ours against "
        "eventsourcing's `SQLiteApplicationRecorder`, same payloads and durability as "
        f"`benchmarks/eventstore.py`; {args.rounds} rounds of {args.batches} batches of 1,000 "
        "per side, the two taking turns batch by batch (order swapped every batch), each round "
        "on fresh files. Ratio: the peer's time over ours (> 1: ours is faster).",
        "",
        "| round | ours (events/s) | eventsourcing (events/s) | ours / peer | fastest 5 batches |",
        "|---|---|---|---|---|",
    ]
    for r, (o, p, ratio, fast) in enumerate(zip(ours_rates, peer_rates, ratios, fastest, strict=True), 1):
        lines.append(f"| {r} | {o:,.0f} | {p:,.0f} | {ratio:.2f}x | {fast:.2f}x |")
    lines += [
        "",
        f"Median of the rounds' ratios **{summary['median_ratio']:.2f}x**, lowest "
        f"{summary['lowest_ratio']:.2f}x; fastest-batch ratio {summary['fastest5_ratio']:.2f}x "
        "(target ≥ 1.0x, aim ≥ 1.1x).",
    ]
    record_section("eventstore_batch", "\n".join(lines))


if __name__ == "__main__":
    main()
