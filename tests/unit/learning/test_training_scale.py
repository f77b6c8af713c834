"""Training at scale: uint8 images kept as bytes, epochs of a chosen number of samples,
progress within an epoch, evaluation a batch at a time."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from domain.learning.config import ConfigError, TrainingConfig
from domain.learning.step import EVALUATION_BATCH, UNIT_PIXELS
from domain.learning.training import EVALUATION_QUEUE, evaluate, job_images, train

from .conftest import SAMPLES


def epochs_of(job, **kw):
    return list(train(job, **kw))


def test_the_pixel_table_is_numpys_own_conversion_for_every_byte():
    every = np.arange(256, dtype=np.uint8)
    assert UNIT_PIXELS.tobytes() == (every.astype(np.float32) / 255.0).tobytes()


def test_uint8_images_stay_bytes_and_train_bit_for_bit_as_their_float32_copy(tiny_job):
    kept, shape = job_images(tiny_job.images)
    assert kept.dtype == np.uint8 and kept.shape == (SAMPLES, 64) and shape == (8, 8)
    assert np.shares_memory(kept, tiny_job.images)  # no copy of the data set

    as_float = dataclasses.replace(tiny_job, images=tiny_job.images.astype(np.float32) / 255.0)
    assert job_images(as_float.images)[0].dtype == np.float32
    for a, b in zip(epochs_of(tiny_job), epochs_of(as_float), strict=True):
        assert a.checkpoint == b.checkpoint
        assert a.probabilities.tobytes() == b.probabilities.tobytes()
        assert a.latent_map.tobytes() == b.latent_map.tobytes()
        assert a.metrics["loss"] == b.metrics["loss"]


def test_epoch_samples_limits_the_steps_and_is_deterministic(tiny_job):
    steps: list[tuple[int, int]] = []
    short = dataclasses.replace(tiny_job, config=dataclasses.replace(tiny_job.config, epoch_samples=32))
    first = epochs_of(short, on_progress=lambda done, total: steps.append((done, total)))
    # 32 samples in batches of 16: two steps an epoch, not the four of all 64 samples
    assert steps == [(1, 2), (2, 2)] * 2
    again = epochs_of(short)
    assert [r.checkpoint for r in first] == [r.checkpoint for r in again]
    full = epochs_of(tiny_job)
    assert first[-1].checkpoint != full[-1].checkpoint
    # every sample is still evaluated and mapped
    assert first[-1].probabilities.shape == full[-1].probabilities.shape
    assert first[-1].latent_map.shape == (SAMPLES, 2)


def test_epoch_samples_of_zero_or_above_the_count_is_the_whole_epoch_bit_for_bit(tiny_job):
    full = epochs_of(tiny_job)
    more = dataclasses.replace(tiny_job, config=dataclasses.replace(tiny_job.config, epoch_samples=10_000))
    assert [r.checkpoint for r in epochs_of(more)] == [r.checkpoint for r in full]


def test_a_config_recorded_before_epoch_samples_existed_reads_as_every_sample(tiny_config):
    recorded = tiny_config.to_dict()
    del recorded["epoch_samples"]
    assert TrainingConfig.from_dict(recorded).epoch_samples == 0
    assert TrainingConfig.from_dict(recorded) == tiny_config


@pytest.mark.parametrize("value", [-1, 1.5, True, 10**10])
def test_a_bad_epoch_samples_is_refused_with_a_message(value):
    with pytest.raises(ConfigError, match="epoch_samples"):
        TrainingConfig(epoch_samples=value)


def test_progress_is_reported_after_every_step_of_an_epoch(tiny_job):
    steps: list[tuple[int, int]] = []
    epochs_of(tiny_job, on_progress=lambda done, total: steps.append((done, total)))
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)] * 2


def test_evaluation_in_batches_matches_evaluation_of_parts(tiny_job):
    """More batches than are queued at once, the last one partial: every sample gets the
    probabilities it gets when evaluated in a smaller set."""
    (result, *_) = epochs_of(dataclasses.replace(tiny_job, config=tiny_job.config))
    count = EVALUATION_BATCH * (EVALUATION_QUEUE + 2) + 7
    rng = np.random.default_rng(4)
    images = tiny_job.images[rng.integers(0, SAMPLES, count)]
    probabilities, z = evaluate(result.checkpoint, images, tiny_job.config, num_classes=3)
    assert probabilities.shape == (count, 3) and z.shape == (count, 2)
    head_p, head_z = evaluate(result.checkpoint, images[:EVALUATION_BATCH], tiny_job.config, num_classes=3)
    tail_p, _ = evaluate(result.checkpoint, images[-7:], tiny_job.config, num_classes=3)
    np.testing.assert_allclose(probabilities[:EVALUATION_BATCH], head_p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z[:EVALUATION_BATCH], head_z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities[-7:], tail_p, rtol=1e-5, atol=1e-6)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
