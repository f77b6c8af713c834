"""Issue 15: `ledgerlab train P --runner thread|process | head -1` -- a reader that goes
away after the first line -- never fails a run that trains fine: the run is recorded as
completed, the exit code is 0 and nothing about the closed pipe reaches stderr. (The
inline runner: tests/integration/test_survive_kills.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.cli.main import main

from .training_fixtures import make_project

pytestmark = pytest.mark.slow

TINY_FLAGS = ["--hidden", "16", "--latent", "2", "--batch", "16", "--seed", "5"]
ENV = {**os.environ, "LEDGERLAB_ANNOTATOR": "tester"}


@pytest.mark.parametrize("runner", ["thread", "process"])
def test_a_reader_that_goes_away_does_not_fail_a_run(tmp_path, capsys, runner):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    read, write = os.pipe()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "train",
            str(path),
            "--epochs",
            "4",
            "--runner",
            runner,
            *TINY_FLAGS,
        ],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    os.close(write)
    with os.fdopen(read) as out:
        first = out.readline()  # the first line, then the reader goes away (`| head -1`)
    assert "epoch 1/4" in first
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["status"] == "completed" and run["epochs"] == 4
