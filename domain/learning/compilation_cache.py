"""Opt-in persistent compilation cache.

Compiling the train step costs seconds on a 2-core machine; JAX can keep the
compiled programs on disk so the next process starts training at once. Where the
cache lives is the application's choice (it owns files), so nothing happens at
import time: the composition root calls this once with a directory.
"""

from __future__ import annotations

import os

import jax


def enable_compilation_cache(path: str | os.PathLike[str]) -> None:
    """Keep compiled JAX programs in `path` across processes (JAX creates it on first use)."""
    # The ignores: jax.config.update is not annotated.
    jax.config.update("jax_compilation_cache_dir", os.fspath(path))  # type: ignore[no-untyped-call]
    # By default JAX only stores programs that took over a second to compile and
    # skips small ones; the train step's siblings (evaluation, permutation) count too.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # type: ignore[no-untyped-call]
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)  # type: ignore[no-untyped-call]
