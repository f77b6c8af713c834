"""Who trains a project: an exclusive ``flock`` on a lock file beside the project.

The kernel drops the lock when its holder dies, however it dies, so "a run with no
terminal event and nobody holding the lease" means the app that ran it was killed.
(``flock`` locks belong to the open file, not the process, and live on a separate file,
so they never disturb SQLite's own POSIX locks on the ``.ledger`` file.)
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class TrainingLease:
    def __init__(self, project_path: Path) -> None:
        self.path = Path(f"{project_path}.training-lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lease; False when another window or process holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)  # close-on-exec by default
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def someone_else_holds_it(self) -> bool:
        if self._fd is not None:
            return False
        if not self.acquire():
            return True
        self.release()
        return False
