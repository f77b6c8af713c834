"""The M2 objective: labeled ELBO + alpha·cross-entropy, unlabeled ELBO marginalised over y.

All terms are per-sample means, in nats. The labeled rows and the ten class
hypotheses of every unlabeled row go through each network in one stacked matrix
(e.g. 128 labeled + 10 x 128 unlabeled = 1,408 rows for the decoder): on a CPU
a few large matrix products run much closer to peak than many small ones.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

# The MLP (model.SemiSupervisedVAE) or the conv model (conv_model.ConvSemiSupervisedVAE):
# both have the attributes used here.
Model = Any


class LossWeights(NamedTuple):
    """The scalar weights of the objective, passed as traced values (no recompile)."""

    reconstruction: jax.Array
    kl: jax.Array
    classifier: jax.Array
    consistency: jax.Array
    entropy: jax.Array
    pseudo_label: jax.Array
    pseudo_label_threshold: jax.Array
    distribution_alignment: jax.Array  # 1: align the pseudo-labels' distribution, 0: not


class LossParts(NamedTuple):
    """What one step reports: the total and its parts, per-sample means."""

    loss: jax.Array
    reconstruction: jax.Array
    kl: jax.Array
    classification: jax.Array


class LabeledBatch(NamedTuple):
    images: jax.Array  # (B, D) for the ELBO
    classifier_images: jax.Array  # (B, D), possibly shifted copies for q(y|x)
    classes: jax.Array  # (B,) int


def bernoulli_nll(logits: jax.Array, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """-log p(x|logits) summed over pixels, x in [0, 1] (where ``mask`` is 1, when given).

    softplus(l) - x·l written as max(l, 0) + log1p(exp(-|l|)) - x·l: stable, and
    its gradient compiles to a third of the time of jax.nn.softplus's on CPU.
    """
    terms = jnp.maximum(logits, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(logits))) - x * logits
    return jnp.sum(terms if mask is None else terms * mask, axis=-1)


# The Gaussian's scale is kept at least one 1/255 step of a pixel: below it the density
# at the mean would exceed 1 / bin width, i.e. more than certainty about the pixel's byte.
MIN_LOG_SCALE = -math.log(255.0)
# -log(density x bin width) = -log density + log 255: nats of the pixel's byte.
_GAUSSIAN_CONSTANT = 0.5 * math.log(2.0 * math.pi) + math.log(255.0)


def gaussian_pixel_nll(params: jax.Array, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """-log p(x) of a Gaussian per sub-pixel, as the nats of its 1/255-wide bin, summed.

    params (..., G, 2, K): the decoder's output as it leaves its last product, each group
    of K sub-pixels with K means then K log-scales; x (..., G·K) in [0, 1], the same
    sub-pixels in the same order (broadcast over leading axes, e.g. ten class hypotheses
    of one image); mask (G·K,) 1 for sub-pixels inside the image. The log-scale is
    bounded below by ``MIN_LOG_SCALE``, so the density times the bin width stays a
    probability (at most 0.4): a continuous density cannot then run off to infinity on
    the discrete data. conv_model's docstring says why a Gaussian rather than a
    discretised logistic.

    Its gradient is written by hand (`_gaussian_terms_backward`), one pass that writes
    the derivative by every parameter straight into the shape of ``params``. Left to
    automatic differentiation, the two slices' gradients were put back together by a
    pad-and-add fusion that branched on every element: fwd+bwd of the decoder's last
    level with this likelihood, 1,408 rows at 32 x 32 x 3, took 38 ms against 19 ms now
    (docs/benchmarks "Convolutional model: training speed").
    """
    groups, size = params.shape[-3], params.shape[-1]
    x = x.reshape(*x.shape[:-1], groups, 1, size)
    weight = jnp.ones((), params.dtype) if mask is None else mask.reshape(groups, 1, size)
    return _gaussian_terms(params, x, weight)


def _gaussian_parts(params: jax.Array, x: jax.Array) -> tuple[jax.Array, ...]:
    mean, log_scale = params[..., 0:1, :], params[..., 1:2, :]
    bounded = jnp.maximum(log_scale, MIN_LOG_SCALE)
    inverse = jnp.exp(-bounded)
    return log_scale, bounded, inverse, (x - mean) * inverse


@jax.custom_vjp
def _gaussian_terms(params: jax.Array, x: jax.Array, weight: jax.Array) -> jax.Array:
    _, bounded, _, scaled = _gaussian_parts(params, x)
    return jnp.sum((0.5 * scaled * scaled + bounded + _GAUSSIAN_CONSTANT) * weight, axis=(-3, -2, -1))


def _gaussian_terms_forward(
    params: jax.Array, x: jax.Array, weight: jax.Array
) -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array]]:
    return _gaussian_terms(params, x, weight), (params, x, weight)


def _gaussian_terms_backward(
    saved: tuple[jax.Array, jax.Array, jax.Array], g: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """d/d mean = -(x - mean) / scale², d/d log-scale = 1 - ((x - mean) / scale)² above
    the bound and 0 at it, each times the sum's cotangent and the mask."""
    params, x, weight = saved
    log_scale, _, inverse, scaled = _gaussian_parts(params, x)
    by_mean = -scaled * inverse
    by_log_scale = jnp.where(log_scale > MIN_LOG_SCALE, 1.0 - scaled * scaled, 0.0)
    which = jnp.arange(2).reshape(2, 1)  # the parameter axis: 0 mean, 1 log-scale
    grad = jnp.where(which == 0, by_mean, by_log_scale) * weight * g[..., None, None, None]
    # The images and the mask are data: nothing trains them.
    return grad, jnp.zeros_like(x), jnp.zeros_like(weight)


