"""Showing a person's own images (issue 18.2): how long the first sample and a hover take
to read and draw, with and without stored thumbnails, and what bringing the dataset to
the training size costs.

    .venv/bin/python benchmarks/viewer_reads.py [--quick]

Each project is created from random uint8 images streamed into ``ProjectService.create``
(the path of `ledgerlab new`); then a fresh process opens it and times, after the opening:
the first sample (the middle one) read through ``DatasetImages.display`` and made the
viewer's 180 px pixmap; then hovers: ``HOVERS`` random samples each read and made a 96 px
pixmap (p50, p99, the slowest); then the whole dataset at the training size 32
(``domain.resample.to_training_size``, chunk by chunk) with that process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import ROOT, emit, machine, record_section

SETS: dict[str, tuple[int, tuple[int, ...]]] = {  # name: (images, shape)
    "colour 64×64": (100_000, (64, 64, 3)),
    "colour 512×512": (2_000, (512, 512, 3)),
}
HOVERS = 200

CHILD = """
import json, random, resource, sys, time
t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication
qt = QApplication([])
from app.project.bootstrap import bootstrap
from app.ui.images import to_pixmap
from domain.resample import to_training_size
app = bootstrap(annotator="bench", data_dir=sys.argv[2])
project = app.projects.open(sys.argv[1])
images = project.images()
t = time.perf_counter()
opened = t - t0
to_pixmap(images.display(len(images) // 2), 180)
first = time.perf_counter() - t
rng = random.Random(0)
hovers = []
for sample in (rng.randrange(len(images)) for _ in range(int(sys.argv[3]))):
    t = time.perf_counter()
    to_pixmap(images.display(sample), 96)
    hovers.append(time.perf_counter() - t)
rss_viewing = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = []  # as before thumbnails: the image itself, from its dataset chunk
images._cache.clear()
for sample in (rng.randrange(len(images)) for _ in range(int(sys.argv[3]) // 4)):
    t = time.perf_counter()
    to_pixmap(images[sample], 96)
    before.append(time.perf_counter() - t)
images._cache.clear()
before.sort()
t = time.perf_counter()
small = to_training_size(images, 32)
resampled = time.perf_counter() - t
hovers.sort()
print(json.dumps({
    "open_s": opened, "first_sample_s": first,
    "hover_p50_ms": 1e3 * hovers[len(hovers) // 2], "hover_p99_ms": 1e3 * hovers[int(0.99 * (len(hovers) - 1))],
    "hover_max_ms": 1e3 * hovers[-1], "rss_viewing_gb": rss_viewing / 1e9,
    "image_hover_p50_ms": 1e3 * before[len(before) // 2],
    "training_shape": list(small.shape), "resample_s": resampled,
    "rss_after_resample_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
    "thumbnails": len(images.thumbnail_chunks),
}))
"""


def create(path: Path, data_dir: Path, count: int, shape: tuple[int, ...]) -> float:
    from app.project.bootstrap import bootstrap
    from domain.images import DatasetStream

    def batches(rows: int):
        rng = np.random.default_rng(0)
        for start in range(0, count, rows):
            yield rng.integers(0, 256, (min(rows, count - start), *shape), dtype=np.uint8)

    started = time.perf_counter()
    app = bootstrap(annotator="bench", data_dir=data_dir)
    stream = DatasetStream((count, *shape), "benchmark: random images", batches)
    app.projects.create(path, stream, name="bench").close()
    return time.perf_counter() - started


def create_apart(path: Path, data_dir: Path, count: int, shape: tuple[int, ...]) -> float:
    """``create`` in another process: Linux keeps a process's peak RSS across fork and
    exec, so this one stays small and the peaks measured are the viewer's own."""
    script = f"import sys; sys.path.append({str(Path(__file__).parent)!r}); from viewer_reads import create; "
    script += f"from pathlib import Path; print(create(Path({str(path)!r}), Path({str(data_dir)!r}), {count}, {shape!r}))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"creating {path.name} failed: {out.stderr.strip().splitlines()[-1:]}")
    return float(out.stdout.strip().splitlines()[-1])


def measure(path: Path, data_dir: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(data_dir), str(HOVERS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the images (a smoke run)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ledgerlab-viewer-", dir="/tmp") as tmp:
        folder = Path(tmp)
        for name, (count, shape) in SETS.items():
            count = count // 10 if args.quick else count
            path = folder / f"{name.split()[1].replace('×', 'x')}.ledger"
            new_s = create_apart(path, folder / "data", count, shape)
            record = {
                "set": name,
                "images": count,
                "new_s": round(new_s, 1),
                **measure(path, folder / "data"),
            }
            rows.append(emit(**record))
            path.unlink()
    lines = [
        "## Showing a person's images: first sample, hover, training size (issue 18.2)",
        "",
        "`benchmarks/viewer_reads.py`: a project created from random uint8 images streamed "
        "through `ProjectService.create` (as `ledgerlab new`; images with a side over 128 px also "
        "get 128 px thumbnails in chunks of ≤ 4 MB, made in the same pass); a fresh process opens "
        "it, then reads the middle sample through `DatasetImages.display` (a thumbnail chunk, or the "
        "image alone through the store's ranged read `read_blob_range`) and makes the viewer's "
        f"180 px pixmap (first sample, after opening), then {HOVERS} random hovers (read and 96 px "
        "pixmap each); then the dataset at training size 32 chunk by chunk "
        "(`domain.resample.to_training_size`).",
        "",
        "| dataset | images | `new` s | thumbnail chunks | open s | first sample s | hover p50 / p99 / max ms "
        "| hover from the image's dataset chunk, p50 ms | RSS viewing | to size 32: shape, s | RSS then |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['set']} | {r['images']:,} | {r['new_s']} | {r['thumbnails']} | {r['open_s']:.2f} | "
            f"{r['first_sample_s']:.3f} | {r['hover_p50_ms']:.1f} / {r['hover_p99_ms']:.1f} / "
            f"{r['hover_max_ms']:.1f} | {r['image_hover_p50_ms']:.1f} | {r['rss_viewing_gb']:.2f} GB | "
            f"{'×'.join(map(str, r['training_shape'][1:]))}, {r['resample_s']:.1f} | "
            f"{r['rss_after_resample_gb']:.2f} GB |"
        )
    lines += ["", f"Machine: {machine()}."]
    if not args.quick:
        record_section("viewer-reads", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
