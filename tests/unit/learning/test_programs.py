"""Compiled programs kept in a store: a new process loads them instead of compiling,
and training gives bitwise the same results either way."""

from __future__ import annotations

import dataclasses
import pickle

import jax
import jax.numpy as jnp
import pytest

from app.training.programs import FolderProgramStore
from domain.learning.training import train


class MemoryStore:
    salt = "tests"

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}
        self.hits = 0

    def get(self, key: str) -> bytes | None:
        found = self.entries.get(key)
        self.hits += found is not None
        return found

    def put(self, key: str, data: bytes) -> None:
        self.entries[key] = data


def _outcome(results):
    return [
        (
            r.epoch,
            {k: v for k, v in r.metrics.items() if "seconds" not in k and k != "samples_per_s"},
            r.checkpoint,
            r.probabilities.tobytes(),
            r.latent_map.tobytes(),
        )
        for r in results
    ]


def stored_and_reloaded(job) -> MemoryStore:
    """Trains ``job`` without a program store, then twice with one: the first run stores
    its three programs (the initial state, the train step and the evaluation), the second
    loads them and compiles nothing, and both train bit for bit as the first did."""
    plain = _outcome(train(job))
    store = MemoryStore()
    first = _outcome(train(dataclasses.replace(job, programs=store)))
    kept = dict(store.entries)
    assert len(kept) == 3
    second = _outcome(train(dataclasses.replace(job, programs=store)))
    assert store.hits == 3 and store.entries == kept  # loaded, nothing compiled again
    assert first == plain and second == plain
    return store


def test_stored_programs_are_loaded_and_train_bitwise_alike(tiny_job):
    stored_and_reloaded(tiny_job)


def test_a_damaged_entry_is_compiled_again_and_replaced(tiny_job):
    store = MemoryStore()
    plain = _outcome(train(dataclasses.replace(tiny_job, programs=store)))
    for key in store.entries:
        store.entries[key] = b"not a program"
    assert _outcome(train(dataclasses.replace(tiny_job, programs=store))) == plain
    assert all(data != b"not a program" for data in store.entries.values())


def test_another_salt_or_shape_is_another_program(tiny_job):
    store = MemoryStore()
    list(train(dataclasses.replace(tiny_job, programs=store)))
    other = MemoryStore()
    other.entries, other.salt = store.entries, "other code"
    list(train(dataclasses.replace(tiny_job, programs=other)))
    assert other.hits == 0 and len(store.entries) == 6
    wider = dataclasses.replace(tiny_job.config, hidden_sizes=(48,))
    list(train(dataclasses.replace(tiny_job, config=wider, programs=store)))
    assert len(store.entries) == 9


def test_the_folder_store_keeps_whole_entries_and_never_raises(tmp_path):
    store = FolderProgramStore(tmp_path / "programs")
    assert store.get("k") is None
    store.put("k", b"program")
    assert store.get("k") == b"program"
    assert [p.name for p in (tmp_path / "programs").iterdir()] == ["k.xla"]
    (tmp_path / "file").write_text("")
    blocked = FolderProgramStore(tmp_path / "file" / "programs")  # cannot be a folder
    blocked.put("k", b"program")
    assert blocked.get("k") is None
    assert len(store.salt) == 16 and store.salt == FolderProgramStore(tmp_path).salt


def test_an_entry_that_loads_but_fails_at_dispatch_costs_a_compilation_not_a_run(tmp_path):
    """Issue 19: such an entry made every later run fail ("Function wrapped_slice.1 not
    found"), and the failed dispatch had already consumed the donated train state."""
    from jax.experimental.serialize_executable import deserialize_and_load

    from domain.learning.programs import compiled, program_key

    from .tiny_program import arguments, bytes_that_load_but_do_not_run, step

    bad = bytes_that_load_but_do_not_run(tmp_path)
    payload, in_tree, out_tree = pickle.loads(bad)
    with pytest.raises(jax.errors.JaxRuntimeError, match="not found"):  # the fault is real
        jax.block_until_ready(deserialize_and_load(payload, in_tree, out_tree)(*arguments()))
    store = MemoryStore()
    key = program_key(step, store.salt, arguments(), {})
    store.entries[key] = bad
    state, x = arguments()
    program = compiled(step, store, (state, x))
    assert not state.is_deleted()  # trying the bad entry did not consume the caller's state
    new_state, value = program(state, x)
    assert float(value) == float(step(jnp.zeros(1000), x)[1]) and float(new_state[0]) == 1.0
    assert store.entries[key] != bad  # replaced by the fresh compilation, which runs
    payload, in_tree, out_tree = pickle.loads(store.entries[key])
    assert float(deserialize_and_load(payload, in_tree, out_tree)(*arguments())[1]) == float(value)
