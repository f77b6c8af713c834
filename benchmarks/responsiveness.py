"""Does training freeze the window? A 10 ms QTimer on the GUI thread records how late it
fires while a run trains on the embedded MNIST set, for each runner, plus the GUI
process's peak RSS. Each runner is measured in a fresh process so RSS is its own.

    python benchmarks/responsiveness.py [--quick] [--no-record]

Targets (measured, not asserted): p99 lateness <= 20 ms with the process runner,
<= 50 ms with the thread runner; GUI RSS <= 600 MB with the process runner.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import _report
from _report import emit, percentile, record_section

TICK_MS = 10


def measure(runner: str, seconds: float) -> dict:
    """One runner, in this process: the GUI thread's timer lateness while it trains."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from app.project.bootstrap import bootstrap
    from app.training.service import TrainingService
    from app.ui.training_runners import qt_runners
    from app.ui.training_signals import TrainingSignals
    from domain import commands

    qt = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    app = bootstrap(annotator="bench", data_dir=tmp)
    project = app.projects.open_or_create_default(tmp)
    truth = np.load(_report.ROOT / "resources" / "mnist10k.npz")["labels"]
    rng = np.random.default_rng(0)
    samples = np.concatenate([rng.choice(np.flatnonzero(truth == c), 10, replace=False) for c in range(10)])
    for label in range(10):
        project.execute(
            commands.AssignLabelToMany(
                samples=tuple(int(s) for s in samples[truth[samples] == label]), label=label
            )
        )
    service = TrainingService(project, runners=qt_runners())
    signals = TrainingSignals(service)
    lateness: list[float] = []
    clock = QElapsedTimer()
    state = {"last": None, "measuring": False, "epochs": 0}

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if state["measuring"] and state["last"] is not None:
            lateness.append(max(0.0, now - state["last"] - TICK_MS))
        state["last"] = now

    def on_epoch(_):
        state["epochs"] += 1
        if not state["measuring"]:
            state["measuring"] = True  # after the first epoch: compilation is not the steady state
            QTimer.singleShot(int(seconds * 1000), service.stop)

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    signals.epoch_recorded.connect(on_epoch)
    signals.run_ended.connect(lambda _: qt.quit())
    clock.start()
    timer.start()
    service.start({}, 1000, runner=runner)
    qt.exec()
    service.shutdown()
    project.close()
    return {
        "runner": runner,
        "ticks": len(lateness),
        "epochs": state["epochs"],
        "p50_ms": round(percentile(lateness, 50), 2),
        "p99_ms": round(percentile(lateness, 99), 2),
        "max_ms": round(max(lateness), 2),
        "gui_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "jax_in_gui": "jax" in sys.modules,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--one", choices=["process", "thread"], help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    if args.one:
        print(json.dumps(measure(args.one, seconds)), flush=True)
        return
    results = {}
    for runner in ("process", "thread"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", runner, "--seconds", str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[runner] = emit(bench="responsiveness", **json.loads(out.stdout.strip().splitlines()[-1]))
    if args.no_record:
        return
    p, t = results["process"], results["thread"]
    record_section(
        "responsiveness",
        "\n".join(
            [
                "## Responsiveness while training (`benchmarks/responsiveness.py`)",
                "",
                f"Measured {_report.machine()}: a 10 ms QTimer on the GUI thread during {seconds:.0f} s of "
                "steady-state training (after the first, compiling epoch) on MNIST 10k with 100 labels.",
                "",
                "| runner | p50 lateness | p99 lateness | max | GUI peak RSS | JAX in GUI process | target |",
                "|---|---|---|---|---|---|---|",
                f"| process | {p['p50_ms']} ms | {p['p99_ms']} ms | {p['max_ms']} ms | {p['gui_peak_rss_mb']} MB | "
                f"{p['jax_in_gui']} | p99 ≤ 20 ms, RSS ≤ 600 MB |",
                f"| thread | {t['p50_ms']} ms | {t['p99_ms']} ms | {t['max_ms']} ms | {t['gui_peak_rss_mb']} MB | "
                f"{t['jax_in_gui']} | p99 ≤ 50 ms |",
            ]
        ),
    )


if __name__ == "__main__":
    main()
