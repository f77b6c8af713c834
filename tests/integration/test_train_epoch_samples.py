"""`ledgerlab train --epoch-samples N`: shorter epochs, recorded in the run's config and
reproduced by `verify --rerun`; a bad value is one line and exit 2."""

from __future__ import annotations

import pytest

from app.cli.main import main
from app.project.bootstrap import bootstrap

from .training_fixtures import make_project

pytestmark = pytest.mark.slow

TINY_FLAGS = ["--hidden", "16", "--latent", "2", "--batch", "16", "--seed", "5"]


def test_epoch_samples_shortens_epochs_is_recorded_and_reruns_bit_for_bit(tmp_path, capsys):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    assert main(["train", str(path), "--epochs", "2", "--epoch-samples", "32", *TINY_FLAGS]) == 0
    with bootstrap(annotator="t", data_dir=tmp_path / "data").projects.open(path) as reopened:
        run = reopened.state.training.latest
        assert run.config["epoch_samples"] == 32
        assert run.status == "completed"
        run_id = run.run_id
        # every sample still gets a prediction and a place on the map
        assert reopened.latent_map().shape == (64, 2)
    capsys.readouterr()
    assert main(["verify", str(path), "--rerun", run_id]) == 0
    assert "identical" in capsys.readouterr().out


def test_a_negative_epoch_samples_is_one_line_and_exit_2(tmp_path, capsys):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    capsys.readouterr()
    assert main(["train", str(path), "--epochs", "1", "--epoch-samples", "-5", *TINY_FLAGS]) == 2
    err = capsys.readouterr().err.strip()
    assert "epoch_samples" in err and len(err.splitlines()) == 1
