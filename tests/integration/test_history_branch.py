"""Branching from a position, the history listing and the project as of a position."""

from __future__ import annotations

import numpy as np
import pytest

from app.cli.main import main
from app.history.timeline import History
from app.project import snapshots as history_snapshots
from app.project.errors import ProjectError
from domain.training_events import TrainingStarted, run_stream

from .training_fixtures import TINY, make_project


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def labeled(tmp_path):
    app, project = make_project(tmp_path, labeled=6)  # positions 1-2 creation, 3-8 labels
    project.add_class("x")
    project.assign_label_to_many([10, 11, 12], "x")
    yield app, project
    project.close()


def state_bytes(project) -> bytes:
    return project.state.snapshot()


def test_a_branch_replays_to_the_parent_at_its_position_and_then_diverges(capsys, labeled, tmp_path):
    app, parent = labeled
    head = parent.position
    target = tmp_path / "branch.ledger"
    code, out, err = run(capsys, "branch", parent.path, "--at", 6, target)
    assert code == 0, err
    assert f"created {target}" in out
    with app.projects.open(target) as branch:
        assert [e.type for e in branch.events()][-1] == "ProjectBranched"
        assert branch.position == 7
        assert branch.info.parent_path == str(parent.path) and branch.info.parent_position == 6
        lineage = [e for e in branch.events() if e.type == "ProjectBranched"][0].data
        assert (
            lineage["parent_head_hash"] == parent._store.chain_hash(6)
            and len(lineage["parent_head_hash"]) == 64
        )
        as_of_parent = parent.as_of(6)
        assert branch.as_of(6).state.snapshot() == as_of_parent.state.snapshot()
        assert np.array_equal(branch.labels.labels, as_of_parent.labels.labels)
        assert branch.images().shape == (64, 8, 8)  # the dataset blob came along
        assert branch.latent_map() is not None
        branch.assign_label(40, "v")  # the branch is a project of its own
        assert branch.labels.label_of(40) == 1
    parent.refresh()
    assert parent.position == head and parent.labels.label_of(40) == -1
    assert run(capsys, "verify", target)[0] == 0
    code, out, _ = run(capsys, "info", target, "--json")
    assert __import__("json").loads(out)["branched_from"] == {"path": str(parent.path), "position": 6}


def test_a_run_training_at_the_position_is_interrupted_in_the_branch(labeled, tmp_path):
    app, parent = labeled
    parent.record(
        run_stream("r1"),
        [
            TrainingStarted(
                run_id="r1",
                config=dict(TINY),
                seed=3,
                epochs=2,
                labels_position=parent.position,
                dataset_sha256=parent.info.dataset_sha256,
                versions={},
                runner="inline",
            )
        ],
    )
    assert parent.state.training.running
    target = History.of(parent).branch(parent.position, tmp_path / "b.ledger")
    with app.projects.open(target) as branch:
        assert branch.state.training.get("r1").status == "interrupted"
        assert not branch.state.training.running
    assert parent.state.training.get("r1").status == "running"  # the parent is untouched


@pytest.mark.parametrize(
    "args, message",
    [
        (["--at", "0", "{d}/n.ledger"], "its log holds positions 1–"),
        (["--at", "999", "{d}/n.ledger"], "position 999: its log holds positions 1–"),
        (["--at", "-3", "{d}/n.ledger"], "must be a whole number >= 0"),
        (["--at", "3", "{d}/n.txt"], "project files end in .ledger"),
        (["--at", "3", "{d}/no/n.ledger"], "does not exist"),
        (["--at", "3", "{p}"], "already exists"),
    ],
)
def test_bad_branch_requests_are_one_line_and_exit_2(capsys, labeled, tmp_path, args, message):
    _, parent = labeled
    before = parent.path.stat().st_size, parent.head()
    argv = [a.format(d=tmp_path, p=parent.path) for a in args]
    code, out, err = run(capsys, "branch", parent.path, *argv)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert (parent.path.stat().st_size, parent.head()) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".n", "n."))) == []


def test_the_listing_pages_filters_and_counts(labeled):
    _, project = labeled
    project.assign_label(20, "h")
    history = History.of(project)
    head = project.position
    assert history.count() == head
    page = history.rows(2, 3)
    assert [r.position for r in page] == [3, 4, 5]
    assert page[0].type == "LabelAssigned" and page[0].annotator == "tester"
    assert page[0].summary == "sample 0: (none) -> h"
    assert [r.position for r in history.rows(0, 2, newest_first=True)] == [head, head - 1]
    assert history.count(type="LabelAssigned") == 7
    assert [r.position for r in history.rows(5, 10, type="LabelAssigned")] == [8, head]
    assert history.count(annotator="nobody") == 0 and history.rows(0, 5, annotator="nobody") == []
    assert set(history.types()) >= {"ProjectCreated", "LabelAssigned", "ClassAdded", "LabelsAssigned"}
    assert history.annotators() == ("tester",)


def test_the_project_as_of_any_position_comes_from_the_nearest_snapshot(labeled, monkeypatch):
    _, project = labeled
    for sample in range(20, 60):
        project.assign_label(sample, sample % 3)
    monkeypatch.setattr(history_snapshots, "CHECKPOINT_EVERY", 8)
    history = History.of(project)
    for _ in history.prepare():
        pass
    assert history_snapshots.spacing(project._store) == (8, project.position // 8 * 8)
    for position in (1, 7, 8, 13, 30, project.position):
        rebuilt = project.as_of(position).state.snapshot()
        from_zero = type(project.state).build(
            project._store.read_all(),
            project._registry,
            until=position,
            extra_parts=project.state.extra_parts,
        )
        assert rebuilt == from_zero.snapshot() == history.state_as_of(position).state.snapshot()
    with pytest.raises(ProjectError, match="outside the log"):
        history.state_as_of(project.position + 1)


def test_log_lists_and_filters_the_events(capsys, labeled):
    _, project = labeled
    project.assign_label(30, "d")
    code, out, err = run(capsys, "log", project.path)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == project.position
    assert lines[0].split()[0] == "1" and "ProjectCreated" in lines[0] and "created 'stripes'" in lines[0]
    assert "tester" in lines[2] and "LabelAssigned" in lines[2] and lines[2].endswith("sample 0: (none) -> h")
    code, out, _ = run(capsys, "log", project.path, "--type", "LabelsAssigned", "--json")
    rows = [__import__("json").loads(line) for line in out.splitlines()]
    assert [(r["type"], r["summary"], r["annotator"]) for r in rows] == [
        ("LabelsAssigned", "3 samples -> x", "tester")
    ]
    assert rows[0]["time"].endswith("+00:00")
    assert run(capsys, "log", project.path, "--annotator", "nobody") == (0, "", "")
    code, _, err = run(capsys, "log", project.path, "--type", "Nope")
    assert code == 2 and "unknown event type 'Nope'" in err and err.count("\n") == 1


def test_every_event_type_reads_as_a_line_of_its_own(labeled):
    from domain.events import Event

    app, _ = labeled
    for name in app.registry.type_names:
        event_class = app.registry.class_for(name, app.registry.latest_version(name))
        assert event_class.summary is not Event.summary, name  # says more than its type
