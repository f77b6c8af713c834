"""Small real projects and tiny training settings for the training tests."""

from __future__ import annotations

import numpy as np

from app.project.bootstrap import bootstrap
from domain import commands
from domain.images import Dataset

TINY = {
    "latent_size": 2,
    "hidden_sizes": [16],
    "batch_size": 16,
    "labeled_batch_size": 8,
    "classifier_weight": 10.0,
    "seed": 3,
    "epochs": 2,
}
SAMPLES = 64


def stripes(count: int = SAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.arange(count) % 3
    rows, cols = np.mgrid[0:8, 0:8]
    patterns = np.stack([(rows % 3 == 0), (cols % 3 == 0), ((rows + cols) % 3 == 0)])
    images = patterns[truth] * 200 + rng.integers(0, 50, (count, 8, 8))
    return images.astype(np.uint8), truth


def make_project(tmp_path, name: str = "stripes", labeled: int = 6, annotator: str = "tester"):
    """A real .ledger project of 64 striped 8×8 images in 3 classes, ``labeled`` labeled."""
    app = bootstrap(annotator=annotator, data_dir=tmp_path / "data")
    images, truth = stripes()
    dataset = Dataset(images=images, class_names=("h", "v", "d"), source="test stripes")
    project = app.projects.create(tmp_path / f"{name}.ledger", dataset, name=name)
    for sample in range(labeled):
        project.execute(commands.AssignLabel(sample=sample, label=int(truth[sample])))
    return app, project


def run_events(project, run_id: str) -> list:
    return [
        e
        for e in project.events()
        if e.data.get("run_id") == run_id
        or (e.type == "LatentMapComputed" and e.data.get("run_id") == run_id)
    ]


def comparable(metrics: dict) -> dict:
    """Metrics without the wall-clock ones, which differ between any two runs."""
    return {k: v for k, v in metrics.items() if k not in ("seconds", "samples_per_s", "evaluation_seconds")}
