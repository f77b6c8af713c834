"""One connection per thread, for both backends.

A store object may be shared between threads. Each thread gets its own connection
(and a forked child never reuses its parent's), opened on first use. Every connection
has a lock that a query holds while it runs; ``close_all`` takes each lock before
closing, so no connection is closed under another thread's running query (SQLite would
crash inside its C code, not raise). A connection still busy after the wait is left to
the garbage collector rather than closed under the query.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

C = TypeVar("C")

CLOSE_WAIT_S = 30


class ThreadConnections(Generic[C]):
    """The connections of one store, by thread and by purpose (``kind``)."""

    def __init__(self, close: Callable[[C], None], errors: type[BaseException]) -> None:
        self._close, self._errors = close, errors
        self._local = threading.local()
        self._all: list[tuple[C, threading.RLock]] = []
        self._all_lock = threading.Lock()
        self.closed = False

    def get(self, open_connection: Callable[[], C], kind: str = "conn") -> tuple[C, threading.RLock]:
        """This thread's connection of ``kind`` and its lock, opened by ``open_connection``
        when this thread (in this process) has none yet."""
        pid = os.getpid()
        cached = getattr(self._local, kind, None)
        if cached is not None and cached[0] == pid:
            return cached[1], cached[2]
        conn, lock = open_connection(), threading.RLock()
        setattr(self._local, kind, (pid, conn, lock))
        with self._all_lock:
            self._all.append((conn, lock))
        return conn, lock

    def lock_held_by_this_thread(self, kind: str = "conn") -> threading.RLock | None:
        """The lock of this thread's connection of ``kind``, if it has one."""
        cached = getattr(self._local, kind, None)
        return cached[2] if cached is not None and cached[0] == os.getpid() else None

    def forget(self, conn: C, kind: str = "conn") -> None:
        """Drop a broken connection, so this thread's next call opens a fresh one."""
        cached = getattr(self._local, kind, None)
        if cached is not None and cached[1] is conn:
            delattr(self._local, kind)
        with contextlib.suppress(self._errors):
            self._close(conn)

    def close_all(self) -> None:
        if self.closed:
            return
        self.closed = True
        with self._all_lock:
            connections, self._all = self._all, []
        for conn, lock in connections:
            if lock.acquire(timeout=CLOSE_WAIT_S):
                try:
                    with contextlib.suppress(self._errors):
                        self._close(conn)
                finally:
                    lock.release()
