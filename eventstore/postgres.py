"""The team backend: a project is a schema in a PostgreSQL database (psycopg 3).

Gap-free reading: every append takes ``LOCK TABLE events IN EXCLUSIVE MODE`` first and
holds it until it commits, as eventsourcing's PostgreSQL recorder does. That lock
conflicts with itself and with the row lock any INSERT takes, but not with the ACCESS
SHARE of a SELECT, so readers never wait while writers run one at a time. Positions are
assigned under it as ``head + 1`` (no sequence, whose numbers a rollback would lose),
so commit order is position order: a reader that has seen position 42 has seen 41,
because the transaction that took 42 could not even read the head before the one that
took 41 had committed or rolled back. We chose the lock over transaction-id snapshots
(``pg_snapshot_xmin`` filtering, which lets writers run in parallel and makes readers
hold back) because appends must serialise anyway: the hash chain needs the previous
row's hash, and positions must not show the holes a sequence leaves. The price is one
writer at a time per project, which the SQLite backend pays too. READ COMMITTED matters:
each statement after the LOCK takes a fresh snapshot and so sees the commit it waited for.

Durability: a returned append is committed with the server's ``synchronous_commit``
(on by default: flushed to the server's WAL). ``LISTEN/NOTIFY`` only wakes waiting
readers early; what they read is always chosen by position, so a lost notification
costs at most one poll interval.
"""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from .appending import PreparedAppend, build_group, prepare, stream_ids
from .base import EventStore
from .codec import GENESIS, StoredRow, blob_hash, verify_chain
from .connections import ThreadConnections
from .errors import (
    BlobCorrupt,
    BlobNotFound,
    NotALedger,
    SchemaTooNew,
    StoreError,
    StoreNotFound,
    StoreReadOnly,
)
from .model import RecordedEvent, Snapshot, StreamAppend, Verification
from .postgres_errors import first_line, translate
from .postgres_schema import COPY_THRESHOLD, PAGE_SIZE, SCHEMA_VERSION, Statements, channel, create_statements
from .reading import POSITION, VERSION, EventRow, paged
from .urls import PostgresTarget
from .validation import check_int, check_limit, stream_start
from .write_queue import Outcome, WriteQueue

Connection = psycopg.Connection[Any]
_NO_UPPER_BOUND = 2**62
_POLL = 0.5  # s: how long a waiter trusts NOTIFY alone before it reads the head again
_COPY_TYPES = ["int8", "text", "int4", "text", "int4", "bytea", "bytea", "float8", "bytea"]


