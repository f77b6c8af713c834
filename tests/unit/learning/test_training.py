"""The training loop: shapes, determinism, stopping, resuming, live labels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from flax import serialization

from domain.learning.config import ConfigError
from domain.learning.training import EpochResult, evaluate, train

from .conftest import NUM_CLASSES, SAMPLES

TIMINGS = ("seconds", "samples_per_s", "evaluation_seconds")


def _without_timings(result: EpochResult) -> dict:
    return {k: v for k, v in result.metrics.items() if k not in TIMINGS}


def test_an_epoch_yields_finite_losses_and_arrays_of_the_promised_shapes(tiny_job):
    results = list(train(tiny_job))
    assert [r.epoch for r in results] == [1, 2]
    last = results[-1]
    for name in ("loss", "reconstruction", "kl", "classification", "accuracy", "seconds", "samples_per_s"):
        assert np.isfinite(last.metrics[name]), name
    assert last.probabilities.shape == (SAMPLES, NUM_CLASSES)
    assert last.probabilities.dtype == np.float32
    np.testing.assert_allclose(last.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert last.latent_map.shape == (SAMPLES, 2) and last.latent_map.dtype == np.float32
    assert np.all(np.isfinite(last.latent_map)) and last.latent_map.std() > 0
    assert last.predictions_meaningful and last.labeled_count == 6
    assert isinstance(last.checkpoint, bytes) and len(last.checkpoint) > 1000
    # Training lowers the loss on this easy set.
    assert results[1].metrics["loss"] < results[0].metrics["loss"]


def test_two_runs_of_the_same_job_are_bitwise_identical(tiny_job):
    first, second = list(train(tiny_job)), list(train(tiny_job))
    for a, b in zip(first, second, strict=True):
        assert _without_timings(a) == _without_timings(b)
        assert a.checkpoint == b.checkpoint
        np.testing.assert_array_equal(a.probabilities, b.probabilities)
        np.testing.assert_array_equal(a.latent_map, b.latent_map)


def test_another_seed_gives_another_model(tiny_job):
    other = dataclasses.replace(tiny_job, seed=tiny_job.config.seed + 1)
    assert next(train(tiny_job)).checkpoint != next(train(other)).checkpoint


def test_a_stop_request_is_honoured_before_the_next_step(tiny_job):
    progress: list[int] = []
    asked = 0

    def stop_after_two_steps() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2

    results = list(
        train(tiny_job, stop_after_two_steps, on_progress=lambda done, total: progress.append(done))
    )
    # 64 samples in batches of 16: an epoch has 4 steps; only 2 ran, no epoch ended.
    assert results == []
    assert progress == [1, 2]


def test_resuming_from_a_checkpoint_continues_the_count_and_reproduces_the_run(tiny_job):
    uninterrupted = list(train(tiny_job))
    one = dataclasses.replace(tiny_job.config, epochs=1)
    first = next(train(dataclasses.replace(tiny_job, config=one)))
    resumed = list(
        train(
            dataclasses.replace(
                tiny_job,
                config=one,
                checkpoint=first.checkpoint,
                epoch_offset=1,
                previous_map=first.latent_map,
            )
        )
    )
    assert [r.epoch for r in resumed] == [2]
    assert resumed[0].checkpoint == uninterrupted[1].checkpoint
    assert _without_timings(resumed[0]) == _without_timings(uninterrupted[1])
    np.testing.assert_array_equal(resumed[0].latent_map, uninterrupted[1].latent_map)


def test_without_labels_training_runs_and_predictions_are_marked_meaningless(tiny_job):
    unlabeled = dataclasses.replace(tiny_job, labels=np.full(SAMPLES, -1))
    results = list(train(unlabeled))
    assert len(results) == 2
    for result in results:
        assert not result.predictions_meaningful and result.labeled_count == 0
        assert result.metrics["accuracy"] is None and result.metrics["classification"] is None
        assert np.isfinite(result.metrics["loss"])
        assert np.all(np.isfinite(result.latent_map))
    assert results[1].metrics["loss"] < results[0].metrics["loss"]


def test_labels_for_epoch_switches_the_labels_between_epochs(tiny_job):
    asked: list[int] = []
    no_labels = np.full(SAMPLES, -1)

    def live_labels(epoch: int):
        asked.append(epoch)
        return no_labels if epoch == 1 else tiny_job.labels

    switched = list(train(tiny_job, labels_for_epoch=live_labels))
    assert asked == [1, 2]
    assert [r.predictions_meaningful for r in switched] == [False, True]
    assert [r.labeled_count for r in switched] == [0, 6]
    # The first epoch trained without labels: it matches a run that never had any.
    unlabeled = next(train(dataclasses.replace(tiny_job, labels=no_labels)))
    assert switched[0].checkpoint == unlabeled.checkpoint
    # Returning None keeps the job's labels.
    kept = list(train(tiny_job, labels_for_epoch=lambda epoch: None))
    assert kept[-1].checkpoint == list(train(tiny_job))[-1].checkpoint


def test_evaluate_reproduces_the_probabilities_of_a_checkpoint(tiny_job):
    result = next(train(dataclasses.replace(tiny_job, config=dataclasses.replace(tiny_job.config, epochs=1))))
    probabilities, z_means = evaluate(result.checkpoint, tiny_job.images, tiny_job.config, NUM_CLASSES)
    np.testing.assert_allclose(probabilities, result.probabilities, rtol=1e-5, atol=1e-6)
    assert z_means.shape == (SAMPLES, tiny_job.config.latent_size)


def test_the_classifier_has_widths_of_its_own(tiny_job):
    config = dataclasses.replace(tiny_job.config, epochs=1, classifier_hidden_sizes=(24, 12))
    result = next(train(dataclasses.replace(tiny_job, config=config)))
    probabilities, _ = evaluate(result.checkpoint, tiny_job.images, config, NUM_CLASSES)
    np.testing.assert_allclose(probabilities, result.probabilities, rtol=1e-5, atol=1e-6)
    shared = dataclasses.replace(config, classifier_hidden_sizes=None)
    with pytest.raises(ConfigError, match="classifier hidden sizes"):
        evaluate(result.checkpoint, tiny_job.images, shared, NUM_CLASSES)


def test_a_checkpoint_of_another_model_is_refused_with_a_message(tiny_job):
    result = next(train(dataclasses.replace(tiny_job, config=dataclasses.replace(tiny_job.config, epochs=1))))
    # A checkpoint whose first array has another shape, as a wider model's would.
    stored = serialization.msgpack_restore(result.checkpoint)
    stored["params"]["0"] = np.zeros((5, 5), np.float32)
    with pytest.raises(ConfigError, match="different model configuration"):
        next(train(dataclasses.replace(tiny_job, checkpoint=serialization.msgpack_serialize(stored))))
    with pytest.raises(ConfigError, match="not readable|not a Ledgerlab checkpoint"):
        next(train(dataclasses.replace(tiny_job, checkpoint=b"garbage")))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.full(SAMPLES - 1, -1), "one entry per image"),
        (np.full(SAMPLES, 7), "label 7 of sample 0 is not a class"),
        (np.full(SAMPLES, 0.5), "labels must be integers"),
    ],
)
def test_bad_labels_are_refused_with_a_message(tiny_job, labels, message):
    with pytest.raises(ConfigError, match=message):
        next(train(dataclasses.replace(tiny_job, labels=labels)))


def test_float_images_of_any_range_are_scaled_like_uint8_ones(tiny_job):
    from domain.learning.training import training_images

    scaled, shape = training_images(tiny_job.images)
    stretched, _ = training_images(tiny_job.images.astype(np.float32) * 4.0 - 7.0)
    flat, no_shape = training_images(tiny_job.images.reshape(SAMPLES, -1))
    assert shape == (8, 8) and no_shape is None and scaled.shape == (SAMPLES, 64)
    assert scaled.min() >= 0.0 and scaled.max() <= 1.0
    # Min-max scaling keeps the picture: it is an affine map of the uint8 scaling.
    np.testing.assert_allclose(stretched, (scaled - scaled.min()) / np.ptp(scaled), atol=1e-6)
    np.testing.assert_array_equal(flat, scaled)
    result = next(train(dataclasses.replace(tiny_job, images=tiny_job.images * 4.0 - 7.0)))
    assert np.isfinite(result.metrics["loss"])
    with pytest.raises(ConfigError, match="NaN or infinite"):
        training_images(np.full((4, 3), np.nan))


def test_pseudo_labels_use_only_confident_clean_predictions_as_fixed_targets():
    import jax
    import jax.numpy as jnp

    from domain.learning.loss import pseudo_label

    clean = jnp.array([[4.0, 0.0, 0.0], [0.2, 0.0, 0.1]])  # confident, undecided
    shifted = jnp.array([[0.0, 1.0, 0.0], [0.0, 3.0, 0.0]])
    losses = pseudo_label(clean, shifted, jnp.float32(0.9))
    expected = -jax.nn.log_softmax(shifted[0])[0]
    np.testing.assert_allclose(np.asarray(losses), [float(expected), 0.0], rtol=1e-6)
    grad_clean = jax.grad(lambda c: pseudo_label(c, shifted, jnp.float32(0.9)).sum())(clean)
    np.testing.assert_array_equal(np.asarray(grad_clean), 0.0)


def test_the_pseudo_label_weight_changes_what_is_learned(tiny_job):
    # With three classes every prediction is at least 1/3 probable, so a threshold
    # of 0.34 pseudo-labels nearly every sample from the first step on, and one of
    # 1 none (weights and threshold are traced values: one compiled program).
    on_config = dataclasses.replace(
        tiny_job.config, epochs=1, pseudo_label_weight=10.0, pseudo_label_threshold=0.34
    )
    off = next(
        train(
            dataclasses.replace(tiny_job, config=dataclasses.replace(on_config, pseudo_label_threshold=1.0))
        )
    )
    on = next(train(dataclasses.replace(tiny_job, config=on_config)))
    again = next(train(dataclasses.replace(tiny_job, config=on_config)))
    uncut = next(train(dataclasses.replace(tiny_job, config=dataclasses.replace(on_config, cutout=0))))
    assert on.checkpoint != off.checkpoint
    assert on.checkpoint == again.checkpoint
    # The student's view has a square cut out; without it the student learns otherwise.
    assert uncut.checkpoint != on.checkpoint


def test_cutout_hides_one_square_of_each_image_and_nothing_else():
    import jax

    from domain.learning.step import _cut_out

    images = np.ones((200, 8 * 8), np.float32)
    cut = np.asarray(_cut_out(images, (8, 8), 3, jax.random.PRNGKey(0))).reshape(200, 8, 8)
    hidden = cut == 0.0
    assert set(np.unique(cut)) <= {0.0, 1.0}
    counts = hidden.sum(axis=(1, 2))
    assert counts.max() == 9 and counts.min() >= 1  # whole or overhanging squares
    for image in hidden:  # the hidden pixels form one axis-aligned block
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        assert image.sum() == rows.size * cols.size and rows.size <= 3 and cols.size <= 3
    # Corners are hidden too (the square may hang over the border).
    assert hidden[:, 0, 0].any() and hidden[:, 7, 7].any()


def test_a_warp_without_strength_or_shift_is_the_identity_and_otherwise_moves_pixels():
    import jax

    from domain.learning.step import _warp

    images = np.random.default_rng(0).random((5, 8 * 8)).astype(np.float32)
    same = np.asarray(_warp(images, (8, 8), 0, 0.0, jax.random.PRNGKey(0)))
    np.testing.assert_array_equal(same, images)
    # A whole-pixel shift of a warp with no matrix change: only sub-pixel offsets here,
    # so every output is a convex combination of inputs (and zeros beyond the border).
    warped = np.asarray(_warp(images, (8, 8), 2, 0.2, jax.random.PRNGKey(1)))
    assert warped.shape == images.shape and warped.min() >= 0.0
    assert warped.max() <= images.max() + 1e-6 and not np.allclose(warped, images)


def test_warps_and_alignment_train_deterministically_and_change_what_is_learned(tiny_job):
    config = dataclasses.replace(
        tiny_job.config, epochs=1, augment_warp=0.2, distribution_alignment=True, pseudo_label_threshold=0.34
    )
    job = dataclasses.replace(tiny_job, config=config)
    first, again = next(train(job)), next(train(job))
    assert np.isfinite(first.metrics["loss"])
    assert first.checkpoint == again.checkpoint
    unaligned = next(
        train(dataclasses.replace(tiny_job, config=dataclasses.replace(config, distribution_alignment=False)))
    )
    shifted = next(train(dataclasses.replace(tiny_job, config=dataclasses.replace(config, augment_warp=0.0))))
    assert unaligned.checkpoint != first.checkpoint and shifted.checkpoint != first.checkpoint
