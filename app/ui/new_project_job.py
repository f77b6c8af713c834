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
from domain.images import Dataset, DatasetStream

Progress = tuple[str, int, int, str]  # stage, images done, images in all, class folder
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

        decoding = threading.Event()  # a folder's images are being decoded: count those

        def report(stage: str, done: int, total: int) -> None:
            if stop.is_set():
                raise Cancelled("cancelled")
            if not (stage == "storing" and decoding.is_set()):  # storing runs a chunk behind
                updates.put((stage, done, total, ""))

        def decoded(done: int, total: int, folder: str) -> None:
            if stop.is_set():
                raise Cancelled("cancelled")
            if done < total:
                decoding.set()
            else:
                decoding.clear()
            updates.put(("reading", done, total, folder))

        def work() -> None:
            try:
                with DecodeWorkers(stop=stop.is_set) as workers:
                    updates.put(("reading", 0, 0, ""))
                    dataset: Dataset | DatasetStream
                    if kind == "mnist":
                        dataset = load_mnist(resources)
                    elif source is not None and source.expanduser().is_dir():
                        from domain.image_folder import stream_folder

                        workers.start()  # they boot while the folder is listed
                        dataset = stream_folder(source, workers, progress=decoded)
                    else:
                        dataset = open_dataset(source or "", workers)
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
    """Show a progress item in the import's dialog: the stage, the class folder being
    decoded (an image folder's), and a bar of images."""
    stage, done, total, folder = item
    dialog.setAutoReset(False)  # "storing" reaches its end, then "mapping" begins
    dialog.setAutoClose(False)
    what = _STAGES.get(stage, stage)
    where = f" · {folder}" if folder else ""
    dialog.setLabelText(f"{what}… {done:,} of {total:,}{where}" if total else f"{what}…")
    dialog.setRange(0, total)
    dialog.setValue(done)
