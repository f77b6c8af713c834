"""The team subcommands of ``ledgerlab``: push, pull, conflicts and ``server init``,
``server login`` and ``server logout`` (a password kept in the system keyring).

Registered by ``app/cli/main.py``; errors are raised as ``ProjectError`` (or a store
error) and become one line with exit code 2 there. A URL is shown with any password as
``***``; prefer ``server login``, ``~/.pgpass`` or ``PGPASSWORD`` to a password in the URL.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from app.cli.history import AddCommand
from app.project.address import KEYRING_SERVICE, ProjectAddress, keyring_key, without_params
from app.project.errors import ProjectError
from eventstore.urls import is_postgres

if TYPE_CHECKING:
    from app.project.bootstrap import Application


def add_commands(add: AddCommand) -> None:
    p = add(
        "push", cmd_push, "copy a project file to a new project on a PostgreSQL server (every event and blob)"
    )
    p.add_argument("path", metavar="PATH.ledger")
    p.add_argument("url", metavar="postgresql://…?project=NAME")

    p = add("pull", cmd_pull, "copy a server project to a new project file (every event and blob)")
    p.add_argument("url", metavar="postgresql://…?project=NAME")
    p.add_argument("path", metavar="PATH.ledger")

    p = add(
        "conflicts",
        cmd_conflicts,
        "list samples two annotators labeled differently (the latest label counts until someone resolves it)",
    )
    p.add_argument("path", metavar="PATH.ledger|URL")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add(
        "server",
        cmd_server,
        "a PostgreSQL server: `server init URL` creates the project's schema, a role that may "
        "append and one that may only read; `server login URL` keeps your password in the "
        "system keyring (checked with the server first), `server logout URL` forgets it",
    )
    p.add_argument("action", choices=("init", "login", "logout"))
    p.add_argument("url", metavar="postgresql://…[?project=NAME]")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="login: read the password from the first line of standard input instead of asking",
    )
    p.add_argument(
        "--writer",
        metavar="USER",
        action="append",
        default=[],
        help="a database user who may label and train (repeatable)",
    )
    p.add_argument(
        "--reader",
        metavar="USER",
        action="append",
        default=[],
        help="a database user who may only view (repeatable)",
    )


def cmd_push(args: argparse.Namespace, app: Application) -> int:
    return _copy(app, args.path, args.url, server=True)


def cmd_pull(args: argparse.Namespace, app: Application) -> int:
    return _copy(app, args.url, args.path, server=False)


def _copy(app: Application, source: str, target: str, *, server: bool) -> int:
    from app.history.branching import copy_project

    origin, destination = ProjectAddress.parse(source), ProjectAddress.parse(target)
    if destination.is_server != server or origin.is_server == server:
        verb, wanted = (
            ("push", "PATH.ledger postgresql://…?project=NAME")
            if server
            else ("pull", "postgresql://…?project=NAME PATH.ledger")
        )
        raise ProjectError(
            f"{verb} copies {'a file to a server' if server else 'a server project to a file'}: give {wanted}"
        )
    done, events, blobs = copy_project(app.projects, origin, destination)
    print(f"copied {events} events and {blobs} blobs from {origin} to {done}")
    return 0


def cmd_conflicts(args: argparse.Namespace, app: Application) -> int:
    from app.cli.reports import conflicts

    with app.projects.open(args.path) as project:
        names, labels = project.info.class_names, project.labels
        found = conflicts(project)
        rows: list[dict[str, Any]] = []
        for d in found:
            current = int(labels.labels[d.sample])
            rows.append(
                {
                    "sample": d.sample,
                    "labels": {
                        who: {"label": label, "class": _name(label, names)} for who, label in d.labels
                    },
                    "current": None
                    if current < 0
                    else {
                        "label": current,
                        "class": _name(current, names),
                        "annotator": labels.annotator_of(d.sample),
                    },
                }
            )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not rows:
        print("no conflicts: no sample carries different labels from two annotators")
        return 0
    for row in rows:
        given = ", ".join(f"{who} said {v['class']}" for who, v in row["labels"].items())
        now = row["current"]
        standing = "no label now" if now is None else f"{now['class']} counts (by {now['annotator']})"
        print(f"sample {row['sample']}: {given}; {standing}")
    print(f"{len(rows)} conflicting samples")
    return 0


def _name(label: int, names: tuple[str, ...]) -> str:
    return names[label] if 0 <= label < len(names) else str(label)


def cmd_server(args: argparse.Namespace, app: Application) -> int:
    if args.action == "login":
        return server_login(args.url, _read_password(args.url, args.password_stdin))
    if args.action == "logout":
        return server_logout(args.url)
    return cmd_server_init(args, app)


def cmd_server_init(args: argparse.Namespace, app: Application) -> int:
    address = ProjectAddress.parse(args.url)
    if not address.is_server:
        raise ProjectError("server init takes a postgresql://[user@]host[:port]/DB?project=NAME URL")
    writer, reader = init_project(address, writers=args.writer, readers=args.reader)
    print(f"project {address.server_project!r} ready at {address}")
    print(f"role {writer}: may label, train and view (GRANT {writer} TO someone;)")
    print(f"role {reader}: may only view (GRANT {reader} TO someone;)")
    for who in args.writer:
        print(f"granted {writer} to {who}")
    for who in args.reader:
        print(f"granted {reader} to {who}")
    return 0


def init_project(address: ProjectAddress, *, writers: list[str], readers: list[str]) -> tuple[str, str]:
    """Create the project's schema (empty) and its two roles, ``NAME_writer`` and
    ``NAME_reader`` (no login: people get them by GRANT), and grant them to ``writers`` and
    ``readers``. Run as the database's owner or a superuser; safe to run again."""
    import psycopg
    from psycopg import sql

    from eventstore import open_store
    from eventstore.urls import postgres_target

    open_store(address.connect_url(), create=True).close()  # the schema and its tables, as their owner
    target = postgres_target(address.connect_url())
    project = target.project
    writer, reader = f"{project}_writer", f"{project}_reader"
    s, w, r = sql.Identifier(project), sql.Identifier(writer), sql.Identifier(reader)
    tables = {t: sql.SQL("{}.{}").format(s, sql.Identifier(t)) for t in ("events", "blobs", "snapshots")}
    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, r),
        sql.SQL("GRANT {} TO {}").format(r, w),
        sql.SQL("GRANT INSERT ON {}, {}, {} TO {}").format(
            tables["events"], tables["blobs"], tables["snapshots"], w
        ),
        # LOCK TABLE … IN EXCLUSIVE MODE (how appends take turns) asks for UPDATE; the
        # append-only trigger still refuses any real UPDATE, DELETE or TRUNCATE of events.
        sql.SQL("GRANT UPDATE ON {} TO {}").format(tables["events"], w),
        sql.SQL("GRANT UPDATE, DELETE ON {} TO {}").format(tables["snapshots"], w),  # a snapshot is a cache
        *(sql.SQL("GRANT {} TO {}").format(w, sql.Identifier(user)) for user in writers),
        *(sql.SQL("GRANT {} TO {}").format(r, sql.Identifier(user)) for user in readers),
    ]
    try:
        with psycopg.connect(target.conninfo, autocommit=True) as conn, conn.transaction():
            for role in (reader, writer):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            for statement in statements:
                conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        raise ProjectError(
            f"the user of {address} may not create roles or grant them: run `ledgerlab server "
            "init` as the database's owner or a superuser"
        ) from None
    except psycopg.errors.UndefinedObject as exc:
        raise ProjectError(
            f"{target.scrub(str(exc).splitlines()[0])}: create that user first (CREATE ROLE name LOGIN)"
        ) from None
    except psycopg.Error as exc:
        raise ProjectError(f"cannot prepare {address}: {target.scrub(str(exc).splitlines()[0])}") from None
    return writer, reader


