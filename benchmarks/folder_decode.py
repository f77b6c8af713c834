"""Decoding a folder of images (issue 18): Ledgerlab's reader with worker processes
against a plain one-process Pillow loop, on 20,000 colour 64×64 images (half PNG, half
JPEG, in ten class folders) generated once under /tmp.

    .venv/bin/python benchmarks/folder_decode.py [--quick] [--rounds N] [--workers N]

The plain loop lists the files, then opens, converts and copies each image into one
array (``np.asarray(Image.open(p).convert("RGB"))``). Ledgerlab's side is what ``new``
does before storing: list the folder, read every header, decode batch by batch in
worker processes (started in each round, so their start-up counts), and fill one array.
Rounds alternate the two sides; both arrays are compared bit for bit. The ratio is the
plain loop's time over ours: target ≥ 1.8× on 2 cores. The load average is printed with
every round: on a shared machine the other processes take cores from the workers.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
from _report import emit, machine, median, record_section

FOLDER = Path("/tmp/ledgerlab-bench-folder-decode")
SIDE = 64


def make_folder(root: Path, count: int) -> Path:
    """``count`` smooth colour images with texture (a coarse random field enlarged, plus
    noise), alternately PNG and JPEG (quality 90); kept for later runs."""
    from PIL import Image

    folder = root / f"{count}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    rng = np.random.default_rng(0)
    for i in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize((SIDE, SIDE), Image.Resampling.BICUBIC), np.float32)
        pixels = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
        target = folder / f"class{i % 10}" / f"{i:06d}.{'png' if i % 2 == 0 else 'jpg'}"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(target, quality=90) if i % 2 else Image.fromarray(pixels).save(target)
    marker.touch()
    return folder


def plain_loop(folder: Path) -> np.ndarray:
    from PIL import Image

    files = sorted(folder.glob("*/*.*"))
    out = np.empty((len(files), SIDE, SIDE, 3), np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as img:
            out[i] = np.asarray(img.convert("RGB"))
    return out


def ledgerlab(folder: Path, workers: int) -> np.ndarray:
    # Imported here: the worker processes start from a server that imports this script,
    # which should cost them no more than ``ledgerlab new``'s own entry point does.
    from app.project.dataset_store import CHUNK_BYTES
    from app.project.decode_workers import DecodeWorkers
    from domain.dataset import open_dataset
    from domain.images import rows_per_chunk

    with DecodeWorkers(workers) as mapper:
        stream = open_dataset(folder, mapper)
        out = np.empty(stream.shape, np.uint8)
        done = 0
        for batch in stream.batches(rows_per_chunk(stream.sample_bytes, CHUNK_BYTES)):
            out[done : done + len(batch)] = batch
            done += len(batch)
    return out


def _children_cpu() -> float:
    """CPU seconds of the workers that have ended (they are this process's children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images, 2 rounds (a smoke run)")
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    count, rounds = (2_000, 2) if args.quick else (args.images, args.rounds)
    started = time.perf_counter()
    folder = make_folder(FOLDER, count)
    emit(stage="folder", images=count, seconds=round(time.perf_counter() - started, 1), path=str(folder))

    plain_s, ours_s, ratios, loads = [], [], [], []
    cpu_rows: list[tuple[float, float, float]] = []
    for number in range(1, rounds + 1):
        # Alternate which side goes first, so a change of load hits both alike.
        sides = [("plain", lambda: plain_loop(folder)), ("ours", lambda: ledgerlab(folder, args.workers))]
        if number % 2 == 0:
            sides.reverse()
        timed, cpu, arrays = {}, {}, {}
        for name, run in sides:
            t, c, w = time.perf_counter(), time.process_time(), _children_cpu()
            arrays[name] = run()
            timed[name] = time.perf_counter() - t
            cpu[name] = (time.process_time() - c, _children_cpu() - w)
        if not np.array_equal(arrays["plain"], arrays["ours"]):
            raise SystemExit("the two sides decoded different pixels")
        plain_s.append(timed["plain"])
        ours_s.append(timed["ours"])
        ratios.append(timed["plain"] / timed["ours"])
        loads.append(os.getloadavg()[0])
        emit(
            round=number,
            plain_s=round(timed["plain"], 3),
            ours_s=round(timed["ours"], 3),
            ratio=round(ratios[-1], 2),
            plain_cpu_s=round(sum(cpu["plain"]), 2),
            ours_cpu_s=round(cpu["ours"][0], 2),
            workers_cpu_s=round(cpu["ours"][1], 2),
            load_1min=round(os.getloadavg()[0], 2),
        )
        cpu_rows.append((sum(cpu["plain"]), cpu["ours"][0], cpu["ours"][1]))
    summary = emit(
        images=count,
        workers=args.workers,
        plain_best_s=round(min(plain_s), 3),
        ours_best_s=round(min(ours_s), 3),
        best_ratio=round(min(plain_s) / min(ours_s), 2),
        median_ratio=round(median(ratios), 2),
        lowest_ratio=round(min(ratios), 2),
    )
    if args.quick or args.no_record:
        return
    plain_cpu = median([c[0] for c in cpu_rows])
    main_cpu = median([c[1] for c in cpu_rows])
    workers_cpu = median([c[2] for c in cpu_rows])
    bound_s = max(main_cpu, workers_cpu / args.workers)
    bound = plain_cpu / bound_s
    rows = "\n".join(
        f"| {i} | {p:.2f} | {o:.2f} | {r:.2f}× | {c[0]:.2f} | {c[1]:.2f} + {c[2]:.2f} | {load:.1f} |"
        for i, (p, o, r, c, load) in enumerate(zip(plain_s, ours_s, ratios, cpu_rows, loads), 1)
    )
    record_section(
        "folder-decode",
        f"""## Decoding an image folder in parallel (issue 18)

`benchmarks/folder_decode.py`: {count:,} colour {SIDE}×{SIDE} images (half PNG, half JPEG q90,
ten class folders). Plain loop: list, `Image.open(p).convert("RGB")`, `np.asarray` into one
array, in one process. Ledgerlab: `open_dataset(folder, DecodeWorkers({args.workers}))` read
batch by batch into one array (listing, headers, worker start-up included). Same pixels, bit
for bit. Target ≥ 1.8× on 2 cores.

| round | plain s | Ledgerlab s | ratio | plain CPU s | Ledgerlab CPU s (main + workers) | load (1 min) |
|---|---|---|---|---|---|---|
{rows}

Best of each: {summary["plain_best_s"]:.2f} s against {summary["ours_best_s"]:.2f} s
(**{summary["best_ratio"]:.2f}×**); median ratio {summary["median_ratio"]:.2f}×, lowest
{summary["lowest_ratio"]:.2f}×.

CPU time (median of the rounds): plain loop {plain_cpu:.2f} s; Ledgerlab {main_cpu:.2f} s in this
process and {workers_cpu:.2f} s in the {args.workers} workers (start-up included). Wall time can
beat the plain loop only by the cores the machine leaves free: with {args.workers} free cores the
workers' share would take about {bound_s:.2f} s (≈ {bound:.2f}×), an estimate from CPU time, not a
measurement. Linux shares the CPU between sessions (autogroups): while other sessions keep
both cores busy, this session's processes together get one session's share, so workers then
add no CPU and the wall time follows the CPU time.

Machine: {machine()}.""",
    )


if __name__ == "__main__":
    main()
