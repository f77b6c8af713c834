"""The concurrency half of the event-store contract: threads, processes, followers, kills.

Mixed into ``EventStoreContract``; its tests use that class's ``store`` fixture and
``storage_check`` hook, so a backend passes both halves by subclassing the one class.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from eventstore import ANY, NO_STREAM, ConcurrencyError, NewEvent, open_store

WRITER = str(Path(__file__).with_name("store_writer.py"))
ROOT = str(Path(__file__).resolve().parents[2])


def ticks(n: int, **extra) -> list[NewEvent]:
    return [NewEvent("Tick", {"i": i, **extra}) for i in range(n)]


def spawn_writer(url: str, stream: str, batches: int, batch_size: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.Popen(
        [sys.executable, WRITER, url, stream, str(batches), str(batch_size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def assert_batches_whole(events) -> None:
    """Each writer batch is contiguous in global order and complete."""
    by_batch = collections.defaultdict(list)
    for e in events:
        by_batch[(e.data["writer"], e.data["batch"])].append(e)
    for key, members in by_batch.items():
        positions = [e.position for e in members]
        assert len(members) == members[0].data["n"], f"partial batch {key}"
        assert positions == list(range(positions[0], positions[0] + len(positions))), (
            f"batch {key} interleaved with another: {positions}"
        )
        assert [e.data["i"] for e in members] == list(range(len(members)))


class ConcurrencyContract:
    """Appends from many threads and processes, followers, and a writer killed mid-append."""

    def test_threads_appending_concurrently_never_interleave_a_batch(self, store_url, store):
        def writer(name: str) -> None:
            with open_store(store_url) as own:
                for batch in range(40):
                    own.append(
                        name,
                        [
                            NewEvent("Tick", {"writer": name, "batch": batch, "i": i, "n": 5})
                            for i in range(5)
                        ],
                        batch * 5,
                    )

        threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(2)]
        # the shared store object across threads must be safe too
        shared = threading.Thread(
            target=lambda: [
                store.append(
                    "shared",
                    [NewEvent("Tick", {"writer": "shared", "batch": b, "i": i, "n": 3}) for i in range(3)],
                    ANY,
                )
                for b in range(40)
            ]
        )
        for t in (*threads, shared):
            t.start()
        for t in (*threads, shared):
            t.join()
        events = list(store.read_all())
        assert [e.position for e in events] == list(range(1, 2 * 200 + 120 + 1))
        assert_batches_whole(events)

    def test_queued_writers_are_checked_one_by_one(self, store):
        """Appends that queue in one store and commit together still succeed or conflict
        each on its own: one winner per expected version, the others untouched."""
        store.append("same", ticks(1), NO_STREAM)
        barrier = threading.Barrier(8)
        outcomes: list[object] = []

        def contend(k: int) -> None:
            barrier.wait()
            try:
                if k % 2:
                    outcomes.append(store.append(f"free{k}", ticks(2), NO_STREAM))
                else:
                    outcomes.append(store.append("same", ticks(3, k=k), 1))
            except ConcurrencyError as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=contend, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        conflicts = [o for o in outcomes if isinstance(o, ConcurrencyError)]
        assert len(conflicts) == 3 and all(c.stream_id == "same" for c in conflicts)
        assert store.stream_version("same") == 4
        assert all(store.stream_version(f"free{k}") == 2 for k in range(1, 8, 2))
        assert store.head() == 1 + 3 + 4 * 2
        assert sorted(o for o in outcomes if isinstance(o, int))[-1] == store.head()
        assert store.verify().ok

    def test_processes_appending_concurrently_never_interleave_or_reuse_positions(self, store_url, store):
        writers = [spawn_writer(store_url, f"p{k}", 30, 7) for k in range(2)]
        for w in writers:
            out, err = w.communicate(timeout=120)
            assert w.returncode == 0, err
            assert out.count("ACK") == 30
        events = list(store.read_all())
        assert [e.position for e in events] == list(range(1, 2 * 30 * 7 + 1))
        assert_batches_whole(events)

    def test_followers_see_every_event_once_in_order(self, store_url, store):
        """10 writer processes x 100 appends; 2 readers follow with wait_for_new."""
        total = 10 * 100 * 2
        seen: list[list[int]] = [[], []]

        def follow(slot: int) -> None:
            with open_store(store_url) as reader:
                position = 0
                deadline = time.monotonic() + 180
                while position < total and time.monotonic() < deadline:
                    reader.wait_for_new(position, timeout=5)
                    for event in reader.read_all(after=position):
                        seen[slot].append(event.position)
                        position = event.position

        readers = [threading.Thread(target=follow, args=(k,)) for k in range(2)]
        for r in readers:
            r.start()
        writers = [spawn_writer(store_url, f"w{k}", 100, 2) for k in range(10)]
        for w in writers:
            _, err = w.communicate(timeout=180)
            assert w.returncode == 0, err
        for r in readers:
            r.join(timeout=60)
        assert seen[0] == list(range(1, total + 1))
        assert seen[1] == list(range(1, total + 1))
        assert_batches_whole(store.read_all())

    def test_wait_for_new_wakes_on_another_process_and_times_out_otherwise(self, store_url, store):
        start = time.monotonic()
        assert store.wait_for_new(0, timeout=0.2) == 0
        assert time.monotonic() - start >= 0.19
        writer = spawn_writer(store_url, "late", 1, 1)
        start = time.monotonic()
        head = store.wait_for_new(0, timeout=30)
        assert head >= 1
        assert time.monotonic() - start < 10  # woke on the commit, not on the timeout
        writer.communicate(timeout=60)

    def test_wait_for_new_wakes_on_a_thread_of_this_store(self, store):
        timer = threading.Timer(0.1, lambda: store.append("s", ticks(1), ANY))
        timer.start()
        start = time.monotonic()
        assert store.wait_for_new(0, timeout=30) == 1
        assert time.monotonic() - start < 5
        timer.join()

    def test_subscribe_catches_up_then_follows(self, store):
        store.append("s", ticks(3), ANY)
        received: list[int] = []
        done = threading.Event()

        def consume() -> None:
            for event in store.subscribe(after=1, should_stop=done.is_set, poll=0.05):
                received.append(event.position)
                if event.position == 5:
                    done.set()

        t = threading.Thread(target=consume)
        t.start()
        time.sleep(0.1)
        store.append("s", ticks(2), ANY)
        t.join(timeout=10)
        assert received == [2, 3, 4, 5]

    def test_sigkill_mid_append_loses_no_acknowledged_batch(self, store_url, store):
        rng = random.Random(20261123)
        acknowledged: dict[str, set[int]] = {}
        for round_ in range(20):
            stream = f"k{round_}"
            writer = spawn_writer(store_url, stream, -1, rng.choice([1, 3, 25]))
            wanted = rng.randint(1, 15)
            acks = set()
            for line in writer.stdout:
                acks.add(int(line.split()[1]))
                if len(acks) >= wanted:
                    break
            time.sleep(rng.random() * 0.02)  # land the kill anywhere in the next appends
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
            writer.stdout.close()
            writer.stderr.close()
            acknowledged[stream] = acks
        assert self.storage_check(store_url) == "ok"
        with open_store(store_url) as reopened:
            events = list(reopened.read_all())
            assert reopened.verify().ok
        assert [e.position for e in events] == list(range(1, len(events) + 1))
        assert_batches_whole(events)
        present = {(e.data["writer"], e.data["batch"]) for e in events}
        for stream, acks in acknowledged.items():
            for batch in acks:
                assert (stream, batch) in present, f"acknowledged batch {stream}/{batch} lost"
