"""The Gaussian pixel likelihood's hand-written gradient against automatic
differentiation of the textbook formula: a wrong sign or a missed bound would train the
colour model towards the wrong pictures without any error."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from domain.learning.loss import MIN_LOG_SCALE, gaussian_pixel_nll


def textbook(params: jax.Array, x: jax.Array, mask: jax.Array) -> jax.Array:
    """-log(N(x; mean, scale) / 255) per sub-pixel, the log-scale clipped at its bound,
    summed over the sub-pixels inside the image."""
    groups, size = params.shape[-3], params.shape[-1]
    mean = params[..., 0, :].reshape(*params.shape[:-3], groups * size)
    log_scale = jnp.clip(params[..., 1, :].reshape(*params.shape[:-3], groups * size), MIN_LOG_SCALE)
    terms = (
        0.5 * ((x - mean) / jnp.exp(log_scale)) ** 2 + log_scale + 0.5 * math.log(2 * math.pi) + math.log(255)
    )
    return jnp.sum(terms * mask, axis=-1)


def test_value_and_gradient_match_the_textbook_gaussian_with_its_bound_and_mask():
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    # hypotheses, images, groups, (mean, log-scale), size
    params = jax.random.normal(keys[0], (3, 5, 4, 2, 6))
    params = params.at[..., 1, :].multiply(4.0)  # many log-scales fall below the bound
    x = jax.random.uniform(keys[1], (5, 24))  # each image shared by its three hypotheses
    mask = (jax.random.uniform(keys[2], (24,)) > 0.3).astype(jnp.float32)
    weights = jax.random.uniform(keys[3], (3, 5))

    ours = gaussian_pixel_nll(params, x[None], mask)
    np.testing.assert_allclose(ours, textbook(params, x[None], mask), rtol=1e-5)

    grad = jax.grad(lambda p: jnp.sum(weights * gaussian_pixel_nll(p, x[None], mask)))(params)
    expected = jax.grad(lambda p: jnp.sum(weights * textbook(p, x[None], mask)))(params)
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-4)
    below = params[..., 1, :] < MIN_LOG_SCALE
    assert bool(below.any()) and bool((grad[..., 1, :][below] == 0).all())  # the bound holds it
    outside = jnp.broadcast_to(mask.reshape(4, 6) == 0, grad[..., 0, :].shape)
    assert bool((grad[..., 0, :][outside] == 0).all())  # padding teaches nothing


def test_without_a_mask_every_sub_pixel_counts():
    params = jax.random.normal(jax.random.PRNGKey(1), (7, 8, 2, 3))
    x = jax.random.uniform(jax.random.PRNGKey(2), (7, 24))
    np.testing.assert_allclose(gaussian_pixel_nll(params, x), textbook(params, x, jnp.ones(24)), rtol=1e-5)
