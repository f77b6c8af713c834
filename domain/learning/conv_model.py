"""The convolutional M2 model: the same three networks as `model.SemiSupervisedVAE`, with
convolutional trunks and a decoder that writes an image, for colour (or larger) images.

Images arrive flat, (rows, H·W·C) floats in [0, 1] in (H, W, C) row-major order, as the
training loop keeps them, and are reshaped here. With the defaults (`TrainingConfig`:
hidden_sizes (256, 128), classifier sizes the same, latent 4) at 32 x 32 x 3:

Classifier q(y|x)
    x (32, 32, C)
    -> 3 x 3 conv, C -> 32, stride 2, ReLU                                   16 x 16 x 32
    -> 3 x 3 conv, 32 -> 64, stride 2, ReLU                                    8 x 8 x 64
    -> 3 x 3 conv, 64 -> 128, stride 2, ReLU                                  4 x 4 x 128
    -> flatten (2,048) -> dense classifier_sizes (256, 128), ReLU -> dense to C logits
    (a stride-1 first layer at 32 x 32 made the classifier ~4x the arithmetic: 13 M
    multiply-adds a sample instead of 2.6 M, and it runs on 384 rows a step)
Encoder q(z|x,y) = N(mu, diag(exp(log_var)))
    x -> 3 x 3 convs C -> 32 -> 64 -> 64, each stride 2, ReLU ->  4 x 4 x 64 -> flatten (1,024)
    computed ONCE per sample; then, as in the MLP's `Encoder`, W_h·h + W_y[y] + b (width
    hidden_sizes[0]) for every class y: the class is a row added as a bias, not ten
    copies through the trunk -> ReLU -> dense hidden_sizes[1:], ReLU -> dense 2·latent
Decoder p(x|y,z)
    W_z·z + W_y[y] + b (width hidden_sizes[-1], the class-rows trick again), ReLU ->
    dense reversed hidden_sizes, ReLU -> dense to 4 x 4 x 64 (a grid of ceil(H/8) x
    ceil(W/8) cells in general), ReLU -> three 2 x 2, stride-2 transposed convolutions,
    64 -> 32 -> 16 -> (parameters per sub-pixel) x C, ReLU between them -> 32 x 32.
    A 2 x 2 kernel at stride 2 does not overlap, so each of these is one dense layer
    applied to every cell (rows x cells, k) -> (rows x cells, 4·k'), and the output is
    left in that tree order (cell, then the 2 x 2 quadrant at each of the three
    levels, then channel): no transposes of the 10x-sized activations. The *target*
    image is put in tree order instead (`Decoder.targets`, one gather of the batch),
    which the likelihood, a sum over sub-pixels, does not notice. Measured fwd+bwd on
    1,408 rows: 72 ms this way, 172 ms with depth-to-space transposes, 1,400 ms with
    4 x 4 `nnx.ConvTranspose` (XLA:CPU lowers it to a dilated convolution). Sizes that
    are not multiples of 8 are padded up in the tree and the padding is masked out of
    the likelihood.

Likelihood (`likelihood`): colour pixels use a Gaussian per sub-pixel, with a mean and
a log-scale each (so the decoder writes 2·C numbers per pixel), the log-scale bounded
below at log(1/255) - see `loss.gaussian_pixel_nll` - and reported as the nats of the
pixel's 1/255-wide bin (density x bin width), comparable across models. It was chosen
over a discretised logistic (PixelCNN++ without mixtures) by measurement: the logistic's
two sigmoids, three softplus and a log per sub-pixel over the 1,408 x 3,072 decoder
outputs doubled the decoder's fwd+bwd time (148 against 72 ms); the Gaussian's cost is
that of a squared error. Grey images on the conv model keep the MLP's Bernoulli.

`ConvSemiSupervisedVAE` has the attribute names the loss and the evaluation use on the
MLP (`classifier`, `encoder.first_layer`, `encoder.classes`, `encoder.from_first_layer`,
`encoder.for_every_class`, `decoder.latent`, `decoder.classes`,
`decoder.from_first_layer`, `decoder.targets`), so the one loop trains either.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from domain.learning.model import _as_rows, _class_rows, _relu_through, _stack

# Output channels of the classifier's convolutions and their strides.
CLASSIFIER_CHANNELS = (32, 64, 128)
CLASSIFIER_STRIDES = (2, 2, 2)
# The encoder's trunk: three stride-2 convolutions.
ENCODER_CHANNELS = (32, 64, 64)
# Channels of the decoder's grid and of its first two upsampled levels.
DECODER_CHANNELS = (64, 32, 16)
DOWNSAMPLING = 8  # 2 ** three stride-2 steps
LIKELIHOODS = ("bernoulli", "gaussian")


def parameters_per_subpixel(likelihood: str) -> int:
    return 1 if likelihood == "bernoulli" else 2


def grid_of(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """The decoder's cells: the image's height and width over 8, rounded up."""
    height, width, _ = image_shape
    return math.ceil(height / DOWNSAMPLING), math.ceil(width / DOWNSAMPLING)


def tree_order(image_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For every decoder output (tree order), the index of its sub-pixel in the flat (H, W,
    C) image, and whether it lies inside the image (padding cells do not)."""
    height, width, channels = image_shape
    cells_h, cells_w = grid_of(image_shape)
    i0, j0, a1, b1, a2, b2, a3, b3, c = np.meshgrid(
        np.arange(cells_h),
        np.arange(cells_w),
        *([np.arange(2)] * 6),
        np.arange(channels),
        indexing="ij",
    )
    row = i0 * 8 + a1 * 4 + a2 * 2 + a3
    col = j0 * 8 + b1 * 4 + b2 * 2 + b3
    inside = (row < height) & (col < width)
    index = (np.minimum(row, height - 1) * width + np.minimum(col, width - 1)) * channels + c
    return index.reshape(-1).astype(np.int32), inside.reshape(-1)


