"""The contract every event-store backend passes.

A backend's test module subclasses ``EventStoreContract`` and provides the ``store_url``
fixture plus the three hooks that reach behind the store's back (tampering with a row or
a blob, and the backend's own storage check). Nothing else may be backend-specific. The
concurrency cases (threads, processes, followers, kills) are in eventstore_concurrency_contract.py.
"""

from __future__ import annotations

import abc
import os
import time

import pytest

from eventstore import (
    ANY,
    NO_STREAM,
    BlobCorrupt,
    BlobNotFound,
    ConcurrencyError,
    EventEncodingError,
    NewEvent,
    StoreError,
    StoreReadOnly,
    open_store,
)

from .eventstore_concurrency_contract import ConcurrencyContract, ticks

__all__ = ["EventStoreContract", "ticks"]


class EventStoreContract(ConcurrencyContract, abc.ABC):
    """Subclass as ``Test<Backend>Contract`` and define a ``store_url`` fixture."""

    # -- hooks a backend provides ---------------------------------------------------
    @abc.abstractmethod
    def tamper_event(self, url: str, position: int) -> None:
        """Edit the data of the row at ``position`` behind the store's back."""

    @abc.abstractmethod
    def tamper_blob(self, url: str, sha: str) -> None:
        """Replace a stored blob's bytes behind the store's back."""

    @abc.abstractmethod
    def storage_check(self, url: str) -> str:
        """The backend's own storage integrity check; ``"ok"`` when sound."""

    @pytest.fixture
    def store(self, store_url):
        with open_store(store_url, create=True) as store:
            yield store

    # -- appending and reading ------------------------------------------------------
    def test_positions_start_at_one_and_increase_by_one(self, store):
        assert store.head() == 0
        assert store.append("a", ticks(3), NO_STREAM) == 3
        assert store.append("b", ticks(2), NO_STREAM) == 5
        events = list(store.read_all())
        assert [e.position for e in events] == [1, 2, 3, 4, 5]
        assert [(e.stream_id, e.version) for e in events] == [
            ("a", 1),
            ("a", 2),
            ("a", 3),
            ("b", 1),
            ("b", 2),
        ]
        assert store.head() == 5

    def test_recorded_event_round_trips_everything(self, store):
        before = time.time()
        data = {"sample": 7, "label": "seven", "nested": {"xs": [1, 2.5, None, True]}, "ü": "ß"}
        store.append("s", [NewEvent("LabelAssigned", data, {"annotator": "ada"}, 3)], ANY)
        (event,) = store.read_all()
        assert event.type == "LabelAssigned"
        assert event.schema_version == 3
        assert event.data == data
        assert event.metadata == {"annotator": "ada"}
        assert before - 1 <= event.recorded_at <= time.time() + 1

    def test_expected_version_conflicts_write_nothing(self, store):
        store.append("s", ticks(2), NO_STREAM)
        with pytest.raises(ConcurrencyError, match="version 2"):
            store.append("s", ticks(5), 1)
        with pytest.raises(ConcurrencyError):
            store.append("s", ticks(1), NO_STREAM)
        with pytest.raises(ConcurrencyError):
            store.append("fresh", ticks(1), 4)
        assert store.head() == 2
        assert store.stream_version("s") == 2
        assert store.stream_version("fresh") == 0
        assert store.append("s", ticks(1), 2) == 3
        assert store.append("s", ticks(1), ANY) == 4
        assert store.append("fresh", ticks(1), 0) == 5

    def test_batch_with_one_unencodable_event_writes_nothing(self, store):
        store.append("s", ticks(1), NO_STREAM)
        batch = [*ticks(3), NewEvent("Broken", {"x": object()}), *ticks(2)]
        with pytest.raises(EventEncodingError, match="Broken"):
            store.append("s", batch, ANY)
        with pytest.raises(EventEncodingError, match="metadata"):
            store.append("s", [NewEvent("Meta", {}, {"when": {1, 2}})], ANY)
        assert store.head() == 1
        assert [e.type for e in store.read_all()] == ["Tick"]

    def test_empty_batch_is_a_no_op(self, store):
        store.append("s", ticks(2), NO_STREAM)
        assert store.append("other", [], NO_STREAM) == 2
        assert store.stream_version("other") == 0
        assert store.head() == 2

    def test_bad_arguments_are_refused_clearly(self, store):
        with pytest.raises(StoreError, match="expected_version"):
            store.append("s", ticks(1), "latest")
        with pytest.raises(StoreError, match="stream id"):
            store.append("", ticks(1), ANY)
        with pytest.raises(StoreError, match="NewEvent"):
            store.append("s", [{"type": "Tick"}], ANY)
        with pytest.raises(StoreError, match="event type"):
            store.append("s", [NewEvent(5, {})], ANY)
        with pytest.raises(StoreError, match="schema_version"):
            store.append("s", [NewEvent("T", {}, {}, True)], ANY)
        with pytest.raises(StoreError, match="after"):
            list(store.read_all(after=-1))
        assert store.head() == 0

    def test_read_all_bounds_and_pages(self, store):
        n = 45_123  # spans several pages
        for start in range(0, n, 10_000):
            store.append("s", ticks(min(10_000, n - start)), ANY)
        everything = store.read_all()
        assert iter(everything) is everything  # lazy: an iterator, not a list
        positions = [e.position for e in everything]
        assert positions == list(range(1, n + 1))
        assert [e.position for e in store.read_all(after=20_000, until=20_003)] == [20_001, 20_002, 20_003]
        assert [e.position for e in store.read_all(after=n - 2)] == [n - 1, n]
        assert list(store.read_all(after=n)) == []
        assert list(store.read_all(after=10, until=10)) == []
        assert sum(1 for _ in store.read_all(after=19_999, until=40_001)) == 20_002

    def test_read_stream_from_version(self, store):
        store.append("a", ticks(3, s="a"), NO_STREAM)
        store.append("b", ticks(3, s="b"), NO_STREAM)
        store.append("a", ticks(2, s="a2"), 3)
        assert [e.version for e in store.read_stream("a")] == [1, 2, 3, 4, 5]
        assert [e.position for e in store.read_stream("a", from_version=3)] == [3, 7, 8]
        assert {e.stream_id for e in store.read_stream("a")} == {"a"}
        assert list(store.read_stream("missing")) == []

    def test_read_stream_after_limit_and_backwards(self, store):
        store.append("a", ticks(3), NO_STREAM)
        store.append("b", ticks(3), NO_STREAM)
        store.append("a", ticks(4), 3)
        assert [e.version for e in store.read_stream("a", after=2)] == [3, 4, 5, 6, 7]
        assert [e.position for e in store.read_stream("a", after=2, limit=2)] == [3, 7]
        assert [e.version for e in store.read_stream("a", backwards=True)] == [7, 6, 5, 4, 3, 2, 1]
        assert [e.version for e in store.read_stream("a", backwards=True, limit=1)] == [7]
        assert [e.version for e in store.read_stream("a", after=4, backwards=True)] == [7, 6, 5]
        assert list(store.read_stream("a", limit=0)) == []
        assert list(store.read_stream("a", after=7)) == []
        with pytest.raises(StoreError, match="limit"):
            list(store.read_stream("a", limit=-1))
        with pytest.raises(StoreError, match="after"):
            list(store.read_stream("a", after=-1))

    def test_read_stream_pages_forwards_and_backwards(self, store):
        n = 25_123  # more than one page
        store.append("long", ticks(n), NO_STREAM)
        store.append("other", ticks(3), NO_STREAM)
        assert [e.version for e in store.read_stream("long")] == list(range(1, n + 1))
        assert [e.version for e in store.read_stream("long", backwards=True)] == list(range(n, 0, -1))
        tail = list(store.read_stream("long", after=n - 21_000, limit=20_500))
        assert [e.version for e in tail] == list(range(n - 20_999, n - 20_999 + 20_500))

    def test_read_all_limit(self, store):
        store.append("s", ticks(30), ANY)
        assert [e.position for e in store.read_all(limit=3)] == [1, 2, 3]
        assert [e.position for e in store.read_all(after=10, until=20, limit=4)] == [11, 12, 13, 14]
        assert [e.position for e in store.read_all(after=27, limit=10)] == [28, 29, 30]
        assert list(store.read_all(limit=0)) == []
        with pytest.raises(StoreError, match="limit"):
            list(store.read_all(limit=-2))

    def test_read_all_limit_spans_pages(self, store):
        store.append("s", ticks(25_000), ANY)
        assert [e.position for e in store.read_all(after=3, limit=21_000)] == list(range(4, 21_004))

    # -- batches over several streams ------------------------------------------------------
    def test_append_batch_writes_several_streams_in_order(self, store):
        store.append("a", ticks(1), NO_STREAM)
        last = store.append_batch(
            [
                ("a", ticks(2, s="a"), 1),
                ("b", ticks(3, s="b"), NO_STREAM),
                ("a", ticks(1, s="a-again"), 3),  # sees the versions the entries before it leave
            ]
        )
        assert last == 7
        events = list(store.read_all())
        assert [(e.position, e.stream_id, e.version) for e in events] == [
            (1, "a", 1),
            (2, "a", 2),
            (3, "a", 3),
            (4, "b", 1),
            (5, "b", 2),
            (6, "b", 3),
            (7, "a", 4),
        ]
        assert store.verify().ok

    def test_append_batch_is_all_or_nothing_across_streams(self, store):
        store.append("a", ticks(1), NO_STREAM)
        store.append("b", ticks(1), NO_STREAM)
        with pytest.raises(ConcurrencyError) as info:
            store.append_batch([("a", ticks(5), 1), ("b", ticks(1), NO_STREAM)])
        assert info.value.stream_id == "b"
        with pytest.raises(EventEncodingError):
            store.append_batch([("a", ticks(5), 1), ("c", [NewEvent("Bad", {"x": object()})], ANY)])
        with pytest.raises(ConcurrencyError):
            store.append_batch([("a", ticks(1), 1), ("a", ticks(1), 1)])  # the second sees 2
        assert store.head() == 2
        assert store.stream_version("a") == 1
        assert store.stream_version("c") == 0
        assert store.append_batch([("a", ticks(1), 1), ("b", ticks(1), 1)]) == 4

    def test_append_batch_edge_cases(self, store):
        assert store.append_batch([]) == 0
        assert store.append_batch([("a", [], NO_STREAM), ("b", [], 7)]) == 0
        with pytest.raises(StoreError, match="tuple"):
            store.append_batch([("a", ticks(1))])
        with pytest.raises(StoreError, match="expected_version"):
            store.append_batch([("a", ticks(1), ANY), ("b", ticks(1), -3)])
        with pytest.raises(StoreError, match="list"):
            store.append_batch("a")
        assert store.head() == 0

    def test_unusual_names_chain_and_verify(self, store):
        """The fast hash-chain path must agree byte for byte with the definition."""
        store.append_batch(
            [
                (
                    'str\u00e9am "quoted" \\ \n ü 🦉',
                    [
                        NewEvent('Typ"e', {"ü": "ß", "f": 1e-7, "big": 2**53 + 1}, {}, 7),
                        NewEvent("Other", {"nested": {"b": 1, "a": [None, True]}}),
                        NewEvent('Typ"e', {}, {"m": -0.0}),
                    ],
                    NO_STREAM,
                ),
                ("plain", ticks(2), ANY),
            ]
        )
        assert store.verify().ok
        (first, *_) = store.read_all()
        assert first.stream_id == 'str\u00e9am "quoted" \\ \n ü 🦉'
        assert first.schema_version == 7

    # -- tamper evidence ----------------------------------------------------------------
    def test_verify_passes_on_an_untouched_log(self, store):
        for k in range(5):
            store.append(f"s{k}", ticks(10), NO_STREAM)
        result = store.verify()
        assert result.ok and result.checked == 50 and result.position is None

    def test_a_row_edited_behind_the_stores_back_fails_verify(self, store_url, store):
        store.append("s", ticks(20), NO_STREAM)
        self.tamper_event(store_url, 13)
        with open_store(store_url) as reopened:
            result = reopened.verify()
        assert not result.ok
        assert result.position == 13
        assert "13" in str(result)

    # -- snapshots and blobs ----------------------------------------------------------------
    def test_snapshot_round_trip_and_replace(self, store):
        store.append("s", ticks(10), ANY)
        assert store.load_snapshot("labels") is None
        store.save_snapshot("labels", 4, b"\x00state-at-4")
        store.save_snapshot("labels", 9, b"state-at-9")
        snap = store.load_snapshot("labels")
        assert (snap.name, snap.position, snap.payload) == ("labels", 9, b"state-at-9")
        store.delete_snapshot("labels")
        assert store.load_snapshot("labels") is None
        assert store.head() == 10  # deleting a snapshot loses nothing

    def test_snapshot_past_the_head_is_refused(self, store):
        store.append("s", ticks(2), ANY)
        with pytest.raises(StoreError, match="past the log's head"):
            store.save_snapshot("x", 3, b"")

    def test_a_blob_range_reads_those_bytes_only(self, store):
        data = bytes(range(256)) * 1000
        sha = store.put_blob(data)
        assert store.read_blob_range(sha, 0, 10) == data[:10]
        assert store.read_blob_range(sha, 1000, 300) == data[1000:1300]
        assert store.read_blob_range(sha, len(data) - 5, 100) == data[-5:]  # fewer past the end
        assert store.read_blob_range(sha, len(data) + 10, 5) == b""
        with pytest.raises(BlobNotFound):
            store.read_blob_range("0" * 64, 0, 1)
        with pytest.raises(StoreError, match="offset must be an integer >= 0"):
            store.read_blob_range(sha, -1, 5)

    def test_blob_round_trip_is_idempotent_and_content_addressed(self, store):
        payload = os.urandom(3_000_000)
        sha = store.put_blob(payload)
        assert len(sha) == 64
        assert store.put_blob(bytearray(payload)) == sha
        assert store.has_blob(sha)
        assert store.get_blob(sha) == payload
        assert not store.has_blob("0" * 64)
        with pytest.raises(BlobNotFound, match="missing"):
            store.get_blob("0" * 64)

    def test_a_damaged_blob_is_reported_not_returned(self, store_url, store):
        sha = store.put_blob(b"checkpoint bytes")
        self.tamper_blob(store_url, sha)
        with open_store(store_url) as reopened, pytest.raises(BlobCorrupt, match="damaged"):
            reopened.get_blob(sha)

    # -- lifetime --------------------------------------------------------------------------
    def test_read_only_store_refuses_writes_and_keeps_data(self, store_url, store):
        store.append("s", ticks(2), ANY)
        with open_store(store_url, read_only=True) as ro:
            assert [e.position for e in ro.read_all()] == [1, 2]
            with pytest.raises(StoreReadOnly):
                ro.append("s", ticks(1), ANY)
            with pytest.raises(StoreReadOnly):
                ro.put_blob(b"x")
        assert store.head() == 2

    def test_closed_store_says_so(self, store_url):
        s = open_store(store_url, create=True)
        s.close()
        s.close()  # idempotent
        with pytest.raises(StoreError, match="closed"):
            s.head()
