"""The classifier alone: class probabilities q(y|x) for new images, without the encoder,
the decoder or an optimizer (``ledgerlab predict`` on a model bundle).

It computes exactly what the training loop's evaluation gives for q(y|x): the same
``Classifier`` module, the same preprocessing (``training.training_images``), the same
compiler options and the same padded batches of ``EVALUATION_BATCH`` (or fewer, for a
smaller set), so on the same machine the probabilities of a project's own images equal
its ``PredictionsComputed`` bit for bit.

Weights are a flat mapping ``hidden.<i>.kernel``, ``hidden.<i>.bias``, ``logits.kernel``,
``logits.bias`` (``classifier_weights`` takes them from a checkpoint's parameters); the
conv model's classifier has ``convs.<i>.kernel`` and ``convs.<i>.bias`` before them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from domain.learning.config import ConfigError
from domain.learning.conv_model import CLASSIFIER_CHANNELS, ConvClassifier
from domain.learning.model import Classifier
from domain.learning.step import _COMPILER_OPTIONS, EVALUATION_BATCH
from domain.learning.training import training_images

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ClassifierSpec:
    """The classifier's structure; equality and hash use the sizes only. image_shape
    (H, W, C) is that of the conv model's classifier, None for the MLP's."""

    input_size: int
    hidden_sizes: tuple[int, ...]
    num_classes: int
    graphdef: Any = field(compare=False, hash=False, repr=False)
    image_shape: tuple[int, int, int] | None = None


def classifier_spec(
    input_size: int,
    hidden_sizes: tuple[int, ...],
    num_classes: int,
    image_shape: tuple[int, int, int] | None = None,
) -> ClassifierSpec:
    sizes = (input_size, tuple(hidden_sizes), num_classes)

    def build() -> nnx.Module:
        if image_shape is not None:
            return ConvClassifier(image_shape, sizes[1], sizes[2], rngs=nnx.Rngs(params=0))
        return Classifier(sizes[0], sizes[1], sizes[2], rngs=nnx.Rngs(params=0))

    graphdef, _ = nnx.split(nnx.eval_shape(build), nnx.Param)
    return ClassifierSpec(*sizes, graphdef, image_shape)


def weight_names(hidden_layers: int, conv_layers: int = 0) -> list[str]:
    """The names of a classifier's arrays, in the order its parameters flatten."""
    names = []
    for i in range(conv_layers):
        names += [f"convs.{i}.bias", f"convs.{i}.kernel"]
    for i in range(hidden_layers):
        names += [f"hidden.{i}.bias", f"hidden.{i}.kernel"]
    return names + ["logits.bias", "logits.kernel"]


