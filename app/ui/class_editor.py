"""Adding and renaming classes from the window (Label → Add class… / Rename class…).

The same commands as ``ledgerlab add-class`` and ``rename-class``: the domain decides
(a name already taken, empty or holding a control character is refused with its
sentence, shown by the labeling controller), and the new buttons, keys and legend come
from the change the project reports, as for a teammate's class. The dialogs are
window-modal but never block the event loop (``open()``, not ``exec()``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QWidget,
)

from domain import commands as c


class RenameDialog(QDialog):
    """Which class, and its new name."""

    def __init__(self, class_names: list[str], parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("renameClassDialog")
        self.setWindowTitle("Rename class")
        self.which = QComboBox()
        self.which.setObjectName("renameWhich")
        self.which.addItems(class_names)
        self.new_name = QLineEdit()
        self.new_name.setObjectName("renameNewName")
        self.new_name.setPlaceholderText("new name")
        self.which.currentTextChanged.connect(self.new_name.setText)
        self.new_name.setText(self.which.currentText())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Class:", self.which)
        form.addRow("New name:", self.new_name)
        form.addRow(buttons)


class ClassEditor(QObject):
    """The two actions and their dialogs; ``labeling.execute`` records the command."""

    def __init__(self, window, labeling) -> None:
        super().__init__(window)
        self.window, self.labeling = window, labeling
        self.add_action = QAction("Add &class…", window)
        self.add_action.setObjectName("addClassAction")
        self.add_action.triggered.connect(self.ask_new_class)
        self.rename_action = QAction("Re&name class…", window)
        self.rename_action.setObjectName("renameClassAction")
        self.rename_action.triggered.connect(self.ask_rename)
        self.dialog: QDialog | None = None  # the one open, for tests and to avoid two

    def ask_new_class(self) -> QInputDialog | None:
        if self.labeling.project is None or self.dialog is not None:
            return None
        dialog = QInputDialog(self.window)
        dialog.setObjectName("addClassDialog")
        dialog.setWindowTitle("Add class")
        count = len(self.labeling.project.info.class_names)
        dialog.setLabelText(f"Name of the new class (it gets the key {count} if it is among the first ten):")
        dialog.textValueSelected.connect(lambda name: self.labeling.execute(c.AddClass(name.strip())))
        self._show(dialog)
        return dialog

    def ask_rename(self) -> RenameDialog | None:
        project = self.labeling.project
        if project is None or self.dialog is not None:
            return None
        if not project.info.class_names:
            self.window.statusBar().showMessage("There is no class to rename yet: add one first", 5000)
            return None
        dialog = RenameDialog(list(project.info.class_names), self.window)
        dialog.accepted.connect(
            lambda: self.labeling.execute(
                c.RenameClass(dialog.which.currentIndex(), dialog.new_name.text().strip())
            )
        )
        self._show(dialog)
        return dialog

    def _show(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.finished.connect(lambda _: self._closed(dialog))
        dialog.open()

    def _closed(self, dialog: QDialog) -> None:
        self.dialog = None
        dialog.deleteLater()
