"""The application service against real SQLite .ledger files."""

import numpy as np
import pytest

from app.project.bootstrap import bootstrap
from app.project.errors import ProjectError
from app.project.projections import PROJECT_STREAM, SNAPSHOT_NAME
from domain.dataset import load_dataset
from domain.errors import DatasetError, DomainError
from eventstore import ANY, NewEvent, NotALedger, StoreNotFound, open_store


@pytest.fixture
def images():
    return np.random.default_rng(1).integers(0, 256, (50, 8, 8), dtype=np.uint8)


@pytest.fixture
def dataset(tmp_path, images):
    path = tmp_path / "small.npz"
    np.savez(path, images=images)
    return load_dataset(path)


@pytest.fixture
def app(tmp_path):
    return bootstrap(annotator="alice", data_dir=tmp_path / "data")


@pytest.fixture
def project_path(tmp_path, app, dataset):
    path = tmp_path / "p.ledger"
    app.projects.create(path, dataset, class_names=("cat", "dog")).close()
    return path


def test_a_created_project_is_self_contained(tmp_path, app, dataset, images):
    path = tmp_path / "p.ledger"
    with app.projects.create(path, dataset, name="Pets", class_names=("cat", "dog")) as project:
        assert project.info.project_name == "Pets"
        assert project.info.shape == (50, 8, 8)
        assert project.position == 2  # ProjectCreated + LatentMapComputed
    (tmp_path / "small.npz").unlink()  # replay must not need the original file
    with app.projects.open(path) as project:
        np.testing.assert_array_equal(project.images(), images)
        coords = project.latent_map()
        assert coords.shape == (50, 2) and np.isfinite(coords).all()
        assert project.info.class_names == ("cat", "dog")


def test_labels_and_undo_survive_a_restart(app, project_path):
    with app.projects.open(project_path) as project:
        project.assign_label(3, "dog")
        project.assign_label_to_many([4, 5], "cat")
    with app.projects.open(project_path) as project:
        assert project.labels.labels[:6].tolist() == [-1, -1, -1, 1, 0, 0]
        assert project.labels.annotator_of(3) == "alice"
        project.undo()
        assert project.labels.labels[:6].tolist() == [-1, -1, -1, 1, -1, -1]
    with app.projects.open(project_path) as project:
        project.redo()
        assert project.labels.counts.tolist() == [2, 1]


def test_every_event_carries_annotator_and_time(app, project_path):
    other = bootstrap(annotator="bob")
    with other.projects.open(project_path) as project:
        project.assign_label(1, "cat")
        last = list(project.events())[-1]
    assert last.metadata["annotator"] == "bob"
    assert abs(last.metadata["at"] - last.recorded_at) < 5


def test_listeners_hear_which_samples_changed(app, project_path):
    with app.projects.open(project_path) as project:
        heard = []
        unsubscribe = project.subscribe(heard.append)
        project.assign_label_to_many([7, 8], "cat")
        project.add_class("bird")
        project.assign_label(7, "cat")  # no change: no event, no notification
        unsubscribe()
        project.assign_label(9, "cat")
    assert [h.samples for h in heard] == [frozenset({7, 8}), frozenset()]
    assert heard[1].classes_changed and not heard[0].classes_changed
    assert heard[0].last_position == 3


def test_a_second_writer_is_noticed_and_the_command_decided_again(app, project_path):
    first = app.projects.open(project_path)
    second = bootstrap(annotator="bob").projects.open(project_path)
    try:
        first.assign_label(1, "cat")
        second.assign_label(1, "dog")  # stale: retried against fresh state
        events = list(second.events())
        assert [e.data.get("previous") for e in events[2:]] == [-1, 0]
        assert second.labels.label_of(1) == 1
        assert first.refresh() == 1 and first.labels.label_of(1) == 1
    finally:
        first.close()
        second.close()


class RacingStore:
    """A real store whose every append is preceded by another writer's append."""

    def __init__(self, store, rival):
        self._store, self._rival = store, rival

    def append(self, stream_id, events, expected_version):
        self._rival.append(PROJECT_STREAM, [NewEvent("ClassAdded", {"index": 99, "name": "x"})], ANY)
        return self._store.append(stream_id, events, expected_version)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_writer_that_keeps_racing_gets_a_clear_message_and_nothing_is_lost(app, project_path):
    project = app.projects.open(project_path)
    project._store = RacingStore(project._store, open_store(project_path))
    with pytest.raises(
        ProjectError, match="changed by another program twice.*nothing was recorded -- try again"
    ):
        project.assign_label(1, "cat")
    project._store._rival.close()
    project.close()
    with app.projects.open(project_path) as reopened:
        assert reopened.labels.label_of(1) == -1
        assert reopened.event_count == 4  # the rival's two events, both kept


