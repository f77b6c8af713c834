"""Where the application's settings come from: the environment, with defaults from
the platform's folders. Read only by the composition root (``bootstrap``)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ANNOTATOR_SETTING = "LEDGERLAB_ANNOTATOR"
DATA_DIR_SETTING = "LEDGERLAB_DATA_DIR"
CACHE_DIR_SETTING = "LEDGERLAB_CACHE_DIR"


@dataclass(frozen=True)
class Settings:
    annotator: str
    data_dir: Path
    resources_dir: Path
    cache_dir: Path  # what can be rebuilt: compiled training programs

    @property
    def compilation_cache(self) -> str:
        """The training cache; compiled programs are kept in ``…-programs`` beside it."""
        return str(self.cache_dir / "jax")


def default_annotator(environ: Mapping[str, str] | None = None) -> str:
    """The setting ``LEDGERLAB_ANNOTATOR``, else the OS user name."""
    env = os.environ if environ is None else environ
    name = env.get(ANNOTATOR_SETTING, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (e.g. some containers)
        return "unknown"


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(DATA_DIR_SETTING):
        return Path(env[DATA_DIR_SETTING]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("ledgerlab"))


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CACHE_DIR_SETTING):
        return Path(env[CACHE_DIR_SETTING]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ledgerlab"))
