"""Soak: does the window leak over a long session? The real window (offscreen, built by
the composition root as ``ledgerlab gui`` builds it) on the embedded MNIST project takes
10,000 label key presses with undo (Ctrl+Z) and redo (Ctrl+Shift+Z) mixed in, then a
50-epoch run with the process runner started from its training panel, then a second
project is opened and closed 20 times (closed by opening the first again).

    .venv/bin/python benchmarks/soak.py [--quick] [--no-record] [--presses N] [--epochs N] [--cycles N]

Measured in the window's process, after a warm-up (500 presses, a 2-epoch run, one open
and close of the second project) and again after each phase, once its background jobs
have ended (at most 2 minutes): RSS, threads (Python's and the OS's),
child processes, open file descriptors, and what is left in the process's temporary
folder (the soak runs with TMPDIR set to a folder of its own, so a worker folder or a
file some library left behind is counted, and nothing of other programs is).

Target (measured, not asserted): RSS growth after the warm-up <= 50 MB, and no thread,
child process, file descriptor or temporary folder more at the end than at the warm-up.
The run's model is small (hidden 64, latent 2, batch 128) so 50 epochs take minutes on
two shared cores; the GUI side of a run (recording every epoch, checkpoints every 5,
predictions, maps, curves) is the same as with the default model.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _report  # noqa: F401 -- puts the repository root on sys.path
from _report import emit, machine, record_section

RUN_CONFIG = {"hidden_sizes": "64", "latent_size": "2", "batch_size": "128"}


def job_threads() -> list[str]:
    """The window's background jobs running now ("ll-<job>"), but the one that follows
    the open project's log for as long as it is open. (Threads are not counted by name:
    the BLAS/OpenMP pools a job starts inherit its name and outlive it, idle.)"""
    from app.ui.background import BackgroundJob

    return sorted(
        name
        for job in gc.get_objects()
        if isinstance(job, BackgroundJob) and job.is_running()
        for name in [job._thread.objectName()]  # noqa: SLF001 -- measuring
        if name != "ll-_follow"
    )


def census(tmp: Path) -> dict:
    """What this process holds now: after the window's background jobs have ended (at
    most 2 minutes), a 1 s settle and a garbage collection."""
    import psutil

    waited = time.perf_counter()
    running = job_threads()
    while job_threads() and time.perf_counter() - waited < 120:
        settle(0.5)
    settle(1.0)
    gc.collect()
    me = psutil.Process()
    print(f"census after {time.perf_counter() - waited:.0f} s: jobs {running}", file=sys.stderr, flush=True)
    rss = me.memory_info().rss
    trimmed = None
    if os.environ.get("LEDGERLAB_SOAK_TRIM"):
        # glibc keeps freed heap pages (threads' arenas, large blocks once the mmap
        # threshold has grown) resident; malloc_trim(0) hands them back, so RSS after it
        # is what live objects hold. (It lowers the RSS the next phases start from.)
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
        trimmed = round(me.memory_info().rss / 2**20, 1)
    return {
        "jobs_running": running,
        "waited_for_jobs_s": round(time.perf_counter() - waited - 1.0, 1),
        "rss_mb": round(rss / 2**20, 1),
        "rss_trimmed_mb": trimmed,
        # Threads Python started; not threading's records of foreign threads (a QThread
        # that ran Python gets a _DummyThread entry that is never removed: not a thread).
        "python_threads": sum(
            1
            for t in threading.enumerate()
            if not isinstance(t, threading._DummyThread)  # noqa: SLF001 -- measuring
        ),
        "os_threads": me.num_threads(),
        "children": len(me.children(recursive=True)),
        "fds": me.num_fds(),
        "temp_entries": sorted(p.name for p in tmp.iterdir()),
    }


def settle(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def wait_for(signal, timeout: float, what: str) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    done: list[bool] = []

    def finished(*_):
        done.append(True)
        loop.quit()

    signal.connect(finished)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    signal.disconnect(finished)
    if not done:
        raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


def open_project(session, path: Path) -> None:
    from PySide6.QtCore import QCoreApplication

    session.open(path)
    wait_for(session.window.project_opened, 120, f"opening {path.name}")
    QCoreApplication.processEvents()


def press_labels(session, presses: int, seed: int) -> dict:
    """``presses`` digit keys on random samples; after every 7th a Ctrl+Z, after every
    13th a Ctrl+Shift+Z. Returns what was pressed and recorded."""
    import numpy as np
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    window = session.window
    rng = np.random.default_rng(seed)
    n = session.project.info.sample_count
    digits = [getattr(Qt.Key, f"Key_{d}") for d in range(10)]
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    before = session.project.event_count
    undos = redos = 0
    start = time.perf_counter()
    for i in range(1, presses + 1):
        window.selection.select_one(int(rng.integers(n)))
        QTest.keyClick(window, digits[int(rng.integers(10))])
        if i % 7 == 0:
            QTest.keyClick(window, Qt.Key.Key_Z, ctrl)
            undos += 1
        if i % 13 == 0:
            QTest.keyClick(window, Qt.Key.Key_Z, ctrl | shift)
            redos += 1
        QApplication.processEvents()
    return {
        "presses": presses,
        "undo_keys": undos,
        "redo_keys": redos,
        "events_recorded": session.project.event_count - before,
        "seconds": round(time.perf_counter() - start, 1),
    }


def train(session, epochs: int) -> dict:
    """A run started as a person starts it: the panel's form, runner "process", Start."""
    from PySide6.QtCore import QEventLoop, QTimer

    panel = session.window.training
    panel.runner.setCurrentIndex(panel.runner.findData("process"))
    for name, text in {**RUN_CONFIG, "epochs": str(epochs)}.items():
        field = panel.fields.get(name)
        if field is not None:
            field[1].setText(text)
    assert panel.start_button.isEnabled(), panel.config_error.text()
    start = time.perf_counter()
    panel.start_button.click()
    service = session.training
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: None if service.is_running() else loop.quit())
    QTimer.singleShot(1000, lambda: poll.start(500))
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    deadline.start(int(epochs * 60 * 1000))
    loop.exec()
    poll.stop()
    run = session.project.state.training.latest
    return {
        "run_status": None if run is None else run.status,
        "run_message": None if run is None else run.message,
        "epochs_recorded": None if run is None else len(run.epochs),
        "run_seconds": round(time.perf_counter() - start, 1),
    }


