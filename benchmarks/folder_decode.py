"""Decoding a folder of images (issue 18): Ledgerlab's reader with worker processes
against a plain one-process Pillow loop, on two folders generated once under /tmp:
20,000 colour 64×64 images and 20,000 grey 28×28 (MNIST-size) images, each half PNG,
half JPEG, in ten class folders.

    .venv/bin/python benchmarks/folder_decode.py [--quick] [--rounds N] [--workers N]

The plain loop lists the files, then opens, converts and copies each image into one
array (``np.asarray(Image.open(p).convert(mode))``). Ledgerlab's side is what ``new``
does before storing: list the folder, read every header, decode batch by batch (chunk
by chunk, as ``new`` stores them) and fill one array; with N worker processes (started
in each round, so their start-up counts) and, to show what the parallelism adds, in
this one process alone. Rounds rotate the order of the three; the arrays are compared
bit for bit. The ratio is the plain loop's time over ours: target ≥ 1.8× on 2 cores.
The load average is printed with every round: on a shared machine the other processes
take cores from the workers.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _report import emit, machine, median, record_section

FOLDER = Path("/tmp/ledgerlab-bench-folder-decode")
WHY = """**Why the first version was slower than the plain loop (0.63–0.88×), measured
2026-11-27 at load ~8 (CPU µs per colour image, one process):** its header pass opened
every file a first time through Python's buffered `open` and read 4 KB (11 µs; the plain
loop opens each file once); its decode, `Image.open(path)` (Pillow asking every format
plugin in turn, parsing every JPEG segment in Python) then `np.asarray` and a copy into the
group's array, cost 159 µs against the plain loop's 151 (the Python around the C decoders
is about a third of the work for images this small); each group was pickled back through
a pipe (15 µs an image, pickling and unpickling, plus the pipe's copies, and a
`np.concatenate` per batch in the parent); each worker started by importing numpy and the
application's modules (0.16 s CPU each, against 0.05 s now); and groups went round-robin,
so a worker slowed by other load held the rest up. In all it spent more CPU than the
plain loop (4.1 s in the workers and 0.6 s in the parent against 3.3 s, medians of its
recorded rounds), so two cores could give at most ~1.6×.

**Now:** headers by one `os.read` of 1 KB (JPEG frame headers found past large EXIF
blocks by seeking); plain PNG (8-bit grey/RGB, not interlaced) and JPEG (8-bit, 1 or 3
components) of the wanted size decoded by `Image.frombytes(..., "zip"|"jpeg", ...)`, the
very C decoder and arguments Pillow's own readers use (bit for bit; anything else goes
through `Image.open` told to try PNG and JPEG first); workers (`python -S`) import only
Pillow and `domain.image_decode` (no numpy, no JAX, no application); pixels come back as
bytes written into an anonymous shared buffer (`os.memfd_create`, slots of 4 MB, nothing to
clean up however a process ends), answered by their length; tasks name files relative to
the folder; the next group goes to the least busy worker; the parent copies each group
once into its chunk-sized batch; `new` starts the workers before it lists the folder.
Bounded memory is unchanged (a chunk being filled plus 3 groups per worker in flight).
Per image, Ledgerlab's headers and decode together now cost less CPU than the plain loop
(table above), so even one process is faster, and the workers add what free cores allow.

