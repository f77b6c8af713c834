"""Server passwords from the system keyring: ``ledgerlab server login URL`` checks the
password with the server and keeps it; opening a project of that database then uses it.
Against a real PostgreSQL (pgserver) that asks this test's user for a password (a line of
its own in pg_hba.conf), with a real keyring backend that keeps passwords in memory."""

from __future__ import annotations

import io
import json
import uuid

import keyring
import keyring.backend
import keyring.errors
import numpy as np
import psycopg
import pytest
from psycopg import sql

from app.cli.main import main
from app.project.address import KEYRING_SERVICE, ProjectAddress, keyring_key
from eventstore.urls import postgres_target

from .pg_fixtures import pg_uri, project_url  # noqa: F401  (pg_uri is a fixture)

SECRET = "s3cret-Horse-battery"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps passwords in this process (headless test machines have none)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.kept.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.kept[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.kept.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("no such password")


class BrokenKeyring(MemoryKeyring):
    """A keyring that cannot be reached (a locked or absent keyring daemon)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")


@pytest.fixture
def memory_keyring(monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    previous = keyring.get_keyring()
    kept = MemoryKeyring()
    keyring.set_keyring(kept)
    yield kept
    keyring.set_keyring(previous)


@pytest.fixture
def password_user(pg_uri, tmp_path, capsys):  # noqa: F811
    """A server project, and the URL of a user who may write to it and must give a password."""
    admin = project_url(pg_uri)
    npz = tmp_path / "small.npz"
    np.savez(npz, images=np.random.default_rng(4).integers(0, 256, (20, 8, 8), dtype=np.uint8))
    assert main(["new", admin, "--dataset", str(npz), "--classes", "a,b", "--annotator", "lead"]) == 0
    user = f"kr_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_target(admin).conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(SECRET))
        )
        hba_file = conn.execute("SHOW hba_file").fetchone()[0]
    assert main(["server", "init", admin, "--writer", user]) == 0
    with open(hba_file) as f:
        original = f.read()
    with open(hba_file, "w") as f:  # this user alone must give a password; the rest stays trusted
        f.write(f"local all {user} scram-sha-256\n{original}")
    _reload(admin)
    capsys.readouterr()
    try:
        yield admin.replace("postgresql://postgres:@", f"postgresql://{user}@", 1)
    finally:
        with open(hba_file, "w") as f:
            f.write(original)
        _reload(admin)


def _reload(admin: str) -> None:
    with psycopg.connect(postgres_target(admin).conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")


def run(capsys, *args, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    return code, out, err


def test_a_login_kept_in_the_keyring_opens_the_project_and_logout_forgets_it(
    password_user, memory_keyring, capsys, monkeypatch
):
    url = password_user
    code, _, err = run(capsys, "info", url)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err  # no password

    code, _, err = run(
        capsys, "server", "login", url, "--password-stdin", stdin="wrong\n", monkeypatch=monkeypatch
    )
    assert code == 2 and "did not accept" in err and "nothing was stored" in err
    assert memory_keyring.kept == {}

    code, out, err = run(
        capsys, "server", "login", url, "--password-stdin", stdin=f"{SECRET}\n", monkeypatch=monkeypatch
    )
    assert code == 0, err
    key = keyring_key(url)
    assert key in out and memory_keyring.kept == {(KEYRING_SERVICE, key): SECRET}

    code, out, err = run(capsys, "label", url, 3, "b", "--annotator", "kim")
    assert code == 0, err
    code, out, err = run(capsys, "info", url, "--json")
    assert code == 0, err and json.loads(out)["labeled"] == 1
    # the address shows no password; what libpq is given carries the keyring's
    address = ProjectAddress.parse(url)
    assert "password" not in str(address) and address.url == url
    with psycopg.connect(postgres_target(address.connect_url()).conninfo) as conn:
        assert conn.info.password == SECRET and conn.info.user == url.split("//")[1].split("@")[0]

    assert run(capsys, "server", "logout", url)[0] == 0
    assert memory_keyring.kept == {}
    assert run(capsys, "info", url)[0] == 2


def test_pgpassword_and_a_password_in_the_url_come_before_the_keyring(memory_keyring, monkeypatch):
    url = "postgresql://bob@db.lan:5433/labels?project=digits&sslmode=require"
    assert keyring_key(url) == "bob@db.lan:5433/labels"
    memory_keyring.set_password(KEYRING_SERVICE, "bob@db.lan:5433/labels", SECRET)
    assert "password=" + SECRET in ProjectAddress.parse(url).connect_url()
    monkeypatch.setenv("PGPASSWORD", "from-env")
    assert ProjectAddress.parse(url).connect_url() == url  # libpq takes PGPASSWORD itself
    monkeypatch.delenv("PGPASSWORD")
    typed = url.replace("bob@", "bob:typed@")
    assert ProjectAddress.parse(typed).connect_url() == typed
    # one password serves every project of the database; defaults filled in
    monkeypatch.setenv("PGUSER", "carol")
    assert keyring_key("postgresql:///labels?host=/run/pg&project=x") == "carol@/run/pg:5432/labels"


def test_a_keyring_that_cannot_answer_is_no_keyring(monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(BrokenKeyring())
    try:
        url = "postgresql://bob@db.lan/labels?project=digits"
        assert ProjectAddress.parse(url).connect_url() == url  # libpq falls back to ~/.pgpass
    finally:
        keyring.set_keyring(previous)


def test_login_refuses_a_url_that_holds_a_password(capsys, memory_keyring):
    code, _, err = run(capsys, "server", "login", "postgresql://bob:typed@db.lan/labels", "--password-stdin")
    assert code == 2 and "holds a password" in err and "typed" not in err
