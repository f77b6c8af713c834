"""PostgreSQL's errors, told as store errors that name the project and say what to do.

Every message goes through ``PostgresTarget.scrub``: libpq may echo parts of a
connection string, and a password must never reach a window, a log or a traceback.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg

from .errors import NotALedger, StoreCorrupt, StoreError, StoreLocked, StoreReadOnly
from .urls import PostgresTarget


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate(exc: psycopg.Error, target: PostgresTarget, busy_timeout: float) -> StoreError:
    where = target.redacted
    detail = target.scrub(first_line(exc))
    if isinstance(exc, (pg.LockNotAvailable, pg.QueryCanceled)):
        return StoreLocked(
            f"project {target.project!r} at {where} is locked by another writer for longer "
            f"than {busy_timeout:g} s; try again, or find the session holding it"
        )
    if isinstance(exc, (pg.ReadOnlySqlTransaction, pg.InsufficientPrivilege)):
        return StoreReadOnly(
            f"project {target.project!r} at {where} cannot be written with this connection "
            f"({detail}); nothing was written"
        )
    if isinstance(exc, (pg.UndefinedTable, pg.UndefinedColumn)):
        return NotALedger(
            f"schema {target.project!r} at {where} is not a complete Ledgerlab project ({detail})"
        )
    if isinstance(exc, (pg.DataCorrupted, pg.IndexCorrupted)):
        return StoreCorrupt(
            f"project {target.project!r} at {where} is damaged ({detail}); nothing was "
            "changed. Ask the database's administrator to restore it from a backup"
        )
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(
            f"cannot reach the database of project {target.project!r} at {where}: {detail}; "
            "check the server, the network and the URL"
        )
    return StoreError(f"project {target.project!r} at {where}: {detail}")
