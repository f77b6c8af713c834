"""The rules of a run's life (domain.runs), on plain values."""

from __future__ import annotations

import dataclasses
import math

import pytest

from domain import runs
from domain.errors import DomainError
from domain.events import LatentMapComputed
from domain.projections.training import TrainingRuns
from domain.training_events import (
    CheckpointSaved,
    EpochCompleted,
    ModelConfigured,
    PredictionsComputed,
    TrainingCompleted,
    TrainingFailed,
    TrainingInterrupted,
    TrainingStarted,
    TrainingStopped,
)

from .conftest import MemoryLog


def _started(run_id: str = "r1", config: dict | None = None) -> TrainingStarted:
    return TrainingStarted(
        run_id=run_id,
        config=config or {"epochs": 3},
        seed=0,
        epochs=3,
        labels_position=1,
        dataset_sha256="d" * 64,
        versions={},
        runner="inline",
    )


def _runs(*events) -> TrainingRuns:
    """The training read model after ``events``, each recorded as a log would."""
    log, training = MemoryLog(), TrainingRuns()
    for event in events:
        run_id = event.to_data().get("run_id")
        for recorded in log.record([event], stream=f"run-{run_id}" if run_id else "project"):
            handler = training.handlers.get(type(event))
            if handler is not None:
                handler(recorded)
    return training


def test_a_run_may_start_when_none_trains_and_the_view_is_now():
    assert runs.source_to_continue(TrainingRuns(), read_only=False, continue_run=False) is None
    with pytest.raises(DomainError, match="read-only: go back to now"):
        runs.source_to_continue(TrainingRuns(), read_only=True, continue_run=False)
    with pytest.raises(DomainError, match="run r1 is still training this project: stop it first"):
        runs.source_to_continue(_runs(_started()), read_only=False, continue_run=False)


def test_continuing_needs_an_earlier_run_with_a_checkpoint_and_takes_the_latest():
    with pytest.raises(DomainError, match="no earlier run with a checkpoint"):
        runs.source_to_continue(TrainingRuns(), read_only=False, continue_run=True)
    training = _runs(
        _started("a"),
        CheckpointSaved("a", 3, "c" * 64, 10),
        TrainingCompleted("a", 3),
        _started("b"),
        TrainingFailed("b", 0, "boom"),
    )
    source = runs.source_to_continue(training, read_only=False, continue_run=True)
    assert source is not None and source.run_id == "a" and source.checkpoint_epoch == 3


def test_a_new_configuration_is_recorded_once_before_the_start():
    started = _started(config={"epochs": 3, "learning_rate": 0.01})
    assert runs.run_started(TrainingRuns(), started) == [ModelConfigured(started.config), started]
    same = _runs(ModelConfigured(started.config))
    assert runs.run_started(same, started) == [started]


@pytest.mark.parametrize(
    ("epoch", "last", "due"), [(1, 20, False), (5, 20, True), (7, 7, True), (10, 12, True), (11, 12, False)]
)
def test_checkpoints_are_due_every_few_epochs_and_at_the_last(epoch, last, due):
    assert runs.checkpoint_due(epoch, last) is due


def test_an_epoch_becomes_its_events_with_metrics_json_can_hold():
    checkpoint = CheckpointSaved("r1", 5, "c" * 64, 123)
    stored = runs.StoredEpoch(
        "r1",
        5,
        {"loss": math.nan, "accuracy": 0.5, "kl": None},
        9,
        4,
        "m" * 64,
        2,
        "p" * 64,
        100,
        10,
        True,
        checkpoint,
    )
    events = runs.epoch_completed(stored)
    assert [type(e) for e in events] == [
        EpochCompleted,
        CheckpointSaved,
        LatentMapComputed,
        PredictionsComputed,
    ]
    assert events[0].metrics == {"loss": None, "accuracy": 0.5, "kl": None}
    assert events[2].run_id == "r1" and events[3].meaningful is True
    without = runs.epoch_completed(runs.StoredEpoch(**{**stored.__dict__, "checkpoint": None}))
    assert CheckpointSaved not in [type(e) for e in without]


def test_an_end_stores_the_unsaved_checkpoint_first_and_says_how_it_ended():
    unsaved = CheckpointSaved("r1", 3, "c" * 64, 10)
    assert runs.run_ended("r1", 3, runs.Completed(), unsaved) == [unsaved, TrainingCompleted("r1", 3)]
    assert runs.run_ended("r1", 2, runs.Stopped("Ctrl+C")) == [TrainingStopped("r1", 2, "Ctrl+C")]
    tail = tuple(str(i) for i in range(30))
    (failed,) = runs.run_ended("r1", 0, runs.Failed("boom", 1, None, tail))
    assert isinstance(failed, TrainingFailed) and failed.stderr_tail == tail[-20:]


def test_only_runs_whose_trainer_is_gone_are_interrupted():
    training = _runs(_started("a"), EpochCompleted("a", 1, {}, 1, 0))
    assert runs.interrupted(training, someone_trains=True) == []
    assert runs.interrupted(training, someone_trains=False) == [TrainingInterrupted("a", 1)]
    assert runs.interrupted(TrainingRuns(), someone_trains=False) == []


def test_a_continued_run_holds_out_no_more_than_its_weights_never_saw():
    def started(run_id, share, continues=None):
        return dataclasses.replace(
            _started(run_id, {"epochs": 3, "holdout_share": share}), continues=continues
        )

    held = {"heldout_accuracy": 0.9, "heldout_correct": 18.0, "heldout_n": 20.0}
    training = _runs(
        started("all", 0.25),  # too few labels at its start: it held out nothing
        EpochCompleted("all", 1, {"loss": 1.0}, 1, 50),
        started("quarter", 0.25),
        EpochCompleted("quarter", 1, {"loss": 1.0, **held}, 1, 150),
        started("tenth", 0.1, continues="quarter"),
        EpochCompleted("tenth", 2, {"loss": 1.0, **held}, 1, 150),
    )
    assert runs.honest_holdout_share(training, None, 0.25) == 0.25  # a fresh run
    assert runs.honest_holdout_share(training, "all", 0.25) == 0.0  # its weights saw every label
    assert runs.honest_holdout_share(training, "quarter", 0.25) == 0.25
    assert runs.honest_holdout_share(training, "quarter", 0.3) == 0.25  # nested sets: the smaller share
    assert runs.honest_holdout_share(training, "tenth", 0.25) == 0.1  # the chain's smallest