class PostgresEventStore(EventStore):
    """An event store in one schema of a PostgreSQL database. Thread-safe: each thread
    gets its own connection, and this process's writers queue on one lock."""

    def __init__(
        self,
        target: PostgresTarget,
        *,
        create: bool = False,
        read_only: bool = False,
        busy_timeout: float = 10.0,
    ) -> None:
        self.url = target.redacted
        self.project = target.project
        self.read_only = read_only
        self._target = target
        self._busy_timeout = busy_timeout
        self._channel = channel(target.project)
        self._connections: ThreadConnections[Connection] = ThreadConnections(Connection.close, psycopg.Error)
        self._queue = WriteQueue()
        s = sql.Identifier(target.project)
        self._sql = Statements(s)
        try:
            if create and not read_only:
                self._create_if_missing()
            self._check_is_ledger()
        except BaseException:
            self.close()
            raise

    # -- connections ----------------------------------------------------------------
    def _connect(self) -> Connection:
        try:
            conn = psycopg.connect(self._target.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the database of project {self.project!r} at {self.url}: "
                f"{self._target.scrub(first_line(exc))}; check that the server runs, the URL "
                "and your credentials"
            ) from None
        try:
            # A writer that waits longer than the busy timeout for the table lock gives up
            # with StoreLocked instead of hanging the window.
            conn.execute(
                sql.SQL("SET lock_timeout = {}").format(
                    sql.Literal(f"{max(1, int(self._busy_timeout * 1000))}ms")
                )
            )
            if self.read_only:
                conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            conn.close()
            raise translate(exc, self._target, self._busy_timeout) from None
        return conn

    def _entry(self) -> tuple[Connection, threading.RLock]:
        """This thread's connection and its lock (a forked child never reuses its parent's)."""
        if self._connections.closed:
            raise StoreError(f"the store for {self.url} is closed")
        return self._connections.get(self._connect)

    @contextlib.contextmanager
    def _session(self) -> Iterator[Connection]:
        """This thread's connection, held while it works; PostgreSQL's errors become store
        errors that name the project and never the password."""
        conn, lock = self._entry()
        with lock:
            if self._connections.closed:
                raise StoreError(f"the store for {self.url} is closed")
            try:
                yield conn
            except psycopg.Error as exc:
                if conn.closed or conn.broken:
                    self._forget(conn)
                raise translate(exc, self._target, self._busy_timeout) from None

    def _forget(self, conn: Connection) -> None:
        """Drop a broken connection so this thread's next call opens a fresh one."""
        self._connections.forget(conn)

    # -- opening --------------------------------------------------------------------
    def _create_if_missing(self) -> None:
        with self._session() as conn, conn.transaction():
            # Two programs creating the same project at once take turns here.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ledgerlab:{self.project}",))
            if self._schema_exists(conn) and self._layout_version(conn) is None and self._has_tables(conn):
                return  # not ours: _check_is_ledger says so
            for statement in create_statements(self.project):
                conn.execute(statement)

    def _schema_exists(self, conn: Connection) -> bool:
        row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.project,)).fetchone()
        return row is not None

    def _has_tables(self, conn: Connection) -> bool:
        row = conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s LIMIT 1", (self.project,)
        ).fetchone()
        return row is not None

    def _layout_version(self, conn: Connection) -> int | None:
        exists = conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'ledger_meta'",
            (self.project,),
        ).fetchone()
        if exists is None:
            return None
        row = conn.execute(self._sql.layout_version).fetchone()
        return None if row is None else int(row[0])

    def _check_is_ledger(self) -> None:
        with self._session() as conn:
            if not self._schema_exists(conn):
                raise StoreNotFound(
                    f"no project {self.project!r} in the database at {self.url}: check the "
                    "project name, or create it (`ledgerlab new` with this URL)"
                )
            version = self._layout_version(conn)
        if version is None:
            raise NotALedger(
                f"schema {self.project!r} at {self.url} exists but is not a Ledgerlab project; "
                "choose another project name"
            )
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"project {self.project!r} at {self.url} was written by a newer Ledgerlab "
                f"(store schema {version}; this release reads up to {SCHEMA_VERSION}): upgrade "
                "Ledgerlab to open it. Nothing was changed."
            )

    # -- events ---------------------------------------------------------------------
    def append_batch(self, appends: Sequence[StreamAppend]) -> int:
        prepared = prepare(appends)  # refuses bad input before the lock is taken
        if not prepared:
            return self.head()
        if self.read_only:
            raise StoreReadOnly(
                f"project {self.project!r} at {self.url} is open read-only: nothing was written"
            )
        # This process's threads queue in the store (write_queue.py) and share commits;
        # other processes and machines queue on the table lock.
        return self._queue.submit(prepared, self._commit_group)

    def _commit_group(self, group: Sequence[Sequence[PreparedAppend]]) -> list[Outcome]:
        streams = stream_ids([p for prepared in group for p in prepared])
        with self._session() as conn, conn.transaction():
            conn.execute(self._sql.lock)
            versions = dict(conn.execute(self._sql.versions, (streams,)).fetchall())
            last = conn.execute(self._sql.last_row).fetchone()
            head, previous = (int(last[0]), bytes(last[1])) if last else (0, GENESIS)
            runs, outcomes = build_group(group, versions, head, previous, time.time())
            if runs:
                rows = [row for run in runs for row in run.rows()]
                self._insert(conn, rows)
                conn.execute(self._sql.notify, (self._channel, str(rows[-1][0])))
        return outcomes

    def _insert(self, conn: Connection, rows: list[StoredRow]) -> None:
        if len(rows) < COPY_THRESHOLD:
            with conn.cursor() as cur:
                cur.executemany(self._sql.insert, rows)
            return
        with conn.cursor() as cur, cur.copy(self._sql.copy) as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)

    def stream_version(self, stream_id: str) -> int:
        with self._session() as conn:
            row = conn.execute(self._sql.stream_version, (stream_id,)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def read_stream(
        self,
        stream_id: str,
        after: int = 0,
        limit: int | None = None,
        backwards: bool = False,
        *,
        from_version: int | None = None,
    ) -> Iterator[RecordedEvent]:
        after = stream_start(after, from_version)
        check_limit(limit)
        if backwards:
            q = self._sql.stream_backwards
            return paged(
                lambda key, size: self._fetch(q, (stream_id, after, key, size)),
                _NO_UPPER_BOUND,
                limit,
                VERSION,
                PAGE_SIZE,
            )
        q = self._sql.stream_forwards
        return paged(
            lambda key, size: self._fetch(q, (stream_id, key, size)), after, limit, VERSION, PAGE_SIZE
        )

    def read_all(
        self, after: int = 0, until: int | None = None, limit: int | None = None
    ) -> Iterator[RecordedEvent]:
        check_int("after", after, minimum=0)
        check_limit(limit)
        if until is None:
            q = self._sql.all_after
            return paged(lambda key, size: self._fetch(q, (key, size)), after, limit, POSITION, PAGE_SIZE)
        check_int("until", until, minimum=0)
        bounded = self._sql.all_between
        return paged(
            lambda key, size: self._fetch(bounded, (key, until, size)), after, limit, POSITION, PAGE_SIZE
        )

    def _fetch(self, query: sql.Composed, params: tuple[object, ...]) -> list[EventRow]:
        # Binary results: bytea arrives as bytes without hex decoding.
        with self._session() as conn, conn.cursor(binary=True) as cur:
            cur.execute(query, params)
            rows: list[EventRow] = cur.fetchall()
        return rows

    def head(self) -> int:
        with self._session() as conn:
            row = conn.execute(self._sql.head).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def wait_for_new(self, after: int, timeout: float) -> int:
        deadline = time.monotonic() + max(0.0, timeout)
        listener = self._listener()  # listening before the head is read: no commit slips by
        while True:
            head = self.head()
            remaining = deadline - time.monotonic()
            if head > after or remaining <= 0:
                return head
            readable, _, _ = select.select([listener.fileno()], [], [], min(remaining, _POLL))
            if readable:
                try:
                    listener.execute("SELECT 1")  # takes in the notifications; their text is not used
                except psycopg.Error:
                    self._connections.forget(listener, kind="listener")
                    listener = self._listener()

    def _listener(self) -> Connection:
        """This thread's LISTEN connection (a wake-up hint only)."""
        if self._connections.closed:
            raise StoreError(f"the store for {self.url} is closed")

        def listen() -> Connection:
            conn = self._connect()
            # A handler keeps psycopg from queueing every notification for a notifies()
            # generator nobody runs (it would grow by one per append, forever).
            conn.add_notify_handler(lambda _notification: None)
            try:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            except psycopg.Error as exc:
                conn.close()
                raise translate(exc, self._target, self._busy_timeout) from None
            return conn

        return self._connections.get(listen, kind="listener")[0]

    # -- snapshots ------------------------------------------------------------------
    def save_snapshot(self, name: str, position: int, payload: bytes) -> None:
        check_int("position", position, minimum=0)
        if self.read_only:
            raise StoreReadOnly(
                f"project {self.project!r} at {self.url} is open read-only: the snapshot was not saved"
            )
        head = self.head()
        if position > head:
            raise StoreError(f"snapshot {name!r} claims position {position}, past the log's head {head}")
        with self._session() as conn:
            conn.execute(self._sql.save_snapshot, (name, position, bytes(payload), time.time()))

    def load_snapshot(self, name: str) -> Snapshot | None:
        with self._session() as conn, conn.cursor(binary=True) as cur:
            row = cur.execute(self._sql.load_snapshot, (name,)).fetchone()
        return None if row is None else Snapshot(row[0], int(row[1]), bytes(row[2]), float(row[3]))

    def delete_snapshot(self, name: str) -> None:
        if self.read_only:
            raise StoreReadOnly(f"project {self.project!r} at {self.url} is open read-only")
        with self._session() as conn:
            conn.execute(self._sql.delete_snapshot, (name,))

    def snapshot_names(self) -> list[str]:
        with self._session() as conn:
            return [str(n) for (n,) in conn.execute(self._sql.snapshot_names).fetchall()]

    # -- blobs ----------------------------------------------------------------------
    def put_blob(self, data: bytes | bytearray | memoryview) -> str:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise StoreError(f"a blob must be bytes, not {type(data).__name__}")
        if self.read_only:
            raise StoreReadOnly(
                f"project {self.project!r} at {self.url} is open read-only: the blob was not stored"
            )
        data = bytes(data)
        sha = blob_hash(data)
        with self._session() as conn:
            conn.execute(self._sql.put_blob, (sha, len(data), data))
        return sha

    def get_blob(self, sha256: str) -> bytes:
        with self._session() as conn, conn.cursor(binary=True) as cur:
            row = cur.execute(self._sql.get_blob, (sha256,)).fetchone()
        if row is None:
            raise BlobNotFound(
                f"blob {sha256} is missing from project {self.project!r} at {self.url}: the "
                "project is incomplete; restore it from a backup"
            )
        data = bytes(row[0])
        if blob_hash(data) != sha256:
            raise BlobCorrupt(
                f"blob {sha256} in project {self.project!r} at {self.url} no longer matches "
                "its hash: it is damaged; restore it from a backup"
            )
        return data

    def read_blob_range(self, sha256: str, offset: int, length: int) -> bytes:
        check_int("offset", offset, minimum=0)
        check_int("length", length, minimum=0)
        with self._session() as conn, conn.cursor(binary=True) as cur:
            row = cur.execute(self._sql.blob_range, (offset + 1, length, sha256)).fetchone()
        return self.get_blob(sha256) if row is None else bytes(row[0])  # missing: its BlobNotFound

    def has_blob(self, sha256: str) -> bool:
        with self._session() as conn:
            return conn.execute(self._sql.has_blob, (sha256,)).fetchone() is not None

    # -- integrity and lifetime -----------------------------------------------------
    def chain_hash(self, position: int) -> str | None:
        check_int("position", position, minimum=0)
        with self._session() as conn, conn.cursor(binary=True) as cur:
            row = cur.execute(self._sql.hash_at, (position,)).fetchone()
        return None if row is None else bytes(row[0]).hex()

    def verify(self) -> Verification:
        return verify_chain(self._stored_pages())

    def _stored_pages(self) -> Iterator[list[StoredRow]]:
        position = 0
        while True:
            with self._session() as conn, conn.cursor(binary=True) as cur:
                cur.execute(self._sql.stored_page, (position, PAGE_SIZE))
                rows: list[StoredRow] = cur.fetchall()
            yield rows
            if len(rows) < PAGE_SIZE:
                return
            position = rows[-1][0]

    def integrity_check(self) -> str:
        """The server checks its own pages (and, in ``StoreCorrupt``, says when it finds
        them damaged); this checks what only the layout knows: positions 1..head with no
        hole and no duplicate, the project's tables readable end to end."""
        with self._session() as conn:
            count, first, last = conn.execute(self._sql.position_summary).fetchone() or (0, None, None)
            conn.execute(self._sql.scan_blobs).fetchone()
            conn.execute(self._sql.scan_snapshots).fetchone()
        if count and (first != 1 or last != count):
            return f"positions run from {first} to {last} over {count} events: the log has holes"
        return "ok"

    def close(self) -> None:
        self._connections.close_all()

    def __repr__(self) -> str:
        return f"PostgresEventStore({self.url!r}{', read_only' if self.read_only else ''})"
