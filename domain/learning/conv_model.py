"""The convolutional M2 model: the same three networks as `model.SemiSupervisedVAE`, with
convolutional trunks and a decoder that writes an image, for colour (or larger) images.

Images arrive flat, (rows, H·W·C) floats in [0, 1] in (H, W, C) row-major order, as the
training loop keeps them, and are reshaped here. With the defaults (`TrainingConfig`:
hidden_sizes (256, 128), classifier sizes the same, latent 4) at 32 x 32 x 3:

Every image is first put in *tree order* (`to_tree`, one transpose of the batch): cell of
the 4 x 4 grid (ceil(H/8) x ceil(W/8) in general; sides that are not multiples of 8 are
padded with zeros), then the 2 x 2 quadrant at each of three levels, then channel. In
that order every 2 x 2 block of pixels, and every 2 x 2 block of a layer's outputs, lies
side by side, so a 2 x 2 stride-2 convolution (down, in the trunks) or transposed
convolution (up, in the decoder) is one matrix product over contiguous rows: no patches
gathered, no transposes, forward or back.

Classifier q(y|x)
    x (32, 32, C) in tree order
    -> 2 x 2 conv, C -> 32, stride 2, ReLU                                   16 x 16 x 32
    -> 2 x 2 conv, 32 -> 64, stride 2, ReLU                                    8 x 8 x 64
    -> 2 x 2 conv, 64 -> 128, stride 2, ReLU                                  4 x 4 x 128
    -> flatten (2,048) -> dense classifier_sizes (256, 128), ReLU -> dense to C logits
    (1.1 M multiply-adds a sample. 3 x 3 stride-2 convolutions through `lax.conv`, the
    first version, cost 2.6 M and, with XLA:CPU's convolutions and the transposes of
    their weight gradients, 62 ms of a step on 256 rows against 33 ms now: a step went
    from ~226 to ~175 ms at equal accuracy on coloured digits and 0.8 point less
    after 4 epochs on grey MNIST, 95.0 against 95.9 % over 5 label sets; ~122 ms with
    one malloc arena, `app.training.allocator`; docs/benchmarks "Convolutional model")
Encoder q(z|x,y) = N(mu, diag(exp(log_var)))
    x -> 2 x 2 convs C -> 32 -> 64 -> 64, each stride 2, ReLU -> 4 x 4 x 64 -> flatten (1,024)
    computed ONCE per sample; then, as in the MLP's `Encoder`, W_h·h + W_y[y] + b (width
    hidden_sizes[0]) for every class y: the class is a row added as a bias, not ten
    copies through the trunk -> ReLU -> dense hidden_sizes[1:], ReLU -> dense 2·latent
Decoder p(x|y,z)
    W_z·z + W_y[y] + b (width hidden_sizes[-1], the class-rows trick again), ReLU ->
    dense reversed hidden_sizes, ReLU -> dense to 4 x 4 x 64, ReLU -> three 2 x 2,
    stride-2 transposed convolutions, 64 -> 32 -> 16 -> C per parameter of a sub-pixel
    (the last writes [means | log-scales] for each 2 x 2 block), ReLU between them ->
    32 x 32.
    Each is one dense layer applied to every cell (rows x cells, k) -> (rows x cells,
    4·k') and the output is left in tree order: no transposes of the 10x-sized
    activations; the *target* image is put in tree order instead (`Decoder.targets`),
    which the likelihood, a sum over sub-pixels, does not notice. Measured fwd+bwd on
    1,408 rows: 72 ms this way, 172 ms with depth-to-space transposes, 1,400 ms with
    4 x 4 `nnx.ConvTranspose` (XLA:CPU lowers it to a dilated convolution). Padding
    cells are masked out of the likelihood.

Likelihood (`likelihood`): colour pixels use a Gaussian per sub-pixel, with a mean and
a log-scale each (so the decoder writes 2·C numbers per pixel), the log-scale bounded
below at log(1/255) - see `loss.gaussian_pixel_nll` - and reported as the nats of the
pixel's 1/255-wide bin (density x bin width), comparable across models. It was chosen
over a discretised logistic (PixelCNN++ without mixtures) by measurement: the logistic's
two sigmoids, three softplus and a log per sub-pixel over the 1,408 x 3,072 decoder
outputs doubled the decoder's fwd+bwd time (148 against 72 ms); the Gaussian's cost is
that of a squared error; its gradient is written by hand (`loss.gaussian_pixel_nll`).
Grey images on the conv model keep the MLP's Bernoulli.

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

from domain.learning.model import Classifier, Encoder, _as_rows, _class_rows, _relu_through, _stack

# Output channels of the classifier's three 2 x 2 stride-2 convolutions.
CLASSIFIER_CHANNELS = (32, 64, 128)
# The encoder's trunk: three 2 x 2 stride-2 convolutions.
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


def to_tree(x: jax.Array, image_shape: tuple[int, int, int]) -> jax.Array:
    """Flat (H, W, C) images (..., H·W·C) -> the same sub-pixels in tree order (...,
    cells·64·C), zero where a side that is not a multiple of 8 was padded."""
    height, width, channels = image_shape
    if height % DOWNSAMPLING or width % DOWNSAMPLING:
        index, inside = tree_order(image_shape)
        return jnp.take(x, jnp.asarray(index), axis=-1) * jnp.asarray(inside, x.dtype)
    lead = x.shape[:-1]
    cells = x.reshape(-1, height // 8, 2, 2, 2, width // 8, 2, 2, 2, channels)
    ordered = cells.transpose(0, 1, 5, 2, 6, 3, 7, 4, 8, 9).reshape(*lead, -1)
    # Materialised once: fused into its users, the transpose's index arithmetic was
    # recomputed for every element they write (e.g. ten class hypotheses per sub-pixel).
    kept: jax.Array = jax.lax.optimization_barrier(ordered)  # type: ignore[no-untyped-call]
    return kept


def _trunk(rngs: nnx.Rngs, channels_in: int, channels: tuple[int, ...]) -> nnx.List[nnx.Conv]:
    """2 x 2 stride-2 convolutions. Their kernels are those of `nnx.Conv` ((2, 2, in, out),
    as a bundle expects a convolution's), but `_through_trunk` applies each as one dense
    layer from a tree-ordered block of four siblings (4·in) to its parent (out)."""
    sizes = (channels_in, *channels)
    return nnx.List(
        [nnx.Conv(a, b, (2, 2), (2, 2), padding="VALID", rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])]
    )


def _trunk_size(image_shape: tuple[int, int, int], channels: tuple[int, ...]) -> int:
    return math.prod(grid_of(image_shape)) * channels[-1]


def _through_trunk(layers: nnx.List[nnx.Conv], x: jax.Array, image_shape: tuple[int, int, int]) -> jax.Array:
    """Flat images (rows, D) -> (rows, cells·channels) after the three convolutions.

    In tree order a 2 x 2 block's sub-pixels (row quadrant, column quadrant, channel) are
    side by side, in the order of the kernel's (kh, kw, in) axes, so each convolution is
    one matrix product with no patches gathered and no transposes, forward or back: a
    step ran the trunks in 57 ms instead of 116 with `lax.conv` at 3 x 3 (docs/benchmarks).
    """
    rows = x.shape[0]
    h = to_tree(x, image_shape).reshape(-1, 4 * image_shape[2])  # the 2 x 2 leaf blocks
    for i, layer in enumerate(layers):
        kernel, bias = layer.kernel[...], layer.bias
        assert bias is not None  # nnx.Conv's default use_bias
        h = nnx.relu(h @ kernel.reshape(-1, kernel.shape[-1]) + bias[...])
        if i < len(layers) - 1:
            h = h.reshape(-1, 4 * h.shape[-1])  # four siblings side by side
    return h.reshape(rows, -1)


class ConvClassifier(Classifier):
    """q(y|x): the MLP's classifier on the convolutional trunk's features."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        hidden_sizes: tuple[int, ...],
        num_classes: int,
        *,
        rngs: nnx.Rngs,
    ):
        self.image_shape = image_shape
        self.convs = _trunk(rngs, image_shape[2], CLASSIFIER_CHANNELS)
        super().__init__(_trunk_size(image_shape, CLASSIFIER_CHANNELS), hidden_sizes, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return super().__call__(_through_trunk(self.convs, x, self.image_shape))


class ConvEncoder(Encoder):
    """q(z|x,y): the MLP's encoder on the convolutional trunk's features, computed once
    per sample and then combined with the class rows."""

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
        self.convs = _trunk(rngs, image_shape[2], ENCODER_CHANNELS)
        trunk = _trunk_size(image_shape, ENCODER_CHANNELS)
        super().__init__(trunk, hidden_sizes, num_classes, latent_size, rngs=rngs)

    def first_layer(self, x: jax.Array) -> jax.Array:
        """W_h·trunk(x) + b, once per sample: (B, D) -> (B, hidden_sizes[0])."""
        return self.pixels(_through_trunk(self.convs, x, self.image_shape))


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
        channels = image_shape[2]
        levels = DECODER_CHANNELS
        self.up = nnx.List([nnx.Linear(a, 4 * b, rngs=rngs) for a, b in zip(levels[:-1], levels[1:])])
        # The last level writes, for each 2 x 2 block, every parameter of its sub-pixels
        # (a mean, and for Gaussian pixels a log-scale) as column blocks [means | scales]:
        # one product over the 360 k leaf rows (its weight gradient reads them once; two
        # heads read them twice, 23 against 15 ms fwd+bwd with the likelihood), and the
        # likelihood reads that output in place.
        self.per_subpixel = parameters_per_subpixel(likelihood)
        self.pixels = nnx.Linear(levels[-1], self.per_subpixel * 4 * channels, rngs=rngs)

    def from_first_layer(self, first: jax.Array) -> jax.Array:
        """The pixel parameters from W_z·z + W_y[y] + b: Bernoulli logits (..., tree-order
        sub-pixels), or for a Gaussian the last product's output as it is, (..., leaf
        blocks, 2, 4·C): each 2 x 2 block's means, then its log-scales
        (`loss.gaussian_pixel_nll` reads them there; slicing them apart made their
        gradient a slow pad-and-add)."""
        rows, lead = _as_rows(first)
        h = nnx.relu(self.grid(_relu_through(self.hidden, nnx.relu(rows))))
        count = h.shape[0]
        h = h.reshape(count * self.cells, DECODER_CHANNELS[0])
        for layer in self.up:
            h = nnx.relu(layer(h).reshape(-1, layer.out_features // 4))
        out = self.pixels(h)
        if self.per_subpixel == 1:
            return out.reshape(*lead, -1)
        return out.reshape(*lead, -1, self.per_subpixel, out.shape[-1] // self.per_subpixel)

    def targets(self, x: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        """The images (..., D) in the decoder's tree order, and a 0/1 mask of the outputs
        inside the image (None when the size is a multiple of 8 and all are)."""
        _, inside = tree_order(self.image_shape)
        return to_tree(x, self.image_shape), None if inside.all() else jnp.asarray(inside, x.dtype)


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
