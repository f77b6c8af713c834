"""File → New project…: the job that creates a project off the GUI thread, streaming the
dataset as ``ledgerlab new`` does (a folder's images decoded by worker processes, the
dataset stored chunk by chunk), with its progress for a dialog and a Cancel that stops it.

The service reports progress through a callback; the job runs it on a thread of its own
and yields what it reports (``(stage, done, total)``: "reading" (total 0: not known
yet), then "storing" and "mapping", counted in images), so it is a plain
``BackgroundJob`` generator. Cancelling stops the reading within one group of images;
the service then removes the half-built file, so nothing is left under the name.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QProgressDialog

from app.project.decode_workers import Cancelled, DecodeWorkers

Progress = tuple[str, int, int]
POLL_S = 0.1  # how soon a Cancel is noticed while nothing is reported
_STAGES = {
    "reading": "Reading the images",
    "storing": "Storing the images",
    "mapping": "Placing them on the map",
}


def new_project_job(
    service: Any, target: Path, kind: str, source: Path | None, resources: Path
) -> Callable[[Callable[[], bool]], Generator[Progress, None, Any]]:
    """The job function: a new project at ``target`` from the embedded MNIST set
    ("mnist"), a .npz file ("npz") or an image folder ("folder")."""
    from domain.dataset import load_mnist, open_dataset

    def create_project(cancelled: Callable[[], bool]) -> Generator[Progress, None, Any]:
        updates: queue.Queue[Progress | None] = queue.Queue()
        stop = threading.Event()
        outcome: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stop.is_set():
                raise Cancelled("cancelled")
            updates.put((stage, done, total))

        def work() -> None:
            try:
                with DecodeWorkers(stop=stop.is_set) as workers:
                    updates.put(("reading", 0, 0))
                    dataset = (
                        load_mnist(resources) if kind == "mnist" else open_dataset(source or "", workers)
                    )
                    report("storing", 0, len(dataset))
                    outcome["project"] = service.create(target, dataset, progress=report)
            except Cancelled:
                pass
            except BaseException as exc:  # handed to the job, which reports it
                outcome["error"] = exc
            finally:
                updates.put(None)

        thread = threading.Thread(target=work, name="ll-new-project", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    item = updates.get(timeout=POLL_S)
                except queue.Empty:
                    if cancelled():
                        stop.set()
                    continue
                if item is None:
                    break
                yield item
        finally:
            # A Cancel (the runner closes this generator) or the end: the thread stops at
            # its next group of images and the half-built file is gone before we return.
            stop.set()
            thread.join()
            project = outcome.get("project")
            if project is not None and cancelled():
                project.close()  # finished just as Cancel was pressed: complete, kept
        if "error" in outcome:
            raise outcome["error"]
        return None if cancelled() else outcome.get("project")

    return create_project


def show_progress(dialog: QProgressDialog, item: Progress) -> None:
    """Show a progress item in the import's dialog: the stage and a bar of images."""
    stage, done, total = item
    dialog.setAutoReset(False)  # "storing" reaches its end, then "mapping" begins
    dialog.setAutoClose(False)
    what = _STAGES.get(stage, stage)
    dialog.setLabelText(f"{what}… {done:,} of {total:,}" if total else f"{what}…")
    dialog.setRange(0, total)
    dialog.setValue(done)
