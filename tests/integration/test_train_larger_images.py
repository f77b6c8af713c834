"""A project of images larger than the training size trains (at the training size),
and reruns bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli.main import main
from app.project.bootstrap import bootstrap
from app.training.recorder import training_images
from domain import commands
from domain.images import Dataset
from domain.learning.config import TrainingConfig
from domain.resample import output_shape

from .training_fixtures import stripes

pytestmark = pytest.mark.slow

TINY_FLAGS = ["--hidden", "16", "--latent", "2", "--batch", "16", "--seed", "5"]


def _project(tmp_path, images: np.ndarray, truth: np.ndarray):
    app = bootstrap(annotator="tester", data_dir=tmp_path / "data")
    dataset = Dataset(images=images, class_names=("h", "v", "d"), source="test stripes, enlarged")
    project = app.projects.create(tmp_path / "large.ledger", dataset, name="large")
    for sample in range(6):
        project.execute(commands.AssignLabel(sample=sample, label=int(truth[sample])))
    path = project.path
    project.close()
    return app, path


def test_a_project_of_64x64_grey_images_trains_at_the_training_size(tmp_path, capsys):
    small, truth = stripes()
    images = np.repeat(np.repeat(small, 8, axis=1), 8, axis=2)  # 64 images of 64×64
    app, path = _project(tmp_path, images, truth)

    assert main(["train", str(path), "--epochs", "1", *TINY_FLAGS]) == 0
    assert "completed" in capsys.readouterr().out
    assert main(["info", str(path), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["status"] == "completed"

    size = int(getattr(TrainingConfig(), "training_size", 0))
    with app.projects.open(path) as project:
        trained_on = training_images(project.images(), TrainingConfig())
        assert trained_on.shape == output_shape(images.shape, size)
        if size and size < 64:  # the stripes survive the shrinking: 8×8 blocks averaged
            assert trained_on.shape[1:] == (size, size)
    # The rerun reads the images at the recorded training size: the same numbers.
    assert main(["verify", str(path), "--rerun", run["run_id"]]) == 0

    # The exported classifier takes the person's own 64×64 images, as the project holds them.
    bundle = tmp_path / "large.llmodel"
    assert main(["export", str(path), "--model", str(bundle)]) == 0
    np.savez(tmp_path / "own.npz", images=images[:5])
    capsys.readouterr()
    assert main(["predict", str(bundle), str(tmp_path / "own.npz"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["predictions"]
    assert [row["sample"] for row in rows] == list(range(5))


def test_the_process_runner_job_carries_colour_images_at_training_size(tmp_path):
    from app.training.protocol import read_job, write_job
    from app.training.spec import RunSpec
    from domain.resample import to_training_size

    images = to_training_size(np.random.default_rng(2).integers(0, 256, (9, 300, 200, 3), dtype=np.uint8), 32)
    spec = RunSpec(
        run_id="r",
        images=images,
        labels=np.full(9, -1, np.int32),
        labels_position=1,
        config=TrainingConfig(),
        seed=0,
        num_classes=2,
    )
    write_job(tmp_path, spec)
    again = read_job(tmp_path)
    assert again.images.dtype == np.uint8 and again.images.shape == (9, 32, 21, 3)
    np.testing.assert_array_equal(again.images, images)


def _colour_squares(count: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    truth = np.arange(count) % 3
    images = rng.integers(0, 90, (count, height, width, 3))
    for i, c in enumerate(truth):
        images[i, height // 4 : 3 * height // 4, width // 4 : 3 * width // 4, c] += 160
    return images.astype(np.uint8), truth


@pytest.mark.parametrize("height, width", [(64, 64), (90, 60)])
def test_a_project_of_larger_colour_images_trains_at_the_training_size(tmp_path, capsys, height, width):
    images, truth = _colour_squares(48, height, width)
    app, path = _project(tmp_path, images, truth)
    code = main(["train", str(path), "--epochs", "1", "--training-size", "32", *TINY_FLAGS])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "completed" in out
    assert main(["info", str(path), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["status"] == "completed"
    with app.projects.open(path) as project:
        trained_on = training_images(project.images(), TrainingConfig(training_size=32))
    assert trained_on.shape == (48, 32, 32 * width // height, 3)
    assert main(["verify", str(path), "--rerun", run["run_id"]]) == 0
