"""The compiled pieces: building the model, the train step and the evaluation pass.

The train state is a plain pytree `(params, opt_state)`; its buffers are donated so
each step updates them in place. A step draws its own batch on the device from
the epoch's order and the labeled index, so no image crosses from Python per step.
Everything that only changes shapes or the program lives in `StepSpec` (static,
hashable: equal specs share one compilation); the loss weights are traced values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from domain.learning.config import ConfigError, TrainingConfig
from domain.learning.conv_model import ConvSemiSupervisedVAE
from domain.learning.loss import LabeledBatch, LossParts, LossWeights, semi_supervised_loss
from domain.learning.model import SemiSupervisedVAE
from domain.learning.programs import ProgramStore, compiled

EVALUATION_BATCH = 500

# Pixel value 0..255 -> intensity in [0, 1]: the very float32 numbers numpy's
# ``uint8.astype(np.float32) / 255.0`` gives, so a step that reads uint8 images through
# this table trains bit for bit as one handed the float32 copy (tests/unit/learning).
UNIT_PIXELS = np.arange(256, dtype=np.float32) / np.float32(255.0)
UNIT_PIXELS.flags.writeable = False

# XLA's CPU backend hands dots, reductions and elementwise work to YNNPACK by
# default. On this model that is slower: a sum over the ten class copies of a
# (128, 512) gradient took 12 ms instead of 0.2 ms, and the backward products with
# a transposed weight ran at 60 GFLOP/s instead of 115 (Eigen). Turning it off cut
# a step from ~83 to ~63 ms (docs/benchmarks.md, "Training speed"). An option of
# these functions' compilations, not a process-wide flag; other backends ignore it.
_COMPILER_OPTIONS = (("xla_cpu_experimental_ynn_fusion_type", ""),)
_jit = partial(jax.jit, compiler_options=dict(_COMPILER_OPTIONS))


class TrainState(NamedTuple):
    # Parameters as a plain nested dict: dicts flatten in C++, while nnx.State's
    # Python flattening cost milliseconds on every call of the step.
    params: Any
    opt_state: Any  # optax state


@dataclass(frozen=True)
class ModelSpec:
    """The model's structure, which these fields determine completely.

    Equality and hash use only them: hashing the graphdef itself on every call
    of a compiled function cost more than a small step's arithmetic. kind "mlp" is
    `model.SemiSupervisedVAE` (image_shape unused); "conv" is
    `conv_model.ConvSemiSupervisedVAE` on images of image_shape (H, W, C), whose
    pixels follow `likelihood` ("bernoulli" or "gaussian").
    """

    input_size: int
    num_classes: int
    latent_size: int
    hidden_sizes: tuple[int, ...]
    classifier_sizes: tuple[int, ...]
    graphdef: Any = field(default=None, compare=False, hash=False, repr=False)
    kind: str = "mlp"
    image_shape: tuple[int, ...] | None = None
    likelihood: str = "bernoulli"


@dataclass(frozen=True)
class StepSpec:
    """What the compiled step depends on besides array values."""

    model: ModelSpec
    learning_rate: float
    learning_rate_decay: float
    steps_per_epoch: int
    batch_size: int
    labeled_batch_size: int
    image_shape: tuple[int, ...] | None  # (H, W) or (H, W, C); None: flat, no shift augmentation
    augment_shift: int
    cutout: int  # side of the square hidden in the unlabeled shifted view (0 = none)
    warp: float  # affine warp of the augmented views (0 = whole-pixel shifts)
    unlabeled_view: bool  # a shifted copy of the unlabeled batch for q(y|x)
    has_labels: bool
    steps: int  # steps per compiled call
    recolour: bool = False  # colour images: channels permuted and inverted at random in the views


def build_model(model: ModelSpec, key: jax.Array) -> SemiSupervisedVAE | ConvSemiSupervisedVAE:
    """The networks `model` describes (its graphdef is not used), initialised from `key`."""
    rngs = nnx.Rngs(params=key)
    if model.kind == "conv":
        assert model.image_shape is not None and len(model.image_shape) == 3
        image_shape = (model.image_shape[0], model.image_shape[1], model.image_shape[2])
        return ConvSemiSupervisedVAE(
            image_shape,
            model.num_classes,
            model.latent_size,
            model.hidden_sizes,
            model.classifier_sizes,
            model.likelihood,
            rngs=rngs,
        )
    return SemiSupervisedVAE(
        model.input_size,
        model.num_classes,
        model.latent_size,
        model.hidden_sizes,
        model.classifier_sizes,
        rngs=rngs,
    )


def model_spec(
    config: TrainingConfig, input_size: int, num_classes: int, image_shape: tuple[int, ...] | None = None
) -> ModelSpec:
    """The structure `config` trains on images of `image_shape` ((H, W), (H, W, C) or None
    for flat vectors), without its graphdef: config.model "auto" is the conv model for
    colour images and the MLP otherwise (`config.model_for`)."""
    channels = 1 if image_shape is None or len(image_shape) == 2 else image_shape[2]
    kind = config.model_for(channels)
    sizes = (input_size, num_classes, config.latent_size, config.hidden_sizes, config.classifier_sizes)
    if kind == "mlp":
        return ModelSpec(*sizes)
    if image_shape is None:
        raise ConfigError(
            "model conv needs images with a height and width, not flat vectors: "
            "give (N, H, W) or (N, H, W, 3) images, or choose model mlp"
        )
    shape = (image_shape[0], image_shape[1], channels)
    return ModelSpec(
        *sizes, kind="conv", image_shape=shape, likelihood="gaussian" if channels > 1 else "bernoulli"
    )


def optimizer(
    learning_rate: float, decay: float = 1.0, steps_per_epoch: int = 1
) -> optax.GradientTransformation:
    """Adam; the step count lives in its state, so a resumed run decays on schedule."""
    if decay == 1.0:
        return optax.adam(learning_rate)
    return optax.adam(optax.exponential_decay(learning_rate, steps_per_epoch, decay))


def initial_state(
    config: TrainingConfig,
    input_size: int,
    num_classes: int,
    key: jax.Array,
    programs: ProgramStore | None = None,
    image_shape: tuple[int, ...] | None = None,
) -> tuple[ModelSpec, TrainState]:
    bare = model_spec(config, input_size, num_classes, image_shape)
    # The structure comes from a shape-only build; the values from one compiled
    # call, which the persistent cache can keep, instead of dozens of eager ops.
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: build_model(bare, jax.random.PRNGKey(0))), nnx.Param)
    model = replace(bare, graphdef=graphdef)
    fresh = compiled(
        _fresh_state,
        programs,
        (key,),
        model=model,
        learning_rate=config.learning_rate,
        decay=config.learning_rate_decay,
    )
    return model, fresh(key)


@partial(_jit, static_argnames=("model", "learning_rate", "decay"))
def _fresh_state(key: jax.Array, *, model: ModelSpec, learning_rate: float, decay: float) -> TrainState:
    _, state = nnx.split(build_model(model, key), nnx.Param)
    params = nnx.to_pure_dict(state)
    # The schedule's shape does not depend on steps per epoch, so 1 stands in here.
    return TrainState(params, optimizer(learning_rate, decay).init(params))


def loss_weights(config: TrainingConfig) -> LossWeights:
    return LossWeights(
        *(
            jnp.float32(v)
            for v in (
                config.reconstruction_weight,
                config.kl_weight,
                config.classifier_weight,
                config.consistency_weight,
                config.entropy_weight,
                config.pseudo_label_weight,
                config.pseudo_label_threshold,
                float(config.distribution_alignment),
            )
        )
    )


def unit_pixels(images: jax.Array) -> jax.Array:
    """Float32 intensities of a batch: uint8 images through ``UNIT_PIXELS`` (a lookup, no
    arithmetic, so no rounding can differ), float ones as they are."""
    if images.dtype == jnp.uint8:
        return jnp.asarray(UNIT_PIXELS)[images.astype(jnp.int32)]
    return images


def _planes(shape: tuple[int, ...]) -> tuple[int, int, tuple[int, ...]]:
    """Height, width and the trailing channel axis of an image shape: () for (H, W) grey
    images (kept as they always were), (C,) for (H, W, C)."""
    return shape[0], shape[1], tuple(shape[2:])


def _shift(images: jax.Array, shape: tuple[int, ...], pixels: int, key: jax.Array) -> jax.Array:
    """Translate each flattened image by up to `pixels` in x and y (zeros fill in)."""
    height, width, channels = _planes(shape)
    batch = images.shape[0]
    padded = jnp.pad(
        images.reshape(batch, height, width, *channels),
        ((0, 0), (pixels, pixels), (pixels, pixels), *((0, 0),) * len(channels)),
    )
    offsets = jax.random.randint(key, (batch, 2), 0, 2 * pixels + 1)
    crop: Callable[[jax.Array, jax.Array], jax.Array] = jax.vmap(
        lambda image, at: jax.lax.dynamic_slice(
            image, (at[0], at[1], *(0,) * len(channels)), (height, width, *channels)
        )
    )
    return crop(padded, offsets).reshape(batch, -1)


def _warp(images: jax.Array, shape: tuple[int, ...], shift: int, warp: float, key: jax.Array) -> jax.Array:
    """A random affine warp of each flattened image, resampled bilinearly (zeros outside).

    The output pixel p reads the input at A·(p - c) + c + t, with c the centre,
    A the identity plus uniform(-warp, warp) in each entry (rotation, scale and
    shear together) and t uniform(-shift, shift) pixels in each axis: four
    gathers of the batch, no matrix product. Colour channels move together.
    """
    height, width, channels = _planes(shape)
    batch = images.shape[0]
    matrix_key, shift_key = jax.random.split(key)
    matrix = jnp.eye(2) + jax.random.uniform(matrix_key, (batch, 2, 2), minval=-warp, maxval=warp)
    offset = jax.random.uniform(shift_key, (batch, 2), minval=-shift, maxval=shift)
    centre = jnp.array([(height - 1) / 2, (width - 1) / 2])
    rows, cols = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
    grid = jnp.stack([rows.reshape(-1), cols.reshape(-1)], axis=-1) - centre  # (P, 2)
    source = jnp.einsum("bij,pj->bpi", matrix, grid) + centre + offset[:, None, :]
    top_left = jnp.floor(source)
    fraction = source - top_left
    # One pixel of zeros around the image; indices beyond it are clamped onto it.
    padded = jnp.pad(
        images.reshape(batch, height, width, *channels), ((0, 0), (1, 1), (1, 1), *((0, 0),) * len(channels))
    ).reshape(batch, (height + 2) * (width + 2), *channels)
    row0 = top_left[..., 0].astype(jnp.int32)
    col0 = top_left[..., 1].astype(jnp.int32)
    extra = (None,) * len(channels)  # a channel axis on the indices and weights, for colour

    def at(row: jax.Array, col: jax.Array) -> jax.Array:
        index = (jnp.clip(row, -1, height) + 1) * (width + 2) + jnp.clip(col, -1, width) + 1
        return jnp.take_along_axis(padded, index[(..., *extra)], axis=1)

    fr, fc = fraction[..., 0][(..., *extra)], fraction[..., 1][(..., *extra)]
    warped = (1 - fr) * ((1 - fc) * at(row0, col0) + fc * at(row0, col0 + 1)) + fr * (
        (1 - fc) * at(row0 + 1, col0) + fc * at(row0 + 1, col0 + 1)
    )
    return warped.reshape(batch, -1)


def _augmented(images: jax.Array, spec: StepSpec, key: jax.Array) -> jax.Array:
    """The classifier's augmented view: a warp when spec.warp > 0, else a whole-pixel shift."""
    assert spec.image_shape is not None
    if spec.warp > 0:
        moved = _warp(images, spec.image_shape, spec.augment_shift, spec.warp, key)
    else:
        moved = _shift(images, spec.image_shape, spec.augment_shift, key)
    return _recoloured(moved, jax.random.fold_in(key, 2)) if spec.recolour else moved


