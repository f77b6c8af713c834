"""`ledgerlab train` end to end: a tiny run recorded as events, and `info --json` shows it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from app.cli.main import main

from .training_fixtures import make_project

pytestmark = pytest.mark.slow

TINY_FLAGS = ["--hidden", "16", "--latent", "2", "--batch", "16", "--seed", "5"]


def info(capsys, path) -> dict:
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_records_a_complete_run_and_info_lists_it(tmp_path, capsys):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    assert main(["train", str(path), "--epochs", "2", *TINY_FLAGS]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "completed" in out
    data = info(capsys, path)
    (run,) = data["runs"]
    assert run["status"] == "completed" and run["epochs"] == 2 and run["seed"] == 5
    assert set(run["metrics"]) >= {"loss", "reconstruction", "kl", "classification", "accuracy"}
    assert 0.0 <= run["metrics"]["accuracy"] <= 1.0

    assert main(["train", str(path), "--epochs", "1", "--continue", *TINY_FLAGS]) == 0
    runs = info(capsys, path)["runs"]
    assert [r["status"] for r in runs] == ["completed", "completed"]
    assert runs[1]["continues"] == runs[0]["run_id"] and runs[1]["last_epoch"] == 3


def test_train_without_labels_still_organises_the_map(tmp_path, capsys):
    _, project = make_project(tmp_path, labeled=0)
    path = project.path
    project.close()
    assert main(["train", str(path), "--epochs", "1", *TINY_FLAGS]) == 0
    (run,) = info(capsys, path)["runs"]
    assert run["metrics"]["accuracy"] is None and run["metrics"]["classification"] is None
    from app.project.bootstrap import bootstrap

    with bootstrap(annotator="t", data_dir=tmp_path).projects.open(path) as reopened:
        assert reopened.state.training.latest_predictions.meaningful is False
        assert reopened.state.latent_map.current.method == "vae-class-polygon"


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "0"], "epochs"),
        (["--epochs", "2", "--lr", "-1"], "learning"),
        (["--epochs", "2", "--hidden", "a,b"], "--hidden"),
        (["--epochs", "2", "--continue"], "no earlier run"),
        (["--epochs", "2", "--runner", "gpu"], "invalid choice"),
    ],
)
def test_bad_training_settings_are_refused_in_one_line(tmp_path, capsys, flags, message):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    assert main(["train", str(path), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert info(capsys, path)["runs"] == []


def test_ctrl_c_records_training_stopped_and_exits_cleanly(tmp_path, capsys):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    env = {**os.environ, "LEDGERLAB_ANNOTATOR": "tester"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "train", str(path), "--epochs", "100000", *TINY_FLAGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in proc.stdout:
        if "epoch 1/" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "stopped" in err
    (run,) = info(capsys, path)["runs"]
    assert run["status"] == "stopped" and run["checkpoint"] is not None


def test_settings_not_given_take_todays_defaults(tmp_path):
    """The window's form shows a few settings; the rest must be the defaults, not zeros."""
    from app.training.recorder import checked_config
    from domain.learning.config import TrainingConfig

    config = checked_config({"learning_rate": 0.002}, epochs=3)
    defaults = TrainingConfig()
    assert config.learning_rate == 0.002 and config.epochs == 3
    assert config.pseudo_label_weight == defaults.pseudo_label_weight > 0
    assert config.cutout == defaults.cutout > 0


def test_train_keeps_compiled_programs_in_the_user_cache_folder(tmp_path):
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    cache = tmp_path / "user-cache"
    env = {**os.environ, "LEDGERLAB_CACHE_DIR": str(cache)}
    subprocess.run(
        [sys.executable, "-m", "app.cli", "train", str(path), "--epochs", "1", *TINY_FLAGS],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    programs = sorted(p.name for p in (cache / "jax-programs").iterdir())
    assert len(programs) == 3, programs  # initial state, train step, evaluation: loaded next time
    # JAX's own cache stays off where programs are kept (issue 19: see domain.learning.programs)
    assert not (cache / "jax").exists()


def _checkpoints(path) -> list[str]:
    """The final checkpoint of every run of the project, in order."""
    from app.project.bootstrap import bootstrap

    with bootstrap(annotator="t", data_dir=path.parent / "data").projects.open(path) as project:
        runs = project.state.training.runs
        assert all(run.status == "completed" for run in runs.values()), runs
        return [run.checkpoint for run in runs.values()]


def test_two_learning_rates_in_turn_keep_training_with_every_runner(tmp_path):
    """Issue 19: after runs with two settings had filled the program store, every later
    run failed ("Function wrapped_slice.1 not found"). Each runner, in its own processes,
    now completes the sequence, and a run whose programs were loaded ends with the very
    checkpoint a fresh compilation gives."""

    def train(path, cache, runner: str, rate: str) -> None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "train",
                str(path),
                "--epochs",
                "1",
                *TINY_FLAGS,
                "--lr",
                rate,
                "--runner",
                runner,
                "--cache",
                str(cache),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]

    _, project = make_project(tmp_path, name="fresh")
    fresh_path = project.path
    project.close()
    for rate in ("0.001", "0.002"):  # each compiled from nothing, in a store of its own
        train(fresh_path, tmp_path / f"cache-{rate}", "inline", rate)
    fresh = _checkpoints(fresh_path)
    assert fresh[0] != fresh[1]
    for runner in ("inline", "thread", "process"):
        (tmp_path / runner).mkdir()
        _, project = make_project(tmp_path / runner)
        path = project.path
        project.close()
        rates = ("0.001", "0.002", "0.002", "0.001")
        for rate in rates:
            train(path, tmp_path / runner / "cache", runner, rate)
        assert len(list((tmp_path / runner / "cache-programs").iterdir())) == 5
        expected = [fresh[0] if rate == "0.001" else fresh[1] for rate in rates]
        assert _checkpoints(path) == expected, runner


def test_train_on_a_project_without_classes_says_what_to_do_and_records_nothing(tmp_path, capsys):
    import numpy as np

    data = tmp_path / "d.npz"
    np.savez(data, images=np.zeros((20, 8, 8), np.uint8))
    path = tmp_path / "p.ledger"
    assert main(["new", str(path), "--dataset", str(data)]) == 0
    events = json.loads(_info(capsys, path))["events"]
    capsys.readouterr()
    assert main(["train", str(path), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledgerlab: error: ") and "has no classes" in err and "ledgerlab add-class" in err
    assert "ConfigError" not in err
    after = json.loads(_info(capsys, path))
    assert after["events"] == events and after["runs"] == []  # no run started and failed
    assert main(["add-class", str(path), "cat"]) == 0
    capsys.readouterr()
    assert main(["train", str(path), "--epochs", "1"]) == 2
    assert "has one class (cat)" in capsys.readouterr().err


def _info(capsys, path) -> str:
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    return capsys.readouterr().out
