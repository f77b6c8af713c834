"""The menu bar and the recent-projects list kept in QSettings.

Menu actions only ask the person for paths (file dialogs) and hand them to the
session, which does the work in the background.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMenu

from app.project.address import ProjectAddress
from app.project.errors import ProjectError
from app.ui.class_editor import ClassEditor

RECENT_KEY = "recentProjects"
RECENT_LIMIT = 8
PROJECT_FILTER = "Ledgerlab projects (*.ledger)"


SHARED_EXAMPLE = "postgresql://you@db.example.org/labels?project=digits"


def remembered(address: ProjectAddress) -> str:
    """How the recent list keeps a project: a file's absolute path, or a server project's
    URL with no password at all (libpq then takes it from ~/.pgpass, PGPASSWORD…), so the
    entry both reads safely and opens again."""
    if not address.is_server:
        return address.display
    text = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1@", address.display)  # user:***@ -> user@
    text = re.sub(r"([?&])password=[^&]*&?", r"\1", text)
    return text.rstrip("&?") if text.endswith(("&", "?")) else text


class RecentProjects:
    """Most recent first; stored in QSettings as a list of file paths and server-project
    URLs (never with a password)."""

    def __init__(self, settings) -> None:
        self._settings = settings

    def entries(self) -> list[str]:
        value = self._settings.value(RECENT_KEY) or []
        if isinstance(value, str):  # QSettings (INI) returns a one-item list as a string
            value = [value]
        return [str(v) for v in value if v]

    def addresses(self) -> list[ProjectAddress]:
        found = []
        for entry in self.entries():
            try:
                found.append(ProjectAddress.parse(entry))
            except ProjectError:
                continue  # an entry this release cannot read is skipped
        return found

    def paths(self) -> list[Path]:
        """The project files among them."""
        return [a.file for a in self.addresses() if a.file is not None]

    def add(self, where: Path | str | ProjectAddress) -> None:
        entry = remembered(ProjectAddress.parse(where))
        entries = [entry] + [e for e in self.entries() if e != entry]
        self._settings.setValue(RECENT_KEY, entries[:RECENT_LIMIT])

    def last_existing(self) -> Path | ProjectAddress | None:
        """The most recent file that still exists (its path), or server project (its
        address: reaching it is the opening's business)."""
        for address in self.addresses():
            if address.is_server:
                return address
            if address.path.is_file():
                return address.path
        return None


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
        self._add(file, "Open &shared project…", self.open_shared)
        self.shared_dialog: QInputDialog | None = None
        self.recent = file.addMenu("Open &Recent")
        self.recent.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        export = file.addMenu("&Export")
        self._add(export, "&Labels…", self._export_labels)
        self._add(export, "&Event log…", self._export_events)
        self._add(export, "&Predictions…", self._export_predictions)
        self._add(export, "&Model…", window.runs_panel.export_model)  # issue 17: a run's classifier
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
        label.addSeparator()
        self.classes = ClassEditor(window, labeling)
        label.addAction(self.classes.add_action)
        label.addAction(self.classes.rename_action)
        window.label_panel.offer_to_add_classes(self.classes.add_action)
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
        view.addAction(window.runs_dock.toggleViewAction())

    def _add(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(shortcut)
        return action

    def _fill_recent(self) -> None:
        self.recent.clear()
        addresses = self.session.recent.addresses()
        if not addresses:
            self.recent.addAction("(none yet)").setEnabled(False)
        for address in addresses:
            action = self.recent.addAction(remembered(address))
            action.setEnabled(address.is_server or address.path.is_file())
            action.triggered.connect(lambda _=False, a=address: self.session.open(a))

    # --- dialogs ------------------------------------------------------------------------

    def _folder(self) -> str:
        current = self.session.project
        if current is not None and current.address.file is not None:
            return str(current.address.file.parent)
        return str(self.session.app.settings.data_dir)

    def _new(self, kind: str) -> None:
        source = ""
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

    def open_shared(self) -> QInputDialog:
        """Ask for a server project's URL (window-modal, not blocking), then open it."""
        dialog = QInputDialog(self.window)
        dialog.setObjectName("openSharedProject")
        dialog.setWindowTitle("Open shared project")
        dialog.setLabelText(
            "PostgreSQL URL of the project (the password comes from ~/.pgpass or PGPASSWORD):\n"
            f"e.g. {SHARED_EXAMPLE}"
        )
        dialog.setInputMode(QInputDialog.InputMode.TextInput)
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        last = next((a for a in self.session.recent.addresses() if a.is_server), None)
        dialog.setTextValue(remembered(last) if last is not None else "")
        dialog.resize(640, dialog.sizeHint().height())
        dialog.textValueSelected.connect(self._open_shared_url)
        dialog.finished.connect(dialog.deleteLater)
        self.shared_dialog = dialog
        dialog.open()
        return dialog

    def _open_shared_url(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        try:
            address = ProjectAddress.parse(text)
            if not address.is_server:
                raise ProjectError(
                    "a shared project is named by postgresql://[user@]host[:port]/DATABASE?project=NAME; "
                    "open a .ledger file with File → Open…"
                )
        except ProjectError as exc:
            self.session.report("Cannot open the shared project", exc)
            return
        self.session.open(address)

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

    def _export_predictions(self) -> None:
        if self.session.project is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            "Export the latest model's predictions",
            str(Path(self._folder()) / "predictions.csv"),
            "CSV (*.csv)",
        )
        if path:
            if not path.lower().endswith(".csv"):
                path += ".csv"
            self.session.export("predictions", Path(path))