def classifier_weights(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The classifier's arrays of a model's parameters (``nnx.to_pure_dict`` form); the
    conv model's convolutions come first, as ``convs.<i>.bias`` and ``convs.<i>.kernel``."""
    part = params["classifier"]
    out = {}
    for i, layer in sorted(part.get("convs", {}).items()):
        out[f"convs.{i}.bias"] = np.asarray(layer["bias"])
        out[f"convs.{i}.kernel"] = np.asarray(layer["kernel"])
    for i, layer in sorted(part["hidden"].items()):
        out[f"hidden.{i}.bias"] = np.asarray(layer["bias"])
        out[f"hidden.{i}.kernel"] = np.asarray(layer["kernel"])
    out["logits.bias"] = np.asarray(part["logits"]["bias"])
    out["logits.kernel"] = np.asarray(part["logits"]["kernel"])
    return out


def _params(spec: ClassifierSpec, weights: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The pure-dict parameters of ``spec``'s classifier, checked against its shapes."""
    expected: dict[str, tuple[int, ...]] = {}
    if spec.image_shape is not None:
        shapes = nnx.to_pure_dict(_abstract(spec))
        for i, layer in shapes["convs"].items():
            for name in ("bias", "kernel"):
                expected[f"convs.{i}.{name}"] = tuple(layer[name].shape)
        first = int(shapes["hidden"][0]["kernel"].shape[0])
    else:
        first = spec.input_size
    widths = (first, *spec.hidden_sizes, spec.num_classes)
    for i, (a, b) in enumerate(zip(widths[:-2], widths[1:-1])):
        expected[f"hidden.{i}.kernel"], expected[f"hidden.{i}.bias"] = (a, b), (b,)
    expected["logits.kernel"], expected["logits.bias"] = (widths[-2], widths[-1]), (widths[-1],)
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ConfigError(f"the classifier's weights lack {', '.join(missing)}")
    for name, shape in expected.items():
        value = np.asarray(weights[name])
        if value.shape != shape or value.dtype != np.float32:
            raise ConfigError(
                f"the classifier's {name} is {value.dtype} {value.shape}, expected float32 {shape}"
            )
    hidden = {
        i: {
            "bias": jnp.asarray(weights[f"hidden.{i}.bias"]),
            "kernel": jnp.asarray(weights[f"hidden.{i}.kernel"]),
        }
        for i in range(len(spec.hidden_sizes))
    }
    logits = {"bias": jnp.asarray(weights["logits.bias"]), "kernel": jnp.asarray(weights["logits.kernel"])}
    params: dict[str, Any] = {"hidden": hidden, "logits": logits}
    if spec.image_shape is not None:
        params["convs"] = {
            i: {
                "bias": jnp.asarray(weights[f"convs.{i}.bias"]),
                "kernel": jnp.asarray(weights[f"convs.{i}.kernel"]),
            }
            for i in range(len(CLASSIFIER_CHANNELS))
        }
    return params


def _abstract(spec: ClassifierSpec) -> Any:
    """The parameter shapes of ``spec``'s classifier (no arithmetic)."""
    assert spec.image_shape is not None
    shape = spec.image_shape
    model = nnx.eval_shape(
        lambda: ConvClassifier(shape, spec.hidden_sizes, spec.num_classes, rngs=nnx.Rngs(0))
    )
    return nnx.split(model, nnx.Param)[1]


@partial(jax.jit, static_argnames=("spec",), compiler_options=dict(_COMPILER_OPTIONS))
def classify_batch(params: Any, x: jax.Array, *, spec: ClassifierSpec) -> jax.Array:
    """q(y|x) of one batch of flat images in [0, 1]: softmax of the classifier's logits."""
    return jax.nn.softmax(nnx.merge(spec.graphdef, params)(x))


def predict(
    weights: Mapping[str, np.ndarray],
    images: Any,
    hidden_sizes: tuple[int, ...],
    num_classes: int,
    on_progress: Progress | None = None,
) -> np.ndarray:
    """Class probabilities (N, C) float32 of ``images`` ((N, D) or (N, H, W[, C]); uint8 or
    floats, preprocessed as for training). ``on_progress(done, total)`` after each batch.
    Weights with ``convs.*`` arrays are the conv model's classifier, which takes the
    images' own (H, W, C): they must be at the size the run trained at."""
    x, shape = training_images(images)
    count, input_size = x.shape
    image_shape = None
    if any(name.startswith("convs.") for name in weights):
        if shape is None:
            raise ConfigError(
                "a convolutional classifier needs images with a height and width, not flat vectors"
            )
        image_shape = (shape[0], shape[1], shape[2] if len(shape) == 3 else 1)
    spec = classifier_spec(input_size, tuple(hidden_sizes), num_classes, image_shape)
    params = _params(spec, weights)
    batch = min(EVALUATION_BATCH, count)
    padded = -(-count // batch) * batch
    if padded != count:  # one shape for every batch, so one compilation (as in training)
        x = np.concatenate([x, np.zeros((padded - count, input_size), x.dtype)])
    parts = []
    for start in range(0, padded, batch):
        parts.append(np.asarray(classify_batch(params, jnp.asarray(x[start : start + batch]), spec=spec)))
        if on_progress is not None:
            on_progress(min(start + batch, count), count)
    return np.concatenate(parts)[:count].astype(np.float32)
