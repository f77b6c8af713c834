"""The training processes' allocator setting: a step's large buffers are reused, not
page-faulted in again on every call."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Allocates, touches and frees a block of MB megabytes ten times, on the main thread or
# on another one (as XLA's threads do), and prints the minor page faults of the last
# nine rounds. "thresholds" sets only the mmap and trim thresholds, as the setting did
# before it also asked for one arena.
ROUNDS = textwrap.dedent("""
    import ctypes, resource, sys, threading
    from app.training.allocator import (
        M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, KEEP_BYTES, keep_freed_memory
    )
    mode, where, size = sys.argv[1], sys.argv[2], int(sys.argv[3]) << 20
    libc = ctypes.CDLL(None)
    if mode == "keep":
        assert keep_freed_memory()
    elif mode == "thresholds":
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        assert libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES) and libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    def round_trip():
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
    def rounds():
        round_trip()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(9):
            round_trip()
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    if where == "thread":
        worker = threading.Thread(target=rounds)
        worker.start()
        worker.join()
    else:
        rounds()
""")


def _page_faults(mode: str, where: str = "main", megabytes: int = 48) -> int:
    out = subprocess.run(
        [sys.executable, "-c", ROUNDS, mode, where, str(megabytes)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return int(out.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc setting")
def test_freed_training_buffers_are_reused_instead_of_faulted_in_again():
    pages = (48 << 20) // 4096
    assert _page_faults("default") > 5 * pages  # every round maps fresh, zeroed pages
    assert _page_faults("keep") < pages // 10  # the heap hands the same pages back


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc setting")
def test_large_buffers_freed_on_another_thread_are_reused_too():
    """A thread's own arena holds at most 64 MiB: a 96 MB block there was mapped afresh
    every round even with the thresholds raised; one arena keeps it."""
    pages = (96 << 20) // 4096
    assert _page_faults("thresholds", "thread", 96) > 5 * pages
    assert _page_faults("keep", "thread", 96) < pages // 10
