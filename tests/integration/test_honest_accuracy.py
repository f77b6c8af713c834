"""Prospective accuracy (app.quality.accuracy) on a real log, and how `info` shows it.

Runs are recorded through the real ``RunRecorder`` with hand-made predictions, so the
predicted class of every sample is known and no model is trained.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli.main import main
from app.cli.training import _progress_line
from app.quality.accuracy import ProspectiveAccuracy, prospective_accuracy
from app.training.recorder import RunRecorder
from app.training.spec import EpochOutput
from domain import commands
from domain.accuracy import MIN_SAMPLES, AccuracyEstimate

from .training_fixtures import SAMPLES, TINY, make_project, stripes

TRUTH = stripes()[1]


def predicting(predicted: np.ndarray, classes: int = 3) -> np.ndarray:
    probabilities = np.full((len(predicted), classes), 0.1, np.float32)
    probabilities[np.arange(len(predicted)), predicted] = 0.8
    return probabilities


def record_epoch(recorder: RunRecorder, epoch: int, predicted: np.ndarray, meaningful: bool = True) -> None:
    project = recorder.project
    recorder.epoch(
        EpochOutput(
            run_id=recorder.run_id,
            epoch=epoch,
            metrics={"loss": 1.0, "accuracy": 1.0, "seconds": 0.1},
            checkpoint=b"weights",
            probabilities=predicting(predicted),
            latent_map=np.zeros((SAMPLES, 2), np.float32),
            meaningful=meaningful,
            labels_position=project.position,
            labeled=project.labels.labeled,
        )
    )


def start(project) -> RunRecorder:
    return RunRecorder.prepare(project, dict(TINY), epochs=3, runner="inline")


def info(capsys, path) -> dict:
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_only_first_labels_against_meaningful_predictions_count(tmp_path):
    _, project = make_project(tmp_path, labeled=0)
    project.assign_label(0, int(TRUTH[0]))  # before any predictions: not compared
    recorder = start(project)
    record_epoch(recorder, 1, TRUTH, meaningful=False)
    project.assign_label(1, int(TRUTH[1]))  # the model had seen no label: not compared
    wrong = TRUTH.copy()
    wrong[[3, 4]] = (TRUTH[[3, 4]] + 1) % 3
    record_epoch(recorder, 2, wrong)
    project.assign_label(2, int(TRUTH[2]))  # right
    project.assign_label(3, int(TRUTH[3]))  # wrong
    project.assign_label_to_many([4, 7], int(TRUTH[4]))  # 4 wrong; 7 (same class as 4) right
    project.assign_label(2, int(TRUTH[2] + 1) % 3)  # a relabel: not compared
    recorder.completed()

    accuracy = prospective_accuracy(project)
    assert (accuracy.overall.correct, accuracy.overall.n) == (2, 4)
    estimate = accuracy.run_estimate(recorder.run_id)
    assert estimate is not None and estimate.n == 4 and estimate.too_few
    assert (accuracy.recent().correct, accuracy.recent().n) == (2, 4)


def test_a_removed_label_counts_again_only_against_a_model_trained_after_the_removal(tmp_path):
    _, project = make_project(tmp_path, labeled=0)
    recorder = start(project)
    record_epoch(recorder, 1, TRUTH)
    project.assign_label(5, int(TRUTH[5]))  # compared (1)
    project.remove_label(5)
    project.assign_label(5, int(TRUTH[5]))  # epoch 1 trained before the removal: not compared
    project.remove_label(5)
    record_epoch(recorder, 2, TRUTH)  # trained with the labels as of after the removal
    project.assign_label(5, int(TRUTH[5]))  # compared (2)
    project.undo()  # undo and redo repeat an act: never compared
    project.redo()
    assert prospective_accuracy(project).overall.n == 2


def test_folding_in_steps_equals_folding_at_once_and_each_blob_is_read_once(tmp_path):
    _, project = make_project(tmp_path, labeled=0)
    recorder = start(project)
    record_epoch(recorder, 1, TRUTH)
    reads: list[str] = []

    def read(sha: str) -> bytes:
        reads.append(sha)
        return project.get_blob(sha)

    stepwise = ProspectiveAccuracy(read)
    for sample in range(10, 20):
        project.assign_label(sample, int(TRUTH[sample]) if sample % 4 else (int(TRUTH[sample]) + 1) % 3)
        stepwise.catch_up(project.events(after=stepwise.position))
    whole = prospective_accuracy(project)
    assert (stepwise.overall, stepwise.position) == (whole.overall, whole.position)
    assert whole.overall.n == 10 and whole.overall.correct == 8  # 12 and 16 wrong
    assert len(reads) == 1


def test_info_json_gives_each_run_its_estimate_and_the_project_its_prospective_accuracy(tmp_path, capsys):
    _, project = make_project(tmp_path, labeled=0)
    quiet = start(project)  # a run nobody labeled against
    record_epoch(quiet, 1, TRUTH)
    quiet.completed()
    recorder = start(project)
    predicted = TRUTH.copy()
    predicted[:5] = (TRUTH[:5] + 1) % 3  # five wrong
    record_epoch(recorder, 1, predicted)
    for sample in range(MIN_SAMPLES + 10):
        project.assign_label(sample, int(TRUTH[sample]))
    recorder.completed()
    path = project.path
    project.close()

    data = info(capsys, path)
    first, second = data["runs"]
    assert first["accuracy_estimate"] is None
    estimate = second["accuracy_estimate"]
    assert set(estimate) == {"value", "low", "high", "n", "method"}
    assert estimate["n"] == MIN_SAMPLES + 10 and estimate["method"] == "prospective"
    assert estimate["value"] == pytest.approx(25 / 30)
    assert estimate["low"] < estimate["value"] < estimate["high"]
    assert second["metrics"]["accuracy"] == 1.0  # training accuracy stays, as a secondary metric
    overall = data["prospective_accuracy"]
    assert {k: overall[k] for k in ("correct", "n")} == {"correct": 25, "n": 30}
    assert overall["value"] == pytest.approx(25 / 30) and overall["low"] == estimate["low"]

    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "accuracy 83.3% (95 % interval" in text and "30 labels, prospective" in text
    assert "training accuracy (on its own labels) 100.0%" in text


def test_info_says_too_few_instead_of_a_number(tmp_path, capsys):
    _, project = make_project(tmp_path, labeled=0)
    recorder = start(project)
    record_epoch(recorder, 1, TRUTH)
    for sample in range(3):
        project.assign_label(sample, int(TRUTH[sample]))
    recorder.completed()
    path = project.path
    project.close()
    (run,) = info(capsys, path)["runs"]
    assert run["accuracy_estimate"] == {
        "value": None,
        "low": None,
        "high": None,
        "n": 3,
        "method": "prospective",
    }
    assert main(["info", str(path)]) == 0
    assert f"too few labels to estimate (3 compared, {MIN_SAMPLES} needed)" in capsys.readouterr().out


def test_the_train_line_names_training_accuracy_and_shows_the_estimate_first():
    metrics = {"loss": 0.5, "accuracy": 0.99, "seconds": 1.25}
    plain = _progress_line("r1", 2, 5, metrics)
    assert "training acc on its labels 99.0%" in plain and "accuracy" not in plain.split("training")[0]
    honest = _progress_line("r1", 2, 5, metrics, AccuracyEstimate.from_counts(27, 30, "prospective"))
    assert honest.index("accuracy 90.0% (95 % interval") < honest.index("training acc on its labels")
    assert "loss —" in _progress_line("r1", 2, 5, {"loss": None, "accuracy": None, "seconds": 1.0})


# -- predictions out ----------------------------------------------------------------------


def read_csv(path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_export_predictions_writes_one_row_per_sample_with_every_class(tmp_path, capsys):
    _, project = make_project(tmp_path, labeled=4)
    older = start(project)
    record_epoch(older, 1, (TRUTH + 1) % 3)
    older.completed()
    latest = start(project)
    record_epoch(latest, 1, (TRUTH + 2) % 3)
    record_epoch(latest, 2, TRUTH)
    latest.completed()
    path = project.path
    project.close()
    out = tmp_path / "predictions.csv"

    capsys.readouterr()
    assert main(["export", str(path), "--predictions", str(out)]) == 0
    assert f"run {latest.run_id} (epoch 2) for {SAMPLES} samples" in capsys.readouterr().out
    rows = read_csv(out)
    assert list(rows[0]) == ["sample", "predicted", "confidence", "label", "h", "v", "d"]
    assert len(rows) == SAMPLES and [int(r["sample"]) for r in rows] == list(range(SAMPLES))
    names = ("h", "v", "d")
    assert all(r["predicted"] == names[TRUTH[i]] for i, r in enumerate(rows))
    assert float(rows[0]["confidence"]) == pytest.approx(0.8) and float(rows[0]["v"]) == pytest.approx(0.1)
    assert [r["label"] for r in rows[:5]] == [names[t] for t in TRUTH[:4]] + [""]

    assert main(["export", str(path), "--predictions", str(out), "--run", older.run_id]) == 0
    assert read_csv(out)[0]["predicted"] == names[(TRUTH[0] + 1) % 3]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".predictions.csv.")]  # no temporary left


@pytest.mark.parametrize(
    "labeled_run, args, message",
    [
        (False, [], "there are no predictions to export: train the model on some labels first"),
        (True, ["--run", "nope"], "there is no run 'nope'"),
    ],
)
def test_export_predictions_refuses_in_one_line(tmp_path, capsys, labeled_run, args, message):
    _, project = make_project(tmp_path, labeled=0)
    if labeled_run:
        recorder = start(project)
        record_epoch(recorder, 1, TRUTH)
        recorder.completed()
    path = project.path
    project.close()
    out = tmp_path / "p.csv"
    capsys.readouterr()
    assert main(["export", str(path), "--predictions", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


# -- held-out accuracy ---------------------------------------------------------------------


def test_a_run_that_held_labels_out_is_estimated_on_them_first(tmp_path, capsys):
    _, project = make_project(tmp_path, labeled=0)
    recorder = start(project)
    record_epoch(recorder, 1, TRUTH)
    for sample in range(MIN_SAMPLES + 10):  # prospective: 30 of 30 right
        project.assign_label(sample, int(TRUTH[sample]))
    held = {"heldout_accuracy": 0.8, "heldout_correct": 24.0, "heldout_n": 30.0}
    recorder.epoch(
        EpochOutput(
            run_id=recorder.run_id,
            epoch=2,
            metrics={"loss": 1.0, "accuracy": 1.0, "seconds": 0.1, **held},
            checkpoint=b"weights",
            probabilities=predicting(TRUTH),
            latent_map=np.zeros((SAMPLES, 2), np.float32),
            meaningful=True,
            labels_position=project.position,
            labeled=project.labels.labeled,
        )
    )
    recorder.completed()
    path = project.path
    project.close()
    (run,) = info(capsys, path)["runs"]
    estimate = run["accuracy_estimate"]
    assert estimate["method"] == "held-out" and estimate["n"] == 30 and estimate["value"] == 0.8
    assert estimate["low"] < 0.8 < estimate["high"]
    assert run["metrics"]["heldout_correct"] == 24.0
    assert main(["info", str(path)]) == 0
    assert "accuracy 80.0% (95 % interval" in capsys.readouterr().out


def test_the_train_line_shows_the_held_out_estimate_with_its_interval_or_too_few():
    metrics = {"loss": 0.5, "accuracy": 1.0, "seconds": 1.0, "heldout_correct": 27.0, "heldout_n": 30.0}
    from domain.accuracy import held_out_estimate

    line = _progress_line("r1", 3, 5, metrics, held_out_estimate(metrics))
    assert "accuracy 90.0% (95 % interval 74.4%–96.5%, 30 labels, held-out)" in line
    few = {**metrics, "heldout_correct": 5.0, "heldout_n": 6.0}
    assert f"too few labels to estimate (6 compared, {MIN_SAMPLES} needed)" in _progress_line(
        "r1", 3, 5, few, held_out_estimate(few)
    )


def test_train_with_a_held_out_share_records_and_shows_it(tmp_path, capsys):
    _, project = make_project(tmp_path, labeled=48)
    path = project.path
    project.close()
    flags = [
        "--hidden",
        "16",
        "--latent",
        "2",
        "--batch",
        "16",
        "--holdout",
        "0.5",
        "--holdout-min-labels",
        "40",
    ]
    capsys.readouterr()
    assert main(["train", str(path), "--epochs", "2", *flags]) == 0
    out = capsys.readouterr().out
    assert out.count("held-out)") + out.count("compared, 20 needed") == 2  # both epochs' lines
    assert main(["info", str(path), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    metrics = run["metrics"]
    assert 10 <= metrics["heldout_n"] <= 38 and run["accuracy_estimate"]["method"] == "held-out"
    assert run["accuracy_estimate"]["n"] == metrics["heldout_n"]
    assert metrics["heldout_accuracy"] == pytest.approx(metrics["heldout_correct"] / metrics["heldout_n"])
    assert main(["train", str(path), "--epochs", "1", "--holdout", "0.7"]) == 2
    assert "holdout_share must be at least 0 and at most 0.5, got 0.7" in capsys.readouterr().err


def test_a_run_continued_from_weights_that_saw_every_label_holds_nothing_out(tmp_path, capsys):
    app, project = make_project(tmp_path, labeled=20)
    path = project.path
    project.close()
    flags = [
        "--hidden",
        "16",
        "--latent",
        "2",
        "--batch",
        "16",
        "--holdout",
        "0.5",
        "--holdout-min-labels",
        "40",
    ]
    assert main(["train", str(path), "--epochs", "1", *flags]) == 0  # 20 labels: all trained on
    _, truth = stripes()
    with app.projects.open(path) as labeling:
        for sample in range(20, 48):
            labeling.execute(commands.AssignLabel(sample=sample, label=int(truth[sample])))
    assert main(["train", str(path), "--epochs", "1", "--continue", *flags]) == 0
    assert main(["train", str(path), "--epochs", "1", *flags]) == 0  # a fresh run may hold out
    with app.projects.open(path) as done:
        first, continued, fresh = done.state.training.runs.values()
    # The continued run's weights trained on the labels a held-out share would score it on:
    # it records a share of 0 and no held-out figure, so nothing flatters the model.
    assert continued.continues == first.run_id
    assert continued.config["holdout_share"] == 0.0 and "heldout_n" not in continued.last_metrics
    assert fresh.config["holdout_share"] == 0.5 and fresh.last_metrics["heldout_n"] >= 10
    assert "heldout_n" not in first.last_metrics
