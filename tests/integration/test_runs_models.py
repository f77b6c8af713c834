"""Issue 17, runs as models, end to end through the CLI: list and compare runs, choose the
one that drives the window, archive failures, export a run's classifier as a bundle and
classify images outside the project with it — equal to the project's own predictions."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from app.cli.main import main
from app.history.bundle import FORMAT_VERSION, read_bundle
from app.project.bootstrap import bootstrap
from app.quality.review import suggestion_inputs

from .training_fixtures import make_project, stripes

pytestmark = pytest.mark.slow

TINY = ["--hidden", "16", "--latent", "2", "--batch", "16", "--seed", "5", "--classifier-hidden", "12,10"]
JSON_FIELDS = {
    "run_id",
    "status",
    "started_at",
    "epochs",
    "labels",
    "config",
    "accuracy_estimate",
    "continued_from",
    "archived",
    "checkpoints",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project with two completed runs: A (2 epochs), then B continuing A (1 epoch)."""
    folder = tmp_path_factory.mktemp("runs")
    _, project = make_project(folder)
    path = project.path
    project.close()
    assert main(["train", str(path), "--epochs", "2", *TINY]) == 0
    assert main(["train", str(path), "--epochs", "1", "--continue", *TINY]) == 0
    return folder, path


def _json(capsys, *argv) -> dict:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _fails(capsys, *argv) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def _own_predictions(path, run_id: str, epoch: int) -> np.ndarray:
    app = bootstrap(annotator="tester")
    with app.projects.open(path) as project:
        (event,) = [
            e
            for e in project.events()
            if e.type == "PredictionsComputed" and e.data["run_id"] == run_id and e.data["epoch"] == epoch
        ]
        return np.load(io.BytesIO(project.get_blob(event.data["predictions_sha256"])), allow_pickle=False)


