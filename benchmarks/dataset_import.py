"""Creating a project from a large dataset (issue 18): peak memory and time of
`ledgerlab new` for 100,000 colour 64×64 images (a 1.2 GB .npz) and 1,000,000 grey
28×28 images (784 MB), then opening the project and showing one sample.

    .venv/bin/python benchmarks/dataset_import.py [--quick] [--before DIR]

Each `new` runs in its own process; its peak RSS comes from the kernel (wait4). The
synthetic .npz files are written to a temporary folder and deleted at the end.
``--before DIR`` runs the same commands with the source tree in DIR (e.g. an older
release unpacked with `git archive`) for comparison. Targets: peak RSS ≤ 1.5 GB for
both sets; first sample shown ≤ 0.3 s after opening.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from _report import ROOT, emit, machine, record_section

SETS: dict[str, tuple[int, tuple[int, ...]]] = {  # name: (images, shape)
    "colour 64×64": (100_000, (64, 64, 3)),
    "grey 28×28": (1_000_000, (28, 28)),
}
QUICK = {"colour 64×64": 10_000, "grey 28×28": 100_000}

FIRST_SAMPLE = """
import sys, time, resource
t = time.perf_counter()
from app.project.bootstrap import bootstrap
app = bootstrap(annotator="bench", data_dir=sys.argv[2])
project = app.projects.open(sys.argv[1])
opened = time.perf_counter() - t
image = project.images()[len(project.images()) // 2]
shown = time.perf_counter() - t
print(opened, shown, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def make_npz(path: Path, count: int, shape: tuple[int, ...]) -> int:
    """An uncompressed .npz of ``count`` random uint8 images, written by another process:
    Linux keeps a process's peak RSS across fork and exec, so this one stays small and the
    peaks measured are the commands' own."""
    script = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    script += f"from dataset_import import write_npz; write_npz({str(path)!r}, {count}, {shape!r})"
    subprocess.run([sys.executable, "-c", script], check=True)
    return path.stat().st_size


def write_npz(path: str, count: int, shape: tuple[int, ...]) -> None:
    npy = Path(path).with_suffix(".npy")
    array = np.lib.format.open_memmap(npy, mode="w+", dtype=np.uint8, shape=(count, *shape))
    rng = np.random.default_rng(0)
    step = max(1, (64 << 20) // int(np.prod(shape)))
    for start in range(0, count, step):
        stop = min(count, start + step)
        array[start:stop] = rng.integers(0, 256, (stop - start, *shape), dtype=np.uint8)
    array.flush()
    del array
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.write(npy, "images.npy")
    npy.unlink()


def run_measured(command: list[str], cwd: Path) -> tuple[int, float, int, str]:
    """(exit code, seconds, peak RSS in bytes, stderr's last line) of one process."""
    env = {**os.environ, "LEDGERLAB_ANNOTATOR": "bench", "PYTHONPATH": str(cwd)}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    err = process.stderr.read().decode() if process.stderr else ""
    process.stdout.close() if process.stdout else None
    process.stderr.close() if process.stderr else None
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    return process.returncode, seconds, usage.ru_maxrss * 1024, lines[-1] if lines else ""


def bench(tree: Path, label: str, name: str, npz: Path, folder: Path) -> dict:
    target = folder / f"{label}-{name.split()[0]}.ledger"
    code, seconds, rss, last = run_measured(
        [sys.executable, "-m", "app.cli", "new", str(target), "--dataset", str(npz)], tree
    )
    record = {"bench": "dataset_import.new", "code": label, "dataset": name, "exit": code}
    record.update(seconds=round(seconds, 1), peak_rss_gb=round(rss / 1e9, 2))
    if code != 0:
        record["error"] = last.rsplit(": ", 1)[-1][:200]  # the reason, without the temporary path
        return emit(**record)
    record["file_gb"] = round(target.stat().st_size / 1e9, 2)
    out = subprocess.run(
        [sys.executable, "-c", FIRST_SAMPLE, str(target), str(folder / "data")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
    )
    if out.returncode == 0:
        opened, shown, open_rss = (float(x) for x in out.stdout.split())
        record.update(open_s=round(opened, 2), first_sample_s=round(shown - opened, 3))
        record["first_sample_rss_gb"] = round(open_rss / 1e9, 2)
    target.unlink()
    return emit(**record)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the images (a smoke run)")
    parser.add_argument("--before", type=Path, help="also run the source tree in this folder")
    args = parser.parse_args()
    trees = [("before", args.before.resolve())] if args.before else []
    trees.append(("now", ROOT))
    rows = []
    with tempfile.TemporaryDirectory(prefix="ledgerlab-import-", dir="/tmp") as tmp:
        folder = Path(tmp)
        for name, (count, shape) in SETS.items():
            count = QUICK[name] if args.quick else count
            npz = folder / f"{name.split()[0]}.npz"
            size = make_npz(npz, count, shape)
            for label, tree in trees:
                rows.append((name, count, size, bench(tree, label, name, npz, folder)))
            npz.unlink()
    lines = [
        "## Creating a project from a large dataset (issue 18)",
        "",
        "`ledgerlab new` from an uncompressed .npz of random uint8 images, each run in its own "
        "process (peak RSS from the kernel); then opening the project in a fresh process (open s: "
        "from its start, imports included) and reading its middle sample (first sample s: "
        "after the opening; RSS then: that process's peak). Stored in chunks of "
        "≤ 16 MB; the first map is a PCA fitted on a subsample and applied chunk by chunk. "
        "Targets: peak RSS ≤ 1.5 GB; first sample ≤ 0.3 s after opening.",
        "",
        "| dataset | images | .npz | code | `new` s | `new` peak RSS | file | open s | first sample s | RSS then |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, count, size, r in rows:
        if r["exit"] != 0:
            lines.append(
                f"| {name} | {count:,} | {size / 1e9:.2f} GB | {r['code']} | {r['seconds']} | "
                f"{r['peak_rss_gb']} GB | failed: {r.get('error', '')} | | | |"
            )
            continue
        lines.append(
            f"| {name} | {count:,} | {size / 1e9:.2f} GB | {r['code']} | {r['seconds']} | "
            f"{r['peak_rss_gb']} GB | {r['file_gb']} GB | {r.get('open_s', '')} | "
            f"{r.get('first_sample_s', '')} | {r.get('first_sample_rss_gb', '')} GB |"
        )
    lines += ["", f"Machine: {machine()}."]
    if not args.quick:
        record_section("dataset-import", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
