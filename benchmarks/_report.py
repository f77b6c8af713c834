"""Shared plumbing of the benchmark scripts: JSON lines out, a section of docs/benchmarks.md in."""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # scripts run as `python benchmarks/x.py` from the repo root
    sys.path.insert(0, str(ROOT))

DOC = ROOT / "docs" / "benchmarks.md"


def emit(**fields) -> dict:
    """Print one JSON line and hand the record back for the summary."""
    print(json.dumps(fields), flush=True)
    return fields


def simulated_annotator(truth: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """The label sets every accuracy benchmark uses: ``per_class`` samples of each class
    drawn at random (seeded), the rest -1."""
    rng = np.random.default_rng(seed)
    labels = np.full(truth.shape, -1, np.int64)
    for digit in np.unique(truth):
        labels[rng.choice(np.flatnonzero(truth == digit), per_class, replace=False)] = digit
    return labels


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{datetime.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, no GPU, load average {load} at the end"
    )


def record_section(key: str, markdown: str) -> None:
    """Replace (or append) the section between this key's markers in docs/benchmarks.md."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
