"""A real PostgreSQL for the tests: the ``pgserver`` wheel (PostgreSQL 16), one server for
the whole session, a fresh project (schema) per test. No Docker, no mock.

Run as root, pgserver creates a system user ``pgserver`` and starts the server as that
user (PostgreSQL refuses to run as root); its data folder is made readable for it.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pg_uri() -> Iterator[str]:
    """The server's Unix-socket URI, ``postgresql://postgres:@/postgres?host=/socket/dir``."""
    pgserver = pytest.importorskip("pgserver", reason="pip install pgserver (the test extra)")
    folder = Path(tempfile.mkdtemp(prefix="ledgerlab-pg-"))
    server = pgserver.get_server(folder / "data", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def project_url(pg_uri: str, project: str | None = None) -> str:
    """A URL naming a fresh (or the given) project in the session's database."""
    name = project or f"t_{uuid.uuid4().hex[:16]}"
    separator = "&" if "?" in pg_uri else "?"
    return f"{pg_uri}{separator}project={name}"
