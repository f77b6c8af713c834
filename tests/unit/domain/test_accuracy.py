"""Accuracy estimates (domain.accuracy): Wilson's interval and the "too few" rule."""

from __future__ import annotations

import numpy as np
import pytest

from domain.accuracy import MIN_SAMPLES, AccuracyEstimate, wilson_interval


def test_wilson_interval_matches_the_textbook_value():
    # 81 of 263 (Wilson 1927 / Newcombe 1998 example): 0.2553 to 0.3662 at 95 %.
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=5e-4) and high == pytest.approx(0.3662, abs=5e-4)


@pytest.mark.parametrize("correct, n", [(0, 20), (20, 20), (1, 1), (0, 1), (7, 30)])
def test_the_interval_stays_in_zero_one_and_holds_the_rate(correct, n):
    low, high = wilson_interval(correct, n)
    assert 0.0 <= low <= correct / n <= high <= 1.0
    assert low < high


def test_no_samples_means_no_knowledge_and_impossible_counts_are_refused():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    with pytest.raises(ValueError):
        wilson_interval(-1, 4)


def test_a_wider_z_gives_a_wider_interval():
    narrow, wide = wilson_interval(45, 50, z=1.0), wilson_interval(45, 50, z=2.58)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]


@pytest.mark.parametrize("p, n", [(0.9, 50), (0.95, 100), (0.6, MIN_SAMPLES)])
def test_the_95_percent_interval_contains_the_true_rate_of_seeded_draws(p, n):
    """1,000 seeded Bernoulli samples of size n: at least 90 % of the intervals hold p
    (the nominal level is 95 %; Wilson's coverage dips a little below it at some n)."""
    rng = np.random.default_rng(12)
    correct = rng.binomial(n, p, size=1_000)
    covered = sum(low <= p <= high for low, high in (wilson_interval(int(c), n) for c in correct))
    assert covered >= 900, covered


def test_an_estimate_below_the_minimum_says_too_few_instead_of_a_number():
    few = AccuracyEstimate.from_counts(9, MIN_SAMPLES - 1, "prospective")
    assert few.too_few and few.value is None and few.low is None and few.high is None
    assert few.n == MIN_SAMPLES - 1
    assert "too few" in few.text() and str(MIN_SAMPLES) in few.text()
    assert few.as_dict() == {
        "value": None,
        "low": None,
        "high": None,
        "n": MIN_SAMPLES - 1,
        "method": "prospective",
    }


def test_an_estimate_with_enough_labels_has_its_interval():
    estimate = AccuracyEstimate.from_counts(45, 50, "prospective")
    assert estimate.value == pytest.approx(0.9) and not estimate.too_few
    assert (estimate.low, estimate.high) == wilson_interval(45, 50)
    assert estimate.text().startswith("90.0% (95 % interval ") and "50 labels" in estimate.text()
    assert set(estimate.as_dict()) == {"value", "low", "high", "n", "method"}


# -- divergence (domain.runs): a rule of a run's life, tested here with the other
# -- honesty rules of issue 12


def test_a_loss_that_is_nan_or_infinite_diverged():
    from domain.runs import divergence

    for loss in (float("nan"), float("inf"), None):
        message = divergence({"loss": loss}, 200.0, 1.0, epoch=3)
        assert message is not None
        assert message.startswith("the loss diverged at epoch 3") and message.endswith(
            "lower the learning rate, now 1.0"
        )


def test_a_loss_two_orders_of_magnitude_above_the_first_epochs_diverged():
    from domain.runs import DIVERGED_FACTOR, divergence

    assert divergence({"loss": 250.0}, 300.0, 0.001, epoch=2) is None
    assert divergence({"loss": 300.0 * DIVERGED_FACTOR * 0.99}, 300.0, 0.5, epoch=2) is None
    message = divergence({"loss": 300.0 * DIVERGED_FACTOR * 2}, 300.0, 0.5, epoch=4)
    assert message is not None and "epoch 4" in message and "200 times" in message and "now 0.5" in message
    assert divergence({"loss": 1e9}, None, 0.5, epoch=1) is None  # the first epoch sets the scale
    assert divergence({"accuracy": 0.5}, 300.0, 0.5, epoch=2) is None  # no loss reported: nothing to judge


def test_a_numerical_breakdown_reads_as_divergence_and_other_errors_do_not():
    from domain.runs import numerical_breakdown

    message = numerical_breakdown("LinAlgError: Eigenvalues did not converge", 1.0, epoch=2)
    assert message == (
        "the training's numbers broke down at epoch 2 (Eigenvalues did not converge): "
        "the loss most likely diverged; lower the learning rate, now 1.0"
    )
    assert numerical_breakdown("ValueError: bad shape", 1.0, epoch=2) is None
