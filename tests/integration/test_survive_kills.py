"""Issue 15, item 4: runs survive kills. A `kill -9` of `ledgerlab train` reads as
interrupted at once (`info`), `--continue` loses at most one epoch (the per-epoch resume
point in the snapshot cache), orphaned worker folders are swept, and a closed stdout never
fails a run that trains fine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile

import pytest

from app.cli.main import main

from .training_fixtures import make_project

pytestmark = pytest.mark.slow

TINY_FLAGS = ["--hidden", "16", "--latent", "2", "--batch", "16", "--seed", "5"]
ENV = {**os.environ, "LEDGERLAB_ANNOTATOR": "tester"}


def info(capsys, path) -> dict:
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _train(path, *flags, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "train", str(path), *flags, *TINY_FLAGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        **kw,
    )


def test_kill_9_after_epoch_3_reads_interrupted_and_continues_from_epoch_3(tmp_path, capsys):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    proc = _train(path, "--epochs", "100000")
    for line in proc.stdout:
        if "epoch 3/" in line:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)

    (run,) = info(capsys, path)["runs"]  # no later `train` needed
    assert run["status"] == "interrupted"
    assert run["checkpoint"] is None  # CHECKPOINT_EVERY is 5: nothing durable yet

    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "train", str(path), "--epochs", "2", "--continue", *TINY_FLAGS],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "epoch 4/5" in done.stdout and "epoch 5/5" in done.stdout, done.stdout
    runs = info(capsys, path)["runs"]
    assert [r["status"] for r in runs] == ["interrupted", "completed"]


def test_a_resume_point_whose_bytes_changed_is_not_used(tmp_path, capsys):
    from app.training.recorder import RunRecorder, recover_on_open, resume_point

    app, project = make_project(tmp_path)
    path = project.path
    project.close()
    proc = _train(path, "--epochs", "100000")
    for line in proc.stdout:
        if "epoch 2/" in line:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    with app.projects.open(path) as project:
        assert recover_on_open(project)
        run = next(iter(project.state.training.runs.values()))
        epoch, checkpoint = resume_point(project, run)
        assert epoch == run.epochs[-1] >= 2
        snap = project._store.load_snapshot(f"resume.{run.run_id}")
        damaged = bytes(snap.payload)[:-1] + bytes([bytes(snap.payload)[-1] ^ 1])
        project._store.save_snapshot(f"resume.{run.run_id}", snap.position, damaged)
        assert resume_point(project, run) is None
        with pytest.raises(Exception, match="no earlier run with a checkpoint"):
            RunRecorder.prepare(project, {}, epochs=1, continue_run=True)


def test_a_read_only_view_writes_nothing(tmp_path):
    from app.training.recorder import recover_on_open

    app, project = make_project(tmp_path)
    path = project.path
    project.close()
    proc = _train(path, "--epochs", "100000")
    for line in proc.stdout:
        if "epoch 1/" in line:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    with app.projects.open(path) as live:
        head = live.position
    with app.projects.open(path, as_of=head) as past:
        assert past.read_only and past.state.training.running
        assert recover_on_open(past) == []
    with app.projects.open(path) as live:
        assert live.position == head and live.state.training.running  # nothing was written
        assert recover_on_open(live) and not live.state.training.running


def test_orphaned_worker_folders_are_swept(tmp_path):
    pytest.importorskip("PySide6")
    from app.training.worker_folders import FOLDER_PREFIX, sweep_orphan_folders

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{dead.pid}-abcd0123-", dir=tmp_path)
    mine = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-abcd0123-", dir=tmp_path)
    removed = sweep_orphan_folders(str(tmp_path))
    assert [str(p) for p in removed] == [orphan]
    assert os.path.isdir(mine) and not os.path.exists(orphan)


def test_a_closed_stdout_does_not_fail_a_run(tmp_path, capsys):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    read, write = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "train", str(path), "--epochs", "6", *TINY_FLAGS],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    os.close(write)
    with os.fdopen(read) as out:
        out.readline()  # the first line, then the reader goes away (`| head -1`)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    (run,) = info(capsys, path)["runs"]
    assert run["status"] == "completed"
