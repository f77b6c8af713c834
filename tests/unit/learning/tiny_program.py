"""A small jitted program with a donated input, and a way to make the one kind of stored
entry that loads but cannot run: an executable that JAX served from its persistent
compilation cache, serialised. The bad bytes are made in child processes, so this test
process never loads from that cache (doing so would change what it compiles)."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp


@partial(jax.jit, donate_argnums=(0,))
def step(state: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    y = x[3:40] * 2.0
    return state + 1, jnp.tanh(y @ y.T).sum() + x[1:5].sum()


def arguments() -> tuple[jax.Array, jax.Array]:
    return jnp.zeros((1000,), jnp.float32), jnp.ones((64, 64), jnp.float32)


_CHILD = """
import pickle, sys
import jax
sys.path.insert(0, {root!r})
from jax.experimental.serialize_executable import serialize
from tests.unit.learning.tiny_program import arguments, step
jax.config.update("jax_compilation_cache_dir", {cache!r})
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
data = pickle.dumps(serialize(step.lower(*arguments()).compile()))
open({out!r}, "wb").write(data)
"""


def bytes_that_load_but_do_not_run(folder: Path) -> bytes:
    """The first child fills JAX's cache; the second is served from it and serialises."""
    root = str(Path(__file__).resolve().parents[3])
    out = folder / "served-from-jax-cache.xla"
    code = _CHILD.format(root=root, cache=str(folder / "jax-cache"), out=str(out))
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    return out.read_bytes()
