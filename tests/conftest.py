"""Test-wide settings: Qt runs offscreen, JAX stays on the CPU and quiet."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Compiled training programs go to one folder for the whole session (tests and the CLI
# and worker processes they start share it), never to the user's cache.
import shutil
import tempfile

_COMPILATION_CACHE = tempfile.mkdtemp(prefix="ledgerlab-test-cache-")
os.environ.setdefault("LEDGERLAB_CACHE_DIR", _COMPILATION_CACHE)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_COMPILATION_CACHE, ignore_errors=True)


# -- no worker outlives its test -----------------------------------------------------------
import sys
import threading
import time

import psutil
import pytest


def _foreign_threads_in_python() -> list[int]:
    """Threads running Python code that the threading module did not start: QThreads
    still inside a job. (Thread pools that XLA starts from inside a job run no Python,
    so they are not counted; nor is a thread of the threading module.)"""
    known = {t.ident for t in threading.enumerate()}
    return [ident for ident in sys._current_frames() if ident not in known]


def _stray_python_threads() -> list[str]:
    return [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]


def _live_children() -> list[psutil.Process]:
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def _strays():
    return _live_children(), _foreign_threads_in_python(), _stray_python_threads()


@pytest.fixture(autouse=True)
def no_stray_workers():
    """Fail a test that leaves a worker process or a background thread running."""
    yield
    deadline = time.monotonic() + 5
    while any(_strays()) and time.monotonic() < deadline:
        time.sleep(0.05)
    children, qthreads, threads = _strays()
    for child in children:
        child.kill()
    if children or qthreads or threads:
        pytest.fail(
            f"the test left workers running: processes {[c.cmdline()[-2:] for c in children]}, "
            f"QThreads in Python code {qthreads}, threads {threads}"
        )
