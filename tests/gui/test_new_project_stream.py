"""Issue 18: File → New project… from an image folder streams it as `ledgerlab new` does
(worker processes, chunks), with the stages and counts in a progress dialog; Cancel
leaves no file and no worker process."""

from __future__ import annotations

import os

import numpy as np
import psutil
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from app.ui.new_project_job import show_progress


def image_folder(root, count, side=16):
    rng = np.random.default_rng(1)
    for i in range(count):
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        target = root / f"kind{i % 3}" / f"{i:04d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(target)
    return root


def test_a_new_project_from_an_image_folder_shows_its_progress(qtbot, make_session, tmp_path):
    folder = image_folder(tmp_path / "pictures", 90)
    session = make_session()
    seen, modal_when_opened = [], []
    session.window.project_opened.connect(lambda _: modal_when_opened.append(dialog.isVisible()))
    with qtbot.waitSignal(session.window.project_opened, timeout=30_000):
        job = session.create(tmp_path / "pictures.ledger", "folder", folder)
        job.progressed.connect(seen.append)
        dialog = session.progress_dialog
        dialog.show()  # as after its minimum duration on a slow import
    # the window that opens takes the keys: the (window-modal) dialog is gone by then
    assert modal_when_opened == [False]
    stages = [stage for stage, _, _, _ in seen]
    assert stages[0] == "reading" and "storing" in stages and stages[-1] == "mapping"
    assert ("storing", 90, 90, "") in seen and ("mapping", 90, 90, "") in seen
    # While the folder is decoded the dialog counts its images and names the class folder.
    decoding = [(done, folder) for stage, done, total, folder in seen if stage == "reading" and total]
    assert decoding and {folder for _, folder in decoding} <= {"kind0", "kind1", "kind2"}
    assert decoding[-1][0] == 90
    assert dialog.labelText() == "Placing them on the map… 90 of 90"
    show_progress(dialog, ("reading", 30, 90, "kind1"))
    assert dialog.labelText() == "Reading the images… 30 of 90 · kind1"
    assert session.window.summary.samples.text() == "90"
    assert session.project.info.class_names == ("kind0", "kind1", "kind2")
    assert (tmp_path / "pictures.ledger").exists()


def test_cancel_leaves_no_file_and_no_worker(qtbot, make_session, tmp_path):
    folder = image_folder(tmp_path / "pictures", 1200)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    session = make_session()
    job = session.create(tmp_path / "cancelled.ledger", "folder", folder)
    dialog = session.progress_dialog
    dialog.show()
    qtbot.mouseClick(dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    qtbot.wait(50)
    assert session.project is None
    assert session.window.statusBar().currentMessage().startswith("Cancelled")
    assert [name for name in os.listdir(tmp_path) if "cancelled" in name] == []  # nor a build folder
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and "forkserver" not in " ".join(p.cmdline())
    ]
    assert left == []
