"""Worker processes that read a folder's images in parallel, handed to the domain's
reader as a plain mapper (``domain.image_folder.Mapper``): the domain says what to read,
this module where it runs.

``DecodeWorkers`` is a context manager; inside it, ``workers(function, items)`` yields
``function(item)`` in order, like ``map``: item k is computed by worker k mod n, a few
items ahead (so memory holds a few groups of images, never the folder). The workers are
plain child processes (a fresh interpreter each, never a fork of this one, which may run
Qt and other threads) that read pickled ``(function, item)`` on stdin and answer on
stdout; no multiprocessing machinery (fork server, resource tracker) outlives them. They
start on the first call that has more than one item (a small folder is read here, at no
start-up cost) and end when the block ends, however it ends: an error, a cancellation or
Ctrl+C (the workers ignore SIGINT; this process stops them). A worker whose parent died
sees its stdin close and ends too, so none is left behind.
"""

from __future__ import annotations

import contextlib
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
PIPE_BYTES = 1 << 20  # a worker's answer pipe (Linux): a group of images fits, so it goes on
_HEADER = struct.Struct("<Q")


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

    def __enter__(self) -> DecodeWorkers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def started(self) -> bool:
        return bool(self._workers)

    def __call__(self, function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self._map(function, iter(items))

    def close(self) -> None:
        """Stop the workers: each finishes the item in hand (one group of images) and
        exits; its answer, if still unread, is dropped. Every process has ended on return."""
        workers, self._workers = self._workers, []
        for worker in workers:
            for pipe in (worker.stdin, worker.stdout):
                with contextlib.suppress(OSError):
                    if pipe is not None:
                        pipe.close()
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

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
        workers = self._start()
        pending: deque[subprocess.Popen[bytes]] = deque()
        sent = 0

        def send(item: Any) -> None:
            nonlocal sent
            worker = workers[sent % len(workers)]
            _write(worker, pickle.dumps((function, item), protocol=pickle.HIGHEST_PROTOCOL))
            pending.append(worker)
            sent += 1

        send(first)
        send(second)
        ahead = AHEAD_PER_WORKER * len(workers)
        try:
            for item in items:
                if len(pending) >= ahead:
                    self._check()
                    yield _answer(pending.popleft())
                send(item)
            while pending:
                self._check()
                yield _answer(pending.popleft())
        except BaseException:
            # Answers still owed would arrive out of turn for the next call: these
            # workers are done with.
            if pending:
                self.close()
            raise

    def _check(self) -> None:
        if self._stop is not None and self._stop():
            raise Cancelled("cancelled")

    def _start(self) -> list[subprocess.Popen[bytes]]:
        if not self._workers:
            command = [sys.executable, "-c", _WORKER.format(path=[p for p in sys.path if p])]
            for _ in range(self.count):
                worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                _widen(worker.stdout)
                self._workers.append(worker)
        return self._workers


def _widen(pipe: IO[bytes] | None) -> None:
    """A pipe that holds a whole group of images (where Linux allows it)."""
    # Where it cannot be widened, the default pipe serves: the worker waits for us a little more.
    with contextlib.suppress(ImportError, OSError):
        import fcntl

        if pipe is not None:
            fcntl.fcntl(pipe, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)


def _write(worker: subprocess.Popen[bytes], data: bytes) -> None:
    pipe = worker.stdin
    try:
        assert pipe is not None
        pipe.write(_HEADER.pack(len(data)) + data)
        pipe.flush()
    except (BrokenPipeError, OSError) as exc:
        raise _stopped(worker) from exc


def _answer(worker: subprocess.Popen[bytes]) -> Any:
    pipe = worker.stdout
    assert pipe is not None
    header = pipe.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise _stopped(worker)
    (length,) = _HEADER.unpack(header)
    data = pipe.read(length)
    if len(data) != length:
        raise _stopped(worker)
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def _stopped(worker: subprocess.Popen[bytes]) -> ProjectError:
    code = worker.poll()
    return ProjectError(
        "a worker process reading the images stopped unexpectedly"
        + (f" (exit status {code})" if code is not None else "")
        + "; run the command again (if memory is short, close other programs first)"
    )


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """A worker's loop: ``(function, item)`` in, ``(True, result)`` or ``(False, error)``
    out, until its input ends."""
    while True:
        header = requests.read(_HEADER.size)
        if len(header) != _HEADER.size:
            return
        function, item = pickle.loads(requests.read(_HEADER.unpack(header)[0]))
        try:
            answer = (True, function(item))
        except Exception as exc:  # handed back, raised there
            answer = (False, exc)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an error that cannot travel: its words do
            data = pickle.dumps((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
        try:
            answers.write(_HEADER.pack(len(data)) + data)
            answers.flush()
        except (BrokenPipeError, OSError):  # nobody wants it any more
            return


# The worker: SIGINT ignored before anything else (Ctrl+C is this process's to handle);
# stdout kept for answers, anything printed goes to stderr.
_WORKER = """\
import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)
import os, sys; sys.path[:0] = {path!r}
answers = os.fdopen(os.dup(1), "wb"); os.dup2(2, 1)
from app.project.decode_workers import serve; serve(sys.stdin.buffer, answers)
"""

_END = object()
