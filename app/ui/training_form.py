"""The training settings form: one field per setting the training service offers (and
the newer settings it does not list yet), each with its error right under it in the
form's own words.

It knows how to show and read values; whether they are valid is the service's
business (``service.validate``), so the form holds no training rule.
"""

from __future__ import annotations

import dataclasses
import re

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from app.ui.widgets import wrapping_label
from domain.learning.config import TrainingConfig

# Settings the form shows even when the service does not list them (it lists the ones
# it had labels for when it was written): label, type and what the setting does. A name
# the config does not have (yet) is left out.
EXTRA_FIELDS = {
    "augment_warp": (
        "Warp strength",
        "float",
        "How far the classifier's training views are warped (rotation, scale, shear): "
        "0 = whole-pixel shifts only, at most 0.5",
    ),
    "distribution_alignment": (
        "Distribution alignment",
        "bool",
        "Even out the classes of the pseudo-labels, so a class the model over-predicts "
        "early does not take them over",
    ),
    "holdout_share": (
        "Held-out share",
        "float",
        "Share of the labels kept out of training to measure the accuracy honestly every epoch (0 = none)",
    ),
    "epoch_samples": (
        "Samples per epoch",
        "int",
        "How many samples one epoch visits, drawn at random each epoch (0 = all): a shorter "
        "epoch records a checkpoint and the map sooner on a large data set",
    ),
    "model": (
        "Model",
        "choice:auto,mlp,conv",
        "The networks: conv (convolutional, for colour or larger images), mlp (dense, fast on "
        "small grey images) or auto (conv for colour images, mlp for grey ones)",
    ),
    "training_size": (
        "Training size",
        "int",
        "Longest side in pixels the images are trained at, shrunk keeping their aspect and "
        "never enlarged (0 = their own size)",
    ),
    "augment_colour": (
        "Colour augmentation",
        "bool",
        "Colour images: the classifier also sees its training views with the colours "
        "swapped and inverted, so it learns shapes rather than colours",
    ),
}
BEFORE = "seed"  # the extra settings go above this one, when the service lists it


class ChoiceBox(QComboBox):
    """A setting with a few named values; ``text``/``setText`` as a line edit's, so code
    that fills the form (presets, demos) treats it like one."""

    def text(self) -> str:
        return self.currentText()

    def setText(self, text: str) -> None:  # noqa: N802 -- Qt's spelling, as QLineEdit's
        self.setCurrentText(text)


class SettingsForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.fields: dict[str, tuple[dict, QLineEdit | QCheckBox | ChoiceBox, QLabel]] = {}

    def build(self, service) -> None:
        """One row per setting of ``service`` (None: an empty form)."""
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = {}
        if service is None:
            return
        for field in form_fields(service.config_fields()):
            editor: QLineEdit | QCheckBox | ChoiceBox
            if field["type"] == "bool":
                editor = box = QCheckBox()
                box.setChecked(bool(field["default"]))
                box.toggled.connect(self.changed)
            elif field["type"].startswith("choice:"):
                editor = combo = ChoiceBox()
                combo.addItems(field["type"].split(":", 1)[1].split(","))
                combo.setCurrentText(str(field["default"]))
                combo.currentTextChanged.connect(self.changed)
            else:
                editor = line = QLineEdit(_format(field["default"]))
                line.setMinimumWidth(60)
                if field.get("unset"):
                    line.setPlaceholderText(field["unset"])
                line.textChanged.connect(self.changed)
            editor.setObjectName(f"config_{field['name']}")
            if field.get("help"):
                editor.setToolTip(field["help"])
            error = error_label()
            rows = QVBoxLayout()
            rows.setSpacing(0)
            rows.addWidget(editor)
            rows.addWidget(error)
            self.form.addRow(field["label"], rows)
            label = self.form.labelForField(rows)
            if label is not None and field.get("help"):
                label.setToolTip(field["help"])
            self.fields[field["name"]] = (field, editor, error)

    def values(self) -> tuple[dict, dict[str, str]]:
        """The values entered, and a message per field that is not even a number."""
        values: dict[str, object] = {}
        problems: dict[str, str] = {}
        for name, (field, editor, _) in self.fields.items():
            if isinstance(editor, QCheckBox):
                values[name] = editor.isChecked()
                continue
            if isinstance(editor, ChoiceBox):
                values[name] = editor.currentText()
                continue
            if field.get("unset") and not editor.text().strip():
                values[name] = None
                continue
            try:
                values[name] = _parse(editor.text(), field["type"])
            except ValueError:
                problems[name] = _expected(field["type"])
        return values, problems

    def show_problems(self, problems: dict[str, str]) -> None:
        """Each field's problem under it, in the form's words (not the setting's name)."""
        for name, (_, editor, error) in self.fields.items():
            message = self.in_form_words(problems.get(name, ""))
            error.setText(message)
            error.setVisible(bool(message))
            editor.setStyleSheet("border: 1px solid #d62728;" if message else "")

    def in_form_words(self, message: str) -> str:
        """``message`` with every setting's internal name (``learning_rate``) replaced by
        the label the form shows it under ("Learning rate")."""
        for name, (field, _, _) in self.fields.items():
            message = re.sub(rf"\b{re.escape(name)}\b", field["label"], message)
        return message

    def set_read_only(self, read_only: bool) -> None:
        for _, editor, _ in self.fields.values():
            if isinstance(editor, (QCheckBox, ChoiceBox)):
                editor.setEnabled(not read_only)
            else:
                editor.setReadOnly(read_only)


def form_fields(listed: list[dict]) -> list[dict]:
    """The service's fields, with the ``EXTRA_FIELDS`` the config has and the service
    does not list put before ``BEFORE``."""
    names = {f["name"] for f in listed}
    defaults = TrainingConfig()
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    extra = [
        {"name": name, "label": label, "type": kind, "default": getattr(defaults, name), "help": help_text}
        for name, (label, kind, help_text) in EXTRA_FIELDS.items()
        if name in known and name not in names
    ]
    at = next((i for i, f in enumerate(listed) if f["name"] == BEFORE), len(listed))
    return [*listed[:at], *extra, *listed[at:]]


def error_label() -> QLabel:
    label = wrapping_label("")
    label.setStyleSheet("color: #d62728;")
    label.hide()
    return label


def _format(value) -> str:
    if value is None:
        return ""
    return ", ".join(str(v) for v in value) if isinstance(value, (tuple, list)) else str(value)


def _parse(text: str, kind: str):
    if kind == "ints":
        return tuple(int(part) for part in text.replace(",", " ").split())
    if kind == "int":
        return int(text.strip())
    return float(text.strip())


def _expected(kind: str) -> str:
    return {
        "ints": "whole numbers separated by commas, e.g. 512, 256",
        "int": "a whole number",
        "float": "a number, e.g. 0.001",
    }[kind]
