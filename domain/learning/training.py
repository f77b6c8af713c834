"""The one training loop of Ledgerlab, and evaluation of a checkpoint.

`train` is a generator: it yields an `EpochResult` after every epoch and checks
`should_stop()` before every compiled call (one step by default), so a runner
(QThread, QProcess worker, CLI, test) only iterates it. Everything it yields is
plain data — numpy arrays, bytes, floats — ready to become events and blobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from domain import runs
from domain.learning import checkpoint as checkpoints
from domain.learning.config import ConfigError, TrainingConfig
from domain.learning.holdout import held_out
from domain.learning.map_layout import class_map
from domain.learning.programs import ProgramStore, compiled
from domain.learning.step import (
    EVALUATION_BATCH,
    UNIT_PIXELS,
    ModelSpec,
    StepSpec,
    TrainState,
    evaluate_batch,
    initial_state,
    loss_weights,
    train_steps,
)

StopCheck = Callable[[], bool]
LabelsForEpoch = Callable[[int], "np.ndarray | None"]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainingJob:
    """Everything one call of `train` needs.

    images: (N, D), (N, H, W) or (N, H, W, 3), uint8 (0-255: kept so, and turned into
        floats per batch) or float (scaled to [0, 1] here). config.model decides the
        networks ("auto": the conv model for colour images, the MLP otherwise).
    labels: (N,) ints, a class in 0..num_classes-1 or -1 for unlabeled.
    seed: overrides config.seed when given (the run's seed as recorded).
    checkpoint / epoch_offset: continue a run; epochs are numbered from
    epoch_offset + 1, and the random stream of epoch k does not depend on where
    the run was resumed, so resuming reproduces an uninterrupted run.
    previous_map: (N, 2) latent map the first new map is aligned to.
    programs: where compiled programs are kept between processes (None: not kept);
        results are bitwise the same either way.
    """

    images: np.ndarray
    labels: np.ndarray
    config: TrainingConfig = field(default_factory=TrainingConfig)
    num_classes: int = 10
    seed: int | None = None
    checkpoint: bytes | None = None
    epoch_offset: int = 0
    previous_map: np.ndarray | None = None
    programs: ProgramStore | None = None


@dataclass(frozen=True)
class EpochResult:
    """One finished epoch.

    metrics: loss, reconstruction, kl, classification (None without labels) as
    per-sample means in nats; accuracy of q(y|x) on the labeled samples it trained on
    (training accuracy; None without labels); with a held-out share in use,
    heldout_accuracy (None when none is held out yet), heldout_correct and heldout_n
    (floats) on the labels kept out of training; seconds of training (evaluation excluded, given as
    evaluation_seconds); samples_per_s, unlabeled samples trained per second
    (every step also trains on labeled_batch_size labeled samples).
    """

    epoch: int
    metrics: dict[str, float | None]
    checkpoint: bytes
    probabilities: np.ndarray  # (N, C) float32, q(y|x)
    latent_map: np.ndarray  # (N, 2) float32, `map_layout.class_map` of q(y|x) and z
    predictions_meaningful: bool  # False when no sample was labeled this epoch
    labeled_count: int


ImageShape = tuple[int, ...]  # (H, W) for grey images, (H, W, C) for colour ones


def _image_shape(array: np.ndarray) -> ImageShape | None:
    """(H, W) of (N, H, W) and (N, H, W, 1) images, (H, W, 3) of colour ones, None of
    flat (N, D) vectors; a ConfigError for any other shape."""
    if array.ndim not in (2, 3, 4) or array.shape[0] == 0 or array.size == 0:
        raise ConfigError(
            f"images must be a non-empty (N, D), (N, H, W) or (N, H, W, 3) array, got shape {array.shape}"
        )
    if array.ndim == 4 and array.shape[3] not in (1, 3):
        raise ConfigError(
            f"images must have 1 or 3 channels (grey or RGB), got {array.shape[3]} in shape {array.shape}"
        )
    if array.ndim == 2:
        return None
    if array.ndim == 3 or array.shape[3] == 1:
        return (array.shape[1], array.shape[2])
    return (array.shape[1], array.shape[2], array.shape[3])


def training_images(images: Any) -> tuple[np.ndarray, ImageShape | None]:
    """(N, D) float32 in [0, 1] (D = H·W·C, channels last) and the image shape, if any."""
    array = np.asarray(images)
    shape = _image_shape(array)
    flat = array.reshape(array.shape[0], -1)
    if array.dtype == np.uint8:
        return (flat.astype(np.float32) / 255.0), shape
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ConfigError(f"images must be numbers, got dtype {array.dtype}")
    flat = flat.astype(np.float32)
    if not np.all(np.isfinite(flat)):
        raise ConfigError("images contain NaN or infinite values")
    low, high = float(flat.min()), float(flat.max())
    if low < 0.0 or high > 1.0:  # a Bernoulli decoder needs intensities in [0, 1]
        flat = (flat - low) / (high - low) if high > low else np.zeros_like(flat)
    return flat, shape


def job_images(images: Any) -> tuple[np.ndarray, ImageShape | None]:
    """(N, D) images as training keeps them, and their (H, W) or (H, W, C) shape if any.

    uint8 images stay uint8 (a view, no copy): the step and the evaluation turn each batch
    into the float32 numbers `training_images` would give, so memory holds one byte a pixel
    instead of four. Other dtypes become float32 in [0, 1] as `training_images` makes them.
    Colour images (N, H, W, 3) become (N, H·W·3), channels last.
    """
    array = np.asarray(images)
    if array.dtype != np.uint8:
        return training_images(array)
    shape = _image_shape(array)
    return array.reshape(array.shape[0], -1), shape


def _as_floats(chunk: np.ndarray) -> np.ndarray:
    """A host batch as float32 intensities (uint8 through the step's own table)."""
    return UNIT_PIXELS[chunk] if chunk.dtype == np.uint8 else chunk


def checked_labels(labels: Any, count: int, num_classes: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.shape != (count,):
        raise ConfigError(f"labels must have one entry per image ({count:,}), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ConfigError(f"labels must be integers (-1 for unlabeled), got {array.dtype}")
    bad = np.flatnonzero((array < -1) | (array >= num_classes))
    if bad.size:
        raise ConfigError(
            f"label {int(array[bad[0]])} of sample {int(bad[0]):,} is not a "
            f"class 0..{num_classes - 1} nor -1 (unlabeled)"
        )
    return array.astype(np.int32)


# Evaluation batches queued on the device at once: enough to keep it busy, few enough
# that their float32 inputs stay a few megabytes whatever the number of samples.
EVALUATION_QUEUE = 4


def _evaluation_batch(images: np.ndarray, start: int, batch: int) -> jax.Array:
    """Batch `start` of the host images as float32, padded with zeros to `batch` rows (one
    shape for every batch, so one compilation)."""
    chunk = _as_floats(images[start : start + batch])
    if chunk.shape[0] < batch:
        chunk = np.concatenate([chunk, np.zeros((batch - chunk.shape[0], chunk.shape[1]), chunk.dtype)])
    return jnp.asarray(chunk)


def _evaluator(
    model: ModelSpec, params: Any, images: np.ndarray, programs: ProgramStore | None
) -> Callable[..., Any]:
    example = _evaluation_batch(images, 0, min(EVALUATION_BATCH, images.shape[0]))
    return compiled(evaluate_batch, programs, (params, example), spec=model)


def _probabilities_and_z(
    evaluate_one: Callable[..., Any], params: Any, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """q(y|x) and the mean of z for every sample, a batch at a time from the host images:
    memory beyond the two results stays a few batches, whatever the number of samples."""
    count = images.shape[0]
    batch = min(EVALUATION_BATCH, count)
    probabilities: np.ndarray | None = None
    z_means: np.ndarray | None = None
    queued: list[tuple[int, Any]] = []
    for start in [*range(0, count, batch), None]:
        if start is not None:
            queued.append((start, evaluate_one(params, _evaluation_batch(images, start, batch))))
        while queued and (start is None or len(queued) > EVALUATION_QUEUE):
            at, (p, z) = queued.pop(0)
            p, z = np.asarray(p, np.float32), np.asarray(z, np.float32)
            if probabilities is None or z_means is None:
                probabilities = np.empty((count, p.shape[1]), np.float32)
                z_means = np.empty((count, z.shape[1]), np.float32)
            rows = min(batch, count - at)
            probabilities[at : at + rows], z_means[at : at + rows] = p[:rows], z[:rows]
    assert probabilities is not None and z_means is not None
    return probabilities, z_means


def _model_for(
    job_config: TrainingConfig,
    input_size: int,
    num_classes: int,
    seed: int,
    saved: bytes | None,
    programs: ProgramStore | None = None,
    image_shape: ImageShape | None = None,
) -> tuple[ModelSpec, TrainState, jax.Array]:
    init_key, run_key = jax.random.split(jax.random.PRNGKey(seed))
    model, state = initial_state(job_config, input_size, num_classes, init_key, programs, image_shape)
    if saved is not None:
        state = TrainState(*checkpoints.from_bytes(saved, state.params, state.opt_state))
    return model, state, run_key


def evaluate(
    checkpoint: bytes, images: Any, config: TrainingConfig, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (N, C) and posterior means of z (N, latent) for `images`."""
    x, shape = job_images(images)
    model, state, _ = _model_for(config, x.shape[1], num_classes, config.seed, checkpoint, None, shape)
    return _probabilities_and_z(_evaluator(model, state.params, x, None), state.params, x)


def train(
    job: TrainingJob,
    should_stop: StopCheck = lambda: False,
    labels_for_epoch: LabelsForEpoch | None = None,
    on_progress: Progress | None = None,
) -> Iterator[EpochResult]:
    """Train `job.config.epochs` epochs, yielding one `EpochResult` per epoch.

    should_stop: asked before every compiled call of `config.steps_per_call`
        steps is queued; when it answers True, the call already running finishes
        and the generator ends without yielding the unfinished epoch (the last
        yielded checkpoint is where to resume).
    A run that starts with at least ``config.holdout_min_labels`` labels keeps
    ``config.holdout_share`` of them out of training (``holdout.held_out``, decided per
    sample, so labels added later are held out or trained on by the same rule) and
    scores them every epoch.
    A step whose loss is NaN, infinite or 100 times the first step's ends the run with
    ``runs.LossDiverged`` (checked on the losses read back anyway: no extra sync).

    labels_for_epoch: live labels. Called with the number of the epoch about to
        start (including the first); it returns the (N,) labels to train that
        epoch with, or None to keep the current ones. Changing which samples are
        labeled does not recompile; going from none to some labels compiles once.
    on_progress: called with (steps done, steps in the epoch) after every call.
    """
    config = job.config
    if not isinstance(job.num_classes, int) or not 2 <= job.num_classes <= 1000:
        raise ConfigError(f"num_classes must be between 2 and 1,000, got {job.num_classes!r}")
    if not isinstance(job.epoch_offset, int) or job.epoch_offset < 0:
        raise ConfigError(f"epoch_offset must be 0 or more, got {job.epoch_offset!r}")
    x, image_shape = job_images(job.images)
    count, input_size = x.shape
    labels = checked_labels(job.labels, count, job.num_classes)
    seed = config.seed if job.seed is None else job.seed
    model, state, run_key = _model_for(
        config, input_size, job.num_classes, seed, job.checkpoint, job.programs, image_shape
    )
    # device_put makes the one device copy; jnp.asarray made a second, passing one
    # (+1.5 GB instead of +0.8 GB for a million 28x28 uint8 images, measured).
    images = jax.device_put(x)
    weights = loss_weights(config)
    # An epoch visits the first `visited` samples of its random order (all by default).
    visited = min(config.epoch_samples, count) if config.epoch_samples else count
    batch = min(config.batch_size, visited)
    steps_per_epoch = visited // batch
    previous = job.previous_map
    steppers: dict[StepSpec, Callable[..., Any]] = {}  # the compiled step of each program shape
    evaluate_one: Callable[..., Any] | None = None
    last_epoch = job.epoch_offset + config.epochs
    holding_out: bool | None = None  # decided by the labels of the run's first epoch
    first_loss: float | None = None  # the run's first step's, the scale of divergence
    for epoch in range(job.epoch_offset + 1, last_epoch + 1):
        if labels_for_epoch is not None:
            new_labels = labels_for_epoch(epoch)
            if new_labels is not None:
                labels = checked_labels(new_labels, count, job.num_classes)
        if holding_out is None:
            holding_out = (
                config.holdout_share > 0 and int(np.count_nonzero(labels >= 0)) >= config.holdout_min_labels
            )
        kept_out = held_out(labels, config.holdout_share) if holding_out else None
        trained = labels if kept_out is None else np.where(kept_out, -1, labels)
        labeled_rows = np.flatnonzero(trained >= 0)
        index = np.zeros(count, np.int32)
        index[: labeled_rows.size] = labeled_rows
        shifting = config.augment_shift > 0 and image_shape is not None
        # Only what changes the program goes into the spec, so equal programs share
        # one compilation (e.g. flat and square images when nothing is shifted).
        spec = StepSpec(
            model,
            config.learning_rate,
            config.learning_rate_decay,
            steps_per_epoch,
            batch,
            config.labeled_batch_size,
            image_shape if shifting else None,
            config.augment_shift if shifting else 0,
            config.cutout if shifting else 0,
            config.augment_warp if shifting else 0.0,
            shifting and (config.consistency_weight > 0 or config.pseudo_label_weight > 0),
            labeled_rows.size > 0,
            config.steps_per_call,
            shifting and image_shape is not None and len(image_shape) == 3 and config.augment_colour,
        )
        tail_spec = replace(spec, steps=steps_per_epoch % config.steps_per_call or 1)
        # Keys depend on (seed, epoch) only, so a resumed run draws what an
        # uninterrupted one would have drawn.
        order_key, epoch_key = jax.random.split(jax.random.fold_in(run_key, epoch))
        order = jax.random.permutation(order_key, count).astype(jnp.int32)
        device_labels = jnp.asarray(np.maximum(trained, 0))
        device_index, labeled_count = jnp.asarray(index), jnp.int32(max(labeled_rows.size, 1))
        sums, started = np.zeros(4), time.perf_counter()
        # One call is queued behind the running one, so the CPU goes from step to step
        # without waiting for Python; reading a call's losses waits for that call only.
        queued: list[tuple[jax.Array, int]] = []
        dispatched = done = 0
        while done < steps_per_epoch:
            stopping = dispatched < steps_per_epoch and should_stop()
            if dispatched < steps_per_epoch and not stopping:
                steps = min(config.steps_per_call, steps_per_epoch - dispatched)
                call_spec = spec if steps == spec.steps else tail_spec
                args = (
                    state,
                    images,
                    device_labels,
                    device_index,
                    labeled_count,
                    order,
                    epoch_key,
                    jnp.int32(dispatched),
                    weights,
                )
                if call_spec not in steppers:
                    steppers[call_spec] = compiled(train_steps, job.programs, args, spec=call_spec)
                state, parts = steppers[call_spec](*args)
                queued.append((parts, steps))
                dispatched += steps
            while queued and (stopping or len(queued) > 1 or dispatched == steps_per_epoch):
                parts, steps = queued.pop(0)
                losses = np.asarray(parts, dtype=np.float64)
                if first_loss is None:
                    first_loss = float(losses[0, 0])
                _check_steps(losses[:, 0], first_loss, config.learning_rate, epoch, done)
                sums += losses.sum(axis=0)
                done += steps
                if on_progress is not None:
                    on_progress(done, steps_per_epoch)
            if stopping:  # the call that was running has finished: at most one step later
                return
        seconds = time.perf_counter() - started
        evaluated = time.perf_counter()
        if evaluate_one is None:
            evaluate_one = _evaluator(model, state.params, x, job.programs)
        probabilities, z_means = _probabilities_and_z(evaluate_one, state.params, x)
        current_map = class_map(probabilities, z_means, previous)
        previous = current_map
        means = sums / steps_per_epoch
        has_labels = labeled_rows.size > 0
        predicted = probabilities.argmax(axis=1)
        accuracy = float(np.mean(predicted[labeled_rows] == trained[labeled_rows])) if has_labels else None
        metrics: dict[str, float | None] = {
            "loss": float(means[0]),
            "reconstruction": float(means[1]),
            "kl": float(means[2]),
            "classification": float(means[3]) if has_labels else None,
            "accuracy": accuracy,
            "seconds": seconds,
            "samples_per_s": steps_per_epoch * batch / seconds if seconds > 0 else None,
            "evaluation_seconds": time.perf_counter() - evaluated,
        }
        if kept_out is not None:
            rows = np.flatnonzero(kept_out)
            metrics.update(
                _held_out_metrics(int(np.count_nonzero(predicted[rows] == labels[rows])), rows.size)
            )
        yield EpochResult(
            epoch,
            metrics,
            checkpoints.to_bytes(state.params, state.opt_state),
            probabilities,
            current_map,
            has_labels,
            int(np.count_nonzero(labels >= 0)),
        )


def _check_steps(
    losses: np.ndarray, scale: float | None, learning_rate: float, epoch: int, done: int
) -> None:
    """Raise ``runs.LossDiverged`` at the first of these steps whose loss diverged."""
    if np.all(np.isfinite(losses)) and (scale is None or not losses.max() > runs.DIVERGED_FACTOR * scale):
        return  # the common case: one vectorised test per call
    for offset, loss in enumerate(losses):
        message = runs.step_divergence(float(loss), scale, learning_rate, epoch=epoch, step=done + offset + 1)
        if message is not None:
            raise runs.LossDiverged(message)


def _held_out_metrics(correct: int, n: int) -> dict[str, float | None]:
    """An epoch's figures on the labels kept out of training (floats, as metrics are)."""
    return {
        "heldout_accuracy": correct / n if n else None,
        "heldout_correct": float(correct),
        "heldout_n": float(n),
    }
