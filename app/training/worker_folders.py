"""The process runner's private folders (job in, epochs out) in the temporary folder.

A folder is named after the process that made it, so a folder whose owner is gone (a
window or CLI killed before it could clean up) is found and removed at the next start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

FOLDER_PREFIX = "ledgerlab-run-"  # + "<owner pid>-<run id>-": the owner's pid lets a sweep find orphans


def worker_folder(run_id: str) -> Path:
    """A new private folder (mode 0700) for run ``run_id`` of this process."""
    return Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-{run_id}-"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphan_folders(temp: str | None = None) -> list[Path]:
    """Remove worker folders whose owner process is gone (a killed window or CLI)."""
    removed: list[Path] = []
    root = Path(temp or tempfile.gettempdir())
    try:
        entries = list(root.glob(FOLDER_PREFIX + "*"))
    except OSError:
        return removed
    for folder in entries:
        owner = folder.name[len(FOLDER_PREFIX) :].split("-", 1)[0]
        if not owner.isdigit() or _pid_alive(int(owner)) or not folder.is_dir():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed
