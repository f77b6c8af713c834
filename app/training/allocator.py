"""Keep freed memory in the process for reuse: a setting of every process that trains.

Each call of the compiled train step allocates its ~50 MB of intermediate arrays and
frees them on return. glibc serves blocks that large with a fresh ``mmap`` and hands
them back to the kernel on ``free``, so every step paid ~12,000 page faults, zeroing
included: 10-20 ms on a 60 ms step on this 2-core machine (docs/benchmarks.md,
"Training speed"). Raising glibc's mmap and trim thresholds keeps those blocks in the
heap, where the next step finds them. The cost is resident memory: what a step freed
stays mapped (up to ``KEEP_BYTES``) instead of returning to the system.

One arena. glibc gives threads other than the first arenas of their own, heaps of at
most 64 MiB; a larger block requested on such a thread (XLA's buffers of a convolutional
step) is always mapped afresh and unmapped on ``free``, whatever the thresholds say. The
conv model's decoder paid ~17,000 page faults a call that way (53 ms a call, 33 ms with
one arena, docs/benchmarks.md "Convolutional model"). ``M_ARENA_MAX`` 1 makes every thread
allocate from the main heap, where the thresholds hold. It has to be set before the
threads that compute first allocate (an arena, once a thread has one, stays its own), so
a training process calls this at its start.

Not glibc (macOS, Windows, musl): nothing to do; their allocators cache large blocks
or lack ``mallopt``.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
KEEP_BYTES = 1 << 30  # blocks up to 1 GiB come from the heap, and the heap keeps 1 GiB free


def keep_freed_memory(keep_bytes: int = KEEP_BYTES) -> bool:
    """Tell glibc's malloc to reuse large freed blocks; True when it took effect.

    Idempotent, and safe to call from any thread before or during training.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library symbols, or not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return (
        bool(mallopt(M_ARENA_MAX, 1))
        and bool(mallopt(M_MMAP_THRESHOLD, keep_bytes))
        and bool(mallopt(M_TRIM_THRESHOLD, keep_bytes))
    )
