"""The training processes' allocator setting: a step's large buffers are reused, not
page-faulted in again on every call."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Allocates, touches and frees a 48 MB block (the size of a train step's buffers) ten
# times and prints the minor page faults of the last nine rounds.
ROUNDS = textwrap.dedent("""
    import ctypes, resource, sys
    from app.training.allocator import keep_freed_memory
    if sys.argv[1] == "keep":
        assert keep_freed_memory()
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    size = 48 << 20
    def round_trip():
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
    round_trip()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(9):
        round_trip()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _page_faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", ROUNDS, mode], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    return int(out.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc setting")
def test_freed_training_buffers_are_reused_instead_of_faulted_in_again():
    pages = (48 << 20) // 4096
    assert _page_faults("default") > 5 * pages  # every round maps fresh, zeroed pages
    assert _page_faults("keep") < pages // 10  # the heap hands the same pages back
