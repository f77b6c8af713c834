"""The hyperparameters of one training run, validated where they are made.

A `TrainingConfig` is recorded in the event log (as `to_dict()`), shown in the
training panel and typed by people, so every check raises a `ConfigError` whose
message names the field, the value given and what would be accepted.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A hyperparameter that cannot be trained with; the message says how to fix it."""


# Bounds are generous but finite: a value outside them is a typo, not a choice.
MAX_EPOCHS = 100_000
MAX_LATENT_SIZE = 512
MAX_HIDDEN_SIZE = 8192
MAX_HIDDEN_LAYERS = 8
MAX_BATCH_SIZE = 65_536
MAX_SHIFT = 8
MAX_CUTOUT = 64
MAX_WARP = 0.5
MAX_STEPS_PER_CALL = 64
MAX_SEED = 2**32 - 1
MAX_HOLDOUT_SHARE = 0.5
MAX_EPOCH_SAMPLES = 10**9
MAX_TRAINING_SIZE = 4096
MODELS = ("auto", "mlp", "conv")
MIN_LEARNING_RATE = 1e-6
MAX_LEARNING_RATE = 1.0

# The words the training form shows a setting under, used in the messages a person
# reads there (the panel's label, not the internal field name).
FORM_LABELS = {"learning_rate": "Learning rate", "model": "Model", "training_size": "Training size"}

