"""Who trains a project: one run at a time per project, however many machines look at it.

A ``.ledger`` file: an exclusive ``flock`` on a lock file beside the project. The kernel
drops the lock when its holder dies, however it dies, so "a run with no terminal event
and nobody holding the lease" means the app that ran it was killed. (``flock`` locks
belong to the open file, not the process, and live on a separate file, so they never
disturb SQLite's own POSIX locks on the ``.ledger`` file.)

A server project: a PostgreSQL session-level advisory lock, held on a connection of its
own for as long as the run trains. The server drops it when that session ends -- the
process exits or is killed, or (through TCP keepalives) its machine or network goes
away -- so the same reasoning holds across machines.

``TrainingLease(where)`` picks the kind from the address; both answer the same four
questions (``held``, ``acquire``, ``release``, ``someone_else_holds_it``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.project.address import ProjectAddress
from app.project.errors import ProjectError

if TYPE_CHECKING:
    import psycopg

# Seconds of silence after which the server probes a lease holder's connection, and
# how long it then waits before ending the session and so freeing the lease.
_KEEPALIVE = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "connect_timeout": "10",
}


class _Lease(Protocol):
    @property
    def held(self) -> bool: ...

    def acquire(self) -> bool: ...

    def release(self) -> None: ...


class TrainingLease:
    """The lease of one project; ``where`` is its ``.ledger`` path or its address."""

    def __init__(self, where: Path | ProjectAddress) -> None:
        self._lease: _Lease
        self.path: Path | None = None  # the lock file, for a file project
        if isinstance(where, ProjectAddress) and where.is_server:
            self._lease = _ServerLease(where)
            return
        lease = _FileLease(where.path if isinstance(where, ProjectAddress) else where)
        self._lease, self.path = lease, lease.path

    @property
    def held(self) -> bool:
        return self._lease.held

    def acquire(self) -> bool:
        """Take the lease; False when another window, process or machine holds it."""
        return self._lease.acquire()

    def release(self) -> None:
        self._lease.release()

    def someone_else_holds_it(self) -> bool:
        if self._lease.held:
            return False
        if not self._lease.acquire():
            return True
        self._lease.release()
        return False


class _FileLease:
    def __init__(self, project_path: Path) -> None:
        self.path = Path(f"{project_path}.training-lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
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


class _ServerLease:
    """``pg_try_advisory_lock`` on a key made from the project's name. Advisory locks are
    per database, and a project is a schema of one database, so the key needs only the
    schema."""

    def __init__(self, address: ProjectAddress) -> None:
        from eventstore.urls import postgres_target

        self._address = address
        self._target = postgres_target(address.connect_url())  # with a keyring password, if any
        self._key = f"ledgerlab-training:{self._target.project}"
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def acquire(self) -> bool:
        import psycopg

        if self.held:
            return True
        try:
            conninfo = psycopg.conninfo.make_conninfo(self._target.conninfo, **_KEEPALIVE)
            conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error:
            raise ProjectError(
                f"cannot reach the server of {self._address} to take the training lease; "
                "check the server and the network"
            ) from None
        try:
            row = conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self._key,)
            ).fetchone()
        except psycopg.Error:
            conn.close()
            raise ProjectError(f"the server of {self._address} refused the training lease") from None
        if not (row and row[0]):
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        import psycopg

        conn, self._conn = self._conn, None
        if conn is None:
            return
        # Closing the session frees the lock whatever happens to the unlock.
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (self._key,))
        with contextlib.suppress(psycopg.Error):
            conn.close()
