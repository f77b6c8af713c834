"""Runs as models (issue 17): the events of choosing, archiving and presets, and which
predictions drive the window as a person would see them."""

from __future__ import annotations

import pytest

from domain.events import core_registry
from domain.model_events import (
    MODEL_EVENTS,
    PresetDeleted,
    PresetSaved,
    RunArchived,
    RunChosen,
    RunUnarchived,
)
from domain.projections.models import ModelRegistry
from domain.projections.training import TrainingRuns
from domain.training_events import PredictionsComputed, TrainingCompleted, TrainingStarted

from .conftest import MemoryLog


def _started(run_id: str) -> TrainingStarted:
    return TrainingStarted(
        run_id=run_id,
        config={"epochs": 1},
        seed=0,
        epochs=1,
        labels_position=1,
        dataset_sha256="d" * 64,
        versions={},
        runner="inline",
    )


def _predicted(run_id: str, epoch: int = 1) -> PredictionsComputed:
    return PredictionsComputed(
        run_id=run_id, epoch=epoch, predictions_sha256=run_id * 64, samples=4, classes=2, meaningful=True
    )


def _run(run_id: str) -> list:
    return [_started(run_id), _predicted(run_id), TrainingCompleted(run_id=run_id, epochs=1)]


def _fold(*events, model=ModelRegistry):
    log, read_model = MemoryLog(), model()
    for event in events:
        for recorded in log.record([event], stream="models"):
            handler = read_model.handlers.get(type(event))
            if handler is not None:
                handler(recorded)
    return read_model


def test_events_round_trip_and_read_as_one_line():
    registry = core_registry().extended(MODEL_EVENTS)
    for event in (
        RunChosen("r1"),
        RunArchived("r1"),
        RunUnarchived("r1"),
        PresetSaved("wide classifier", {"classifier_hidden_sizes": [512, 256]}),
        PresetDeleted("wide classifier"),
    ):
        cls = registry.class_for(event.type_name, 1)
        assert cls.from_data(event.to_data()).to_data() == event.to_data()
        assert "\n" not in event.summary() and event.summary()
    assert "r1" in RunChosen("r1").summary()
    assert "wide classifier" in PresetSaved("wide classifier", {}).summary()


def test_without_a_choice_the_newest_predictions_drive():
    training = _fold(*_run("a"), *_run("b"))
    assert training.latest_predictions.run_id == "b"
    assert training.chosen_run is None


def test_a_chosen_run_drives_until_a_new_run_starts():
    training = _fold(*_run("a"), *_run("b"), RunChosen("a"))
    assert training.chosen_run == "a" and training.latest_predictions.run_id == "a"
    training = _fold(*_run("a"), *_run("b"), RunChosen("a"), *_run("c"))
    assert training.chosen_run is None and training.latest_predictions.run_id == "c"
    training = _fold(*_run("a"), *_run("b"), RunChosen("a"), RunChosen(""))
    assert training.latest_predictions.run_id == "b"


def test_archived_runs_do_not_drive_and_come_back_when_unarchived():
    training = _fold(*_run("a"), *_run("b"), RunArchived("b"))
    assert training.choices.archived == {"b"} and training.latest_predictions.run_id == "a"
    training = _fold(*_run("a"), *_run("b"), RunChosen("a"), RunArchived("a"))
    assert training.chosen_run is None and training.latest_predictions.run_id == "b"
    training = _fold(*_run("a"), *_run("b"), RunArchived("b"), RunUnarchived("b"))
    assert training.choices.archived == set() and training.latest_predictions.run_id == "b"


def test_presets_are_named_replaced_and_deleted():
    training = _fold(
        PresetSaved("wide", {"hidden_sizes": [512]}),
        PresetSaved("small", {"hidden_sizes": [16]}),
        PresetSaved("wide", {"hidden_sizes": [1024]}),
    )
    assert list(training.choices.presets) == ["small", "wide"]
    assert training.choices.presets["wide"] == {"hidden_sizes": [1024]}
    training = _fold(PresetSaved("wide", {}), PresetDeleted("wide"))
    assert training.choices.presets == {}


@pytest.mark.parametrize("model", [ModelRegistry, TrainingRuns])
def test_snapshot_restores_the_same_read_model(model):
    training = _fold(*_run("a"), *_run("b"), RunChosen("a"), RunArchived("b"), PresetSaved("p", {"x": 1}))
    restored = ModelRegistry.restore(training.snapshot())
    assert restored == training
    assert restored.latest_predictions == training.latest_predictions
    assert _fold(*_run("a"), *_run("b"), RunChosen("a"), model=model).latest_predictions.run_id == (
        "a" if model is ModelRegistry else "b"
    )


def test_a_snapshot_from_before_runs_could_be_chosen_is_refused_so_the_log_is_replayed():
    import json

    from domain.errors import DomainError

    old = json.loads(_fold(*_run("a")).snapshot())
    del old["run_predictions"], old["choices"]
    with pytest.raises(DomainError, match="replay the log"):
        ModelRegistry.restore(json.dumps(old).encode())


def test_a_failed_run_does_not_drive_while_another_run_predicted():
    from domain.training_events import TrainingFailed

    failed = [_started("b"), _predicted("b"), TrainingFailed(run_id="b", epochs=1, message="diverged")]
    assert _fold(*_run("a"), *failed).latest_predictions.run_id == "a"
    assert _fold(*failed).latest_predictions.run_id == "b"  # nothing better to show
