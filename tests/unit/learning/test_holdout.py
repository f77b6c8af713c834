"""The held-out share: stable as labels come, stratified, never trained on, scored every
epoch; and a loss that diverges inside an epoch is caught at its step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from domain.learning.holdout import held_out, sample_hash
from domain.learning.training import train
from domain.runs import LossDiverged

from .conftest import NUM_CLASSES, SAMPLES, stripes

HELD_OUT_KEYS = ("heldout_accuracy", "heldout_correct", "heldout_n")


def test_the_held_out_set_does_not_move_as_labels_are_added():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, 5_000)
    order = rng.permutation(5_000)
    labels = np.full(5_000, -1)
    before = np.zeros(5_000, bool)
    for count in (50, 100, 400, 2_000, 5_000):
        labels[order[:count]] = truth[order[:count]]
        now = held_out(labels, 0.3)
        assert np.all(now[before])  # what was held out stays held out
        assert not np.any(now & (labels < 0))  # only labels are held out
        # ... and a label trained on before is never held out later
        assert np.array_equal(now[order[: count // 2]], held_out(labels, 0.3)[order[: count // 2]])
        before = now
    relabelled = labels.copy()
    relabelled[::7] = (relabelled[::7] + 1) % 10
    assert np.array_equal(held_out(relabelled, 0.3), before)  # nor when a label changes class


def test_every_class_keeps_the_same_share_out():
    truth = np.arange(20_000) % 10
    kept = held_out(truth, 0.3)
    shares = [kept[truth == c].mean() for c in range(10)]
    assert all(abs(share - 0.3) < 0.03 for share in shares), shares
    assert not held_out(truth, 0.0).any()
    u = sample_hash(np.arange(100_000))
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01


def _holding_out(tiny_job, **settings):
    images, truth = stripes()
    labels = np.full(SAMPLES, -1, np.int64)
    labels[:30] = truth[:30]
    settings = {"holdout_share": 0.3, "holdout_min_labels": 20, **settings}
    config = dataclasses.replace(tiny_job.config, **settings)
    return dataclasses.replace(tiny_job, labels=labels, config=config)


def test_held_out_labels_are_scored_every_epoch_and_never_trained_on(tiny_job):
    job = _holding_out(tiny_job)
    kept = np.flatnonzero(held_out(job.labels, 0.3))
    assert 0 < kept.size < 30
    results = list(train(job))
    for result in results:
        metrics = result.metrics
        assert metrics["heldout_n"] == float(kept.size)
        predicted = result.probabilities.argmax(axis=1)
        assert metrics["heldout_correct"] == float(np.sum(predicted[kept] == job.labels[kept]))
        assert metrics["heldout_accuracy"] == pytest.approx(metrics["heldout_correct"] / kept.size)
        trained = np.setdiff1d(np.arange(30), kept)  # training accuracy: on its own labels only
        assert metrics["accuracy"] == pytest.approx(np.mean(predicted[trained] == job.labels[trained]))
        assert result.labeled_count == 30
    # The held-out labels do not touch training: flipping them trains the same weights.
    flipped = job.labels.copy()
    flipped[kept] = (flipped[kept] + 1) % NUM_CLASSES
    other = list(train(dataclasses.replace(job, labels=flipped)))
    assert [r.checkpoint for r in other] == [r.checkpoint for r in results]
    # ... while flipping one trained label does.
    trained_one = job.labels.copy()
    first = int(np.setdiff1d(np.arange(30), kept)[0])
    trained_one[first] = (trained_one[first] + 1) % NUM_CLASSES
    assert next(train(dataclasses.replace(job, labels=trained_one))).checkpoint != results[0].checkpoint


def test_below_the_threshold_nothing_is_held_out_and_the_run_is_the_plain_one(tiny_job):
    job = _holding_out(tiny_job)
    plain = dataclasses.replace(job, config=dataclasses.replace(job.config, holdout_share=0.0))
    few = dataclasses.replace(job, config=dataclasses.replace(job.config, holdout_min_labels=31))
    runs = [list(train(j)) for j in (plain, few)]
    assert [r.checkpoint for r in runs[0]] == [r.checkpoint for r in runs[1]]
    assert not any(key in r.metrics for r in runs[1] for key in HELD_OUT_KEYS)


def test_a_diverging_loss_stops_the_loop_at_its_step(tiny_job):
    job = dataclasses.replace(
        tiny_job, config=dataclasses.replace(tiny_job.config, learning_rate=1.0, epochs=3)
    )
    with pytest.raises(LossDiverged) as raised:
        list(train(job))
    message = str(raised.value)
    assert message.startswith("the loss diverged at epoch ") and ", step " in message
    assert message.endswith("; lower the learning rate, now 1.0")


def test_a_step_diverged_when_its_loss_is_not_finite_or_a_hundred_times_the_first():
    from domain.runs import numerical_breakdown, step_divergence

    assert step_divergence(900.0, 540.0, 0.002, epoch=2, step=7) is None
    assert step_divergence(1e9, None, 0.002, epoch=1, step=1) is None  # the first step sets the scale
    message = step_divergence(float("nan"), 540.0, 1.0, epoch=3, step=41)
    assert (
        message
        == "the loss diverged at epoch 3, step 41 (it is not a number); lower the learning rate, now 1.0"
    )
    grown = step_divergence(540.0 * 200, 540.0, 0.5, epoch=1, step=9)
    assert grown is not None and grown.startswith("the loss diverged at epoch 1, step 9 (1.08e+05, 200 times")
    assert numerical_breakdown(f"LossDiverged: {message}", 1.0, epoch=9) == message  # recorded as said


def test_the_held_out_estimate_is_read_from_an_epochs_metrics():
    from domain.accuracy import MIN_SAMPLES, held_out_estimate

    estimate = held_out_estimate({"heldout_correct": 27.0, "heldout_n": 30.0, "accuracy": 1.0})
    assert estimate is not None and (estimate.method, estimate.n, estimate.value) == ("held-out", 30, 0.9)
    assert estimate.low is not None and estimate.low < 0.9 < estimate.high
    few = held_out_estimate({"heldout_correct": 5.0, "heldout_n": float(MIN_SAMPLES - 1)})
    assert few is not None and few.too_few
    assert held_out_estimate({"loss": 1.0, "accuracy": 1.0}) is None  # a run that held nothing out
    assert held_out_estimate({"heldout_correct": None, "heldout_n": None}) is None
    assert held_out_estimate({"heldout_correct": 9.0, "heldout_n": 3.0}) is None  # damaged: no figure