def _convs(
    rngs: nnx.Rngs, channels_in: int, channels: tuple[int, ...], strides: tuple[int, ...]
) -> nnx.List[nnx.Conv]:
    sizes = (channels_in, *channels)
    return nnx.List(
        [
            nnx.Conv(a, b, (3, 3), (s, s), padding="SAME", rngs=rngs)
            for a, b, s in zip(sizes[:-1], sizes[1:], strides)
        ]
    )


def _trunk_size(
    image_shape: tuple[int, int, int], channels: tuple[int, ...], strides: tuple[int, ...]
) -> int:
    height, width = image_shape[0], image_shape[1]
    for s in strides:
        height, width = math.ceil(height / s), math.ceil(width / s)
    return height * width * channels[-1]


def _through_convs(convs: nnx.List[nnx.Conv], x: jax.Array, image_shape: tuple[int, int, int]) -> jax.Array:
    h = x.reshape(x.shape[0], *image_shape)
    for conv in convs:
        h = nnx.relu(conv(h))
    return h.reshape(h.shape[0], -1)


class ConvClassifier(nnx.Module):
    """q(y|x): convolutions, then dense layers to class logits."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        hidden_sizes: tuple[int, ...],
        num_classes: int,
        *,
        rngs: nnx.Rngs,
    ):
        self.image_shape = image_shape
        self.convs = _convs(rngs, image_shape[2], CLASSIFIER_CHANNELS, CLASSIFIER_STRIDES)
        trunk = _trunk_size(image_shape, CLASSIFIER_CHANNELS, CLASSIFIER_STRIDES)
        self.hidden = _stack(rngs, (trunk, *hidden_sizes))
        self.logits = nnx.Linear(hidden_sizes[-1], num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.logits(_relu_through(self.hidden, _through_convs(self.convs, x, self.image_shape)))


class ConvEncoder(nnx.Module):
    """q(z|x,y): a convolutional trunk once per sample, then the class rows."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        hidden_sizes: tuple[int, ...],
        num_classes: int,
        latent_size: int,
        *,
        rngs: nnx.Rngs,
    ):
        self.image_shape = image_shape
        strides = (2,) * len(ENCODER_CHANNELS)
        self.convs = _convs(rngs, image_shape[2], ENCODER_CHANNELS, strides)
        trunk = _trunk_size(image_shape, ENCODER_CHANNELS, strides)
        width = hidden_sizes[0]
        self.pixels = nnx.Linear(trunk, width, rngs=rngs)
        self.classes = _class_rows(rngs, num_classes, width, trunk + num_classes)
        self.hidden = _stack(rngs, hidden_sizes)
        self.gaussian = nnx.Linear(hidden_sizes[-1], 2 * latent_size, rngs=rngs)

    def first_layer(self, x: jax.Array) -> jax.Array:
        """W_h·trunk(x) + b, once per sample: (B, D) -> (B, hidden_sizes[0])."""
        return self.pixels(_through_convs(self.convs, x, self.image_shape))

    def from_first_layer(self, first: jax.Array) -> tuple[jax.Array, jax.Array]:
        rows, lead = _as_rows(first)
        out = self.gaussian(_relu_through(self.hidden, nnx.relu(rows)))
        mu, log_var = jnp.split(out.reshape(*lead, out.shape[-1]), 2, axis=-1)
        return mu, log_var

    def for_every_class(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """x (B, D) -> mu, log_var (C, B, L)."""
        return self.from_first_layer(self.first_layer(x)[None] + self.classes[...][:, None, :])


class ConvDecoder(nnx.Module):
    """p(x|y,z): dense layers to a grid of cells, then 2 x 2 stride-2 transposed
    convolutions (one dense layer per level), output in tree order."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        latent_size: int,
        hidden_sizes: tuple[int, ...],
        num_classes: int,
        likelihood: str,
        *,
        rngs: nnx.Rngs,
    ):
        self.image_shape = image_shape
        self.cells = math.prod(grid_of(image_shape))
        widths = tuple(reversed(hidden_sizes))
        self.latent = nnx.Linear(latent_size, widths[0], rngs=rngs)
        self.classes = _class_rows(rngs, num_classes, widths[0], latent_size + num_classes)
        self.hidden = _stack(rngs, widths)
        self.grid = nnx.Linear(widths[-1], self.cells * DECODER_CHANNELS[0], rngs=rngs)
        outputs = parameters_per_subpixel(likelihood) * image_shape[2]
        levels = (*DECODER_CHANNELS, outputs)
        self.up = nnx.List([nnx.Linear(a, 4 * b, rngs=rngs) for a, b in zip(levels[:-1], levels[1:])])

    def from_first_layer(self, first: jax.Array) -> jax.Array:
        """Decoder outputs (..., tree-order sub-pixels x parameters) from W_z·z + W_y[y] + b."""
        rows, lead = _as_rows(first)
        h = nnx.relu(self.grid(_relu_through(self.hidden, nnx.relu(rows))))
        count = h.shape[0]
        h = h.reshape(count * self.cells, DECODER_CHANNELS[0])
        for i, layer in enumerate(self.up):
            h = layer(h)
            h = h.reshape(-1, h.shape[-1] // 4)
            if i < len(self.up) - 1:
                h = nnx.relu(h)
        return h.reshape(*lead, -1)

    def targets(self, x: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        """The images (..., D) in the decoder's tree order, and a 0/1 mask of the outputs
        inside the image (None when the size is a multiple of 8 and all are)."""
        index, inside = tree_order(self.image_shape)
        ordered = jnp.take(x, jnp.asarray(index), axis=-1)
        return ordered, None if inside.all() else jnp.asarray(inside, x.dtype)


class ConvSemiSupervisedVAE(nnx.Module):
    """The M2 model with convolutional networks (module docstring)."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        latent_size: int,
        hidden_sizes: tuple[int, ...],
        classifier_sizes: tuple[int, ...],
        likelihood: str,
        *,
        rngs: nnx.Rngs,
    ):
        self.num_classes = num_classes
        self.likelihood = likelihood
        self.classifier = ConvClassifier(image_shape, classifier_sizes, num_classes, rngs=rngs)
        self.encoder = ConvEncoder(image_shape, hidden_sizes, num_classes, latent_size, rngs=rngs)
        self.decoder = ConvDecoder(image_shape, latent_size, hidden_sizes, num_classes, likelihood, rngs=rngs)
