"""What a store URL names: a SQLite file, or a project schema in a PostgreSQL database.

Passwords never leave this module in a message: every error and every ``redacted`` URL
has them replaced by ``***``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from .errors import StoreError, UnsupportedURL

POSTGRES_SCHEMES = ("postgresql", "postgres")
_PROJECT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,47}")


@dataclass(frozen=True)
class PostgresTarget:
    """A project in a PostgreSQL database: where to connect and which schema it is."""

    conninfo: str = field(repr=False)
    """The URL libpq is given: the caller's, without ``project``."""
    project: str
    redacted: str
    """The URL to show people: password replaced, ``project`` kept."""
    password: str | None = field(repr=False)

    def scrub(self, text: str) -> str:
        """``text`` with the password (raw or URL-encoded) replaced by ``***``."""
        if self.password:
            for secret in {self.password, quote(self.password, safe="")}:
                text = text.replace(secret, "***")
        return text


def is_postgres(url: str | os.PathLike[str]) -> bool:
    text = os.fspath(url)
    return isinstance(text, str) and text.split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in text


def sqlite_path(url: str | os.PathLike[str]) -> Path:
    """The file a ``sqlite:///…`` URL or a plain path names, made absolute."""
    text = os.fspath(url)
    if not isinstance(text, str):
        raise StoreError(f"a project path must be text, not {type(text).__name__}")
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://") :]
        if not rest.startswith("/"):
            raise UnsupportedURL(
                f"{text!r}: a sqlite URL needs an absolute path (sqlite:///home/me/p.ledger)"
            )
        return Path("/" + rest.lstrip("/"))
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise UnsupportedURL(
            f"{redact_any(text)!r}: {scheme}:// is not a kind of project this release opens; "
            "give a path to a .ledger file, or postgresql://host/DB?project=NAME"
        )
    if not text:
        raise StoreError("no project path given")
    return Path(text).expanduser().absolute()


def redact_any(text: str) -> str:
    """A URL with any password (``user:password@`` or ``?password=``) replaced, for messages."""
    text = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", text)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", text)


def postgres_target(url: str) -> PostgresTarget:
    """Split ``postgresql://[user[:password]@]host[:port]/DB?project=NAME&…``.

    ``project`` names the schema and is taken out; every other query parameter (``host=``
    for a socket folder, ``sslmode``, …) goes to libpq unchanged.
    """
    shown = redact_any(url)
    try:
        parts = urlsplit(url)
        password = parts.password
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise StoreError(
            f"{shown!r} is not a valid PostgreSQL URL; write "
            "postgresql://user@host:5432/DATABASE?project=NAME"
        ) from None
    password = unquote(password) if password else None
    params = parse_qsl(parts.query, keep_blank_values=True)
    password = password or next((v for k, v in params if k == "password" and v), None)
    projects = [value for key, value in params if key == "project"]
    rest = [(key, value) for key, value in params if key != "project"]
    if not projects or not projects[0]:
        raise StoreError(
            f"{shown!r} names no project: add ?project=NAME to say which project (schema) "
            "of the database to open"
        )
    if len(projects) > 1:
        raise StoreError(f"{shown!r} names more than one project; give ?project=NAME once")
    project = projects[0]
    if not _PROJECT.fullmatch(project) or project.lower().startswith("pg_"):
        raise StoreError(
            f"project name {project!r} is not usable: use up to 48 letters, digits, '_' or '-', "
            "not starting with '-' or 'pg_'"
        )
    database = parts.path.lstrip("/")
    if not database and not any(key == "dbname" for key, _ in rest):
        raise StoreError(f"{shown!r} names no database: write postgresql://host/DATABASE?project={project}")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest, safe="/"), ""))
    return PostgresTarget(conninfo=conninfo, project=project, redacted=shown, password=password)
