"""Learning: the M2 semi-supervised VAE and the one training loop that trains it.

Pure: numpy, JAX, Flax and Optax only; no threads, files or Qt. Runners in
app/training iterate `train` and turn its `EpochResult`s into events.

Names are loaded on first use (PEP 562), so `domain.learning.config` — what a form
validates against — can be imported without loading JAX: a window that trains in a
worker process never pays for it.
"""

from importlib import import_module

_WHERE = {
    "ConfigError": "domain.learning.config",
    "TrainingConfig": "domain.learning.config",
    "enable_compilation_cache": "domain.learning.compilation_cache",
    "align_to": "domain.learning.map_layout",
    "class_map": "domain.learning.map_layout",
    "latent_map": "domain.learning.map_layout",
    "neighbour_purity": "domain.learning.map_layout",
    "principal_components": "domain.learning.map_layout",
    "EpochResult": "domain.learning.training",
    "TrainingJob": "domain.learning.training",
    "evaluate": "domain.learning.training",
    "train": "domain.learning.training",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'domain.learning' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
