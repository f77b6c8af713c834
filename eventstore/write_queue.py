"""Where the writers of one process queue: a lock with group commit.

Threads of one process wait on a Python lock, not in the database's own waiting (SQLite's
busy handler sleeps in steps of milliseconds; PostgreSQL would hold one table-lock
request per thread). Whoever gets the lock commits every append queued by then in ONE
transaction, each append still checked and chained on its own: a commit's fsync is the
dominant cost of a small append, and waiting writers share it instead of paying one
each. An append is acknowledged only after the transaction that holds it committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .appending import PreparedAppend
from .errors import ConcurrencyError

Outcome = int | ConcurrencyError
"""What became of one queued append: its last position, or the conflict that refused it."""

CommitGroup = Callable[[Sequence[Sequence[PreparedAppend]]], list[Outcome]]


@dataclass(eq=False)
class _Request:
    prepared: Sequence[PreparedAppend]
    done: bool = False
    outcome: Outcome | None = None
    error: BaseException | None = field(default=None, repr=False)


class WriteQueue:
    """Appends of this process's threads, committed in groups by whoever holds the lock."""

    def __init__(self) -> None:
        self._commit_lock = threading.Lock()
        self._pending: list[_Request] = []
        self._pending_lock = threading.Lock()

    def submit(self, prepared: Sequence[PreparedAppend], commit: CommitGroup) -> int:
        """Queue one append; return its last position once it is committed, or raise."""
        request = _Request(prepared)
        with self._pending_lock:
            self._pending.append(request)
        with self._commit_lock:
            if not request.done:  # no earlier leader took it along: lead this group
                with self._pending_lock:
                    group, self._pending = self._pending, []
                try:
                    outcomes = commit([r.prepared for r in group])
                except BaseException as exc:  # nothing of the group was committed
                    for r in group:
                        r.error, r.done = exc, True
                else:
                    for r, outcome in zip(group, outcomes, strict=True):
                        r.outcome, r.done = outcome, True
        if request.error is not None:
            raise request.error
        if isinstance(request.outcome, ConcurrencyError):
            raise request.outcome
        assert request.outcome is not None
        return request.outcome
