"""Reproducing a recorded run (``verify --rerun``) and moving a project through an
event export (``export --events --blobs`` / ``import-events``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app.cli.main import main
from app.history.ledger_files import copy_events
from app.history.timeline import History
from domain.learning.config import TrainingConfig
from domain.training_events import ModelConfigured
from eventstore import open_store

from .training_fixtures import TINY, make_project

pytestmark = pytest.mark.slow


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project with one 3-epoch run made by `ledgerlab train --runner inline`, with a
    label given between runs of the CLI so epochs' label positions differ from the start."""
    folder = tmp_path_factory.mktemp("trained")
    app, project = make_project(folder, labeled=6)
    config = {**TrainingConfig().to_dict(), **TINY, "epochs": 3}
    project.record("project-config", [ModelConfigured(config)])
    path = project.path
    project.close()
    assert main(["train", str(path), "--epochs", "3", "--runner", "inline"]) == 0
    with app.projects.open(path) as project:
        run_id = project.state.training.latest.run_id
    return app, path, run_id


def test_a_recorded_run_reruns_bit_for_bit(capsys, trained):
    _, path, run_id = trained
    code, out, err = run(capsys, "verify", path, "--rerun", run_id)
    assert code == 0, err
    assert f"run {run_id}: identical: 3 epochs' metrics and 1 checkpoints match the record bit for bit" in out


def test_a_run_recorded_under_another_seed_is_reported_metric_by_metric(capsys, trained, tmp_path):
    app, path, run_id = trained
    crafted = tmp_path / "crafted.ledger"
    with open_store(path, read_only=True) as source, open_store(crafted, create=True) as target:
        for sha in {e.data.get("dataset_sha256") for e in source.read_all() if e.data.get("dataset_sha256")}:
            target.put_blob(source.get_blob(sha))
        events = (
            e._replace(data={**e.data, "seed": e.data["seed"] + 1}) if e.type == "TrainingStarted" else e
            for e in source.read_all()
        )
        copy_events(events, target)
        for e in source.read_all():  # maps of the project (the start map aligns the first new one)
            if e.type == "LatentMapComputed":
                target.put_blob(source.get_blob(e.data["map_sha256"]))
    code, out, err = run(capsys, "verify", crafted, "--rerun", run_id)
    assert code == 2 and err.count("\n") == 1
    assert f"run {run_id} differs from its record" in err
    assert re.search(r"differs: epoch 1 loss: recorded [0-9.e+-]+, rerun [0-9.e+-]+ \(difference", out)
    assert "differs: epoch 3 checkpoint: recorded" in out


def test_a_run_cut_short_reruns_the_epochs_it_recorded(capsys, trained, tmp_path):
    app, path, run_id = trained
    with app.projects.open(path) as project:
        second = History.of(project).epochs(run_id)[1]
    target = tmp_path / "mid-run.ledger"  # branched mid-run: the run is interrupted there
    assert run(capsys, "branch", path, "--at", second.position + 2, target)[0] == 0
    with app.projects.open(target) as branch:
        assert branch.state.training.get(run_id).status == "interrupted"
    code, out, err = run(capsys, "verify", target, "--rerun", run_id)
    assert code == 0, err
    assert f"run {run_id}: identical: 2 epochs' metrics and 0 checkpoints match" in out


def test_an_unknown_run_is_one_line(capsys, trained):
    _, path, run_id = trained
    code, _, err = run(capsys, "verify", path, "--rerun", "nosuchrun")
    assert code == 2 and err.count("\n") == 1
    assert f"there is no run 'nosuchrun' in this project (runs: {run_id})" in err


def test_the_epochs_of_runs_are_listed_with_their_positions(trained):
    app, path, run_id = trained
    with app.projects.open(path) as project:
        marks = History.of(project).epochs()
        assert [(m.run_id, m.epoch) for m in marks] == [(run_id, 1), (run_id, 2), (run_id, 3)]
        for mark in marks:
            assert project.as_of(mark.position).state.training.get(run_id).epochs[-1] == mark.epoch


def test_export_and_import_round_trip(capsys, trained, tmp_path):
    app, path, _ = trained
    jsonl, blobs, copy = tmp_path / "log.jsonl", tmp_path / "blobs", tmp_path / "copy.ledger"
    code, out, err = run(capsys, "export", path, "--events", jsonl, "--blobs", blobs)
    assert code == 0, err and "blobs to" in out
    code, out, err = run(capsys, "import-events", jsonl, copy, "--blobs", blobs)
    assert code == 0, err
    assert "a new hash chain of the same events" in out
    with app.projects.open(path) as original, app.projects.open(copy) as imported:
        assert imported.state.snapshot() == original.state.snapshot()
        assert np.array_equal(imported.labels.labels, original.labels.labels)
        assert np.array_equal(imported.latent_map(), original.latent_map())
        assert imported.state.training == original.state.training
        assert np.array_equal(imported.predictions(), original.predictions())
    assert run(capsys, "verify", copy)[0] == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["{j}", "{d}/n.ledger"], "the events reference blobs (the first at position 1): give --blobs DIR"),
        (["{j}", "{d}/n.ledger", "--blobs", "{d}/nowhere"], "the blobs folder"),
        (["{d}/none.jsonl", "{d}/n.ledger"], "no event export at"),
        (["{j}", "{p}", "--blobs", "{b}"], "already exists"),
    ],
)
def test_bad_imports_are_one_line_and_leave_nothing(capsys, trained, tmp_path, args, message):
    app, path, _ = trained
    jsonl, blobs = tmp_path / "log.jsonl", tmp_path / "blobs"
    assert run(capsys, "export", path, "--events", jsonl, "--blobs", blobs)[0] == 0
    argv = [a.format(j=jsonl, d=tmp_path, p=path, b=blobs) for a in args]
    code, _, err = run(capsys, "import-events", *argv)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "n.ledger").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs", "log.jsonl"]
