"""The SQLite backend: the shared contract, plus what only a file can get wrong."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time

import pytest

from eventstore import (
    ANY,
    NewEvent,
    NotALedger,
    SchemaTooNew,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreNotFound,
    UnsupportedURL,
    open_store,
    sqlite_path,
)

from .eventstore_contract import EventStoreContract, ticks


def raw(url: str) -> sqlite3.Connection:
    return sqlite3.connect(sqlite_path(url), isolation_level=None)


class TestSQLiteContract(EventStoreContract):
    @pytest.fixture
    def store_url(self, tmp_path) -> str:
        return f"sqlite://{tmp_path / 'contract.ledger'}"

    def tamper_event(self, url: str, position: int) -> None:
        with raw(url) as conn:
            conn.execute("DROP TRIGGER events_no_update")
            conn.execute("UPDATE events SET data = ? WHERE position = ?", (b'{"i":999}', position))
        conn.close()

    def tamper_blob(self, url: str, sha: str) -> None:
        with raw(url) as conn:
            conn.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (b"evil", sha))
        conn.close()

    def storage_check(self, url: str) -> str:
        with open_store(url) as store:
            return store.integrity_check()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_plain_path_and_url_name_the_same_file(tmp_path):
    path = tmp_path / "p.ledger"
    with open_store(path, create=True) as s:
        s.append("s", ticks(1), ANY)
    with open_store(f"sqlite://{path}") as s:
        assert s.head() == 1
    with open_store(f"sqlite:///{path}") as s:  # sqlite:////abs also means /abs
        assert s.head() == 1


def test_missing_file_is_not_created_without_asking(tmp_path):
    path = tmp_path / "nope.ledger"
    with pytest.raises(StoreNotFound, match=str(path)) as info:
        open_store(path)
    assert "ledgerlab new" in str(info.value)
    assert not path.exists()


def test_create_in_a_missing_folder_says_which(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "no" / "such" / "p.ledger", create=True)


def test_create_is_idempotent_on_an_existing_project(tmp_path):
    path = tmp_path / "p.ledger"
    with open_store(path, create=True) as s:
        s.append("s", ticks(3), ANY)
    with open_store(path, create=True) as s:
        assert s.head() == 3


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n", b"\x89PNG\r\n\x1a\n" + bytes(200)])
def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path, content):
    path = tmp_path / "notes.ledger"
    path.write_bytes(content)
    with pytest.raises(NotALedger, match="not a Ledgerlab project"):
        open_store(path)
    assert path.read_bytes() == content


def test_another_sqlite_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(NotALedger, match="SQLite database but not a Ledgerlab project"):
        open_store(path, create=True)
    assert digest(path) == before


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(NotALedger, match="folder"):
        open_store(tmp_path)


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "future.ledger"
    with open_store(path, create=True) as s:
        s.append("s", ticks(2), ANY)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = digest(path)
    with pytest.raises(SchemaTooNew, match="upgrade Ledgerlab") as info:
        open_store(path)
    assert str(path) in str(info.value)
    assert digest(path) == before


def test_a_damaged_file_is_reported_as_damaged(tmp_path):
    path = tmp_path / "damaged.ledger"
    with open_store(path, create=True) as s:
        for _ in range(20):
            s.append("s", ticks(200, pad="x" * 200), ANY)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page : len(data) - page] = b"\xde\xad\xbe\xef" * ((len(data) - 3 * page) // 4)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match="damaged"):
        with open_store(path) as s:
            list(s.read_all())
            s.verify()


def test_a_lock_held_too_long_gives_a_clear_error_and_writes_nothing(tmp_path):
    path = tmp_path / "busy.ledger"
    with open_store(path, create=True) as s:
        s.append("s", ticks(1), ANY)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with open_store(path, busy_timeout=0.2) as s:
            with pytest.raises(StoreLocked, match="locked by another program"):
                s.append("s", ticks(1), ANY)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with open_store(path) as s:
        assert s.head() == 1
        assert s.verify().ok


def test_unsupported_urls_are_named(tmp_path):
    with pytest.raises(UnsupportedURL, match="ftp://"):
        open_store("ftp://example/p.ledger")
    with pytest.raises(UnsupportedURL, match="absolute"):
        open_store("sqlite://relative.ledger")


def test_durability_pragmas_are_in_force(tmp_path):
    path = tmp_path / "d.ledger"
    with open_store(path, create=True) as s:
        s.append("s", ticks(1), ANY)
        conn = s._conn()  # the backend's own connection: what it really runs with
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_the_log_refuses_updates_and_deletes_at_the_database_level(tmp_path):
    path = tmp_path / "a.ledger"
    with open_store(path, create=True) as s:
        s.append("s", ticks(2), ANY)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM events WHERE position = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE events SET type = 'X' WHERE position = 2")
    conn.close()


def test_each_thread_uses_its_own_connection(tmp_path):
    with open_store(tmp_path / "t.ledger", create=True) as s:
        conns = []
        threads = [threading.Thread(target=lambda: conns.append(s._conn())) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(c) for c in conns}) == 3


def test_events_survive_reopening(tmp_path):
    path = tmp_path / "r.ledger"
    with open_store(path, create=True) as s:
        s.append("s", [NewEvent("A", {"x": 1}, {"who": "me"})], ANY)
    with open_store(path) as s:
        (e,) = s.read_all()
        assert (e.type, e.data, e.metadata) == ("A", {"x": 1}, {"who": "me"})


def test_closing_while_another_thread_reads_is_safe(tmp_path):
    """A window closes a project while a background job still reads its log."""
    import random

    path = tmp_path / "busy-reader.ledger"
    with open_store(path, create=True) as s:
        for _ in range(20):
            s.append("s", ticks(5000), ANY)
    rng = random.Random(7)
    for _ in range(25):
        store = open_store(path)
        started, outcome = threading.Event(), []

        def read():
            try:
                for event in store.read_all():
                    started.set()
                outcome.append("finished")
            except StoreError as exc:
                outcome.append(str(exc))

        reader = threading.Thread(target=read)
        reader.start()
        started.wait(10)
        time.sleep(rng.random() * 0.2)  # land the close anywhere, in a page fetch too
        store.close()  # must neither crash nor hang
        reader.join(timeout=60)
        assert outcome and (outcome[0] == "finished" or "closed" in outcome[0])


def test_batches_of_every_shape_store_what_was_given_and_verify(tmp_path):
    """Whole chunks of one type go in through the short INSERT (INSERT_RUN), mixed chunks
    and remainders row by row; what is read back and the chain are the same either way."""

    def events(n: int, mixed_from: int) -> list[NewEvent]:
        return [
            NewEvent(
                "Same" if i < mixed_from else f"T{i % 3}",
                {"i": i},
                {"who": "é"},
                1 + (i >= mixed_from) * (i % 2),
            )
            for i in range(n)
        ]

    given = [
        ("a", events(250, 150)),  # a whole run chunk, a mixed chunk, a remainder of 50
        ("b", events(100, 100)),  # exactly one chunk
        ("a", events(30, 0)),  # a short mixed run
    ]
    with open_store(tmp_path / "shapes.ledger", create=True) as store:
        store.append_batch([(stream, evs, ANY) for stream, evs in given])
        store.append("c", events(1000, 1000), ANY)
        assert store.verify().ok and store.verify().checked == 1380
        got = [(e.stream_id, e.type, e.schema_version, e.data, e.metadata) for e in store.read_all()]
    expected = [(s, e.type, e.schema_version, e.data, e.metadata) for s, evs in given for e in evs]
    expected += [("c", e.type, e.schema_version, e.data, e.metadata) for e in events(1000, 1000)]
    assert got == expected
    with raw(f"sqlite://{tmp_path / 'shapes.ledger'}") as conn:
        versions = conn.execute("SELECT stream_id, MAX(version) FROM events GROUP BY stream_id").fetchall()
    assert sorted(versions) == [("a", 280), ("b", 100), ("c", 1000)]