# -- passwords in the system keyring ----------------------------------------------------


def _keyring() -> Any:
    try:
        import keyring
    except ImportError:
        raise ProjectError(
            "the keyring package is not installed: pip install keyring, or keep the password "
            "in ~/.pgpass or PGPASSWORD"
        ) from None
    return keyring


def _login_url(url: str) -> str:
    if not is_postgres(url):
        raise ProjectError("server login takes a postgresql://[user@]host[:port]/DATABASE URL")
    if postgres_target_password(url):
        raise ProjectError("the URL holds a password: give the URL without it; login asks for the password")
    return url


def _read_password(url: str, from_stdin: bool) -> str:
    import getpass
    import sys

    _login_url(url)
    key = keyring_key(url)
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {key}: ")
    if not password:
        raise ProjectError("no password given: nothing was stored")
    return password


def server_login(url: str, password: str) -> int:
    """Check ``password`` with the server, then keep it in the system keyring under
    ``keyring_key(url)``; it is never printed. Opening any project of that database
    then uses it (``ProjectAddress.connect_url``)."""
    import psycopg
    from psycopg import conninfo

    keyring = _keyring()
    key = keyring_key(_login_url(url))
    plain = without_params(url, "project")
    try:
        with psycopg.connect(conninfo.make_conninfo(plain, password=password, connect_timeout=10)):
            pass
    except psycopg.Error as exc:
        reason = str(exc).replace(password, "***").strip().splitlines()
        raise ProjectError(
            f"the server did not accept the login {key} ({reason[-1] if reason else 'no reason given'}): "
            "nothing was stored"
        ) from None
    try:
        keyring.set_password(KEYRING_SERVICE, key, password)
    except Exception as exc:  # noqa: BLE001 - every backend has errors of its own
        raise ProjectError(
            f"the system keyring did not take the password ({type(exc).__name__}); keep it in "
            "~/.pgpass or PGPASSWORD instead"
        ) from None
    print(f"password for {key} kept in the system keyring ({type(keyring.get_keyring()).__name__})")
    return 0


def server_logout(url: str) -> int:
    keyring = _keyring()
    key = keyring_key(_login_url(url))
    try:
        keyring.delete_password(KEYRING_SERVICE, key)
    except keyring.errors.PasswordDeleteError:
        print(f"the system keyring keeps no password for {key}")
        return 0
    except Exception as exc:  # noqa: BLE001
        raise ProjectError(f"the system keyring could not be changed ({type(exc).__name__})") from None
    print(f"password for {key} removed from the system keyring")
    return 0


def postgres_target_password(url: str) -> bool:
    """Whether ``url`` itself holds a password (``user:password@`` or ``?password=``)."""
    parts = urlsplit(url)
    try:
        return bool(parts.password) or any(k == "password" for k, _ in parse_qsl(parts.query))
    except ValueError:
        return False
