"""The open project's name, sample and event counts and where it is, at the top of
the side column; a branch is named as one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget


def display_name(project) -> str:
    """The project's name as the title and header say it; a branch says whose branch it
    is and where it left its parent ("what-if — branch of MNIST 10k at 40")."""
    info = project.info
    if info.parent_position is None:
        return info.project_name
    return f"{project.path.stem} — branch of {info.project_name} at {info.parent_position:,}"


class ProjectSummary(QWidget):
    """Name, sample count and event count of the open project."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLabel("—")
        self.name.setObjectName("projectName")
        font = self.name.font()
        font.setPointSize(font.pointSize() + 4)
        font.setBold(True)
        self.name.setFont(font)
        self.samples = QLabel("—")
        self.samples.setObjectName("sampleCount")
        self.events = QLabel("—")
        self.events.setObjectName("eventCount")
        self.name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.path = QLabel("—")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setStyleSheet("color: #666;")
        # A long path is cut, not allowed to widen the side column.
        self.path.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row = QHBoxLayout()
        for caption, value in (("samples", self.samples), ("events", self.events)):
            row.addWidget(value)
            row.addWidget(QLabel(caption))
            row.addSpacing(8)
        row.addWidget(self.path, 1)  # on the same line: the sample below gets the height
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.name)
        layout.addLayout(row)

    def show_project(self, project) -> None:
        info = project.info
        self.name.setText(display_name(project))
        self.name.setToolTip(display_name(project))
        self.samples.setText(f"{info.sample_count:,}")
        self.events.setText(f"{project.event_count:,}")
        where = project.address.display  # a server project's URL, never with its password
        self.path.setText(where)
        self.path.setToolTip(where)
