"""Where a project lives: a ``.ledger`` file, or a project (schema) on a PostgreSQL server.

Every command and the window take either spelling; this is the one place that tells them
apart. ``str(address)`` is what people see and never holds a password; the URL given to
the store (which may hold one, when the user typed it) stays in a field that is kept out
of ``repr`` and of every message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app.project.errors import ProjectError
from eventstore import StoreError
from eventstore.urls import is_postgres, postgres_target, sqlite_path

SUFFIX = ".ledger"


@dataclass(frozen=True)
class ProjectAddress:
    """A project file (``file`` set) or a server project (``server_project`` set)."""

    display: str
    """What people see: the absolute file path, or the URL with any password as ``***``."""
    file: Path | None = None
    server_project: str | None = None
    url: str = field(default="", repr=False, compare=False)
    """What the store opens; for a server, the URL as given (it may hold a password)."""

    @classmethod
    def parse(cls, where: str | os.PathLike[str] | ProjectAddress) -> ProjectAddress:
        """A ``.ledger`` path, ``sqlite:///abs/path.ledger``, or
        ``postgresql://[user@]host[:port]/DB?project=NAME[&libpq params]``."""
        if isinstance(where, ProjectAddress):
            return where
        text = os.fspath(where)
        if not text:
            raise ProjectError("no project given: name a .ledger file or a postgresql://…?project=NAME URL")
        try:
            if is_postgres(text):
                target = postgres_target(text)
                return cls(display=target.redacted, server_project=target.project, url=text)
            path = sqlite_path(text)
        except StoreError as exc:
            raise ProjectError(str(exc)) from None
        return cls(display=str(path), file=path, url=str(path))

    @property
    def is_server(self) -> bool:
        return self.server_project is not None

    @property
    def name(self) -> str:
        """The file's name, or the server project's name."""
        return self.file.name if self.file is not None else str(self.server_project)

    @property
    def stem(self) -> str:
        """A name to suggest for copies: the file's stem, or the server project's name."""
        return self.file.stem if self.file is not None else str(self.server_project)

    @property
    def path(self) -> Path:
        """The project file; for a server project a stand-in, ``Path(NAME)``, that names
        no file (``Project.path`` keeps older callers working; new code uses the address)."""
        return self.file if self.file is not None else Path(str(self.server_project))

    def store_target(self) -> str | Path:
        """What ``open_store`` (or a store factory) is given."""
        return self.file if self.file is not None else self.url

    def require_ledger_suffix(self) -> None:
        if self.file is not None and self.file.suffix != SUFFIX:
            raise ProjectError(f"{self.file}: project files end in {SUFFIX}; use {self.file.name}{SUFFIX}")

    def __str__(self) -> str:
        return self.display


def server_may_append(address: ProjectAddress) -> bool:
    """Whether this connection's database role may append to the server project.

    Asked once at open, so a read-only user gets a live view with changes refused up
    front instead of a failed write. When the question cannot be asked (server down,
    no such project) the answer is yes: opening the store then says what is wrong.
    """
    import psycopg  # only those who use a server load it

    target = postgres_target(address.url)
    try:
        with psycopg.connect(target.conninfo, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT has_table_privilege(format('%%I.events', %s::text), 'INSERT')", (target.project,)
            ).fetchone()
    except psycopg.Error:
        return True
    return bool(row and row[0])


__all__ = ["ProjectAddress", "server_may_append"]