# The six orders of three colour channels.
_CHANNEL_ORDERS = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]], np.int32)


def _recoloured(images: jax.Array, key: jax.Array) -> jax.Array:
    """Each flattened (H, W, 3) image with its channels in a random order and, for half of
    them, inverted (1 - x): what a digit is does not depend on its colour or on whether
    it is lighter or darker than what lies under it."""
    batch = images.shape[0]
    order_key, invert_key = jax.random.split(key)
    orders = jnp.asarray(_CHANNEL_ORDERS)[jax.random.randint(order_key, (batch,), 0, len(_CHANNEL_ORDERS))]
    pixels = jnp.take_along_axis(images.reshape(batch, -1, 3), orders[:, None, :], axis=2)
    inverted = jax.random.bernoulli(invert_key, 0.5, (batch, 1, 1))
    return jnp.where(inverted, 1.0 - pixels, pixels).reshape(batch, -1)


def _cut_out(images: jax.Array, shape: tuple[int, ...], size: int, key: jax.Array) -> jax.Array:
    """Zero a size x size square at a random place of each image (DeVries & Taylor, 2017),
    in every channel.

    The square may hang over the border, so edge pixels are hidden as often as others.
    """
    height, width, channels = _planes(shape)
    corners = jax.random.randint(
        key, (images.shape[0], 2), jnp.array([1 - size, 1 - size]), jnp.array([height, width])
    )
    rows = jnp.arange(height)[None, :, None]
    cols = jnp.arange(width)[None, None, :]
    top, left = corners[:, 0, None, None], corners[:, 1, None, None]
    hidden = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    if channels:
        hidden = jnp.broadcast_to(hidden[..., None], (*hidden.shape, *channels))
    return jnp.where(hidden.reshape(images.shape[0], -1), 0.0, images)


