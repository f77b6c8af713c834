"""Checkpoints as bytes: the model parameters and the optimizer state.

The bytes are flax.serialization msgpack of the state's leaves in pytree order.
The structure comes from a template built from the same config, so a checkpoint
restores only into the model it was made for; any other gets a clear error.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from flax import serialization

from domain.learning.config import ConfigError

FORMAT = 1


def _leaves_dict(tree: Any) -> dict[str, np.ndarray]:
    return {str(i): np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(tree))}


def to_bytes(params: Any, opt_state: Any) -> bytes:
    return serialization.msgpack_serialize(
        {
            "format": FORMAT,
            "params": _leaves_dict(params),
            "optimizer": _leaves_dict(opt_state),
        }
    )


def _restore_part(name: str, stored: dict[str, Any], template: Any) -> Any:
    leaves, treedef = jax.tree.flatten(template)
    if len(stored) != len(leaves):
        raise ConfigError(
            f"the checkpoint's {name} has {len(stored)} arrays but this model has "
            f"{len(leaves)}: it was saved with a different model configuration "
            "(model, hidden sizes, classifier hidden sizes, latent size or number of classes)"
        )
    restored = []
    for i, leaf in enumerate(leaves):
        value = np.asarray(stored[str(i)])
        if value.shape != np.shape(leaf) or value.dtype != np.asarray(leaf).dtype:
            raise ConfigError(
                f"the checkpoint's {name} array {i} has shape {value.shape} but this model "
                f"expects {np.shape(leaf)}: it was saved with a different model "
                "configuration or image size"
            )
        restored.append(jax.numpy.asarray(value))
    return jax.tree.unflatten(treedef, restored)


def from_bytes(data: bytes, params_template: Any, opt_state_template: Any) -> tuple[Any, Any]:
    """Parameters and optimizer state shaped like the templates, or a ConfigError."""
    try:
        stored = serialization.msgpack_restore(bytes(data))
    except Exception as error:  # msgpack raises several unrelated types
        raise ConfigError(
            f"the checkpoint is not readable ({error}); it may be truncated or not a Ledgerlab checkpoint"
        ) from error
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        raise ConfigError("the checkpoint is not a Ledgerlab checkpoint of a known format")
    params = _restore_part("parameters", stored["params"], params_template)
    opt_state = _restore_part("optimizer state", stored["optimizer"], opt_state_template)
    return params, opt_state
