"""Issue 15: a recorded event whose fields or metadata hold the wrong JSON type (found by
the fuzz test: a list where a sample number belongs, a dict where a time belongs) is a
``DamagedEvent`` that names the field, raised where events are decoded -- never a
TypeError somewhere far from the file."""

from __future__ import annotations

import math
import typing

import pytest

from domain.event_fields import DamagedEvent, metadata_problem
from domain.events import CORE_EVENTS, EventRegistry, LabelAssigned, ProjectCreated
from domain.model_events import MODEL_EVENTS
from domain.quality_events import QUALITY_EVENTS
from domain.training_events import TRAINING_EVENTS, EpochCompleted, TrainingFailed

REGISTRY = EventRegistry(CORE_EVENTS + TRAINING_EVENTS + QUALITY_EVENTS + MODEL_EVENTS)
ASSIGNED = {"sample": 4, "label": 1, "previous": -1}


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("sample", [4], "its field 'sample' holds a list where a whole number belongs"),
        ("sample", {"n": 4}, "its field 'sample' holds an object (a dict) where a whole number belongs"),
        ("label", True, "its field 'label' holds true where a whole number belongs"),
        ("label", 1.5, "its field 'label' holds the number 1.5 where a whole number belongs"),
        ("previous", "x", "its field 'previous' holds the text 'x' where a whole number belongs"),
        ("previous", None, "its field 'previous' holds null where a whole number belongs"),
    ],
)
def test_a_field_of_the_wrong_type_is_a_damaged_event_naming_the_field(field, value, said):
    with pytest.raises(DamagedEvent) as caught:
        REGISTRY.decode("LabelAssigned", 1, {**ASSIGNED, field: value})
    assert caught.value.problem == said and caught.value.type_name == "LabelAssigned"
    assert "damaged" in str(caught.value)


def test_missing_fields_data_that_are_not_an_object_and_items_of_the_wrong_type():
    cases = [
        ("LabelAssigned", {"label": 1, "previous": -1}, "it lacks the field 'sample'"),
        ("LabelAssigned", [4, 1, -1], "its data are a list where an object belongs"),
        (
            "LabelsAssigned",
            {"samples": [1, "2"], "label": 0, "previous": [-1, -1]},
            "its field 'samples' holds a list where a list of whole numbers belongs",
        ),
        (
            "EpochCompleted",
            {"run_id": "r", "epoch": 1, "metrics": {"loss": [1]}, "labels_position": 3, "labeled": 1},
            "its field 'metrics' holds an object (a dict) where an object of numbers or nulls belongs",
        ),
        (
            "TrainingFailed",
            {"run_id": "r", "epochs": 1, "message": "m", "exit_code": "9"},
            "its field 'exit_code' holds the text '9' where a whole number or null belongs",
        ),
        (
            "ClassAdded",
            {"index": 2, "name": ["bird"]},
            "its field 'name' holds a list where text belongs",
        ),
    ]
    for type_name, data, said in cases:
        with pytest.raises(DamagedEvent) as caught:
            REGISTRY.decode(type_name, 1, data)
        assert caught.value.problem == said


def test_a_damaged_old_version_is_named_when_it_cannot_be_brought_up():
    # ProjectCreated v1 kept its classes as "classes"; a number there cannot be upcast.
    with pytest.raises(DamagedEvent) as caught:
        REGISTRY.decode("ProjectCreated", 1, {"name": "p", "dataset_sha256": "0", "shape": [1], "classes": 5})
    assert caught.value.problem.startswith("its data of version 1 cannot be brought to version 2")


def test_what_fits_decodes_as_before():
    assert REGISTRY.decode("LabelAssigned", 1, {**ASSIGNED, "unknown": [1]}) == LabelAssigned(4, 1, -1)
    epoch = REGISTRY.decode(
        "EpochCompleted",
        1,
        {
            "run_id": "r",
            "epoch": 1,
            "metrics": {"loss": 2, "acc": None, "nan": math.nan},
            "labels_position": 3,
            "labeled": 1,
        },
    )
    assert isinstance(epoch, EpochCompleted) and epoch.metrics["loss"] == 2  # a whole number is a number
    failed = REGISTRY.decode("TrainingFailed", 1, {"run_id": "r", "epochs": 1, "message": "m"})
    assert isinstance(failed, TrainingFailed) and failed.exit_code is None  # optional fields may be left out
    created = REGISTRY.decode(
        "ProjectCreated", 1, {"name": "p", "dataset_sha256": "0" * 64, "shape": [2, 8, 8], "classes": ["a"]}
    )
    assert isinstance(created, ProjectCreated) and created.class_names == ("a",)


def test_summaries_of_damaged_events_fall_back_to_the_type_name():
    assert REGISTRY.summarize("LabelAssigned", 1, {**ASSIGNED, "sample": [4]}) == "LabelAssigned"


def test_every_field_of_every_registered_event_has_a_type_the_check_understands():
    # An annotation that does not resolve would silently accept anything.
    for type_name in REGISTRY.type_names:
        cls = REGISTRY.class_for(type_name, 1)
        hints = typing.get_type_hints(cls)
        for name, check in ((c.name, c) for c in REGISTRY._checks[type_name]):
            assert name in hints
            if hints[name] is not typing.Any and typing.get_origin(hints[name]) is not dict:
                assert check.expected not in ("a value", "values"), (type_name, name, hints[name])


@pytest.mark.parametrize(
    ("metadata", "said"),
    [
        ({"annotator": "al", "at": [1.0]}, "its metadata 'at' holds a list where a time"),
        ({"annotator": "al", "at": {"t": 1}}, "its metadata 'at' holds an object (a dict) where a time"),
        ({"annotator": "al", "at": "yesterday"}, "its metadata 'at' holds the text 'yesterday' where a time"),
        ({"annotator": "al", "at": math.inf}, "its metadata 'at' holds the number inf where a time"),
        ({"annotator": "al", "at": True}, "its metadata 'at' holds true where a time"),
        ({"annotator": ["al"], "at": 1.0}, "its metadata 'annotator' holds a list where text belongs"),
        ({"annotator": 7}, "its metadata 'annotator' holds the number 7 where text belongs"),
        ({"command": None}, "its metadata 'command' holds null where text belongs"),
        ([1, 2], "its metadata is a list where an object belongs"),
    ],
)
def test_metadata_of_the_wrong_type_is_named(metadata, said):
    problem = metadata_problem(metadata)
    assert problem is not None and problem.startswith(said), problem


def test_metadata_the_application_writes_fits():
    assert metadata_problem({"annotator": "al", "at": 1.7e9, "command": "AssignLabel"}) is None
    assert metadata_problem({"at": 3, "imported_as_new_history": {"from": "x"}}) is None
    assert metadata_problem({}) is None
