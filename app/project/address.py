"""Where a project lives: a ``.ledger`` file, or a project (schema) on a PostgreSQL server.

Every command and the window take either spelling; this is the one place that tells them
apart. ``str(address)`` is what people see and never holds a password; the URL given to
the store (which may hold one, when the user typed it) stays in a field that is kept out
of ``repr`` and of every message.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from app.project.errors import ProjectError
from eventstore import StoreError
from eventstore.urls import is_postgres, postgres_target, redact_any, sqlite_path

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
        return self.file if self.file is not None else self.connect_url()

    def connect_url(self) -> str:
        """The URL to connect with: as given, plus the password the system keyring keeps
        for this login (``ledgerlab server login``) when the URL has none and
        ``PGPASSWORD`` is unset. Otherwise libpq finds it as ever (``~/.pgpass``).
        Never shown: messages and the recent list use ``str(address)``."""
        if self.file is not None or postgres_target(self.url).password or os.environ.get("PGPASSWORD"):
            return self.url
        password = keyring_password(self.url)
        if not password:
            return self.url
        return f"{self.url}{'&' if '?' in self.url else '?'}{urlencode({'password': password})}"

    def require_ledger_suffix(self) -> None:
        if self.file is not None and self.file.suffix != SUFFIX:
            raise ProjectError(f"{self.file}: project files end in {SUFFIX}; use {self.file.name}{SUFFIX}")

    def __str__(self) -> str:
        return self.display


KEYRING_SERVICE = "ledgerlab"
"""The service name Ledgerlab's server passwords are kept under in the system keyring."""


def keyring_key(url: str) -> str:
    """What a server login's password is kept under: ``user@host:port/database``, with
    libpq's defaults (``PGUSER``…, the login name, port 5432) filled in. The project is
    not part of it: one password serves every project of a database."""
    import psycopg  # only those who use a server load it

    try:
        params = psycopg.conninfo.conninfo_to_dict(without_params(url, "project", "password"))
    except psycopg.ProgrammingError:
        raise ProjectError(
            f"{redact_any(url)!r} is not a PostgreSQL URL: write postgresql://user@host:5432/DATABASE"
        ) from None
    env = os.environ
    user = str(params.get("user") or env.get("PGUSER") or getpass.getuser())
    host = str(params.get("host") or env.get("PGHOST") or "localhost")
    port = str(params.get("port") or env.get("PGPORT") or "5432")
    database = str(params.get("dbname") or env.get("PGDATABASE") or user)
    return f"{user}@{host}:{port}/{database}"


def without_params(url: str, *names: str) -> str:
    """``url`` without the query parameters ``names`` (and without a fragment)."""
    base, _, query = url.partition("#")[0].partition("?")
    rest = urlencode(
        [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in names], safe="/"
    )
    return f"{base}?{rest}" if rest else base


def keyring_password(url: str) -> str | None:
    """The password the system keyring keeps for the login of ``url``; None when it keeps
    none, or there is no usable keyring (no ``keyring`` package, no keyring daemon)."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_key(url))
    except Exception:  # noqa: BLE001 - a keyring that cannot answer (locked, no D-Bus) is no keyring
        return None


def server_may_append(address: ProjectAddress) -> bool:
    """Whether this connection's database role may append to the server project.

    Asked once at open, so a read-only user gets a live view with changes refused up
    front instead of a failed write. When the question cannot be asked (server down,
    no such project) the answer is yes: opening the store then says what is wrong.
    """
    import psycopg  # only those who use a server load it

    target = postgres_target(address.connect_url())
    try:
        with psycopg.connect(target.conninfo, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT has_table_privilege(format('%%I.events', %s::text), 'INSERT')", (target.project,)
            ).fetchone()
    except psycopg.Error:
        return True
    return bool(row and row[0])


__all__ = [
    "KEYRING_SERVICE",
    "ProjectAddress",
    "keyring_key",
    "keyring_password",
    "server_may_append",
    "without_params",
]
