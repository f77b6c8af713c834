"""Worker processes that read a folder's images in parallel, handed to the domain's
reader as a plain mapper (``domain.image_folder.Mapper``): the domain says what to read,
this module where it runs.

``DecodeWorkers`` is a context manager; inside it, ``workers(function, items)`` yields
``function(item)`` in order, like ``map``, computing a few items ahead in worker processes
(so memory holds a few groups of images, never the folder). The processes start on the
first call that has more than one item (a small folder is read here, at no start-up
cost) and end when the block ends, however it ends: an error, a cancellation or Ctrl+C
(the workers ignore SIGINT; this process stops them) leaves no process behind.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any

from app.project.errors import ProjectError

AHEAD_PER_WORKER = 3
"""Items submitted ahead of the one being consumed, per worker: enough that no worker waits
while this process stores a batch, few enough that memory holds a handful of groups."""


class DecodeWorkers:
    """A mapper over ``count`` worker processes (default: ``os.cpu_count()``)."""

    def __init__(self, count: int | None = None) -> None:
        self.count = max(1, count if count is not None else (os.cpu_count() or 1))
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> DecodeWorkers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def started(self) -> bool:
        return self._executor is not None

    def __call__(self, function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self._map(function, iter(items))

    def close(self) -> None:
        """Stop the workers: queued items are dropped, the ones being read finish (one
        group each), then every process has exited."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _map(self, function: Callable[[Any], Any], items: Iterator[Any]) -> Iterator[Any]:
        first = next(items, _END)
        second = next(items, _END) if first is not _END else _END
        if second is _END or self.count == 1:  # nothing to share: read here
            for item in (first, second):
                if item is not _END:
                    yield function(item)
            yield from map(function, items)
            return
        executor = self._start()
        pending: deque[Future[Any]] = deque(executor.submit(function, item) for item in (first, second))
        ahead = AHEAD_PER_WORKER * self.count
        try:
            for item in items:
                if len(pending) >= ahead:
                    yield _result(pending.popleft())
                pending.append(executor.submit(function, item))
            while pending:
                yield _result(pending.popleft())
        finally:
            for future in pending:  # abandoned (an error, a cancellation): read no further
                future.cancel()

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # Never fork this process (it may run Qt and other threads): the workers start
            # from a fresh interpreter (the fork server's, or spawned where there is none).
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            self._executor = ProcessPoolExecutor(
                self.count,
                mp_context=context,
                initializer=signal.signal,  # Ctrl+C reaches this process only; it stops them
                initargs=(signal.SIGINT, signal.SIG_IGN),
            )
        return self._executor


def _result(future: Future[Any]) -> Any:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise ProjectError(
            f"a worker process reading the images stopped unexpectedly ({exc}); run the command "
            "again (if memory is short, close other programs first)"
        ) from exc


_END = object()