def _one_step(
    spec: StepSpec,
    weights: LossWeights,
    images: jax.Array,
    labels: jax.Array,
    labeled_index: jax.Array,
    labeled_count: jax.Array,
    order: jax.Array,
    epoch_key: jax.Array,
    state: TrainState,
    step: jax.Array,
) -> tuple[TrainState, jax.Array]:
    keys = jax.random.split(jax.random.fold_in(epoch_key, step), 4)
    shifting = spec.augment_shift > 0 and spec.image_shape is not None
    unlabeled = unit_pixels(
        images[jax.lax.dynamic_slice_in_dim(order, step * spec.batch_size, spec.batch_size)]
    )
    unlabeled_shifted = None
    # ``shifting`` implies an image shape; the repeated test is for the type checker.
    if spec.unlabeled_view and shifting and spec.image_shape is not None:
        unlabeled_shifted = _augmented(unlabeled, spec, keys[2])
        if spec.cutout > 0:
            unlabeled_shifted = _cut_out(
                unlabeled_shifted, spec.image_shape, spec.cutout, jax.random.fold_in(keys[2], 1)
            )
    labeled = None
    if spec.has_labels:
        # With replacement from the first `labeled_count` entries: the index array
        # has a fixed length, so new labels between epochs never recompile.
        pick = jax.random.randint(keys[0], (spec.labeled_batch_size,), 0, labeled_count)
        rows = labeled_index[pick]
        x = unit_pixels(images[rows])
        x_for_classifier = _augmented(x, spec, keys[3]) if shifting and spec.image_shape is not None else x
        labeled = LabeledBatch(x, x_for_classifier, labels[rows])

    def objective(params: Any) -> tuple[jax.Array, LossParts]:
        model = nnx.merge(spec.model.graphdef, params)
        return semi_supervised_loss(model, unlabeled, unlabeled_shifted, labeled, keys[1], weights)

    grads, parts = jax.grad(objective, has_aux=True)(state.params)
    updates, opt_state = optimizer(spec.learning_rate, spec.learning_rate_decay, spec.steps_per_epoch).update(
        grads, state.opt_state, state.params
    )
    return TrainState(optax.apply_updates(state.params, updates), opt_state), jnp.stack(parts)


