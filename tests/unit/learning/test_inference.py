"""The classifier alone (domain/learning/inference.py) gives exactly the probabilities the
training loop's evaluation gives, bit for bit, over several padded batches."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from domain.learning import checkpoint as checkpoints
from domain.learning.config import ConfigError, TrainingConfig
from domain.learning.inference import classifier_weights, predict, weight_names
from domain.learning.step import EVALUATION_BATCH, initial_state
from domain.learning.training import evaluate


def test_predict_equals_the_loops_evaluation_bit_for_bit_across_padded_batches():
    config = TrainingConfig(latent_size=2, hidden_sizes=(24,), classifier_hidden_sizes=(20, 12), seed=4)
    images = np.random.default_rng(0).integers(0, 256, (2 * EVALUATION_BATCH + 37, 6, 6), dtype=np.uint8)
    init_key, _ = jax.random.split(jax.random.PRNGKey(config.seed))
    _, state = initial_state(config, 36, 5, init_key)
    saved = checkpoints.to_bytes(state.params, state.opt_state)
    expected, _ = evaluate(saved, images, config, num_classes=5)
    weights = classifier_weights(state.params)
    assert list(weights) == weight_names(2)  # the order the checkpoint flattens them in
    got = predict(weights, images, (20, 12), 5)
    assert got.dtype == np.float32 and got.shape == (len(images), 5)
    assert np.array_equal(got, expected)


def test_weights_of_another_shape_are_refused_with_the_array_named():
    config = TrainingConfig(latent_size=2, hidden_sizes=(8,), seed=0)
    _, state = initial_state(config, 16, 3, jax.random.PRNGKey(0))
    weights = classifier_weights(state.params)
    with pytest.raises(ConfigError, match="hidden.0.kernel"):
        predict(weights, np.zeros((2, 5, 5), np.uint8), (8,), 3)
