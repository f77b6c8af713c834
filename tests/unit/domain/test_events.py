import dataclasses
from typing import ClassVar

import pytest

from domain import events as ev
from domain.errors import DomainError

EXAMPLES = [
    ev.ProjectCreated("digits", "a" * 64, (10, 28, 28), ("0", "1"), "embedded MNIST"),
    ev.ClassAdded(2, "two"),
    ev.ClassRenamed(0, "0", "zero"),
    ev.LatentMapComputed("b" * 64, 10, 2, "pca"),
    ev.LabelAssigned(3, 1, -1),
    ev.LabelRemoved(3, 1),
    ev.LabelsAssigned((1, 2), 0, (-1, 1)),
    ev.LabelChangeUndone(7, (1, 2), (-1, 1), (0, 0)),
    ev.LabelChangeRedone(7, (1, 2), (0, 0), (-1, 1)),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type_name)
def test_every_core_event_survives_encoding_and_decoding(event):
    registry = ev.core_registry()
    data = event.to_data()
    assert registry.decode(event.type_name, event.schema_version, data) == event


def test_events_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EXAMPLES[4].label = 2


def test_a_version_1_project_created_is_upcast_to_version_2():
    registry = ev.core_registry()
    v1 = {"name": "old", "dataset_sha256": "c" * 64, "shape": [5, 8, 8], "classes": ["x", "y"]}
    event = registry.decode("ProjectCreated", 1, v1)
    assert event == ev.ProjectCreated("old", "c" * 64, (5, 8, 8), ("x", "y"), event.source)
    assert "unknown" in event.source
    assert registry.upcast("ProjectCreated", 1, v1)["class_names"] == ["x", "y"]


def test_an_event_from_a_newer_release_says_to_upgrade():
    registry = ev.core_registry()
    with pytest.raises(DomainError, match="schema version 9.*newer Ledgerlab: upgrade"):
        registry.decode("LabelAssigned", 9, {"sample": 1, "label": 1, "previous": -1})
    with pytest.raises(DomainError, match="unknown event type 'Teleported'.*upgrade"):
        registry.decode("Teleported", 1, {})


def test_another_module_adds_its_events_without_touching_the_core():
    @dataclasses.dataclass(frozen=True)
    class EpochCompleted(ev.Event):
        type_name: ClassVar[str] = "EpochCompleted"
        epoch: int

    registry = ev.core_registry().extended((EpochCompleted,))
    assert registry.decode("EpochCompleted", 1, {"epoch": 3}) == EpochCompleted(3)
    assert "EpochCompleted" not in ev.core_registry()


def test_the_registry_refuses_clashes_and_missing_upcasters():
    @dataclasses.dataclass(frozen=True)
    class Impostor(ev.Event):
        type_name: ClassVar[str] = "LabelAssigned"

    @dataclasses.dataclass(frozen=True)
    class Unbridged(ev.Event):
        type_name: ClassVar[str] = "Unbridged"
        schema_version: ClassVar[int] = 2

    with pytest.raises(TypeError, match="two event classes"):
        ev.core_registry().extended((Impostor,))
    with pytest.raises(TypeError, match="lacks an upcaster from version 1"):
        ev.EventRegistry((Unbridged,))
