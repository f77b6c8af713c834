"""Team mode in the window, against a real PostgreSQL (pgserver): a server project opened
by URL (launch, File → Open shared project…, the recent list, which keeps no password),
other workstations' labels appearing live, a view-only role told so with labeling
refused, and a server that went away said and refused until it is back."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from PySide6.QtCore import QSettings, Qt

from app.cli.main import main
from app.project.address import ProjectAddress
from app.project.bootstrap import bootstrap
from app.ui.live_follow import LiveFollower
from domain.images import Dataset
from eventstore import StoreError
from eventstore.urls import postgres_target
from tests.gui.conftest import activate, clustered_images
from tests.integration.pg_fixtures import pg_uri, project_url  # noqa: F401  (pg_uri is a fixture)

CLASSES = ("cat", "dog", "fox")


def small_dataset() -> Dataset:
    return Dataset(images=clustered_images(60), class_names=CLASSES, source="test")


@pytest.fixture
def server_url(pg_uri, application):  # noqa: F811
    url = project_url(pg_uri)
    application.projects.create(url, small_dataset()).close()
    return url


def with_password(url: str) -> str:
    """The same project with a password in the URL (the test server trusts local sockets,
    so it is not used; it must still never be shown or kept)."""
    return url.replace("postgresql://postgres:@", "postgresql://postgres:hunter2@", 1)


def open_in(qtbot, session, where):
    with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
        session.open(where)
    return session.project


def test_the_window_opens_a_server_project_and_shows_other_workstations_labels_live(
    qtbot, make_session, server_url, tmp_path, settings
):
    session = make_session()
    session.window.show()
    activate(session.window)  # key presses reach only the active window
    project = open_in(qtbot, session, with_password(server_url))
    assert project.address.is_server and project.may_change
    assert session.window.summary.samples.text() == "60"
    assert not session.window.access_banner.isVisible()
    assert session.follower is not None and session.follower.is_running()

    other = bootstrap(annotator="bob", data_dir=tmp_path / "bob").projects.open(server_url)
    try:
        started = time.monotonic()
        other.assign_label(5, "fox")
        # Nothing is done in the window: the follower wakes it up.
        qtbot.waitUntil(lambda: session.project.labels.label_of(5) == 2, timeout=1_000)
        assert time.monotonic() - started < 1.0
        assert "1 of 60 samples labeled" in session.window.status.text()
        assert any("fox · 1" in b.text() for b in session.window.label_panel.buttons)
        other.assign_label_to_many([1, 2], "dog")
        qtbot.waitUntil(lambda: session.project.labels.labeled == 3, timeout=1_000)
    finally:
        other.close()

    # The window's own labels go to the server as well.
    session.window.selection.select_one(7)
    qtbot.keyClick(session.window, Qt.Key.Key_1)
    qtbot.wait(200)  # the viewer's deferred redraw reads the images while the project is open
    with bootstrap(annotator="carol", data_dir=tmp_path / "carol").projects.open(server_url) as third:
        assert third.labels.label_of(7) == 1

    # The recent list keeps the server project, without any password, and it opens again.
    session.window.close()
    session.shutdown()
    stored = QSettings(settings.fileName(), QSettings.Format.IniFormat).value("recentProjects")
    text = repr(stored) + open(settings.fileName()).read()
    assert "hunter2" not in text and "***" not in text
    again = make_session()
    (entry,) = again.recent.entries()
    assert entry.startswith("postgresql://postgres@") and "project=" in entry
    last = again.last_project()
    assert last is not None and last.is_server
    reopened = open_in(qtbot, again, last)
    assert reopened.labels.labeled == 4


def test_file_open_shared_project_asks_for_a_url(qtbot, make_session, server_url):
    session = make_session()
    session.window.show()
    activate(session.window)  # key presses reach only the active window
    dialog = session.menus.open_shared()
    assert dialog.objectName() == "openSharedProject" and dialog.isVisible()
    dialog.setTextValue(with_password(server_url))
    with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
        dialog.accept()
    assert session.project.address.server_project == ProjectAddress.parse(server_url).server_project
    assert "hunter2" not in session.window.windowTitle() + session.window.summary.path.text()
    assert session.window.summary.path.text().startswith("postgresql://")
    # A file path (or a URL naming no project) is explained, not opened.
    dialog = session.menus.open_shared()
    dialog.setTextValue("postgresql://db.example.org/labels")
    dialog.accept()
    qtbot.waitUntil(lambda: session.window.last_error is not None, timeout=5_000)
    assert "project" in session.window.last_error.text()


@pytest.fixture
def fresh_url(pg_uri):  # noqa: F811
    return project_url(pg_uri)


def test_a_view_only_role_gets_the_banner_and_labeling_is_refused(
    qtbot, make_session, fresh_url, application, tmp_path
):
    url = fresh_url
    suffix = uuid.uuid4().hex[:8]
    writer, reader = f"w{suffix}", f"r{suffix}"
    with psycopg.connect(postgres_target(url).conninfo, autocommit=True) as conn:
        for user in (writer, reader):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user)))
    assert main(["server", "init", url, "--writer", writer, "--reader", reader]) == 0
    as_writer = url.replace("postgresql://postgres:@", f"postgresql://{writer}@", 1)
    as_reader = url.replace("postgresql://postgres:@", f"postgresql://{reader}@", 1)
    application.projects.create(as_writer, small_dataset()).close()

    session = make_session(training_factory=lambda project: pytest.fail("no training for a viewer"))
    session.window.show()
    activate(session.window)  # key presses reach only the active window
    project = open_in(qtbot, session, as_reader)
    window = session.window
    assert not project.may_change
    assert window.access_banner.isVisible()
    assert "you may view this project but not change it" in window.access_banner.text().lower()
    assert "view only" in window.status.text()
    assert all(not b.isEnabled() for b in window.label_panel.buttons)
    assert not window.training.start_button.isEnabled()

    window.selection.select_one(3)
    qtbot.keyClick(window, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=5_000)
    assert "you may view this project but not change it" in window.last_error.text()
    assert "Traceback" not in window.last_error.text()
    assert project.labels.labeled == 0

    # The viewer still follows the writers live.
    with bootstrap(annotator="w", data_dir=tmp_path / "w").projects.open(as_writer) as writing:
        writing.assign_label(4, "dog")
    qtbot.waitUntil(lambda: project.labels.label_of(4) == 1, timeout=1_000)


def test_a_server_gone_away_is_said_changes_are_refused_and_back_is_said(qtbot, make_session, server_url):
    session = make_session()
    session.window.show()
    activate(session.window)  # key presses reach only the active window
    project = open_in(qtbot, session, server_url)
    window = session.window
    window.set_unreachable("cannot reach the database of project 'x'", 2.0)
    assert window.access_banner.isVisible() and "Cannot reach the server" in window.access_banner.text()
    assert "Reconnecting in 2 s" in window.access_banner.text()
    assert "server unreachable" in window.status.text()
    assert all(not b.isEnabled() for b in window.label_panel.buttons)
    window.selection.select_one(3)
    qtbot.keyClick(window, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=5_000)
    assert "nothing was recorded" in window.last_error.text()
    assert project.labels.labeled == 0
    window.last_error.done(0)
    window.set_unreachable(None)
    assert not window.access_banner.isVisible()
    assert all(b.isEnabled() for b in window.label_panel.buttons)
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert project.labels.label_of(3) == 1


def test_the_follower_reconnects_with_back_off(qtbot, tmp_path, application, project_path):
    """The store is unreachable twice, then reachable: lost is said with growing pauses,
    then back, then new events arrive again."""
    attempts = []

    def open_log():
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise StoreError("cannot reach the database of project 'p' at postgresql://x/db")
        return application.projects.open_log(project_path, read_only=True)

    with application.projects.open(project_path) as project:
        follower = LiveFollower(open_log, project.position, wait_s=0.05, backoff_s=(0.1, 0.3))
        lost, back, arrived = [], [], []
        follower.lost.connect(lambda message, pause: lost.append(pause))
        follower.back.connect(lambda: back.append(True))
        follower.arrived.connect(arrived.append)
        follower.start()
        try:
            qtbot.waitUntil(lambda: bool(back), timeout=5_000)
            assert lost == [0.1, 0.3]
            assert attempts[2] - attempts[1] >= 0.29
            project.assign_label(0, 1)
            qtbot.waitUntil(lambda: bool(arrived), timeout=2_000)
            assert arrived[-1] == project.position
        finally:
            follower.stop()
    assert not follower.is_running()


def test_a_file_project_shows_another_programs_labels(qtbot, workbench, application, project_path):
    other = application.projects.open(project_path)
    try:
        other.assign_label(11, 4)
    finally:
        other.close()
    qtbot.waitUntil(lambda: workbench.project.labels.label_of(11) == 4, timeout=1_000)


def test_a_url_is_never_mangled_into_a_path_by_launch(monkeypatch, server_url):
    """``launch`` hands the text on as given (``Path`` would fold ``//`` into ``/``)."""
    import app.ui as ui

    seen = []

    class FakeSession:
        def __init__(self, *args, **kwargs):
            self.window = type("W", (), {"show": lambda self: None})()

        def open(self, where):
            seen.append(where)

        def last_project(self):
            return None

        def shutdown(self):
            pass

    class FakeApp:
        def exec(self):
            return 0

    import app.ui.session as session_module

    monkeypatch.setattr(session_module, "Session", FakeSession)
    monkeypatch.setattr(ui, "qt_application", lambda: FakeApp())
    monkeypatch.setattr(ui, "training_factory", lambda app: None)
    assert ui.launch(server_url, object()) == 0
    assert seen == [server_url]
    assert ProjectAddress.parse(seen[0]).is_server


def test_the_window_says_when_the_server_goes_away_and_reconnects_when_it_is_back(
    qtbot, make_session, application, tmp_path
):
    """A private server (the session's is shared): stopped while the window follows it,
    then started again on the same data."""
    pgserver = pytest.importorskip("pgserver")
    folder = Path(tempfile.mkdtemp(prefix="ledgerlab-pg-gone-"))  # readable by the server's user
    server = pgserver.get_server(folder / "data", cleanup_mode="stop")
    session = None
    try:
        url = project_url(server.get_uri())
        application.projects.create(url, small_dataset()).close()
        session = make_session()
        session.window.show()
        activate(session.window)  # key presses reach only the active window
        project = open_in(qtbot, session, url)
        window = session.window
        window.selection.select_one(3)
        qtbot.wait(100)

        server.cleanup()  # the server goes away
        qtbot.waitUntil(lambda: window.unreachable is not None, timeout=5_000)
        assert window.access_banner.isVisible() and "Cannot reach the server" in window.access_banner.text()
        assert "server unreachable" in window.status.text()
        assert "hunter2" not in window.access_banner.text()
        qtbot.keyClick(window, Qt.Key.Key_1)
        qtbot.waitUntil(lambda: window.last_error is not None, timeout=5_000)
        assert "nothing was recorded" in window.last_error.text()
        assert "Traceback" not in window.last_error.text()
        window.last_error.done(0)

        server = pgserver.get_server(folder / "data", cleanup_mode="stop")  # back
        try:
            qtbot.waitUntil(lambda: window.unreachable is None, timeout=20_000)
        except Exception:
            print("BANNER", window.access_banner.text(), server.get_uri())
            raise
        assert not window.access_banner.isVisible()
        with bootstrap(annotator="bob", data_dir=tmp_path / "bob").projects.open(url) as other:
            other.assign_label(9, "fox")
        qtbot.waitUntil(lambda: project.labels.label_of(9) == 2, timeout=2_000)
        window.selection.select_one(3)
        refused = window.last_error
        window.labeling.label(1)  # the class button's action
        assert window.last_error is refused, window.last_error.text()
        assert project.labels.label_of(3) == 1
        qtbot.wait(200)
    finally:
        if session is not None:  # before the server stops for good
            session.window.close()
            session.shutdown()
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def test_gui_with_a_url_naming_no_project_is_one_line_before_any_window(capsys):
    assert main(["gui", "postgresql://db.example.org/labels"]) == 2
    err = capsys.readouterr().err
    assert "names no project" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
