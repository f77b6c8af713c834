"""Compiled programs kept between processes, so a new process skips tracing and lowering.

JAX's persistent compilation cache skips XLA's compile but not JAX's own work before
it: tracing the train step to a jaxpr and lowering it to StableHLO cost ~0.8 s of every
new process's first epoch on a 2-core machine, more than XLA's compile with a warm
cache. Here the compiled executable itself is stored (`jax.experimental.
serialize_executable`) and loaded back in ~0.2 s. It is the same executable XLA
built, so results are bitwise those of a freshly compiled program.

Where the bytes live is the application's business (`ProgramStore`). Its `salt` must
change whenever the code that builds the programs, or the machine, changes: the key
here covers the function, its static arguments, the shapes and types of its inputs
and the library versions, but not the source code of the loss or the model.

Two facts measured with jaxlib 0.10.2 on the CPU shape how this is used:

- Once a process has loaded any executable from JAX's *persistent compilation cache*,
  XLA:CPU shares kernels by name between it and later compilations, and an executable
  compiled afterwards serialises without them: the bytes load in the next process and
  the first call fails with "NOT_FOUND: Function wrapped_slice.1 not found". (The
  first store kept working only because it was written by a process whose cache was
  cold; a second learning rate broke training for good.) So a process that keeps
  programs here must not use JAX's persistent cache (`app.training.execution`); it
  costs nothing measurable, since the big programs come from here.
- Such a fault shows only at dispatch, and a failed dispatch has already consumed the
  donated buffers (the train state). So every program is tried once, on copies of its
  donated inputs, after it is loaded and before it is stored; one that does not run is
  compiled afresh and replaces the entry. A broken entry costs a compilation and one
  extra call, never a run.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from typing import Any, Protocol

import flax
import jax
import jax.numpy as jnp
import jaxlib
import optax
from jax.experimental.serialize_executable import deserialize_and_load, serialize


class ProgramStore(Protocol):
    """Bytes by key; the application decides where (a folder, memory)."""

    salt: str  # identifies the code and the machine the programs are built for

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...


def program_key(function: Any, store_salt: str, args: tuple[Any, ...], static: dict[str, Any]) -> str:
    """A name for the executable `function(*args, **static)` compiles to."""
    leaves, tree = jax.tree.flatten(args)
    avals = [(tuple(x.shape), str(x.dtype), bool(getattr(x, "weak_type", False))) for x in leaves]
    parts = (
        function.__module__,
        function.__qualname__,
        store_salt,
        repr(sorted(static.items())),
        str(tree),
        repr(avals),
        jax.__version__,
        jaxlib.__version__,
        flax.__version__,
        optax.__version__,
        jax.default_backend(),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def compiled(
    function: Any, store: ProgramStore | None, args: tuple[Any, ...], **static: Any
) -> Callable[..., Any]:
    """`function` (a `jax.jit` function) compiled for `args` and `static`.

    With a store: the stored executable when there is one that loads and runs, else a
    fresh compilation that is then stored (if it survives the round trip). A missing,
    damaged, incompatible or unrunnable entry only costs the compilation. Without a
    store: `function` itself.
    """
    if store is None:
        return lambda *call_args: function(*call_args, **static)
    key = program_key(function, store.salt, args, static)
    data = store.get(key)
    loaded: Callable[..., Any] | None = _loaded(data) if data is not None else None
    if loaded is not None and _runs(loaded, args):
        return loaded
    executable: jax.stages.Compiled = function.lower(*args, **static).compile()
    try:
        data = pickle.dumps(serialize(executable))
    except Exception:  # runs, but cannot be kept: the next process compiles it again
        return executable
    kept = _loaded(data)
    if kept is not None and _runs(kept, args):
        store.put(key, data)
    return executable


def _loaded(data: bytes) -> Any:
    """The executable in `data`, or None when it is damaged or from another jaxlib build."""
    try:
        payload, in_tree, out_tree = pickle.loads(data)  # noqa: S301 -- our own cache
        return deserialize_and_load(payload, in_tree, out_tree)
    except Exception:
        return None


def _runs(executable: Any, args: tuple[Any, ...]) -> bool:
    """Whether `executable` can be dispatched on `args`; donated inputs are copied first,
    so the caller's buffers survive whatever happens."""
    leaves, tree = jax.tree.flatten(args)
    try:
        infos = jax.tree.leaves(executable.args_info)
        donated = [bool(info.donated) for info in infos]
    except Exception:
        donated = []
    if len(donated) != len(leaves):
        donated = [True] * len(leaves)
    trial = [jnp.array(leaf, copy=True) if copy else leaf for leaf, copy in zip(leaves, donated)]
    try:
        # jax.block_until_ready is not annotated.
        jax.block_until_ready(executable(*jax.tree.unflatten(tree, trial)))  # type: ignore[no-untyped-call]
    except Exception:  # e.g. NOT_FOUND for a kernel the serialised program lacks
        return False
    return True
