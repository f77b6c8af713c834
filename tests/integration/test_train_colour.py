"""Colour images from the command line: `ledgerlab new` from a colour .npz, then `ledgerlab
train` trains the convolutional model on them (the "auto" model) and records the run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli.main import main

pytestmark = pytest.mark.slow

TINY_FLAGS = ["--hidden", "16", "--latent", "2", "--batch", "16", "--seed", "5"]


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def colour_squares(count: int = 48, side: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    truth = np.arange(count) % 3
    images = rng.integers(0, 90, (count, side, side, 3))
    for i, c in enumerate(truth):
        images[i, 3:9, 3:9, c] += 160
    return images.astype(np.uint8), truth


def test_a_colour_project_trains_the_conv_model_from_the_command_line(tmp_path, capsys):
    images, truth = colour_squares()
    np.savez(tmp_path / "c.npz", images=images, class_names=np.array(["red", "green", "blue"]))
    path = tmp_path / "c.ledger"
    assert run(capsys, "new", path, "--dataset", tmp_path / "c.npz")[0] == 0
    for sample in range(6):
        assert run(capsys, "label", path, sample, int(truth[sample]))[0] == 0
    code, out, err = run(capsys, "train", path, "--epochs", 1, "--model", "auto", *TINY_FLAGS)
    assert code == 0, err
    assert "epoch 1/1" in out and "completed" in out
    code, out, _ = run(capsys, "info", path, "--json")
    (recorded,) = json.loads(out)["runs"]
    assert recorded["status"] == "completed" and recorded["epochs"] == 1
    # Its classifier leaves the project as a bundle and classifies colour images.
    assert run(capsys, "export", path, "--model", tmp_path / "c.llmodel")[0] == 0
    code, out, err = run(capsys, "predict", tmp_path / "c.llmodel", tmp_path / "c.npz", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["samples"] == len(images) and len(document["predictions"]) == len(images)
    # A conv bundle written before the 2 x 2 trunks (3 x 3 kernels) is refused in a sentence.
    from app.cli.predict import classify
    from app.history.bundle import read_bundle
    from app.project.errors import ProjectError

    bundle = read_bundle(tmp_path / "c.llmodel")
    kernel = bundle.weights["convs.0.kernel"]
    bundle.weights["convs.0.kernel"] = np.zeros((3, 3, *kernel.shape[2:]), np.float32)
    with pytest.raises(ProjectError, match="export it again"):
        classify(bundle, images)


def test_the_model_and_training_size_flags_are_checked_in_one_line(tmp_path, capsys):
    images, _ = colour_squares(12)
    np.savez(tmp_path / "c.npz", images=images, class_names=np.array(["r", "g", "b"]))
    path = tmp_path / "c.ledger"
    assert run(capsys, "new", path, "--dataset", tmp_path / "c.npz")[0] == 0
    code, _, err = run(capsys, "train", path, "--epochs", 1, "--training-size", 3)
    assert code == 2 and err.count("\n") == 1
    assert "training_size must be 0 or at least 8 pixels" in err


def test_colour_augmentation_is_a_flag_of_train_and_is_recorded(tmp_path, capsys):
    images, truth = colour_squares(24)
    np.savez(tmp_path / "c.npz", images=images, class_names=np.array(["r", "g", "b"]))
    path = tmp_path / "c.ledger"
    assert run(capsys, "new", path, "--dataset", tmp_path / "c.npz")[0] == 0
    for sample in range(3):
        assert run(capsys, "label", path, sample, int(truth[sample]))[0] == 0
    flags = ["--epochs", 1, *TINY_FLAGS]
    assert run(capsys, "train", path, "--augment-colour", *flags)[0] == 0
    assert run(capsys, "train", path, *flags)[0] == 0  # the project's last settings carry on
    assert run(capsys, "train", path, "--no-augment-colour", *flags)[0] == 0
    from eventstore import open_store

    with open_store(path) as store:
        started = [e.data for e in store.read_all() if e.type == "TrainingStarted"]
    assert [s["config"]["augment_colour"] for s in started] == [True, True, False]