def test_as_of_is_a_read_only_view_of_the_past(app, project_path):
    with app.projects.open(project_path) as project:
        project.assign_label(1, "cat")
        project.assign_label(1, "dog")
        past = project.as_of(3)
        assert past.labels.label_of(1) == 0 and project.labels.label_of(1) == 1
        with pytest.raises(ProjectError, match="read-only \\(as of position 3\\)"):
            past.assign_label(2, "cat")
        with pytest.raises(ProjectError, match="position 9 is outside the log.*positions 0–4"):
            project.as_of(9)
    with app.projects.open(project_path, as_of=2) as view:
        assert view.labels.labeled == 0 and view.read_only


def test_snapshots_speed_up_opening_and_a_bad_one_is_ignored(app, project_path, monkeypatch):
    monkeypatch.setattr("app.project.projections.SNAPSHOT_EVERY", 5)
    with app.projects.open(project_path) as project:
        for s in range(12):
            project.assign_label(s, s % 2)
        expected = project.labels.labels.copy()
    with open_store(project_path) as store:
        snap = store.load_snapshot(SNAPSHOT_NAME)
        assert snap is not None and snap.position >= 7
    with app.projects.open(project_path) as project:
        np.testing.assert_array_equal(project.labels.labels, expected)
    with open_store(project_path) as store:
        store.save_snapshot(SNAPSHOT_NAME, 3, b"not a snapshot")
    with app.projects.open(project_path) as project:
        np.testing.assert_array_equal(project.labels.labels, expected)
        assert project.can_undo()
    with open_store(project_path) as store:  # the long replay left a good snapshot behind
        assert store.load_snapshot(SNAPSHOT_NAME).position == 14


def test_opening_what_is_not_a_project(tmp_path, app):
    with pytest.raises(StoreNotFound, match="no project file at"):
        app.projects.open(tmp_path / "missing.ledger")
    text = tmp_path / "notes.ledger"
    text.write_text("hello")
    with pytest.raises(NotALedger, match="not a Ledgerlab project"):
        app.projects.open(text)
    open_store(tmp_path / "empty.ledger", create=True).close()
    with pytest.raises(ProjectError, match="holds no project.*delete it and create it again"):
        app.projects.open(tmp_path / "empty.ledger")


def test_creating_refuses_to_overwrite_and_leaves_no_debris(tmp_path, app, dataset, project_path):
    with pytest.raises(ProjectError, match="already exists: open it"):
        app.projects.create(project_path, dataset)
    with pytest.raises(ProjectError, match="project files end in .ledger"):
        app.projects.create(tmp_path / "p.db", dataset)
    with pytest.raises(DomainError, match="'a' is listed twice"):
        app.projects.create(tmp_path / "dup.ledger", dataset, class_names=("a", "a"))
    assert not (tmp_path / "dup.ledger").exists()
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope.npz")


def test_logs_written_by_an_older_release_replay(tmp_path, app):
    path = tmp_path / "old.ledger"
    with open_store(path, create=True) as store:
        store.append(
            PROJECT_STREAM,
            [
                NewEvent(
                    "ProjectCreated",
                    {"name": "old", "dataset_sha256": "0" * 64, "shape": [5, 2, 2], "classes": ["x", "y"]},
                    {},
                    1,
                ),
                NewEvent("LabelAssigned", {"sample": 2, "label": 1, "previous": -1}, {"annotator": "eve"}),
            ],
            0,
        )
    with app.projects.open(path) as project:
        assert project.info.class_names == ("x", "y")
        assert project.labels.label_of(2) == 1
        project.assign_label(3, "x")
    with open_store(path) as store:
        store.append(PROJECT_STREAM, [NewEvent("LabelAssigned", {}, {}, 7)], ANY)
    with pytest.raises(ProjectError, match="schema version 7.*newer Ledgerlab: upgrade"):
        app.projects.open(path)


def test_the_default_project_is_created_once_from_the_embedded_set(tmp_path):
    data_dir = tmp_path / "user data"
    with bootstrap(annotator="alice").projects.open_or_create_default(data_dir) as project:
        assert project.info.shape == (10000, 28, 28)
        assert project.info.class_names == tuple("0123456789")
        assert project.labels.labeled == 0  # true labels never enter the log
        first = project.path
    with bootstrap(annotator="alice").projects.open_or_create_default(data_dir) as project:
        assert project.path == first and project.position == 2
        assert {e.type for e in project.events()} == {"ProjectCreated", "LatentMapComputed"}


def test_an_empty_annotator_name_is_refused():
    with pytest.raises(ProjectError, match="the annotator name is empty: give a name with --annotator"):
        bootstrap(annotator="  ")


def test_a_data_folder_that_cannot_be_made_is_explained(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    with pytest.raises(
        ProjectError, match="cannot create the data folder .*file/ledgerlab.*check its permissions"
    ):
        bootstrap(annotator="alice").projects.open_or_create_default(blocker / "ledgerlab")
