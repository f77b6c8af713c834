"""The labeling buttons: one per class (its key, name and count) and the navigation row.

They only trigger the ``LabelingController``'s actions; what a label does is decided there.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.ui import palette
from app.ui.labeling import LabelingController, class_keys


class LabelingPanel(QWidget):
    """One button per class (key, name, count) and the navigation buttons."""

    def __init__(self, controller: LabelingController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.buttons: list[QPushButton] = []
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        nav = QHBoxLayout()
        nav.setSpacing(4)
        # Short texts: seven buttons share the viewer's width (~630 px at 1280 x 860),
        # where the longer ones ("Next unlabeled (N)") were cut off. The tooltip says
        # the action's full name.
        for text, action in (
            ("◀", controller.previous_action),
            ("▶", controller.next_action),
            ("Unlabeled (N)", controller.unlabeled_action),
            ("Uncertain (U)", controller.uncertain_action),
            ("Suggested (S)", controller.suggested_action),
            ("Flagged (F)", controller.flagged_action),
            ("Unlabel (⌫)", controller.remove_action),
        ):
            button = QPushButton(text)
            button.setObjectName("navigationButton")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setToolTip(action.text())
            button.clicked.connect(action.trigger)
            if len(text) == 1:  # the arrows need no more room than their glyph
                button.setMaximumWidth(44)
            nav.addWidget(button, 0 if len(text) == 1 else 1)
        # A project made from images without class names has no classes and so no
        # buttons and no keys: say so where the buttons would be, with the way out.
        self.no_classes = QWidget()
        self.no_classes.setObjectName("noClasses")
        row = QHBoxLayout(self.no_classes)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(
            QLabel("This project has no classes yet: add one to label with a button or its key."), 1
        )
        self.add_class_button = QPushButton("Add a class…")
        self.add_class_button.setObjectName("addClassButton")
        self.add_class_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.add_class_button.setEnabled(False)  # until the window hands over its action
        row.addWidget(self.add_class_button)
        self.no_classes.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.no_classes)
        layout.addLayout(self.grid)
        layout.addLayout(nav)

    def offer_to_add_classes(self, action: QAction) -> None:
        """The window's Label → Add class… action, behind the no-classes button."""
        self.add_class_button.clicked.connect(action.trigger)
        self.add_class_button.setEnabled(True)

    def show_project(self, project) -> None:
        for button in self.buttons:
            self.grid.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        names = project.info.class_names
        self.no_classes.setVisible(not names)
        keys = class_keys(names)
        colours = palette.class_colours(len(names))
        columns = 5
        for i, name in enumerate(names):
            button = QPushButton()
            button.setObjectName(f"labelButton{i}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setToolTip(
                f"Label the selected sample(s) as {name}" + (f" (key {keys[i]})" if i in keys else "")
            )
            button.setStyleSheet(
                f"QPushButton {{ border-left: 6px solid {colours[i].name()}; padding: 4px; }}"
            )
            button.clicked.connect(lambda _=False, k=i: self.controller.label(k))
            self.grid.addWidget(button, i // columns, i % columns)
            self.buttons.append(button)
        self._keys = keys
        self.update_counts(project)

    def set_read_only(self, read_only: bool) -> None:
        for button in self.buttons:
            button.setEnabled(not read_only)

    def update_counts(self, project) -> None:
        counts, names = project.labels.counts, project.info.class_names
        for i, button in enumerate(self.buttons):
            key = f"[{self._keys[i]}] " if i in self._keys else ""
            button.setText(f"{key}{names[i]} · {int(counts[i]) if i < len(counts) else 0:,}")