**Under load the ratio falls** (recorded earlier the same day while other sessions trained:
colour median 1.11×, grey 1.42× at load ~3; 0.72–1.25× and 0.93–1.82× at load 8–9): Linux
shares the CPU between sessions (`/proc/sys/kernel/sched_autogroup_enabled` is 1 here), so
while other sessions keep both cores busy this benchmark's processes *together* get one
session's share (a check at 09:49: one busy-looping Python process got 0.47 of a core, two
at once 0.24 each); the workers then add no CPU and the wall time follows total CPU, which
is why "one process" wins under load. The table above is from a quiet moment (load < 1.2),
where the two workers used ~1.9 cores."""
KINDS = {"colour": (64, "RGB"), "grey": (28, "L")}  # side, Pillow mode


def make_folder(root: Path, count: int, kind: str = "colour") -> Path:
    """``count`` smooth images with texture (a coarse random field enlarged, plus noise),
    alternately PNG and JPEG (quality 90); kept for later runs."""
    from PIL import Image

    side, mode = KINDS[kind]
    folder = root / (f"{count}" if kind == "colour" else f"{kind}-{count}")
    marker = folder / ".complete"
    if marker.exists():
        return folder
    rng = np.random.default_rng(0)
    channels = (3,) if mode == "RGB" else ()
    for i in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (8, 8, *channels), dtype=np.uint8))
        smooth = np.asarray(coarse.resize((side, side), Image.Resampling.BICUBIC), np.float32)
        pixels = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
        target = folder / f"class{i % 10}" / f"{i:06d}.{'png' if i % 2 == 0 else 'jpg'}"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(target, quality=90) if i % 2 else Image.fromarray(pixels).save(target)
    marker.touch()
    return folder


def plain_loop(folder: Path, kind: str = "colour") -> np.ndarray:
    from PIL import Image

    side, mode = KINDS[kind]
    files = sorted(folder.glob("*/*.*"))
    out = np.empty((len(files), side, side) + ((3,) if mode == "RGB" else ()), np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as img:
            out[i] = np.asarray(img.convert(mode))
    return out


def ledgerlab(folder: Path, workers: int) -> np.ndarray:
    # Imported here, as ``ledgerlab new`` imports them: the workers import none of them.
    from app.project.dataset_store import CHUNK_BYTES
    from app.project.decode_workers import DecodeWorkers
    from domain.dataset import open_dataset
    from domain.images import rows_per_chunk

    with DecodeWorkers(workers) as mapper:
        mapper.start()  # as ``new`` does for a folder: they boot while it is listed
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


def measure(folder: Path, kind: str, rounds: int, workers: int) -> list[dict]:
    sides: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("plain", lambda: plain_loop(folder, kind)),
        ("one", lambda: ledgerlab(folder, 1)),
        ("ours", lambda: ledgerlab(folder, workers)),
    ]
    rows = []
    for number in range(1, rounds + 1):
        # Rotate which side goes first, so a change of load hits all alike.
        shift = (number - 1) % len(sides)
        order = sides[shift:] + sides[:shift]
        row: dict = {"kind": kind, "round": number, "load_start": round(os.getloadavg()[0], 2)}
        arrays = {}
        for name, run in order:
            t, c, w = time.perf_counter(), time.process_time(), _children_cpu()
            arrays[name] = run()
            row[f"{name}_s"] = round(time.perf_counter() - t, 3)
            row[f"{name}_cpu_s"] = round(time.process_time() - c, 2)
            row[f"{name}_workers_cpu_s"] = round(_children_cpu() - w, 2)
        if not (
            np.array_equal(arrays["plain"], arrays["ours"]) and np.array_equal(arrays["plain"], arrays["one"])
        ):
            raise SystemExit(f"{kind}: the sides decoded different pixels")
        row["ratio"] = round(row["plain_s"] / row["ours_s"], 2)
        row["one_ratio"] = round(row["plain_s"] / row["one_s"], 2)
        row["load_end"] = round(os.getloadavg()[0], 2)
        rows.append(emit(**row))
    return rows


def per_image(folder: Path, kind: str, count: int = 4000) -> dict:
    """CPU microseconds per image (best of three, in this process) of the plain loop's
    open-convert-copy and of Ledgerlab's two passes: what the workers share out."""
    from domain.image_decode import decode_pixels, read_headers

    side, mode = KINDS[kind]
    files = sorted(folder.glob("*/*.*"))[:: max(1, len(list(folder.glob("*/*.*"))) // count)][:count]
    names = [str(p.relative_to(folder)) for p in files]

    def plain() -> None:
        from PIL import Image

        for path in files:
            with Image.open(path) as img:
                np.asarray(img.convert(mode))

    def best(run: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            started = time.process_time()
            run()
            times.append(time.process_time() - started)
        return round(min(times) / len(files) * 1e6, 1)

    where = str(folder)
    groups = range(0, len(names), 64)
    return emit(
        kind=kind,
        plain_us=best(plain),
        headers_us=best(lambda: read_headers((where, names))),
        decode_us=best(
            lambda: [decode_pixels((where, names[i : i + 64], (side, side), mode)) for i in groups]
        ),
        load_1min=round(os.getloadavg()[0], 2),
    )


def summarise(rows: list[dict], workers: int) -> dict:
    quiet = min(rows, key=lambda r: r["load_start"] + r["load_end"])
    plain_cpu = median([r["plain_cpu_s"] for r in rows])
    # With ``workers`` free cores the workers' CPU is shared out, the parent's runs beside.
    bound = max(
        median([r["ours_cpu_s"] for r in rows]), median([r["ours_workers_cpu_s"] for r in rows]) / workers
    )
    return {
        "cpu_estimate": round(plain_cpu / bound, 2),
        # Cores each side got (CPU over wall time): what the machine's other sessions left.
        "plain_cores": round(median([r["plain_cpu_s"] / r["plain_s"] for r in rows]), 2),
        "ours_cores": round(
            median([(r["ours_cpu_s"] + r["ours_workers_cpu_s"]) / r["ours_s"] for r in rows]), 2
        ),
        "images": 0,
        "plain_best_s": min(r["plain_s"] for r in rows),
        "ours_best_s": min(r["ours_s"] for r in rows),
        "one_best_s": min(r["one_s"] for r in rows),
        "best_ratio": round(min(r["plain_s"] for r in rows) / min(r["ours_s"] for r in rows), 2),
        "median_ratio": round(median([r["ratio"] for r in rows]), 2),
        "lowest_ratio": min(r["ratio"] for r in rows),
        "quietest_round": quiet["round"],
        "quietest_ratio": quiet["ratio"],
        "quietest_load": quiet["load_start"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images a kind, 2 rounds (a smoke run)")
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--kinds", default="colour,grey", help="which folders: colour, grey or both")
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    count, rounds = (2_000, 2) if args.quick else (args.images, args.rounds)
    table, summaries, parts = [], {}, {}
    for kind in args.kinds.split(","):
        started = time.perf_counter()
        folder = make_folder(FOLDER, count, kind)
        emit(stage="folder", kind=kind, images=count, seconds=round(time.perf_counter() - started, 1))
        parts[kind] = per_image(folder, kind)
        rows = measure(folder, kind, rounds, args.workers)
        summaries[kind] = emit(
            kind=kind, workers=args.workers, **{**summarise(rows, args.workers), "images": count}
        )
        table += rows
    if args.quick or args.no_record:
        return
    lines = "\n".join(
        f"| {r['kind']} | {r['round']} | {r['load_start']:.1f}–{r['load_end']:.1f} | {r['plain_s']:.2f} | "
        f"{r['one_s']:.2f} | {r['ours_s']:.2f} | **{r['ratio']:.2f}×** | {r['one_ratio']:.2f}× | "
        f"{r['plain_cpu_s']:.2f} | {r['ours_cpu_s']:.2f} + {r['ours_workers_cpu_s']:.2f} |"
        for r in table
    )
    verdicts = "\n".join(
        f"- {kind}: best {s['plain_best_s']:.2f} s against {s['ours_best_s']:.2f} s (**{s['best_ratio']:.2f}×**); "
        f"median ratio {s['median_ratio']:.2f}×, lowest {s['lowest_ratio']:.2f}×; in the quietest round "
        f"(load {s['quietest_load']:.1f}) {s['quietest_ratio']:.2f}×. One process alone: best {s['one_best_s']:.2f} s. "
        f"Cores used (CPU / wall, median): plain loop {s['plain_cores']:.2f}, Ledgerlab with its workers "
        f"{s['ours_cores']:.2f}. Upper bound from CPU time (not a measurement) with {args.workers} free cores: "
        f"the plain loop's CPU over the larger of the parent's CPU and the workers' CPU / {args.workers}: "
        f"{s['cpu_estimate']:.2f}×."
        for kind, s in summaries.items()
    )
    costs = "\n".join(
        f"| {kind} | {p['plain_us']:.0f} | {p['headers_us']:.0f} | {p['decode_us']:.0f} | "
        f"{p['plain_us'] / (p['headers_us'] + p['decode_us']):.2f}× | {p['load_1min']:.1f} |"
        for kind, p in parts.items()
    )
    record_section(
        "folder-decode",
        f"""## Decoding an image folder in parallel (issue 18)

`benchmarks/folder_decode.py`: {count:,} colour 64×64 images and {count:,} grey 28×28 images
(each half PNG, half JPEG q90, ten class folders). Plain loop: list, `Image.open(p).convert(mode)`,
`np.asarray` into one array, in one process. Ledgerlab: `open_dataset(folder, DecodeWorkers(N))`
read chunk by chunk into one array (listing, headers, worker start-up included), with N =
{args.workers} workers ("ours") and in one process ("one", N = 1). Same pixels, bit for bit.
Rounds rotate the order of the three. Target ≥ 1.8× on 2 cores.

| folder | round | load (1 min) | plain s | one process s | {args.workers} workers s | ratio | one-process ratio | plain CPU s | workers' side CPU s (main + workers) |
|---|---|---|---|---|---|---|---|---|---|
{lines}

{verdicts}

CPU per image (µs, best of three over 4,000 images, one process):

| folder | plain loop | Ledgerlab headers | Ledgerlab decode | plain / (headers + decode) | load (1 min) |
|---|---|---|---|---|---|
{costs}

{WHY}

Machine: {machine()}.""",
    )


if __name__ == "__main__":
    main()