def test_runs_lists_every_run_as_a_model(trained, capsys):
    _, path = trained
    runs = _json(capsys, "runs", str(path))["runs"]
    assert [set(r) for r in runs] == [JSON_FIELDS, JSON_FIELDS]
    first, second = runs
    assert first["status"] == second["status"] == "completed"
    assert (first["epochs"], second["epochs"]) == (2, 1)
    assert first["labels"] == {"start": 6, "end": 6}
    assert first["config"]["hidden_sizes"] == [16] and first["config"]["classifier_hidden_sizes"] == [12, 10]
    assert "epochs" not in first["config"] and "learning_rate" not in first["config"]  # defaults left out
    assert second["continued_from"] == first["run_id"] and first["continued_from"] is None
    assert first["checkpoints"] == [2] and second["checkpoints"] == [3]
    assert not first["archived"] and first["started_at"].endswith("+00:00")
    capsys.readouterr()
    assert main(["runs", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"* {second['run_id']}" in text and "continues " + first["run_id"] in text


def test_choose_archive_and_unarchive_are_recorded_and_drive_the_predictions(trained, capsys):
    _, path = trained
    first, second = (r["run_id"] for r in _json(capsys, "runs", str(path))["runs"])
    app = bootstrap(annotator="tester")
    try:
        assert main(["runs", str(path), "--choose", first]) == 0
        with app.projects.open(path) as project:
            assert np.array_equal(project.predictions(), _own_predictions(path, first, 2))
            inputs = suggestion_inputs(project)
            assert (inputs.run_id, inputs.epoch) == (first, 2)
        assert main(["runs", str(path), "--archive", second]) == 0
        listed = [r["run_id"] for r in _json(capsys, "runs", str(path))["runs"]]
        assert listed == [first]
        every = _json(capsys, "runs", str(path), "--all")["runs"]
        assert [r["archived"] for r in every] == [False, True]
        assert "is archived" in _fails(capsys, "runs", str(path), "--choose", second)
        assert "no run 'nope'" in _fails(capsys, "runs", str(path), "--archive", "nope")
        # Archiving the chosen run ends the choice: the newest run not archived drives.
        assert main(["runs", str(path), "--unarchive", second]) == 0
        assert main(["runs", str(path), "--archive", first]) == 0
        with app.projects.open(path) as project:
            assert np.array_equal(project.predictions(), _own_predictions(path, second, 3))
            types = [e.type for e in project.events() if e.stream_id == "models"]
        assert types == ["RunChosen", "RunArchived", "RunUnarchived", "RunArchived"]
    finally:
        main(["runs", str(path), "--unarchive", first])
        main(["runs", str(path), "--choose", "newest"])


def test_a_preset_is_saved_from_a_run(trained, capsys):
    _, path = trained
    first = _json(capsys, "runs", str(path))["runs"][0]["run_id"]
    assert main(["runs", str(path), "--save-preset", "narrow", "--from-run", first]) == 0
    capsys.readouterr()
    assert main(["runs", str(path)]) == 0
    assert "presets: 'narrow'" in capsys.readouterr().out
    assert "--from-run" in _fails(capsys, "runs", str(path), "--save-preset", "x")
    assert main(["runs", str(path), "--delete-preset", "narrow"]) == 0


def test_the_bundle_predicts_the_projects_own_images_bit_for_bit(trained, capsys):
    folder, path = trained
    first = _json(capsys, "runs", str(path))["runs"][0]["run_id"]
    bundle_path = folder / "first.llmodel"
    assert main(["export", str(path), "--model", str(bundle_path), "--run", first, "--epoch", "2"]) == 0
    bundle = read_bundle(bundle_path)
    manifest = bundle.manifest
    assert manifest["format_version"] == FORMAT_VERSION and manifest["run_id"] == first
    assert manifest["epoch"] == 2 and manifest["class_names"] == ["h", "v", "d"]
    assert manifest["input"]["shape"] == [8, 8] and manifest["classifier"]["hidden_sizes"] == [12, 10]
    assert {"jax", "flax", "numpy", "ledgerlab"} <= set(manifest["versions"])
    assert len(manifest["dataset_sha256"]) == 64 and "loss" in manifest["metrics"]
    images, _ = stripes()
    np.savez(folder / "own.npz", images=images)
    document = _json(capsys, "predict", str(bundle_path), str(folder / "own.npz"))
    got = np.array([row["probabilities"] for row in document["predictions"]], dtype=np.float32)
    assert np.array_equal(got, _own_predictions(path, first, 2))
    assert [row["sample"] for row in document["predictions"]] == list(range(len(images)))

    out = folder / "own.csv"
    assert main(["predict", str(bundle_path), str(folder / "own.npz"), "--out", str(out)]) == 0
    header, *rows = out.read_text().splitlines()
    assert header == "sample,predicted,confidence,label,h,v,d" and len(rows) == len(images)


def test_the_bundle_weights_are_the_checkpoints_classifier(trained):
    from domain.learning import checkpoint as checkpoints
    from domain.learning.config import TrainingConfig
    from domain.learning.inference import classifier_weights
    from domain.learning.step import initial_state

    folder, path = trained
    bundle = read_bundle(next(folder.glob("*.llmodel")))
    app = bootstrap(annotator="tester")
    with app.projects.open(path) as project:
        run = project.state.training.get(bundle.manifest["run_id"])
        (sha,) = [
            e.data["checkpoint_sha256"]
            for e in project.events()
            if e.type == "CheckpointSaved" and e.data["run_id"] == run.run_id
        ]
        config = TrainingConfig.from_dict(run.config)
        _, template = initial_state(config, 64, 3, __import__("jax").random.PRNGKey(0))
        params, _ = checkpoints.from_bytes(project.get_blob(sha), template.params, template.opt_state)
    expected = classifier_weights(params)
    assert set(expected) == set(bundle.weights)
    assert all(np.array_equal(expected[k], bundle.weights[k]) for k in expected)


def test_a_folder_is_classified_by_relative_path_and_bad_data_is_refused(trained, capsys):
    from PIL import Image

    folder, path = trained
    bundle_path = folder / "latest.llmodel"
    assert main(["export", str(path), "--model", str(bundle_path)]) == 0
    images = folder / "images"
    (images / "sub").mkdir(parents=True)
    pixels, _ = stripes(3)
    for i, name in enumerate(["a.png", "b.png", "sub/c.png"]):
        Image.fromarray(pixels[i]).save(images / name)
    document = _json(capsys, "predict", str(bundle_path), str(images))
    assert [row["sample"] for row in document["predictions"]] == ["a.png", "b.png", "sub/c.png"]
    np.savez(folder / "big.npz", images=np.zeros((2, 9, 9), np.uint8))
    assert "9×9 grey but the model takes 8×8" in _fails(
        capsys, "predict", str(bundle_path), str(folder / "big.npz")
    )
    assert "does not exist" in _fails(capsys, "predict", str(bundle_path), str(folder / "none.npz"))
    assert "no checkpoint at epoch 1" in _fails(
        capsys, "export", str(path), "--model", str(folder / "x.llmodel"), "--epoch", "1"
    )


def test_a_bundle_from_an_incompatible_release_is_refused_in_one_line(trained, capsys):
    folder, _ = trained
    source = next(folder.glob("*.llmodel"))
    newer = folder / "newer.llmodel"
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(newer, "w") as out:
        manifest = json.loads(z.read("manifest.json"))
        manifest["format_version"] = FORMAT_VERSION + 1
        manifest["versions"]["ledgerlab"] = "9.0"
        out.writestr("manifest.json", json.dumps(manifest))
        out.writestr("weights.npz", z.read("weights.npz"))
    err = _fails(capsys, "predict", str(newer), str(folder / "own.npz"))
    assert "made by Ledgerlab 9.0" in err and "upgrade" in err
    not_a_bundle = folder / "own.npz"
    assert "not a readable Ledgerlab model bundle" in _fails(
        capsys, "predict", str(not_a_bundle), str(not_a_bundle)
    )


def test_the_progress_bar_is_drawn_on_a_terminal_only_after_a_few_seconds(monkeypatch):
    from app.cli import predict as predict_cli

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quick, slow, piped = Terminal(), Terminal(), io.StringIO()
    bar = predict_cli.ProgressBar(quick, "classifying")
    bar.update(500, 1000)
    bar.close()
    assert quick.getvalue() == ""  # short work stays silent
    monkeypatch.setattr(predict_cli, "PROGRESS_AFTER", 0.0)
    for stream in (slow, piped):
        bar = predict_cli.ProgressBar(stream, "classifying")
        bar.update(500, 1000)
        bar.update(1000, 1000)
        bar.close()
    assert slow.getvalue().endswith("1,000/1,000\n") and "\r" in slow.getvalue()
    assert piped.getvalue() == ""  # never into a file or a pipe
