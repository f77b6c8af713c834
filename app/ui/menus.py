"""The menu bar and the recent-projects list kept in QSettings.

Menu actions only ask the person for paths (file dialogs) and hand them to the
session, which does the work in the background.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu

RECENT_KEY = "recentProjects"
RECENT_LIMIT = 8
PROJECT_FILTER = "Ledgerlab projects (*.ledger)"


class RecentProjects:
    """Most recent first; stored as a list of paths in QSettings."""

    def __init__(self, settings) -> None:
        self._settings = settings

    def paths(self) -> list[Path]:
        value = self._settings.value(RECENT_KEY) or []
        if isinstance(value, str):  # QSettings (INI) returns a one-item list as a string
            value = [value]
        return [Path(p) for p in value if p]

    def add(self, path: Path) -> None:
        path = Path(path).absolute()
        paths = [path] + [p for p in self.paths() if p != path]
        self._settings.setValue(RECENT_KEY, [str(p) for p in paths[:RECENT_LIMIT]])

    def last_existing(self) -> Path | None:
        return next((p for p in self.paths() if p.is_file()), None)


class Menus:
    def __init__(self, window, session) -> None:
        self.window, self.session = window, session
        bar = window.menuBar()
        file = bar.addMenu("&File")
        new = file.addMenu("&New project")
        self._add(new, "From the embedded &MNIST 10k…", lambda: self._new("mnist"))
        self._add(new, "From a .&npz file…", lambda: self._new("npz"))
        self._add(new, "From an image &folder…", lambda: self._new("folder"))
        self._add(file, "&Open…", self._open, QKeySequence.StandardKey.Open)
        self.recent = file.addMenu("Open &Recent")
        self.recent.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        self._add(file, "Export &labels…", self._export_labels)
        self._add(file, "Export &events…", self._export_events)
        file.addSeparator()
        self._add(file, "&Quit", window.close, QKeySequence.StandardKey.Quit)

        labeling = window.labeling
        edit = bar.addMenu("&Edit")
        edit.addAction(labeling.undo_action)
        edit.addAction(labeling.redo_action)
        label = bar.addMenu("&Label")
        for action in (
            labeling.next_action,
            labeling.previous_action,
            labeling.unlabeled_action,
            labeling.uncertain_action,
            labeling.remove_action,
            labeling.clear_action,
        ):
            label.addAction(action)
        history = bar.addMenu("&History")
        self._add(history, "&Back to now", window.travel.back_to_now, QKeySequence("Ctrl+End"))
        self._add(
            history,
            "B&ranch from here…",
            lambda: self.branch_from_here(window.history_panel.shown_position()),
        )
        view = bar.addMenu("&View")
        view.addAction(window.training_dock.toggleViewAction())
        view.addAction(window.history_dock.toggleViewAction())

    def _add(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(shortcut)
        return action

    def _fill_recent(self) -> None:
        self.recent.clear()
        paths = self.session.recent.paths()
        if not paths:
            self.recent.addAction("(none yet)").setEnabled(False)
        for path in paths:
            action = self.recent.addAction(str(path))
            action.setEnabled(path.is_file())
            action.triggered.connect(lambda _=False, p=path: self.session.open(p))

    # --- dialogs ------------------------------------------------------------------------

    def _folder(self) -> str:
        current = self.session.project
        return str(current.path.parent if current is not None else self.session.app.settings.data_dir)

    def _new(self, kind: str) -> None:
        source = None
        if kind == "npz":
            source, _ = QFileDialog.getOpenFileName(
                self.window, "Images to label", self._folder(), "NumPy archives (*.npz)"
            )
        elif kind == "folder":
            source = QFileDialog.getExistingDirectory(
                self.window, "Folder of PNG/JPEG images", self._folder()
            )
        if kind != "mnist" and not source:
            return
        name = "mnist" if kind == "mnist" else Path(source).stem
        target, _ = QFileDialog.getSaveFileName(
            self.window,
            "Save the new project as",
            str(Path(self._folder()) / f"{name}.ledger"),
            PROJECT_FILTER,
        )
        if target:
            if not target.endswith(".ledger"):
                target += ".ledger"
            self.session.create(Path(target), kind, Path(source) if source else None)

    def _open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a project", self._folder(), PROJECT_FILTER)
        if path:
            self.session.open(Path(path))

    def branch_from_here(self, position: int) -> None:
        """Ask where the branch goes, then let the session make and open it."""
        project = self.session.project
        if project is None or position < 1:
            return
        suggested = Path(self._folder()) / f"{project.path.stem}-branch-{position}.ledger"
        path, _ = QFileDialog.getSaveFileName(
            self.window, f"Branch the project at position {position:,} into", str(suggested), PROJECT_FILTER
        )
        if path:
            if not path.endswith(".ledger"):
                path += ".ledger"
            self.session.branch(position, Path(path))

    def _export_labels(self) -> None:
        if self.session.project is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            "Export labels",
            str(Path(self._folder()) / "labels.csv"),
            "CSV (*.csv);;JSON (*.json)",
        )
        if path:
            self.session.export("labels", Path(path))

    def _export_events(self) -> None:
        if self.session.project is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            "Export the event log",
            str(Path(self._folder()) / "events.jsonl"),
            "JSON lines (*.jsonl)",
        )
        if path:
            self.session.export("events", Path(path))
