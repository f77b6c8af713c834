"""Issue 15 (soak): a window that opens and closes projects all day keeps only the open
one. Before, a project that had been trained stayed alive after it was closed (the run's
runner kept its reports, their training service and the project through the slots of its
signals), and with it its history, caches and predictions: the window's memory grew with
every reopening.

Freeing it must not crash the window either: the garbage collector runs on whichever
thread allocates (a history or live-follow job of the next project), so it must never be
the one to destroy a live Qt object (a QProcess, a timer, a QThread). The session destroys
the run's Qt objects itself, on the GUI thread; what the collector frees of a closed
project is plain Python and Qt wrappers whose C++ side is already gone."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import shiboken6

from app.ui import training_factory
from domain.dataset import load_dataset
from tests.gui.conftest import clustered_images

CYCLES = 4


def open_in(qtbot, session, path) -> None:
    with qtbot.waitSignal(session.window.project_opened, timeout=60_000):
        session.open(path)
    qtbot.wait(50)


def train(qtbot, session, runner: str, epochs: int = 1) -> None:
    panel = session.window.training
    panel.runner.setCurrentIndex(panel.runner.findData(runner))
    for name, text in {"hidden_sizes": "16", "latent_size": "2", "epochs": str(epochs)}.items():
        if name in panel.fields:
            panel.fields[name][1].setText(text)
    assert panel.start_button.isEnabled(), panel.config_error.text()
    panel.start_button.click()
    qtbot.waitUntil(lambda: not session.training.is_running(), timeout=180_000)
    qtbot.wait(200)
    latest = session.project.state.training.latest
    assert latest is not None and latest.status == "completed", latest.message


def live_qt_objects_the_collector_would_free() -> list[str]:
    """Collect, keeping what the collector found unreachable instead of freeing it: which
    of it are Qt objects that are still alive and that freeing their wrapper would destroy
    (owned by Python)? Then free it all here, on the GUI thread."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = [
            type(o).__name__
            for o in gc.garbage
            if isinstance(o, shiboken6.Shiboken.Object)
            and shiboken6.isValid(o)
            and shiboken6.ownedByPython(o)
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    gc.collect()
    return found


@pytest.mark.parametrize("runner", ["process", "thread"])
def test_projects_closed_after_a_run_are_freed_without_the_collector_destroying_qt_objects(
    qtbot, make_session, application, project_path, tmp_path, runner
):
    source = tmp_path / "other.npz"
    np.savez(source, images=clustered_images(120, seed=3), class_names=np.array([str(d) for d in range(10)]))
    other = tmp_path / "other.ledger"
    application.projects.create(other, load_dataset(source)).close()
    session = make_session(training_factory=training_factory(application))
    session.window.show()
    qtbot.waitExposed(session.window)
    gc.collect()
    gc.disable()  # all this test leaves unreachable waits for the check below
    try:
        check_closed_projects(qtbot, session, project_path, other, runner)
    finally:
        gc.enable()


def check_closed_projects(qtbot, session, project_path, other, runner) -> None:
    open_in(qtbot, session, project_path)
    train(qtbot, session, runner)  # the project that leaked: trained in this window
    run_objects = weakref.ref(session.training.runner)
    closed = [weakref.ref(session.project)]
    for _ in range(CYCLES):
        open_in(qtbot, session, other)
        closed.append(weakref.ref(session.project))
        open_in(qtbot, session, project_path)
        closed.append(weakref.ref(session.project))
    still_open = closed.pop()
    qtbot.wait(200)  # the event loop destroys what the session handed it (deleteLater)

    assert live_qt_objects_the_collector_would_free() == []
    alive = [ref() for ref in closed if ref() is not None]
    assert alive == [], f"{len(alive)} of {len(closed)} closed projects are still in memory"
    assert run_objects() is None or not shiboken6.isValid(run_objects())  # destroyed by Qt
    # The open project and the window still work: another run trains and is recorded.
    project = still_open()
    assert project is not None and project is session.project
    train(qtbot, session, runner)
    assert len(project.state.training.runs) == 2