_gaussian_terms.defvjp(_gaussian_terms_forward, _gaussian_terms_backward)


def pixel_nll(likelihood: str, out: jax.Array, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """-log p(x|decoder outputs) under the model's pixel likelihood, summed over pixels;
    ``out`` holds the decoder's parameters per sub-pixel: logits (..., D), or a
    Gaussian's means and log-scales (..., G, 2, K) as `gaussian_pixel_nll` reads them."""
    if likelihood == "gaussian":
        return gaussian_pixel_nll(out, x, mask)
    return bernoulli_nll(out, x, mask)


def gaussian_kl(mu: jax.Array, log_var: jax.Array) -> jax.Array:
    """KL(N(mu, exp(log_var)) || N(0, I)), summed over latent dimensions."""
    return 0.5 * jnp.sum(mu * mu + jnp.exp(log_var) - 1.0 - log_var, axis=-1)


def consistency(clean_logits: jax.Array, shifted_logits: jax.Array) -> jax.Array:
    """KL(q(y|x) || q(y|shifted x)) per sample; the clean side is a fixed target."""
    target = jax.lax.stop_gradient(jax.nn.log_softmax(clean_logits))
    return jnp.sum(jnp.exp(target) * (target - jax.nn.log_softmax(shifted_logits)), axis=-1)


def aligned(probabilities: jax.Array) -> jax.Array:
    """Distribution alignment (ReMixMatch, Berthelot et al., 2020) to a uniform prior.

    Each row times prior / (the batch's mean prediction), renormalised: classes the
    model predicts more often than 1 in C lose probability. The batch mean stands
    in for ReMixMatch's running mean, so the train state needs nothing more.
    """
    scaled = probabilities / jnp.mean(probabilities, axis=0, keepdims=True)
    return scaled / jnp.sum(scaled, axis=-1, keepdims=True)


def pseudo_label(
    clean_logits: jax.Array, shifted_logits: jax.Array, threshold: jax.Array, align: jax.Array | None = None
) -> jax.Array:
    """Cross-entropy of q(y|shifted x) to the clean view's decision, where it is confident.

    FixMatch (Sohn et al., 2020): the target is argmax q(y|x) of the clean image,
    a fixed value (no gradient), used only where max q(y|x) >= threshold; other
    samples contribute 0, so the mean over the batch grows as the model commits.
    align > 0: the clean view's probabilities are `aligned` first.
    """
    clean = jax.lax.stop_gradient(jax.nn.softmax(clean_logits))
    if align is not None:
        clean = jnp.where(align > 0, jax.lax.stop_gradient(aligned(clean)), clean)
    confident = (jnp.max(clean, axis=-1) >= threshold).astype(shifted_logits.dtype)
    target = jnp.argmax(clean, axis=-1)
    log_q = jnp.take_along_axis(jax.nn.log_softmax(shifted_logits), target[:, None], axis=-1)
    return -confident * log_q[:, 0]


def _negative_elbos(
    model: Model, unlabeled: jax.Array, labeled: LabeledBatch | None, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Reconstruction and KL of every (sample, class) pair the loss needs.

    Rows are the C x B unlabeled hypotheses (class-major), then the labeled samples.
    """
    classes, batch = model.num_classes, unlabeled.shape[0]
    images = unlabeled if labeled is None else jnp.concatenate([unlabeled, labeled.images])
    pixels = model.encoder.first_layer(images)  # W_x·x once per sample, whatever its class
    encoder_rows = model.encoder.classes[...]
    first = [(pixels[:batch][None] + encoder_rows[:, None, :]).reshape(classes * batch, -1)]
    row_classes = [jnp.repeat(jnp.arange(classes), batch)]
    if labeled is not None:
        first.append(pixels[batch:] + encoder_rows[labeled.classes])
        row_classes.append(labeled.classes)
    mu, log_var = model.encoder.from_first_layer(jnp.concatenate(first))
    z = mu + jnp.exp(0.5 * log_var) * jax.random.normal(key, mu.shape, mu.dtype)
    row_class = jnp.concatenate(row_classes)
    out = model.decoder.from_first_layer(model.decoder.latent(z) + model.decoder.classes[...][row_class])
    likelihood = model.likelihood
    if likelihood == "gaussian":
        # Every row's image gathered, in the decoder's output order: one likelihood over
        # all rows, so its hand-written gradient is one array (two calls, on the
        # hypotheses and on the labeled rows, make it the sum of two padded arrays;
        # paired runs put the two ways level, this one the simpler).
        targets, mask = model.decoder.targets(images)
        sample = jnp.tile(jnp.arange(batch), classes)
        if labeled is not None:
            sample = jnp.concatenate([sample, batch + jnp.arange(labeled.classes.shape[0])])
        return pixel_nll(likelihood, out, targets[sample], mask), gaussian_kl(mu, log_var)
    # Bernoulli pixels (the MLP, and the conv model on grey images): each image broadcast
    # over its ten hypotheses. Kept as it was: recorded runs rerun bit for bit.
    targets, mask = model.decoder.targets(unlabeled)  # in the decoder's output order
    hypotheses = out[: classes * batch].reshape(classes, batch, -1)
    rec = pixel_nll(likelihood, hypotheses, targets[None], mask).reshape(-1)
    if labeled is not None:
        labeled_targets, _ = model.decoder.targets(labeled.images)
        rec = jnp.concatenate([rec, pixel_nll(likelihood, out[classes * batch :], labeled_targets, mask)])
    return rec, gaussian_kl(mu, log_var)


def semi_supervised_loss(
    model: Model,
    unlabeled: jax.Array,
    unlabeled_shifted: jax.Array | None,
    labeled: LabeledBatch | None,
    key: jax.Array,
    weights: LossWeights,
) -> tuple[jax.Array, LossParts]:
    """Total loss of one step and its parts.

    labeled:   -ELBO(x, y) + alpha · -log q(y|x)
    unlabeled: sum_y q(y|x) · -ELBO(x, y) - H(q(y|x))
    with a shifted view: + consistency and pseudo-label terms, on q(y|x) only
    -log p(y) under the uniform prior is a constant, kept so the loss is the bound.
    """
    classes, batch = model.num_classes, unlabeled.shape[0]
    seen = (
        [unlabeled]
        + ([] if unlabeled_shifted is None else [unlabeled_shifted])
        + ([] if labeled is None else [labeled.classifier_images])
    )
    class_logits = model.classifier(jnp.concatenate(seen))
    log_q = jax.nn.log_softmax(class_logits[:batch])
    q = jnp.exp(log_q)
    rec, kl = _negative_elbos(model, unlabeled, labeled, key)
    neg_elbo = weights.reconstruction * rec + weights.kl * kl + jnp.log(classes)
    per_class = q.T.reshape(-1)  # matches the class-major unlabeled rows
    unlabeled_count = classes * batch
    total = jnp.sum(per_class * neg_elbo[:unlabeled_count]) / batch + (1.0 - weights.entropy) * jnp.mean(
        jnp.sum(q * log_q, axis=-1)
    )  # -H(q(y|x))
    rec_sum = jnp.sum(per_class * rec[:unlabeled_count])
    kl_sum = jnp.sum(per_class * kl[:unlabeled_count])
    count = batch
    if unlabeled_shifted is not None:
        clean, shifted = class_logits[:batch], class_logits[batch : 2 * batch]
        total = (
            total
            + weights.consistency * jnp.mean(consistency(clean, shifted))
            + weights.pseudo_label
            * jnp.mean(
                pseudo_label(clean, shifted, weights.pseudo_label_threshold, weights.distribution_alignment)
            )
        )
    classification = jnp.zeros(())
    if labeled is not None:
        log_q_labeled = jax.nn.log_softmax(class_logits[-labeled.classes.shape[0] :])
        classification = -jnp.mean(jnp.take_along_axis(log_q_labeled, labeled.classes[:, None], axis=-1))
        total = total + jnp.mean(neg_elbo[unlabeled_count:]) + weights.classifier * classification
        rec_sum = rec_sum + jnp.sum(rec[unlabeled_count:])
        kl_sum = kl_sum + jnp.sum(kl[unlabeled_count:])
        count = count + labeled.classes.shape[0]
    return total, LossParts(total, rec_sum / count, kl_sum / count, classification)
