"""The first window a person meets: it opens (or creates) the default project off the GUI
thread and shows its name, sample count and event count."""

from __future__ import annotations

import hashlib

import pytest
from PySide6.QtCore import QSettings

from app.project.bootstrap import bootstrap
from app.ui.display import display_problem
from app.ui.session import Session


@pytest.fixture
def session(qtbot, tmp_path):
    app = bootstrap(annotator="tester", data_dir=tmp_path / "data")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    s = Session(app, settings)
    qtbot.addWidget(s.window)
    yield s
    s.shutdown()


def test_default_project_is_created_and_shown(qtbot, session, tmp_path):
    session.window.show()
    with qtbot.waitSignal(session.window.project_opened, timeout=60_000):
        session.open(None)
    summary = session.window.summary
    assert summary.name.text() == "MNIST 10k"
    assert summary.samples.text() == "10,000"
    assert int(summary.events.text().replace(",", "")) == session.project.event_count >= 2
    assert (tmp_path / "data" / "mnist10k.ledger").exists()
    assert "10,000 samples" in session.window.status.text()
    assert session.window.map_view.points.positions().shape == (10_000, 2)


def test_reopening_the_default_project_does_not_create_another(qtbot, session, tmp_path):
    with qtbot.waitSignal(session.window.project_opened, timeout=60_000):
        session.open(None)
    first = session.project.event_count
    with qtbot.waitSignal(session.window.project_opened, timeout=60_000):
        session.open(None)
    assert session.project.event_count == first


def test_a_damaged_file_shows_a_message_and_is_left_untouched(qtbot, session, tmp_path):
    bad = tmp_path / "broken.ledger"
    bad.write_bytes(b"this is not a project" * 100)
    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    session.open(bad)
    qtbot.waitUntil(lambda: session.window.last_error is not None, timeout=10_000)
    assert "not a Ledgerlab project" in session.window.last_error.text()
    assert session.project is None
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before


def test_events_from_another_process_reach_the_window(qtbot, session, tmp_path):
    with qtbot.waitSignal(session.window.project_opened, timeout=60_000):
        session.open(None)
    before = session.project.event_count
    other = bootstrap(annotator="someone-else", data_dir=tmp_path / "data")
    from domain import commands

    with other.projects.open(session.project.path) as elsewhere:
        elsewhere.execute(commands.AssignLabel(sample=3, label=1))
    qtbot.waitUntil(
        lambda: session.window.summary.events.text().replace(",", "") == str(before + 1),
        timeout=5_000,
    )


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, "no display found"),
        ({"QT_QPA_PLATFORM": "xcb"}, "no display found"),
        ({"QT_QPA_PLATFORM": "offscreen"}, None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, None),
    ],
)
def test_without_a_display_the_person_is_told_how_to_run(environ, expected):
    problem = display_problem(environ, platform="linux")
    if expected is None:
        assert problem is None
    else:
        assert expected in problem
        assert "QT_QPA_PLATFORM=offscreen" in problem and "ledgerlab --help" in problem
