"""Labeling from the keyboard and the class buttons.

``LabelingController`` turns keys into commands on the project (it decides nothing:
the domain's deciders do) and moves the current sample; ``label_buttons.LabelingPanel`` shows one
button per class with its key and count. Keys are window shortcuts, so a text field
that has the focus (the training form) keeps its digits, Backspace and Ctrl+Z.

Suggestions and flags (``S``, ``U``, ``F``, ``K``) are walked by ``review_walk.ReviewWalk``,
mixed into the controller: the same object answers every key, each concern in its module.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QMessageBox,
)

from app.project.errors import ProjectError
from app.quality import review as quality
from app.ui import navigation
from app.ui.background import BackgroundJob
from app.ui.review_walk import ReviewWalk
from domain import commands as c
from domain.errors import DomainError
from domain.events import LabelChangeRedone, LabelChangeUndone
from eventstore import StoreError

CONFIRM_ABOVE = 50  # a bulk label of more samples than this asks first
NEXT_UNLABELED_KEY, MOST_UNCERTAIN_KEY = "N", "U"
SUGGESTED_KEY, FLAGGED_KEY, KEEP_KEY = "S", "F", "K"


def class_keys(class_names) -> dict[int, str]:
    """The key of each class: its digit for the first ten, else the first letter of its
    name when no other class (and no navigation key) starts with it."""
    keys = {i: str(i) for i in range(min(10, len(class_names)))}
    firsts = [n[:1].upper() for n in class_names]
    reserved = {NEXT_UNLABELED_KEY, MOST_UNCERTAIN_KEY, SUGGESTED_KEY, FLAGGED_KEY, KEEP_KEY}
    for i, name in enumerate(class_names):
        letter = firsts[i]
        if name.isdigit() or not letter.isalpha() or letter in reserved or firsts.count(letter) > 1:
            continue
        keys[i] = f"{keys[i]}, {letter}" if i in keys else letter
    return keys


class LabelingController(ReviewWalk, QObject):
    """Keys and buttons → commands and moves. ``report(title, exc)`` shows refusals."""

    def __init__(self, window, selection, predictions, report) -> None:
        super().__init__(window)
        self.window = window
        self.selection = selection
        self.predictions = predictions
        self.report = report
        # Why changes cannot be recorded now (the project's server is away), or None.
        self.offline: str | None = None
        self.project = None
        self.pending_confirmation: QMessageBox | None = None
        self._class_actions: list[QAction] = []
        self.undo_action = self._action("&Undo label change", self.undo, QKeySequence("Ctrl+Z"))
        self.redo_action = self._action(
            "&Redo label change", self.redo, QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")
        )
        self.remove_action = self._action(
            "Remove label",
            self.remove_label,
            QKeySequence(Qt.Key.Key_Backspace),
            QKeySequence(Qt.Key.Key_Delete),
        )
        self.next_action = self._action(
            "Next sample",
            lambda: self.move(+1),
            QKeySequence(Qt.Key.Key_Right),
            QKeySequence(Qt.Key.Key_Down),
        )
        self.previous_action = self._action(
            "Previous sample",
            lambda: self.move(-1),
            QKeySequence(Qt.Key.Key_Left),
            QKeySequence(Qt.Key.Key_Up),
        )
        self.clear_action = self._action("Clear selection", selection.clear, QKeySequence(Qt.Key.Key_Escape))
        self.unlabeled_action = self._action(
            "Next &unlabeled", self.next_unlabeled, QKeySequence(NEXT_UNLABELED_KEY)
        )
        self.uncertain_action = self._action(
            "Next most &uncertain", self.next_most_uncertain, QKeySequence(MOST_UNCERTAIN_KEY)
        )
        self.suggested_action = self._action(
            "Next &suggested", self.next_suggested, QKeySequence(SUGGESTED_KEY)
        )
        self.flagged_action = self._action(
            "Next &flagged label", self.next_flagged, QKeySequence(FLAGGED_KEY)
        )
        self.keep_action = self._action("&Keep the flagged label", self.keep_label, QKeySequence(KEEP_KEY))
        self.disagreements: dict[int, object] = {}  # sample -> domain Disagreement
        self._disagreements_at = -1  # the position they were read at
        self.jobs: dict[str, BackgroundJob] = {}  # "suggest" / "flags": at most one of each
        if hasattr(window, "project_changed"):
            window.project_changed.connect(self._on_project_changed)
        window.installEventFilter(self)  # a closing window waits for the jobs

    def _action(self, text: str, slot, *keys: QKeySequence) -> QAction:
        action = QAction(text, self.window)
        action.setShortcuts(list(keys))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    def show_project(self, project) -> None:
        if project is not self.project:
            self.disagreements, self._disagreements_at = {}, -1
        self.project = project
        for action in self._class_actions:
            self.window.removeAction(action)
            action.deleteLater()
        self._class_actions = []
        for index, keys in class_keys(project.info.class_names).items():
            sequences = [QKeySequence(k.strip()) for k in keys.split(",")]
            action = self._action(
                f"Label as {project.info.class_names[index]}",
                lambda _=False, i=index: self.label(i),
                *sequences,
            )
            self._class_actions.append(action)
        self.refresh_actions()

    def show_state(self, project, classes_changed: bool) -> None:
        """Label ``project`` from now on (a read-only one refuses every change)."""
        if classes_changed:
            self.show_project(project)
        else:
            self.project = project
            self.refresh_actions()

    def refresh_actions(self) -> None:
        project = self.project
        self.undo_action.setEnabled(project is not None and project.can_undo())
        self.redo_action.setEnabled(project is not None and project.can_redo())

    # --- commands -----------------------------------------------------------------------

    def label(self, class_index: int) -> None:
        """Label the selection: one sample (then advance) or many (after asking when > 50)."""
        if self.project is None or self._refused_in_past():
            return
        if self.selection.current is None:
            self.window.statusBar().showMessage(
                "Nothing selected: click a point on the map (or press N for the next unlabeled "
                "sample), then press its class key.",
                10_000,
            )
            return
        if len(self.selection) > 1:
            samples = tuple(int(s) for s in self.selection.samples)
            if len(samples) > CONFIRM_ABOVE:
                self._confirm_bulk(samples, class_index)
            else:
                self.execute(c.AssignLabelToMany(samples, class_index))
            return
        sample = self.selection.current
        queued = [s.sample for s in quality.queue(self.project)]
        if self.execute(c.AssignLabel(sample, class_index)) is not None:
            following = self._after(queued, sample) if sample in queued else None
            if following is not None and self.project.labels.label_of(following) < 0:
                self.selection.move_current(following)  # working through the suggestions
            else:
                self.advance()

    def _confirm_bulk(self, samples: tuple[int, ...], class_index: int) -> None:
        name = self.project.info.class_names[class_index]
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Label many samples",
            f"Label all {len(samples):,} selected samples as “{name}”?\nThis is one step: Ctrl+Z undoes it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self.window,
        )
        box.setObjectName("confirmBulkLabel")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)

        def answered(button: int) -> None:
            self.pending_confirmation = None
            if button == QMessageBox.StandardButton.Yes:
                self.execute(c.AssignLabelToMany(samples, class_index))

        box.finished.connect(answered)
        self.pending_confirmation = box
        box.open()  # window-modal and non-blocking: the event loop keeps running

    def remove_label(self) -> None:
        if self.project is not None and self.selection.current is not None:
            self.execute(c.RemoveLabel(self.selection.current))

    def undo(self) -> None:
        if self.project is not None:
            self._show_changed(self.execute(c.Undo(self.project.annotator)))

    def redo(self) -> None:
        if self.project is not None:
            self._show_changed(self.execute(c.Redo(self.project.annotator)))

    def _show_changed(self, events) -> None:
        """After an undo or redo, look at what changed: the person sees what came back."""
        samples = [
            s
            for e in events or ()
            if isinstance(e, (LabelChangeUndone, LabelChangeRedone))
            for s in e.samples
        ]
        if len(samples) == 1:
            self.selection.select_one(samples[0])
        elif samples:
            self.selection.select(samples)

    def _refused_in_past(self) -> bool:
        """Keys stay live in the past (moving through samples is useful there), so a
        label key must say why nothing happened."""
        if not self.project.read_only:
            return False
        self.window.statusBar().showMessage(
            f"Not recorded: you are viewing the project as of position {self.project.position:,}, "
            "which is read-only. Press “Back to now” to label.",
            10_000,
        )
        return True

    def execute(self, command):
        if self._refused_in_past() or self._refused_offline("That change was not recorded"):
            return None
        try:
            events = self.project.execute(command)
        except (DomainError, ProjectError) as exc:
            self.report("That change was not recorded", exc)
            return None
        except StoreError as exc:  # the server went away since the window last heard from it
            self.report("That change was not recorded", ProjectError(f"{exc}; nothing was recorded"))
            return None
        self.refresh_actions()
        return events

    # --- moving -------------------------------------------------------------------------

    def advance(self) -> None:
        """After a label: the next sample of a multi-selection, else the next unlabeled one."""
        following = self.selection.next_in_selection()
        if following is None:
            following = navigation.next_unlabeled(self.project.labels.labels, self.selection.current)
        if following is not None:
            self.selection.move_current(following)

    def move(self, delta: int) -> None:
        if self.project is None:
            return
        samples = self.selection.samples
        if len(samples) > 1 and self.selection.current is not None:
            at = int((samples == self.selection.current).nonzero()[0][0])
            self.selection.move_current(int(samples[(at + delta) % len(samples)]))
        else:
            target = navigation.step(self.selection.current, delta, self.project.info.sample_count)
            self.selection.select_one(target)

    def next_unlabeled(self) -> None:
        if self.project is None:
            return
        target = navigation.next_unlabeled(self.project.labels.labels, self.selection.current)
        if target is None:
            self.window.statusBar().showMessage("Every sample is labeled", 4000)
        else:
            self.selection.select_one(target)

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel()
            job.wait()
        self.jobs.clear()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Close and watched is self.window:
            self.shutdown()
        return False
