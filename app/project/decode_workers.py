"""Worker processes that read a folder's images in parallel, handed to the domain's
reader as a plain mapper (``domain.image_folder.Mapper``): the domain says what to read,
this module where it runs.

``DecodeWorkers`` is a context manager; inside it, ``workers(function, items)`` yields
``function(item)`` in order, like ``map``. Each item goes to the worker with the fewest
items in hand, a few items ahead of the one being consumed (so memory holds a few groups
of images, never the folder). The workers are plain child processes (a fresh interpreter
each, never a fork of this one, which may run Qt and other threads) that import only
this module (no JAX, no Qt, no project code) and whatever module the function lives in;
they read pickled ``(function, item, slot)`` on stdin and answer on stdout.

Pixels do not travel through the pipes: a worker writes the bytes it returns into its
slot of a shared buffer (an anonymous memory file, ``os.memfd_create``, handed to the
workers as an open descriptor: it has no name, so nothing is left behind however the
processes end) and answers with their length; this process copies them out and frees
the slot. No multiprocessing machinery (fork server, resource tracker) is used.

The workers start on the first call that has more than one item (a small folder is read
here, at no start-up cost) and end when the block ends, however it ends: an error, a
cancellation or Ctrl+C (the workers ignore SIGINT; this process stops them, at once when
they still hold work). A worker whose parent died sees its stdin close and ends too.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any

from app.project.errors import ProjectError

AHEAD_PER_WORKER = 3
"""Items handed out ahead of the one being consumed, per worker: enough that no worker
waits while this process stores a batch, few enough that memory holds a handful of groups."""
SLOT_BYTES = 4 * 1024 * 1024
"""A shared-buffer slot: a result of bytes up to this size (a group of images' pixels;
see ``domain.image_folder.GROUP_BYTES``) is handed over through it, anything else pickled."""
_HEADER = struct.Struct("<Q")
_ERROR, _VALUE, _SHARED = 0, 1, 2  # what an answer holds


class Cancelled(Exception):
    """The reading was cancelled (``DecodeWorkers``' ``stop`` said so)."""


class DecodeWorkers:
    """A mapper over ``count`` worker processes (default: ``os.cpu_count()``). When
    ``stop()`` becomes true, the next item raises ``Cancelled`` (checked between items,
    so a cancellation takes effect within one group of images)."""

    def __init__(self, count: int | None = None, stop: Callable[[], bool] | None = None) -> None:
        self.count = max(1, count if count is not None else (os.cpu_count() or 1))
        self._stop = stop
        self._workers: list[subprocess.Popen[bytes]] = []
        self._buffer: mmap.mmap | None = None
        self._fd = -1
        self._busy = 0  # items handed out whose answer has not been read

    def __enter__(self) -> DecodeWorkers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def started(self) -> bool:
        return bool(self._workers)

    def start(self) -> None:
        """Start the workers now (when a folder is certain to be read: they boot while
        it is listed) rather than on the first call with more than one item."""
        if self.count > 1:
            self._start()

    def __call__(self, function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self._map(function, iter(items))

    def close(self) -> None:
        """Stop the workers: idle ones see their input end and exit; ones still holding
        work (a cancellation, an error, Ctrl+C) are terminated, so none finishes a group
        nobody wants. Every process has ended on return."""
        workers, self._workers = self._workers, []
        hurry, self._busy = self._busy > 0, 0
        for worker in workers:
            for pipe in (worker.stdin, worker.stdout):
                with contextlib.suppress(OSError):
                    if pipe is not None:
                        pipe.close()
            if hurry:
                with contextlib.suppress(OSError):
                    worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        buffer, self._buffer = self._buffer, None
        if buffer is not None:
            buffer.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _map(self, function: Callable[[Any], Any], items: Iterator[Any]) -> Iterator[Any]:
        first = next(items, _END)
        second = next(items, _END) if first is not _END else _END
        if second is _END or self.count == 1:  # nothing to share: read here
            for item in (first, second):
                if item is not _END:
                    self._check()
                    yield function(item)
            for item in items:
                self._check()
                yield function(item)
            return
        if self._busy:  # a reading left unfinished: its answers would come out of turn
            self.close()
        workers = self._start()
        ahead = AHEAD_PER_WORKER * len(workers)
        holding = [0] * len(workers)  # items each worker has in hand
        free = deque(range(ahead)) if self._buffer is not None else deque()
        pending: deque[tuple[int, int | None]] = deque()  # (worker, slot), in item order

        def send(item: Any) -> None:
            w = holding.index(min(holding))
            slot = free.popleft() if free else None
            place = None if slot is None else (slot * SLOT_BYTES, SLOT_BYTES)
            _write(workers[w], pickle.dumps((function, item, place), protocol=pickle.HIGHEST_PROTOCOL))
            holding[w] += 1
            self._busy += 1
            pending.append((w, slot))

        def receive() -> Any:
            w, slot = pending.popleft()
            try:
                return self._answer(workers[w], slot)
            finally:
                holding[w] -= 1
                self._busy -= 1
                if slot is not None:
                    free.append(slot)

        try:
            send(first)
            send(second)
            for item in items:
                if len(pending) >= ahead:
                    self._check()
                    yield receive()
                send(item)
            while pending:
                self._check()
                yield receive()
        except BaseException:
            # Answers still owed would arrive out of turn for the next call: these
            # workers are done with.
            if pending:
                self.close()
            raise

    def _check(self) -> None:
        if self._stop is not None and self._stop():
            raise Cancelled("cancelled")

    def _answer(self, worker: subprocess.Popen[bytes], slot: int | None) -> Any:
        kind, value = pickle.loads(_read(worker))
        if kind == _ERROR:
            raise value
        if kind == _VALUE:
            return value
        assert self._buffer is not None and slot is not None
        start = slot * SLOT_BYTES
        return self._buffer[start : start + value]  # a copy: the slot is handed out again next

    def _start(self) -> list[subprocess.Popen[bytes]]:
        if self._workers:
            return self._workers
        fds: tuple[int, ...] = ()
        size = AHEAD_PER_WORKER * self.count * SLOT_BYTES
        if hasattr(os, "memfd_create"):  # elsewhere (not Linux) arrays travel pickled
            self._fd = os.memfd_create("ledgerlab-decode", os.MFD_CLOEXEC)
            os.ftruncate(self._fd, size)
            self._buffer = mmap.mmap(self._fd, size)
            fds = (self._fd,)
        # No site (-S): the paths are this process's, and the packages it found are found.
        path = [p for p in sys.path if p] + [_ROOT]
        script = _WORKER.format(path=path, fd=fds[0] if fds else -1, size=size)
        for _ in range(self.count):
            worker = subprocess.Popen(
                [sys.executable, "-S", "-c", script],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=fds,
            )
            self._workers.append(worker)
        return self._workers


def _write(worker: subprocess.Popen[bytes], data: bytes) -> None:
    pipe = worker.stdin
    try:
        assert pipe is not None
        pipe.write(_HEADER.pack(len(data)) + data)
        pipe.flush()
    except (BrokenPipeError, OSError) as exc:
        raise _stopped(worker) from exc


def _read(worker: subprocess.Popen[bytes]) -> bytes:
    pipe = worker.stdout
    assert pipe is not None
    header = pipe.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise _stopped(worker)
    (length,) = _HEADER.unpack(header)
    data = pipe.read(length)
    if len(data) != length:
        raise _stopped(worker)
    return data


def _stopped(worker: subprocess.Popen[bytes]) -> ProjectError:
    code = worker.poll()
    return ProjectError(
        "a worker process reading the images stopped unexpectedly"
        + (f" (exit status {code})" if code is not None else "")
        + "; run the command again (if memory is short, close other programs first)"
    )


def serve(requests: IO[bytes], answers: IO[bytes], buffer: mmap.mmap | None = None) -> None:
    """A worker's loop: ``(function, item, slot)`` in, until its input ends. A result of
    bytes that fits its slot (``(offset, size)`` in ``buffer``) is written there and
    answered by its length; any other result, or an error, is answered pickled."""
    while True:
        header = requests.read(_HEADER.size)
        if len(header) != _HEADER.size:
            return
        (length,) = _HEADER.unpack(header)
        request = requests.read(length)
        if len(request) != length:  # the input ended mid-request: this process is stopping
            return
        function, item, place = pickle.loads(request)
        try:
            answer: tuple[int, Any] = (_VALUE, function(item))
            answer = _share(answer[1], buffer, place) or answer
        except Exception as exc:  # handed back, raised there
            answer = (_ERROR, exc)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an error that cannot travel: its words do
            data = pickle.dumps((_ERROR, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
        try:
            answers.write(_HEADER.pack(len(data)) + data)
            answers.flush()
        except (BrokenPipeError, OSError):  # nobody wants it any more
            return


def _share(result: Any, buffer: mmap.mmap | None, place: tuple[int, int] | None) -> tuple[int, Any] | None:
    """``result`` written into its slot, if it is bytes that fit: the answer that says so."""
    if buffer is None or place is None or not isinstance(result, bytes | bytearray):
        return None
    if len(result) > place[1]:
        return None
    buffer[place[0] : place[0] + len(result)] = result
    return _SHARED, len(result)


# The worker: SIGINT ignored before anything else (Ctrl+C is this process's to handle);
# stdout kept for answers, anything printed goes to stderr; the shared buffer mapped.
_WORKER = """\
import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)
import os, sys; sys.path[:0] = {path!r}
answers = os.fdopen(os.dup(1), "wb"); os.dup2(2, 1)
import mmap; buffer = mmap.mmap({fd}, {size}) if {fd} >= 0 else None
from app.project.decode_workers import serve; serve(sys.stdin.buffer, answers, buffer)
"""

_END = object()
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The folder that holds the ``app`` and ``domain`` packages."""
