"""TrainingConfig refuses values that cannot train, and says what to type instead."""

from __future__ import annotations

import json
import math

import pytest

from domain.learning.config import ConfigError, TrainingConfig


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        # The learning rate is said in the form's words (the panel's label).
        ("learning_rate", -0.001, "Learning rate must be between 1e-06 and 1, got -0.001"),
        ("learning_rate", 0.0, "Learning rate must be between 1e-06 and 1"),
        ("learning_rate", 1e-9, "Learning rate must be between 1e-06 and 1"),
        ("learning_rate", 1.5, "Learning rate must be between 1e-06 and 1, got 1.5"),
        ("learning_rate", math.nan, "Learning rate must be between"),
        ("learning_rate", math.inf, "Learning rate must be between"),
        ("learning_rate", "fast", "Learning rate must be a number"),
        ("holdout_share", 0.6, "holdout_share must be at least 0 and at most 0.5"),
        ("holdout_share", -0.1, "holdout_share must be at least 0"),
        ("holdout_min_labels", 0, "holdout_min_labels must be between 1 and"),
        ("batch_size", 0, "batch_size must be between 1 and"),
        ("batch_size", -5, "batch_size must be between 1 and"),
        ("batch_size", 12.5, "batch_size must be a whole number"),
        ("labeled_batch_size", 0, "labeled_batch_size must be between 1 and"),
        ("epochs", 0, "epochs must be between 1 and 100,000"),
        ("epochs", 100_001, "epochs must be between 1 and 100,000"),
        ("epochs", True, "epochs must be a whole number"),
        ("latent_size", 1, "latent map needs at least 2 latent dimensions"),
        ("latent_size", 513, "latent_size must be between 2 and 512"),
        ("hidden_sizes", (), "hidden_sizes is empty"),
        ("hidden_sizes", (64, 0), r"hidden_sizes\[1\] must be a whole number between 1"),
        ("hidden_sizes", "512", "hidden_sizes must be a list of layer widths"),
        ("hidden_sizes", (8,) * 9, "at most 8 are supported"),
        ("classifier_hidden_sizes", (), "classifier_hidden_sizes is empty"),
        ("classifier_hidden_sizes", (64, -1), r"classifier_hidden_sizes\[1\] must be a whole number"),
        ("reconstruction_weight", -1.0, "reconstruction_weight must be at least 0"),
        ("kl_weight", math.nan, "kl_weight must be a finite number"),
        ("classifier_weight", -0.5, "classifier_weight must be at least 0"),
        ("consistency_weight", math.inf, "consistency_weight must be a finite number"),
        ("entropy_weight", -1.0, "entropy_weight must be at least 0"),
        ("pseudo_label_weight", -1.0, "pseudo_label_weight must be at least 0"),
        ("pseudo_label_weight", math.nan, "pseudo_label_weight must be a finite number"),
        ("pseudo_label_threshold", 0.0, "pseudo_label_threshold must be greater than 0"),
        ("pseudo_label_threshold", 1.5, "pseudo_label_threshold must be greater than 0 and at most 1"),
        ("pseudo_label_threshold", "high", "pseudo_label_threshold must be a number"),
        ("learning_rate_decay", 0.0, "learning_rate_decay must be greater than 0"),
        ("learning_rate_decay", 1.5, "learning_rate_decay must be greater than 0 and at most 1"),
        ("augment_shift", 9, "augment_shift must be between 0 and 8"),
        ("cutout", -1, "cutout must be between 0 and 64"),
        ("cutout", 65, "cutout must be between 0 and 64"),
        ("cutout", 2.5, "cutout must be a whole number"),
        ("seed", -1, "seed must be between 0 and"),
        ("steps_per_call", 0, "steps_per_call must be between 1 and 64"),
    ],
)
def test_each_bad_value_is_refused_with_a_message_naming_it(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainingConfig(**{field: value})


def test_config_errors_are_value_errors():
    assert issubclass(ConfigError, ValueError)


def test_switching_off_both_generative_terms_is_refused():
    with pytest.raises(ConfigError, match="both 0"):
        TrainingConfig(reconstruction_weight=0.0, kl_weight=0.0)


def test_defaults_are_valid_and_hidden_sizes_become_a_tuple():
    assert TrainingConfig(hidden_sizes=[64, 32]).hidden_sizes == (64, 32)
    TrainingConfig()


def test_a_config_recorded_before_pseudo_labels_existed_trains_without_them():
    recorded = TrainingConfig().to_dict()
    for added in ("pseudo_label_weight", "pseudo_label_threshold", "cutout"):
        del recorded[added]
    assert TrainingConfig().pseudo_label_weight > 0 and TrainingConfig().cutout > 0
    old = TrainingConfig.from_dict(recorded)
    assert old.pseudo_label_weight == 0.0 and old.cutout == 0
    # A config that names the setting keeps it.
    assert TrainingConfig.from_dict(TrainingConfig().to_dict()) == TrainingConfig()


def test_a_config_recorded_before_the_classifier_had_its_own_sizes_keeps_the_shared_ones():
    recorded = TrainingConfig(hidden_sizes=(64, 32)).to_dict()
    del recorded["classifier_hidden_sizes"]
    old = TrainingConfig.from_dict(recorded)
    assert old.classifier_hidden_sizes is None and old.classifier_sizes == (64, 32)
    own = TrainingConfig(hidden_sizes=(64, 32), classifier_hidden_sizes=[128, 16])
    assert own.classifier_sizes == (128, 16)
    assert TrainingConfig.from_dict(json.loads(json.dumps(own.to_dict()))) == own


def test_a_config_recorded_before_warps_and_alignment_trains_without_them():
    recorded = TrainingConfig(augment_warp=0.2, distribution_alignment=True).to_dict()
    for added in ("augment_warp", "distribution_alignment"):
        del recorded[added]
    old = TrainingConfig.from_dict(recorded)
    assert old.augment_warp == 0.0 and old.distribution_alignment is False
    assert TrainingConfig().augment_warp > 0 and TrainingConfig().distribution_alignment
    with pytest.raises(ConfigError, match="distribution_alignment must be true or false"):
        TrainingConfig(distribution_alignment=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="augment_warp must be at least 0 and at most 0.5"):
        TrainingConfig(augment_warp=0.7)


def test_a_config_recorded_before_the_held_out_share_keeps_every_label_for_training():
    recorded = TrainingConfig().to_dict()
    for added in ("holdout_share", "holdout_min_labels"):
        del recorded[added]
    old = TrainingConfig.from_dict(recorded)
    assert old.holdout_share == 0.0
    assert TrainingConfig().holdout_share > 0


def test_round_trip_through_json_gives_an_equal_config():
    config = TrainingConfig(hidden_sizes=(64, 32), learning_rate=3e-4, epochs=7, seed=11)
    text = json.dumps(config.to_dict())
    assert TrainingConfig.from_dict(json.loads(text)) == config


def test_from_dict_fills_missing_fields_from_defaults_and_refuses_unknown_ones():
    assert TrainingConfig.from_dict({"epochs": 3}) == TrainingConfig(
        epochs=3,
        pseudo_label_weight=0.0,
        cutout=0,
        classifier_hidden_sizes=None,
        augment_warp=0.0,
        distribution_alignment=False,
        holdout_share=0.0,
        model="mlp",
        augment_colour=False,
        training_size=0,
    )
    with pytest.raises(ConfigError, match="unknown training setting"):
        TrainingConfig.from_dict({"epochs": 3, "dropout": 0.5})
    with pytest.raises(ConfigError, match="epochs must be between"):
        TrainingConfig.from_dict({"epochs": -3})
