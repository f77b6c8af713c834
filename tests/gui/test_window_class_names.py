"""The window with class names longer than a digit, as a folder of class folders gives
("digit0" ... "digit9"), at the default size: every navigation button and legend entry
reads whole, and the empty plots of a new project count epochs from 1."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QLabel, QPushButton

from app.ui.main_window import DEFAULT_SIZE
from domain.dataset import load_dataset

from .conftest import SAMPLES, activate, clustered_images


@pytest.fixture
def named_project(tmp_path, application):
    source = tmp_path / "folders.npz"
    names = np.array([f"digit{d}" for d in range(10)])
    np.savez(source, images=clustered_images(SAMPLES), class_names=names)
    target = tmp_path / "folders.ledger"
    application.projects.create(target, load_dataset(source)).close()
    return target


def opened(qtbot, make_session, path):
    session = make_session()
    window = session.window
    window.resize(DEFAULT_SIZE)
    window.show()
    qtbot.waitExposed(window)
    activate(window)
    with qtbot.waitSignal(window.project_opened, timeout=20_000):
        session.open(path)
    qtbot.wait(100)  # the side panel fills in after the project opens
    return window


def reads_whole(widget) -> bool:
    """As wide as its text needs (a button: the text and a little padding), and not cut
    by its parent."""
    if isinstance(widget, QPushButton):
        needed = widget.fontMetrics().horizontalAdvance(widget.text()) + 8
    else:
        needed = widget.sizeHint().width()
    return (
        widget.isVisible()
        and widget.width() >= needed
        and widget.visibleRegion().boundingRect().size() == widget.size()
    )


def test_navigation_buttons_and_legend_read_whole(qtbot, make_session, named_project):
    window = opened(qtbot, make_session, named_project)
    navigation = window.findChildren(QPushButton, "navigationButton")
    window.splitter.setSizes([640, 640])  # as a window laid out half and half
    qtbot.wait(50)
    # Half and half holds: the long button texts had made the viewer at least 683 px
    # wide, and a screen no wider than the window cut them.
    assert window.splitter.sizes()[1] <= 645, window.splitter.sizes()
    for button in navigation:
        assert reads_whole(button), (
            button.text(),
            button.width(),
            button.fontMetrics().horizontalAdvance(button.text()),
        )
        assert button.toolTip()  # the action's full name
    assert [b.text() for b in navigation][2:] == [
        "Unlabeled (N)",
        "Uncertain (U)",
        "Suggested (S)",
        "Flagged (F)",
        "Unlabel (⌫)",
    ]
    entries = window.map_view.legend.findChildren(QLabel, "legendEntry")
    assert [e.text().rsplit("</span> ", 1)[-1] for e in entries] == [f"digit{d}" for d in range(10)] + [
        "unlabeled"
    ]
    for entry in entries:
        assert reads_whole(entry), (entry.text(), entry.width(), entry.sizeHint().width())


def test_a_legend_of_many_classes_names_the_first_and_counts_the_rest(
    qtbot, make_session, tmp_path, application
):
    source = tmp_path / "many.npz"
    names = np.array([f"species {i}" for i in range(40)])
    images = np.random.default_rng(0).integers(0, 256, (80, 8, 8)).astype(np.uint8)
    np.savez(source, images=images, class_names=names)
    target = tmp_path / "many.ledger"
    application.projects.create(target, load_dataset(source)).close()
    window = opened(qtbot, make_session, target)
    texts = [e.text() for e in window.map_view.legend.findChildren(QLabel, "legendEntry")]
    assert len(texts) == 25
    assert texts[0].endswith("species 0") and texts[22].endswith("species 22")
    assert texts[23] == "… 17 more classes" and texts[24].endswith("unlabeled")


def test_empty_plots_count_epochs_from_one(qtbot, make_session, named_project):
    window = opened(qtbot, make_session, named_project)
    plots = window.training.plots
    for plot in (plots.loss_plot, plots.accuracy_plot):
        (low, high), _ = plot.getViewBox().viewRange()
        assert 0 < low <= 1 and 10 <= high < 11, (low, high)  # not -400 ... 400


def test_without_an_estimate_the_accuracy_axis_starts_at_the_first_epoch(qtbot, make_session, named_project):
    window = opened(qtbot, make_session, named_project)
    plots = window.training.plots
    plots.draw([1, 2], {"accuracy": [0.15, 0.5]}, [None, None])  # too few held-out labels
    plots.accuracy_plot.getViewBox().updateAutoRange()
    (low, high), _ = plots.accuracy_plot.getViewBox().viewRange()
    assert low > 0.5 and 2 <= high < 2.5, (low, high)  # the empty band and bars held it at 0