def soak(presses: int, epochs: int, cycles: int, work: Path) -> dict:
    """Everything, in this (the window's) process; TMPDIR is this soak's own folder and
    the projects are made in ``work``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import gui  # the window benchmarks: the synthetic dataset maker
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.project.bootstrap import bootstrap
    from app.ui import training_factory
    from app.ui.session import Session
    from domain.dataset import load_dataset

    tmp = Path(tempfile.gettempdir())
    qt = QApplication.instance() or QApplication([])
    app = bootstrap(annotator="soak", data_dir=work / "data")
    with app.projects.open_or_create_default(work / "data") as project:
        first = project.path
    second = work / "second.ledger"
    app.projects.create(second, load_dataset(gui.make_synthetic(work, 2_000))).close()
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    session = Session(app, settings, training_factory=training_factory(app))
    session.window.resize(*gui.WINDOW_SIZE)
    session.window.show()
    session.window.activateWindow()
    open_project(session, first)
    phases: dict[str, dict] = {"opened": census(tmp)}

    # Warm-up: each kind of work once, so first-time imports (the training service, and
    # scikit-learn and cleanlab for the label check that follows a run) are not growth.
    warm = press_labels(session, min(500, presses), seed=0)
    warm_run = train(session, 2)
    open_project(session, second)
    open_project(session, first)
    phases["warm-up"] = census(tmp)

    labels = press_labels(session, presses, seed=1)
    phases["labels"] = census(tmp)

    run = train(session, epochs)
    settle(3.0)  # the worker's exit and its folder's removal
    phases["training"] = census(tmp)

    started = time.perf_counter()
    for _ in range(cycles):
        open_project(session, second)
        open_project(session, first)
    reopen_seconds = round(time.perf_counter() - started, 1)
    phases["reopened"] = census(tmp)

    session.shutdown()
    session.window.close()
    qt.processEvents()
    phases["closed"] = census(tmp)
    return {
        "warm_up": warm,
        "warm_up_run": warm_run,
        "labels": labels,
        "run": run,
        "reopen_cycles": cycles,
        "reopen_seconds": reopen_seconds,
        "phases": phases,
    }


def leaks(phases: dict) -> dict:
    base, end = phases["warm-up"], phases["reopened"]
    return {
        "rss_growth_mb": round(end["rss_mb"] - base["rss_mb"], 1),
        "python_threads": end["python_threads"] - base["python_threads"],
        "os_threads": end["os_threads"] - base["os_threads"],
        "children": end["children"] - base["children"],
        "fds": end["fds"] - base["fds"],
        "temp_entries": sorted(set(end["temp_entries"]) - set(base["temp_entries"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 presses, 3 epochs, 3 cycles")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--presses", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--cycles", type=int)
    parser.add_argument(
        "--trim",
        action="store_true",
        help="also measure RSS after glibc's malloc_trim(0) at each census (freed but resident heap)",
    )
    parser.add_argument("--one", metavar="WORK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    presses = args.presses or (1_000 if args.quick else 10_000)
    epochs = args.epochs or (3 if args.quick else 50)
    cycles = args.cycles or (3 if args.quick else 20)
    if args.one:
        import faulthandler
        import signal

        faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: where is it stuck?
        print(json.dumps(soak(presses, epochs, cycles, Path(args.one))), flush=True)
        return
    # The window's process gets a temporary folder of its own: whatever is left in it is
    # this session's (worker folders, files of libraries), not another program's.
    base = Path(tempfile.mkdtemp(prefix="ledgerlab-soak-"))
    tmp, work = base / "tmp", base / "work"
    tmp.mkdir()
    work.mkdir()
    try:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                *(
                    "--one",
                    str(work),
                    "--presses",
                    str(presses),
                    "--epochs",
                    str(epochs),
                    "--cycles",
                    str(cycles),
                ),
            ],
            stdout=subprocess.PIPE,  # its progress goes to stderr as it happens
            text=True,
            env={**os.environ, "TMPDIR": str(tmp), **({"LEDGERLAB_SOAK_TRIM": "1"} if args.trim else {})},
        )
        left = sorted(p.name for p in tmp.iterdir())
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if out.returncode != 0:
        raise SystemExit(out.returncode)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    found = leaks(result["phases"])
    emit(
        bench="soak", **{k: v for k, v in result.items() if k != "phases"}, leaks=found, left_after_exit=left
    )
    for name, counts in result["phases"].items():
        emit(
            bench="soak",
            phase=name,
            **{k: v for k, v in counts.items() if k != "temp_entries"},
            temp_entries=len(counts["temp_entries"]),
        )
    if args.no_record:
        return
    record_section("soak", report(result, found, left))


def report(result: dict, found: dict, left: list[str]) -> str:
    phases = result["phases"]
    labels, run = result["labels"], result["run"]
    rows = [
        f"| {name} | {c['rss_mb']} | {c['python_threads']} / {c['os_threads']} | {c['children']} | "
        f"{c['fds']} | {len(c['temp_entries'])} | {', '.join(c['jobs_running']) or '—'} "
        f"({c['waited_for_jobs_s']} s) |"
        for name, c in phases.items()
    ]
    ok = (
        found["rss_growth_mb"] <= 50
        and not any(found[k] > 0 for k in ("python_threads", "os_threads", "children", "fds"))
        and not found["temp_entries"]
    )
    return "\n".join(
        [
            "## Soak (`benchmarks/soak.py`)",
            "",
            f"Measured {machine()}. The real window (offscreen) on the embedded MNIST project: "
            f"{labels['presses']:,} label key presses on random samples with {labels['undo_keys']:,} "
            f"Ctrl+Z and {labels['redo_keys']:,} Ctrl+Shift+Z mixed in ({labels['events_recorded']:,} events "
            f"recorded, {labels['seconds']} s); a {run['epochs_recorded']}-epoch run with the process runner "
            f"started from the training panel (small model: hidden 64, latent 2; {run['run_status']}, "
            f"{run['run_seconds']} s); then a second project (2,000 samples) opened and closed "
            f"{result['reopen_cycles']} times ({result['reopen_seconds']} s). Counted in the window's "
            "process after each phase (1 s settle and a garbage collection first):",
            "",
            "| after | RSS MB | threads (Python / OS) | child processes | open fds | entries in its TMPDIR "
            "| background jobs still running (waited for them) |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Growth from the warm-up to the end of the reopening: RSS {found['rss_growth_mb']:+} MB, "
            f"Python threads {found['python_threads']:+}, OS threads {found['os_threads']:+}, child processes "
            f"{found['children']:+}, fds {found['fds']:+}, temporary entries "
            f"{', '.join(found['temp_entries']) or 'none new'}; left in TMPDIR after the process exited: "
            f"{', '.join(left) or 'nothing'}. Target RSS growth ≤ 50 MB and no leaks: "
            f"**{'met' if ok else 'not met'}**.",
        ]
    )


if __name__ == "__main__":
    main()
