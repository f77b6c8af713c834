"""Tiny jobs for the learning tests: 64 images of 8 x 8, three classes of stripes.

Every test uses the same shapes and config, so the train step compiles once per
test session and each test pays only for its few milliseconds of steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from domain.learning.config import TrainingConfig
from domain.learning.training import TrainingJob

NUM_CLASSES = 3
SAMPLES = 64


def stripes(count: int = SAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (count, 8, 8): horizontal, vertical or diagonal stripes plus noise."""
    rng = np.random.default_rng(seed)
    truth = np.arange(count) % NUM_CLASSES
    rows, cols = np.mgrid[0:8, 0:8]
    patterns = np.stack([(rows % 3 == 0), (cols % 3 == 0), ((rows + cols) % 3 == 0)])
    images = patterns[truth] * 200 + rng.integers(0, 50, (count, 8, 8))
    return images.astype(np.uint8), truth.astype(np.int64)


@pytest.fixture
def tiny_config() -> TrainingConfig:
    return TrainingConfig(
        latent_size=2,
        hidden_sizes=(32,),
        batch_size=16,
        labeled_batch_size=8,
        epochs=2,
        classifier_weight=10.0,
        augment_shift=1,
        cutout=3,
        seed=3,
    )


@pytest.fixture
def tiny_job(tiny_config: TrainingConfig) -> TrainingJob:
    images, truth = stripes()
    labels = np.full(SAMPLES, -1, np.int64)
    labels[:6] = truth[:6]  # two labels per class
    return TrainingJob(images, labels, tiny_config, num_classes=NUM_CLASSES)
