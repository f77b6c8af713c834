"""The PostgreSQL backend: the shared contract, plus what only a server can get wrong.

A real PostgreSQL 16 (``pgserver``) serves the whole session; every test gets its own
project, i.e. its own schema.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import sql

from eventstore import (
    ANY,
    NO_STREAM,
    ConcurrencyError,
    NewEvent,
    NotALedger,
    StoreError,
    StoreLocked,
    StoreNotFound,
    StoreReadOnly,
    open_store,
)
from eventstore.urls import postgres_target

from .eventstore_contract import EventStoreContract, ticks
from .pg_fixtures import pg_uri, project_url  # noqa: F401  (pg_uri is a fixture)


def raw(url: str) -> psycopg.Connection:
    target = postgres_target(url)
    return psycopg.connect(target.conninfo, autocommit=True)


def schema_of(url: str) -> sql.Identifier:
    return sql.Identifier(postgres_target(url).project)


class TestPostgresContract(EventStoreContract):
    @pytest.fixture
    def store_url(self, pg_uri: str) -> str:  # noqa: F811
        return project_url(pg_uri)

    def tamper_event(self, url: str, position: int) -> None:
        s = schema_of(url)
        with raw(url) as conn:
            conn.execute(sql.SQL("ALTER TABLE {}.events DISABLE TRIGGER events_no_change").format(s))
            conn.execute(
                sql.SQL("UPDATE {}.events SET data = %s WHERE position = %s").format(s),
                (b'{"i":999}', position),
            )

    def tamper_blob(self, url: str, sha: str) -> None:
        with raw(url) as conn:
            conn.execute(
                sql.SQL("UPDATE {}.blobs SET data = %s WHERE sha256 = %s").format(schema_of(url)),
                (b"evil", sha),
            )

    def storage_check(self, url: str) -> str:
        with open_store(url) as store:
            return store.integrity_check()


@pytest.fixture
def url(pg_uri: str) -> str:  # noqa: F811
    return project_url(pg_uri)


# -- readers never pass a position that commits late ---------------------------------------
def test_a_reader_never_skips_a_position_whose_commit_is_late(url, monkeypatch):
    """Writer A takes position 41 and holds its transaction open; writer B (another
    connection) must not get 42 before A commits, so a reader never sees 42 without 41."""
    with open_store(url, create=True) as setup:
        setup.append("s", ticks(40), NO_STREAM)
    a, b, reader = open_store(url), open_store(url), open_store(url)
    try:
        inserted, release = threading.Event(), threading.Event()
        real_insert = type(a)._insert

        def insert_then_hold(self, conn, rows):
            real_insert(self, conn, rows)
            if self is a:
                inserted.set()
                assert release.wait(30)

        monkeypatch.setattr(type(a), "_insert", insert_then_hold)
        results: dict[str, int] = {}
        writer_a = threading.Thread(target=lambda: results.setdefault("a", a.append("a", ticks(1), ANY)))
        writer_a.start()
        assert inserted.wait(30)  # A has written position 41, not committed
        writer_b = threading.Thread(target=lambda: results.setdefault("b", b.append("b", ticks(1), ANY)))
        writer_b.start()
        time.sleep(0.5)
        assert writer_b.is_alive(), "B appended while A held position 41 uncommitted"
        assert reader.head() == 40
        assert list(reader.read_all(after=40)) == []
        release.set()
        writer_a.join(30)
        writer_b.join(30)
        assert results == {"a": 41, "b": 42}
        assert [(e.position, e.stream_id) for e in reader.read_all(after=40)] == [(41, "a"), (42, "b")]
        assert reader.verify().ok
    finally:
        for store in (a, b, reader):
            store.close()


def test_a_rolled_back_append_leaves_no_hole(url, monkeypatch):
    with open_store(url, create=True) as store:
        store.append("s", ticks(2), NO_STREAM)

        def fail(self, conn, rows):
            raise psycopg.errors.QueryCanceled("simulated failure mid-append")

        with monkeypatch.context() as m:
            m.setattr(type(store), "_insert", fail)
            with pytest.raises(StoreError):
                store.append("s", ticks(3), ANY)
        assert store.append("s", ticks(1), ANY) == 3
        assert [e.position for e in store.read_all()] == [1, 2, 3]


def test_a_table_lock_held_too_long_gives_a_clear_error(url):
    with open_store(url, create=True) as store:
        store.append("s", ticks(1), ANY)
    holder = raw(url)
    try:
        holder.execute("BEGIN")
        holder.execute(sql.SQL("LOCK TABLE {}.events IN EXCLUSIVE MODE").format(schema_of(url)))
        with open_store(url, busy_timeout=0.2) as store:
            with pytest.raises(StoreLocked, match="locked by another writer"):
                store.append("s", ticks(1), ANY)
            assert [e.position for e in store.read_all()] == [1]  # reads never wait
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- projects are schemas ---------------------------------------------------------------------
def test_projects_in_one_database_are_independent(pg_uri):  # noqa: F811
    one, two = project_url(pg_uri), project_url(pg_uri)
    with open_store(one, create=True) as a, open_store(two, create=True) as b:
        a.append("s", ticks(3), NO_STREAM)
        b.append("s", ticks(1), NO_STREAM)
        sha = a.put_blob(b"only in one")
        a.save_snapshot("labels", 2, b"x")
        assert (a.head(), b.head()) == (3, 1)
        assert not b.has_blob(sha)
        assert b.load_snapshot("labels") is None


def test_missing_project_is_not_created_without_asking(url):
    with pytest.raises(StoreNotFound, match="no project") as info:
        open_store(url)
    assert "ledgerlab new" in str(info.value)
    with raw(url) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (postgres_target(url).project,)
        ).fetchone()
    assert row is None


def test_create_is_idempotent(url):
    with open_store(url, create=True) as s:
        s.append("s", ticks(3), ANY)
    with open_store(url, create=True) as s:
        assert s.head() == 3


def test_a_schema_that_is_not_a_project_is_refused_and_left_alone(url):
    s = schema_of(url)
    with raw(url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(s))
        conn.execute(sql.SQL("CREATE TABLE {}.accounts (x int)").format(s))
    with pytest.raises(NotALedger, match="not a Ledgerlab project"):
        open_store(url, create=True)
    with raw(url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (postgres_target(url).project,)
        ).fetchall()
    assert tables == [("accounts",)]


def test_the_log_refuses_updates_and_deletes_at_the_database_level(url):
    with open_store(url, create=True) as store:
        store.append("s", ticks(2), ANY)
    s = schema_of(url)
    with raw(url) as conn:
        for statement in ("DELETE FROM {}.events", "UPDATE {}.events SET type = 'X'", "TRUNCATE {}.events"):
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute(sql.SQL(statement).format(s))


def test_concurrent_creation_of_one_project(url):
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with open_store(url, create=True) as s:
                s.append(f"s{threading.get_ident()}", ticks(1), NO_STREAM)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_store(url) as s:
        assert s.head() == 4


def test_read_only_connection_is_enforced_by_the_server_too(url):
    with open_store(url, create=True) as s:
        s.append("s", ticks(1), ANY)
    with open_store(url, read_only=True) as ro:
        with pytest.raises(StoreReadOnly):
            ro.delete_snapshot("x")
        with ro._session() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(sql.SQL("INSERT INTO {}.blobs VALUES ('x', 1, 'x')").format(schema_of(url)))


def test_wait_for_new_is_woken_by_notify_well_before_its_poll(url):
    with open_store(url, create=True) as waiter, open_store(url) as writer:
        waiter.wait_for_new(0, timeout=0.01)  # the listener is connected
        timer = threading.Timer(0.05, lambda: writer.append("s", ticks(1), ANY))
        timer.start()
        start = time.monotonic()
        assert waiter.wait_for_new(0, timeout=30) == 1
        assert time.monotonic() - start < 0.45  # a poll would take 0.5 s
        timer.join()


def test_batches_from_many_threads_of_one_store_stay_whole(url):
    with open_store(url, create=True) as store:

        def write(k: int) -> None:
            for batch in range(20):
                store.append_batch(
                    [
                        (
                            f"w{k}",
                            [
                                NewEvent("Tick", {"writer": f"w{k}", "batch": batch, "i": i, "n": 4})
                                for i in range(4)
                            ],
                            batch * 4,
                        ),
                    ]
                )

        threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        events = list(store.read_all())
        assert [e.position for e in events] == list(range(1, 4 * 20 * 4 + 1))
        assert store.verify().ok


def test_a_conflict_from_another_connection_is_seen(url):
    with open_store(url, create=True) as a, open_store(url) as b:
        a.append("s", ticks(1), NO_STREAM)
        b.append("s", ticks(1), 1)
        with pytest.raises(ConcurrencyError, match="version 2"):
            a.append("s", ticks(1), 1)


# -- URLs and secrets ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, message",
    [
        ("postgresql://ada:hunter2@db.example/team", "names no project"),
        ("postgresql://ada:hunter2@db.example/team?project=", "names no project"),
        ("postgresql://ada:hunter2@db.example:port/team?project=p", "not a valid PostgreSQL URL"),
        ("postgresql://ada:hunter2@db.example/?project=p", "names no database"),
        ("postgresql://ada:hunter2@db.example/team?project=pg_catalog", "not usable"),
        ("postgresql://ada:hunter2@db.example/team?project=a;drop", "not usable"),
        ("postgresql://ada@db.example/team?project=a&project=b", "more than one"),
    ],
)
def test_bad_urls_are_refused_clearly_without_the_password(bad, message):
    with pytest.raises(StoreError, match=message) as info:
        open_store(bad)
    assert "hunter2" not in str(info.value)


def test_a_failed_connection_names_the_url_but_not_the_password(tmp_path):
    url = f"postgresql://ada:hunter2@/team?host={tmp_path}&project=p&connect_timeout=2"
    with pytest.raises(StoreError, match="cannot connect") as info:
        open_store(url)
    text = str(info.value) + repr(info.value) + str(info.value.__cause__ or "")
    assert "hunter2" not in text
    assert "ada:***@" in str(info.value)


def test_the_store_url_never_carries_the_password(pg_uri, url):  # noqa: F811
    with_password = url.replace("postgres:@", "postgres:sesame@")  # trust auth ignores it
    with open_store(with_password, create=True) as store:
        assert "sesame" not in store.url and "sesame" not in repr(store)
        assert "project=" in store.url
