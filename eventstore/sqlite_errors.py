"""SQLite's errors, told as store errors that name the file and say what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import NotALedger, StoreCorrupt, StoreError, StoreLocked, StoreReadOnly


def translate(exc: sqlite3.Error, path: Path, busy_timeout: float) -> StoreError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreLocked(
            f"{path} is locked by another program for longer than "
            f"{busy_timeout:g} s; close the other program or try again"
        )
    if "readonly" in text or "read-only" in text:
        return StoreReadOnly(f"{path} is open read-only (or the file is not writable)")
    if "not a database" in text:
        return NotALedger(
            f"{path} is not a Ledgerlab project (not an SQLite file, or its header is "
            "destroyed); open a *.ledger file, or create a project with `ledgerlab new`"
        )
    if "malformed" in text or "corrupt" in text:
        return StoreCorrupt(
            f"{path} is damaged ({exc}); nothing was changed. Restore it from a "
            "backup; `ledgerlab verify` shows what is still readable"
        )
    if "unable to open" in text:
        return StoreError(f"cannot open {path}: check that it exists and is readable")
    if "disk is full" in text or "disk i/o" in text:
        return StoreError(f"cannot write {path}: {exc}; free disk space and try again")
    return StoreError(f"{path}: {exc}")
