"""The sample viewer: the current image large with its label, the model's predicted
class and a probability bar per class, who labeled it when, and why the tool points
at it (a flag: its label looks wrong; a suggestion: why label it; annotators who
disagree); a thumbnail grid when many samples are selected."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QProgressBar,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.quality import review as quality
from app.ui.images import to_pixmap
from app.ui.selection_gallery import SelectionGallery
from app.ui.widgets import percent

_QUALITY_TYPES = frozenset({"SuggestionsMade", "LabelIssuesFlagged", "LabelIssueDismissed"})
IMAGE_PX = 180


class SampleViewer(QWidget):
    def __init__(self, selection, predictions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.selection = selection
        self.predictions = predictions
        self.project: Any = None

        self.title = QLabel("No sample selected")
        self.title.setObjectName("sampleTitle")
        bold = self.title.font()
        bold.setBold(True)
        bold.setPointSize(bold.pointSize() + 2)
        self.title.setFont(bold)

        self.image = QLabel()
        self.image.setObjectName("sampleImage")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(IMAGE_PX, IMAGE_PX)
        self.label = QLabel("")
        self.label.setObjectName("sampleLabel")
        self.provenance = QLabel("")
        self.provenance.setObjectName("sampleProvenance")
        self.prediction = QLabel("")
        self.prediction.setObjectName("samplePrediction")
        self.review = QLabel("")
        self.review.setObjectName("sampleReview")
        self.review.setWordWrap(True)
        self.disagreements: dict = {}  # sample -> Disagreement, from the labeling controller
        self.bars_box = QWidget()
        self.bars_layout = QGridLayout(self.bars_box)
        self.bars_layout.setContentsMargins(0, 0, 0, 0)
        self.bars_layout.setVerticalSpacing(1)
        self.bars: list[QProgressBar] = []

        single = QWidget()
        column = QVBoxLayout(single)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.image)
        column.addWidget(self.label)
        column.addWidget(self.provenance)
        column.addWidget(self.prediction)
        column.addWidget(self.review)
        column.addWidget(self.bars_box)
        column.addStretch(1)

        self.grid = SelectionGallery()
        self.grid.tile_clicked.connect(selection.move_current)
        self.grid.remove_requested.connect(selection.discard)

        self.pages = QStackedWidget()
        self.pages.addWidget(single)
        self.pages.addWidget(self.grid)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.pages, 1)
        # A label and the move to the next sample arrive together: show the result once,
        # when the event loop next runs (after the map has been redrawn).
        self._refresh_soon = QTimer(self, singleShot=True, interval=0, timeout=self.refresh)
        selection.changed.connect(self._refresh_soon.start)

    def show_project(self, project) -> None:
        self.project = project
        self.grid.forget()
        self._build_bars(project.info.class_names)
        self.refresh()

    def show_state(self, project, change, new_predictions: bool = False) -> None:
        """Show ``project`` (another moment of the same project); the selection stays."""
        self.project = project
        if change.classes_changed:
            self._build_bars(project.info.class_names)
        self._refresh_soon.start()  # captions carry labels

    def apply_change(self, change, new_predictions: bool = False) -> None:
        current = self.selection.current
        if change.classes_changed:
            self._build_bars(self.project.info.class_names)
        if len(self.selection) > 1 and (change.samples or change.classes_changed):
            self._refresh_soon.start()  # the gallery's captions carry labels
        reviewed = any(e.type in _QUALITY_TYPES for e in change.events)
        if (
            change.classes_changed
            or new_predictions
            or reviewed
            or (current is not None and current in change.samples)
        ):
            self._refresh_soon.start()

    def _build_bars(self, class_names) -> None:
        while self.bars_layout.count():
            item = self.bars_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.bars = []
        for i, name in enumerate(class_names):
            self.bars_layout.addWidget(QLabel(name), i, 0)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setFormat("%p%")
            bar.setMaximumHeight(12)
            bar.setToolTip(f"probability of {name}")
            self.bars_layout.addWidget(bar, i, 1)
            self.bars.append(bar)

    def refresh(self) -> None:
        project, sample = self.project, self.selection.current
        if project is None:
            return
        many = len(self.selection) > 1
        self.pages.setCurrentIndex(1 if many else 0)
        if many:
            self.grid.show_samples(self.selection.samples, sample, project)
        if sample is None:
            self.title.setText("No sample selected — click a point on the map")
            self.image.clear()
            self.label.setText("")
            self.provenance.setText("")
            self.prediction.setText("")
            self.review.setText("")
            self.bars_box.hide()
            return
        labels = project.labels
        label = labels.label_of(sample)
        names = project.info.class_names
        prefix = f"{len(self.selection):,} selected · " if many else ""
        self.title.setText(f"{prefix}Sample {sample:,} of {project.info.sample_count:,}")
        self.image.setPixmap(to_pixmap(project.images().display(sample), IMAGE_PX))
        self.label.setText(f"Label: {names[label]}" if label >= 0 else "Label: none")
        who = labels.annotator_of(sample)
        if who is None:
            self.provenance.setText("never labeled")
        else:
            at = datetime.fromtimestamp(float(labels.changed_at[sample])).strftime("%Y-%m-%d %H:%M:%S")
            self.provenance.setText(f"{'labeled' if label >= 0 else 'label removed'} by {who} at {at}")
        self._show_prediction(sample, names)
        self.review.setText(self.review_text(project, sample))

    def show_review(self, disagreements) -> None:
        """Samples whose annotators disagree (found off the GUI thread by the controller)."""
        self.disagreements = dict(disagreements)
        self._refresh_soon.start()

    def review_text(self, project, sample: int) -> str:
        """Why the tool points at ``sample``: flagged, suggested, annotators disagree."""
        names = project.info.class_names
        state = quality.quality_of(project)
        lines = []
        flag = next((f for f in quality.open_flags(project) if f.sample == sample), None)
        if flag is not None:
            lines.append(
                f"Flagged: labeled {_name(flag.label, names)}, but looks like "
                f"{_name(flag.suggested, names)} (label quality {flag.score:.2f}). "
                "Press a class key to fix it, K to keep it."
            )
        queued = next((s for s in quality.queue(project) if s.sample == sample), None)
        if queued is not None and state.suggestions is not None:
            lines.append(f"Suggested ({state.suggestions.strategy}): {queued.reason}")
        disagreement = self.disagreements.get(sample)
        if disagreement is not None:
            text = quality.disagreement_text(disagreement, names)
            lines.append(text[:1].upper() + text[1:])
        return "\n".join(lines)

    def _show_prediction(self, sample: int, names) -> None:
        predictions = self.predictions.get()
        if predictions is None or predictions.shape[1] != len(names):
            self.prediction.setText("Prediction: none yet (train the model)")
            self.bars_box.hide()
            return
        p = predictions[sample]
        best = int(np.argmax(p))
        self.prediction.setText(f"Prediction: {names[best]} ({percent(float(p[best]))})")
        for bar, value in zip(self.bars, p):
            bar.setValue(int(round(float(value) * 1000)))
            bar.setFormat(percent(float(value)))  # Qt's %p truncates: 0.969 would read 96%
        self.bars_box.show()


def _name(label: int, names) -> str:
    return names[label] if 0 <= label < len(names) else str(label)