# Settings added after configs were first recorded, with the value that reproduces
# a run recorded before they existed (which may differ from today's default): a
# config read back from an older log must train the run that was recorded.
BEFORE_THEY_EXISTED: dict[str, Any] = {
    "pseudo_label_weight": 0.0,
    "cutout": 0,
    "classifier_hidden_sizes": None,
    "augment_warp": 0.0,
    "distribution_alignment": False,
    "holdout_share": 0.0,
    "holdout_min_labels": 100,
    "epoch_samples": 0,
    "model": "mlp",
    "augment_colour": False,
    "training_size": 0,
}


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters of the M2 semi-supervised VAE and of its training loop.

    The defaults are the best of the settings measured on the embedded MNIST 10k
    set with 100 labels; docs/benchmarks.md ("Label efficiency") has the figures.
    """

    # Small on purpose: a narrow z cannot carry the digit's identity, so the decoder
    # must take it from y, which is what teaches q(y|x) from unlabeled images.
    latent_size: int = 4
    # The encoder's layers; the decoder mirrors them. They run once per class for
    # every unlabeled sample, so their widths set most of a step's cost. (256, 128)
    # trains an epoch in half the time of (512, 256) at the same accuracy with 100
    # labels (92.6 / 90.7 % against 93.2 / 89.7 % for two label sets, docs/benchmarks.md).
    hidden_sizes: tuple[int, ...] = (256, 128)
    # The classifier q(y|x)'s layers, which run once per sample (None: the same as
    # hidden_sizes, as in runs recorded before this setting existed).
    classifier_hidden_sizes: tuple[int, ...] | None = None
    # Unlabeled samples per step: one epoch is one pass over every sample.
    batch_size: int = 128
    # Labeled samples per step, drawn with replacement from the labeled set, so a
    # hundred labels are seen every step instead of once per epoch.
    labeled_batch_size: int = 128
    epochs: int = 20
    # 2e-3 rather than Adam's usual 1e-3: with the warped views the classifier was
    # still improving at epoch 20; 2e-3 lifted the mean accuracy at 10 labels per
    # class from 95.9 % to 96.6 % (annotator seeds 1, 2, 0; docs/benchmarks.md).
    learning_rate: float = 2e-3
    # The learning rate is multiplied by this after every epoch (1 = constant).
    learning_rate_decay: float = 1.0
    reconstruction_weight: float = 1.0
    # Above 1 (a beta-VAE weight on z) for the same reason as the small latent size.
    kl_weight: float = 2.0
    # alpha of Kingma et al. (2014). Their 0.1 * N weighs a mean over labeled samples
    # against a sum over the data set; here both sides are per-step means and the
    # labeled set is oversampled, so the value was chosen by measurement instead.
    classifier_weight: float = 100.0
    # Agreement of q(y|x) on a shifted copy of each unlabeled image (0 = off; it
    # lowered accuracy in our measurements, see docs/benchmarks.md).
    consistency_weight: float = 0.0
    # Weight on the entropy of q(y|x) for unlabeled samples, on top of the -H that
    # the M2 bound already has (0 = plain M2; above 1 the sum favours confident
    # decisions, which keeps class boundaries out of dense regions).
    entropy_weight: float = 3.0
    # Confidence-thresholded pseudo-labels (FixMatch): cross-entropy of q(y|x) on a
    # shifted copy of each unlabeled image to the clean image's prediction, where
    # that prediction is at least pseudo_label_threshold (0 = off; needs
    # augment_shift > 0 and N x H x W images, like consistency). A regulariser on
    # the classifier only; 100 beat 30 and 300 (which locks early mistakes in).
    pseudo_label_weight: float = 100.0
    pseudo_label_threshold: float = 0.95
    # Random translation, in pixels, of the classifier's input (0 = off). Only
    # applies to jobs whose images are N x H x W.
    augment_shift: int = 2
    # Side, in pixels, of a square hidden at a random place of the shifted unlabeled
    # view that the consistency and pseudo-label terms train on (0 = off): a
    # stronger augmentation for the student, as FixMatch's. 8 (of 28) lifted
    # accuracy after 20 epochs from 91.9 % to 93.2 %.
    cutout: int = 8
    # Random affine warp of the classifier's augmented views (0 = off: whole-pixel
    # shifts only): each entry of the 2 x 2 matrix moves by up to this much from
    # the identity (rotation, scale and shear together) and the shift becomes a
    # sub-pixel one of up to augment_shift, resampled bilinearly. At 10 labels per
    # class (annotator seeds 1, 2, 0) it lifted the mean accuracy after 20 epochs
    # from 92.2 % to 94.9 % (0.15), 95.8 % (0.25 and 0.3) and 95.9 % (0.35), for
    # about +5 % per epoch (docs/benchmarks.md, "Label efficiency over label sets").
    augment_warp: float = 0.3
    # Pseudo-labels from predictions divided by the batch's mean prediction and
    # renormalised (ReMixMatch's distribution alignment to a uniform prior), so a
    # class the model over-predicts early does not take over the pseudo-labels.
    # With the 0.3 warp: 95.9 % against 95.8 % mean over the same three label sets.
    distribution_alignment: bool = True
    # Share of the labels kept out of training and scored every epoch (0 = off): an
    # honest accuracy, on labels the model never trained on. Which labels is decided by
    # a hash of the sample (domain.learning.holdout), so the held-out set never moves as
    # labels are added. It is used only by runs that start with at least
    # holdout_min_labels labels. Measured at 100 labels (10 per class, annotator seeds
    # 0-4, 20 epochs; docs/benchmarks.md, "Honest accuracy"): 0.25 held out 25-30
    # labels, whose 95 % interval held the true accuracy on the unlabeled samples in
    # 5 of 5 runs, at a cost of 0.08 point of mean accuracy (96.52 against 96.60 %);
    # 0.3 cost 0.32 point. Below 100 labels a quarter of them would leave fewer than
    # the 20 an estimate needs (domain.accuracy.MIN_SAMPLES) while each label still
    # buys much (5 per class: 96.0 %, 1 per class: 85.9 %), so it waits until 100.
    # Refitting on every label in the last 2 or 5 epochs did not pay (96.20 and 96.29 %
    # mean against 96.28 % at 0.3, lower minimums) and was removed.
    holdout_share: float = 0.25
    holdout_min_labels: int = 100
    seed: int = 0
    # Steps run inside one compiled call; a stop request waits for at most this many.
    steps_per_call: int = 1
    # Samples one epoch visits, the first of the epoch's random order (0 = all of them):
    # at a million samples an epoch is long, and a smaller one records a checkpoint, the
    # predictions and the map sooner. The step count is this divided by the batch size.
    epoch_samples: int = 0
    # Which networks: "mlp" (dense layers, Bernoulli pixels: `model.py`), "conv"
    # (convolutions; Gaussian pixels for colour: `conv_model.py`) or "auto": conv for
    # colour images, the MLP for grey ones, on which it is as accurate and much faster
    # (docs/benchmarks.md, "Convolutional model").
    model: str = "auto"
    # Colour images only: the classifier's augmented views (those of augment_shift) also
    # get their channels in a random order and, half of them, inverted, so q(y|x) learns
    # shapes rather than colours. Off by default: where colour tells the classes apart it
    # hides what matters (docs/benchmarks.md, "Convolutional model").
    augment_colour: bool = False
    # The longest side, in pixels, images are trained at: larger ones are shrunk to it
    # keeping their aspect, never enlarged (0 = the images' own size). 32 keeps a
    # 32 x 32 x 3 step of the conv model near a tenth of a second on 2 cores.
    training_size: int = 32

    def __post_init__(self) -> None:
        _check_int(
            "latent_size",
            self.latent_size,
            2,
            MAX_LATENT_SIZE,
            "the latent map needs at least 2 latent dimensions",
        )
        object.__setattr__(self, "hidden_sizes", _as_hidden_sizes("hidden_sizes", self.hidden_sizes))
        if self.classifier_hidden_sizes is not None:
            object.__setattr__(
                self,
                "classifier_hidden_sizes",
                _as_hidden_sizes("classifier_hidden_sizes", self.classifier_hidden_sizes),
            )
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        _check_int("labeled_batch_size", self.labeled_batch_size, 1, MAX_BATCH_SIZE)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_learning_rate(self.learning_rate)
        _check_float(
            "learning_rate_decay",
            self.learning_rate_decay,
            0.0,
            1.0,
            low_open=True,
            hint="1 keeps the rate constant, 0.9 shrinks it by 10 % per epoch",
        )
        for name in (
            "reconstruction_weight",
            "kl_weight",
            "classifier_weight",
            "consistency_weight",
            "entropy_weight",
            "pseudo_label_weight",
        ):
            _check_float(name, getattr(self, name), 0.0, 1e6, low_open=False)
        if self.reconstruction_weight == 0.0 and self.kl_weight == 0.0:
            raise ConfigError(
                "reconstruction_weight and kl_weight are both 0: the model would learn "
                "nothing from unlabeled images; set at least one of them above 0"
            )
        _check_float(
            "pseudo_label_threshold",
            self.pseudo_label_threshold,
            0.0,
            1.0,
            low_open=True,
            hint="a prediction must be at least this probable to "
            "become a pseudo-label; a typical value is 0.95",
        )
        _check_int("augment_shift", self.augment_shift, 0, MAX_SHIFT)
        _check_int("cutout", self.cutout, 0, MAX_CUTOUT)
        _check_float(
            "augment_warp",
            self.augment_warp,
            0.0,
            MAX_WARP,
            low_open=False,
            hint="0.15 moves each entry of the affine matrix by up to 0.15",
        )
        if not isinstance(self.distribution_alignment, bool):
            raise ConfigError(
                f"distribution_alignment must be true or false, got {self.distribution_alignment!r}"
            )
        _check_float(
            "holdout_share",
            self.holdout_share,
            0.0,
            MAX_HOLDOUT_SHARE,
            low_open=False,
            hint="0.25 keeps about 1 label in 4 out of training to score the model; 0 turns it off",
        )
        _check_int("holdout_min_labels", self.holdout_min_labels, 1, MAX_EPOCHS * 10)
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_int("steps_per_call", self.steps_per_call, 1, MAX_STEPS_PER_CALL)
        if not isinstance(self.augment_colour, bool):
            raise ConfigError(f"augment_colour must be true or false, got {self.augment_colour!r}")
        if self.model not in MODELS:
            raise ConfigError(
                f"{FORM_LABELS['model']} must be one of {', '.join(MODELS)}, got {self.model!r}; "
                "auto trains the convolutional model on colour images and the MLP on grey ones"
            )
        _check_int(
            "training_size",
            self.training_size,
            0,
            MAX_TRAINING_SIZE,
            "the longest side images are shrunk to for training; 0 keeps their own size",
        )
        if 0 < self.training_size < 8:
            raise ConfigError(
                f"training_size must be 0 or at least 8 pixels, got {self.training_size}; "
                "32 suits most images, 0 trains at the images' own size"
            )
        _check_int(
            "epoch_samples",
            self.epoch_samples,
            0,
            MAX_EPOCH_SAMPLES,
            "0 visits every sample each epoch; a number above the sample count also does",
        )

    def model_for(self, channels: int) -> str:
        """The networks trained on images of `channels` channels: "mlp" or "conv"."""
        if self.model == "auto":
            return "conv" if channels > 1 else "mlp"
        return self.model

    @property
    def classifier_sizes(self) -> tuple[int, ...]:
        """The classifier's layer widths in effect."""
        return self.classifier_hidden_sizes or self.hidden_sizes

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the event log (tuples become lists)."""
        out = dataclasses.asdict(self)
        for name in ("hidden_sizes", "classifier_hidden_sizes"):
            if out[name] is not None:
                out[name] = list(out[name])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        """Inverse of `to_dict`.

        Fields missing from an older log take the value that reproduces it
        (`BEFORE_THEY_EXISTED`), otherwise the default.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"a training config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown training setting(s) {', '.join(unknown)}; "
                f"known settings are {', '.join(sorted(known))}"
            )
        values = {**BEFORE_THEY_EXISTED, **data}
        for name in ("hidden_sizes", "classifier_hidden_sizes"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but "True hidden units" is always a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int, high: int, why: str = "") -> None:
    if not _is_int(value):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        reason = f" ({why})" if why else ""
        raise ConfigError(f"{name} must be between {low:,} and {high:,}, got {value:,}{reason}")


