"""The training panel's plots: the loss terms on a log axis, and the accuracy.

The accuracy plot's headline is the honest estimate (``app.ui.honest_accuracy``:
measured on labels the model did not train on) with its 95 % interval as a band; the
accuracy on the labels the run trained on stays beside it as a thin, dashed curve,
named so. A caption under the plot says the latest estimate in words, or that there
are too few labels to estimate it. Legends sit beside the plots, never over a line.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from app.ui.honest_accuracy import describe
from app.ui.widgets import wrapping_label
from domain.accuracy import AccuracyEstimate

# Loss terms differ by orders of magnitude (a total in the hundreds, KL and classification
# in units): on a linear axis the small ones lay flat at zero, so the axis is logarithmic.
LOSS_CURVES = (
    ("loss", "total loss", "#202020"),
    ("reconstruction", "reconstruction", "#1f77b4"),
    ("kl", "KL", "#ff7f0e"),
    ("classification", "classification", "#d62728"),
)
LOSS_KEYS = frozenset(key for key, _, _ in LOSS_CURVES)
HONEST_COLOUR, BAND_RGBA, TRAINING_COLOUR = "#2ca02c", (44, 160, 44, 55), "#7f7f7f"
ACCURACY_TITLE = "accuracy on labels it did not train on"
HONEST_NAME = "estimate, 95% band"
TRAINING_NAME = "training accuracy (own labels)"


def _plot(title: str, colour: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color=colour, size="9pt")
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setLabel("bottom", "epoch")
    return plot


def _legend(entries, name: str) -> QWidget:
    """A column of coloured marks and names, beside a plot."""
    legend = QWidget()
    legend.setObjectName(name)
    column = QVBoxLayout(legend)
    column.setContentsMargins(2, 16, 2, 2)
    column.setSpacing(2)
    for mark, text, colour in entries:
        column.addWidget(QLabel(f'<span style="color:{colour}; font-size:12pt">{mark}</span> {text}'))
    column.addStretch(1)
    return legend


def _beside(plot: QWidget, legend: QWidget) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(0)
    row.addWidget(plot, 1)
    row.addWidget(legend)
    return box


class TrainingPlots(QSplitter):
    """Losses | accuracy (the panel adds its log as a third part)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("trainingPlots")
        self.setChildrenCollapsible(False)

        self.loss_plot = _plot("losses (log scale)", "#202020")
        self.loss_plot.setObjectName("lossPlot")
        self.loss_plot.setLogMode(y=True)
        self.curves = {
            key: self.loss_plot.plot([], [], pen=pg.mkPen(colour, width=2), **_dots(colour))
            for key, _, colour in LOSS_CURVES
        }
        self.loss_plots = _beside(
            self.loss_plot, _legend([("●", name, colour) for _, name, colour in LOSS_CURVES], "lossLegend")
        )

        self.accuracy_plot = _plot(ACCURACY_TITLE, HONEST_COLOUR)
        self.accuracy_plot.setObjectName("accuracyPlot")
        self.accuracy_plot.setYRange(0, 1)
        self.accuracy_plot.getAxis("left").setTicks(
            [[(v / 10, f"{v * 10}%") for v in range(0, 11, 2)], [(v / 10, "") for v in range(11)]]
        )
        band_edge = pg.mkPen(None)
        self.band_low = self.accuracy_plot.plot([], [], pen=band_edge)
        self.band_high = self.accuracy_plot.plot([], [], pen=band_edge)
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(*BAND_RGBA))
        self.accuracy_plot.addItem(self.band)
        # One epoch has no band yet: its interval also shows as a bar.
        self.interval_bars = pg.ErrorBarItem(
            x=np.zeros(0),
            y=np.zeros(0),
            top=np.zeros(0),
            bottom=np.zeros(0),
            beam=0.15,
            pen=pg.mkPen(HONEST_COLOUR, width=1),
        )
        self.accuracy_plot.addItem(self.interval_bars)
        self.curves["honest"] = self.accuracy_plot.plot(
            [], [], pen=pg.mkPen(HONEST_COLOUR, width=2.5), **_dots(HONEST_COLOUR, 6)
        )
        self.curves["accuracy"] = self.accuracy_plot.plot(
            [], [], pen=pg.mkPen(TRAINING_COLOUR, width=1, style=Qt.PenStyle.DashLine)
        )
        self.estimate_caption = wrapping_label("")
        self.estimate_caption.setObjectName("accuracyEstimate")
        self.estimate_caption.setStyleSheet(f"color: {HONEST_COLOUR};")
        # Beneath the plot (a legend beside it would squeeze a narrow plot): what each
        # curve is, and the last epoch's estimate in words.
        small = self.estimate_caption.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.estimate_caption.setFont(small)
        # One wrapping label, so at the window's minimum width the second entry moves to
        # a new line instead of being cut ("training accuracy (own" at 1,100 px).
        key = QWidget()
        key.setObjectName("accuracyLegend")
        row = QHBoxLayout(key)
        row.setContentsMargins(4, 0, 4, 0)
        entries = wrapping_label(
            " &nbsp; ".join(
                f'<span style="color:{colour}; font-weight:bold">{mark.replace(" ", "&nbsp;")}</span>&nbsp;{text}'
                for mark, text, colour in (
                    ("■", HONEST_NAME, HONEST_COLOUR),
                    ("- -", TRAINING_NAME, TRAINING_COLOUR),
                )
            )
        )
        entries.setFont(small)
        row.addWidget(entries)
        accuracy = QWidget()
        column = QVBoxLayout(accuracy)
        column.setContentsMargins(0, 0, 0, 2)
        column.setSpacing(0)
        column.addWidget(self.accuracy_plot, 1)
        column.addWidget(key)
        column.addWidget(self.estimate_caption)
        self.accuracy_box = accuracy
        self.addWidget(self.loss_plots)
        self.addWidget(accuracy)
        self.draw([], {}, [])  # the empty plots' axes
        for widget in (self.loss_plots, accuracy):
            widget.setMinimumWidth(120)

    def draw(
        self, epochs: list[int], series: dict[str, list[float]], honest: list[AccuracyEstimate | None]
    ) -> None:
        """Every curve: loss terms and training accuracy from ``series``, the estimate
        and its band from ``honest`` (one per epoch; None or too few: a gap)."""
        for key, curve in self.curves.items():
            if key == "honest":
                continue
            values = series.get(key, [])
            if key in LOSS_KEYS:  # a log axis has no place for zero or less
                values = [v if v > 0 else math.nan for v in values]
            _set(curve, epochs, values)
        value, low, high = (
            [_or_nan(getattr(e, part, None)) for e in honest] for part in ("value", "low", "high")
        )
        _set(self.curves["honest"], epochs, value)
        _set(self.band_low, epochs, low)
        _set(self.band_high, epochs, high)
        shown = [i for i, v in enumerate(value) if math.isfinite(v)]
        x = np.array([epochs[i] for i in shown], dtype=float)
        top = np.array([high[i] - value[i] for i in shown])
        bottom = np.array([value[i] - low[i] for i in shown])
        self.interval_bars.setData(x=x, y=np.array([value[i] for i in shown]), top=top, bottom=bottom)
        for item in (self.interval_bars, self.band):  # empty, they still held the x axis at 0
            item.setVisible(bool(shown))
        # Whole epochs on the axis while there are few (pyqtgraph would tick 1.5).
        for plot in (self.loss_plot, self.accuracy_plot):
            if epochs:
                plot.enableAutoRange(x=True, y=plot is self.loss_plot)
            else:  # nothing drawn yet: epochs 1-10 (empty, pyqtgraph ran from -400 to 400)
                plot.setXRange(1, 10, padding=0.05)
                if plot is self.loss_plot:
                    plot.setYRange(0, 3, padding=0)  # 1 to 1,000 on the log axis
            axis = plot.getAxis("bottom")
            if epochs and epochs[-1] - epochs[0] <= 10:
                axis.setTickSpacing(1, 1)
            else:
                axis.setTickSpacing()
        latest = honest[-1] if honest else None
        self.estimate_caption.setText("" if not epochs else describe(latest))


def _set(curve, x: list[int], y: list[float]) -> None:
    """Draw ``y`` over ``x``, gaps where a value is missing (none at all: an empty curve,
    which pyqtgraph takes without complaint)."""
    if any(math.isfinite(v) for v in y):
        curve.setData(x, y, connect="finite")
    else:
        curve.setData([], [])


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _dots(colour: str, size: int = 4) -> dict:
    return {"symbol": "o", "symbolSize": size, "symbolBrush": colour, "symbolPen": None}
