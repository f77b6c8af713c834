"""The M2 semi-supervised VAE of Kingma et al. (2014) in Flax NNX.

Three networks: a classifier q(y|x), an encoder q(z|x,y) and a Bernoulli
decoder p(x|y,z). The unlabeled loss evaluates the encoder and decoder once per
class, so their first layers, which see a one-hot y, are split algebraically:
W·[x; y] = W_x·x + W_y[y]. W_x·x is computed once per sample and the class row
W_y[y] is added as a bias, instead of multiplying ten concatenated copies. The
model is the same as one Linear layer on the concatenation; only the arithmetic
is cheaper.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def _class_rows(rngs: nnx.Rngs, num_classes: int, width: int, fan_in: int) -> nnx.Param[jax.Array]:
    # Scaled as the y-rows of a Linear layer whose input is [x; y] (LeCun normal).
    std = 1.0 / jnp.sqrt(fan_in)
    return nnx.Param(std * jax.random.normal(rngs.params(), (num_classes, width), jnp.float32))


def _stack(rngs: nnx.Rngs, sizes: tuple[int, ...]) -> nnx.List[nnx.Linear]:
    return nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])


def _relu_through(layers: nnx.List[nnx.Linear], h: jax.Array) -> jax.Array:
    for layer in layers:
        h = nnx.relu(layer(h))
    return h


def _as_rows(h: jax.Array) -> tuple[jax.Array, tuple[int, ...]]:
    # XLA's CPU backend multiplies 2-D matrices much faster than (C, B, H) stacks.
    return h.reshape(-1, h.shape[-1]), h.shape[:-1]


class Classifier(nnx.Module):
    """q(y|x): an MLP from pixels to class logits."""

    def __init__(self, input_size: int, hidden_sizes: tuple[int, ...], num_classes: int, *, rngs: nnx.Rngs):
        self.hidden = _stack(rngs, (input_size, *hidden_sizes))
        self.logits = nnx.Linear(hidden_sizes[-1], num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.logits(_relu_through(self.hidden, x))


class Encoder(nnx.Module):
    """q(z|x,y) = N(mu, diag(exp(log_var))) from pixels and a class."""

    def __init__(
        self,
        input_size: int,
        hidden_sizes: tuple[int, ...],
        num_classes: int,
        latent_size: int,
        *,
        rngs: nnx.Rngs,
    ):
        width = hidden_sizes[0]
        self.pixels = nnx.Linear(input_size, width, rngs=rngs)
        self.classes = _class_rows(rngs, num_classes, width, input_size + num_classes)
        self.hidden = _stack(rngs, hidden_sizes)
        self.gaussian = nnx.Linear(hidden_sizes[-1], 2 * latent_size, rngs=rngs)

    def first_layer(self, x: jax.Array) -> jax.Array:
        """W_x·x + b, once per sample: (B, D) -> (B, hidden_sizes[0])."""
        return self.pixels(x)

    def from_first_layer(self, first: jax.Array) -> tuple[jax.Array, jax.Array]:
        """mu, log_var from the first layer's pre-activations W_x·x + W_y[y] + b."""
        rows, lead = _as_rows(first)
        out = self.gaussian(_relu_through(self.hidden, nnx.relu(rows)))
        mu, log_var = jnp.split(out.reshape(*lead, out.shape[-1]), 2, axis=-1)
        return mu, log_var

    def for_classes(self, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One class per sample: x (B, D), y (B,) int -> mu, log_var (B, L)."""
        return self.from_first_layer(self.first_layer(x) + self.classes[...][y])

    def for_every_class(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Every class for every sample: x (B, D) -> mu, log_var (C, B, L)."""
        return self.from_first_layer(self.first_layer(x)[None] + self.classes[...][:, None, :])


class Decoder(nnx.Module):
    """p(x|y,z): Bernoulli logits per pixel from a latent code and a class."""

    def __init__(
        self,
        latent_size: int,
        hidden_sizes: tuple[int, ...],
        num_classes: int,
        output_size: int,
        *,
        rngs: nnx.Rngs,
    ):
        widths = tuple(reversed(hidden_sizes))
        self.latent = nnx.Linear(latent_size, widths[0], rngs=rngs)
        self.classes = _class_rows(rngs, num_classes, widths[0], latent_size + num_classes)
        self.hidden = _stack(rngs, widths)
        self.pixels = nnx.Linear(widths[-1], output_size, rngs=rngs)

    def from_first_layer(self, first: jax.Array) -> jax.Array:
        """Pixel logits from the first layer's pre-activations W_z·z + W_y[y] + b."""
        rows, lead = _as_rows(first)
        out = self.pixels(_relu_through(self.hidden, nnx.relu(rows)))
        return out.reshape(*lead, out.shape[-1])

    def targets(self, x: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        """The images in the order of the decoder's outputs (pixel order here), and no mask."""
        return x, None

    def for_classes(self, z: jax.Array, y: jax.Array) -> jax.Array:
        """z (B, L), y (B,) int -> logits (B, D)."""
        return self.from_first_layer(self.latent(z) + self.classes[...][y])

    def for_every_class(self, z: jax.Array) -> jax.Array:
        """z (C, B, L), one code per class -> logits (C, B, D)."""
        rows, lead = _as_rows(z)
        first = self.latent(rows).reshape(*lead, -1) + self.classes[...][:, None, :]
        return self.from_first_layer(first)


class SemiSupervisedVAE(nnx.Module):
    """The M2 model: a classifier, and an encoder and decoder of mirrored sizes."""

    likelihood = "bernoulli"  # of the pixels (a class attribute: not part of the graph)

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        latent_size: int,
        hidden_sizes: tuple[int, ...],
        classifier_sizes: tuple[int, ...] | None = None,
        *,
        rngs: nnx.Rngs,
    ):
        self.num_classes = num_classes
        self.classifier = Classifier(input_size, classifier_sizes or hidden_sizes, num_classes, rngs=rngs)
        self.encoder = Encoder(input_size, hidden_sizes, num_classes, latent_size, rngs=rngs)
        self.decoder = Decoder(latent_size, hidden_sizes, num_classes, input_size, rngs=rngs)