def _check_learning_rate(value: Any) -> None:
    """Within a sane range, said in the form's words: a rate above 1 is a typo, one below
    1e-6 would not move the weights in a run's lifetime."""
    label = FORM_LABELS["learning_rate"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{label} must be a number, got {value!r}")
    if not math.isfinite(value) or not MIN_LEARNING_RATE <= value <= MAX_LEARNING_RATE:
        raise ConfigError(
            f"{label} must be between {MIN_LEARNING_RATE:g} and {MAX_LEARNING_RATE:g}, "
            f"got {value:g}; the default learning rate, 0.002, suits most runs"
        )


def _check_float(name: str, value: Any, low: float, high: float, *, low_open: bool, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    tip = f"; {hint}" if hint else ""
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value}{tip}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        lower = f"greater than {low:g}" if low_open else f"at least {low:g}"
        raise ConfigError(f"{name} must be {lower} and at most {high:g}, got {value:g}{tip}")


def _as_hidden_sizes(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"{name} must be a list of layer widths such as (512, 256), got {value!r}")
    sizes = tuple(value)
    if not sizes:
        raise ConfigError(f"{name} is empty: give at least one layer width, for example (512, 256)")
    if len(sizes) > MAX_HIDDEN_LAYERS:
        raise ConfigError(f"{name} has {len(sizes)} layers; at most {MAX_HIDDEN_LAYERS} are supported")
    for i, size in enumerate(sizes):
        if not _is_int(size) or not 1 <= size <= MAX_HIDDEN_SIZE:
            raise ConfigError(
                f"{name}[{i}] must be a whole number between 1 and {MAX_HIDDEN_SIZE:,}, got {size!r}"
            )
    return sizes