@partial(_jit, static_argnames=("spec",), donate_argnames=("state",))
def train_steps(
    state: TrainState,
    images: jax.Array,
    labels: jax.Array,
    labeled_index: jax.Array,
    labeled_count: jax.Array,
    order: jax.Array,
    epoch_key: jax.Array,
    first_step: jax.Array,
    weights: LossWeights,
    *,
    spec: StepSpec,
) -> tuple[TrainState, jax.Array]:
    """Run `spec.steps` steps from `first_step`; returns the state and (steps, 4) losses.

    images: (N, D) uint8 (turned into floats per batch, so the device holds one byte a
    pixel) or float32 in [0, 1].
    """
    body = partial(_one_step, spec, weights, images, labels, labeled_index, labeled_count, order, epoch_key)
    if spec.model.kind == "conv":
        # XLA:CPU runs convolutions inside a while loop ~45x slower than outside one (the
        # conv classifier's gradient: 7.4 s against 0.16 s; `scan(unroll=True)` still
        # leaves a loop), so the conv model's steps are traced one after the other.
        losses = []
        for i in range(spec.steps):
            state, parts = body(state, first_step + i)
            losses.append(parts)
        return state, jnp.stack(losses)
    return jax.lax.scan(body, state, first_step + jnp.arange(spec.steps))


@partial(_jit, static_argnames=("spec",))
def evaluate_batch(params: Any, x: jax.Array, *, spec: ModelSpec) -> tuple[jax.Array, jax.Array]:
    """Class probabilities q(y|x) and the mean of q(z|x) = sum_y q(y|x) q(z|x,y)."""
    model = nnx.merge(spec.graphdef, params)
    probabilities = jax.nn.softmax(model.classifier(x))
    mu, _ = model.encoder.for_every_class(x)
    return probabilities, jnp.einsum("bc,cbl->bl", probabilities, mu)
