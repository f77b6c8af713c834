"""A pure, in-memory stand-in for "decide, record, fold" -- no store involved.

Data goes through a JSON round trip exactly as a real log would encode it.
"""

from __future__ import annotations

import json

import pytest

from domain import commands as c
from domain.decide import decide
from domain.events import core_registry
from domain.projections import ProjectProjections
from domain.projections.project import UpcastEvent

# A recorded event as the projections see it (the store's RecordedEvent has this shape).
Recorded = UpcastEvent


class MemoryLog:
    def __init__(self) -> None:
        self.registry = core_registry()
        self.events: list[Recorded] = []
        self.clock = 1_700_000_000.0

    def record(self, events, annotator="ann", stream="project") -> list[Recorded]:
        out = []
        version = sum(1 for e in self.events if e.stream_id == stream)
        for event in events:
            self.clock += 1.0
            version += 1
            out.append(
                Recorded(
                    len(self.events) + 1,
                    stream,
                    version,
                    event.type_name,
                    event.schema_version,
                    json.loads(json.dumps(event.to_data())),
                    {"annotator": annotator, "at": self.clock},
                    self.clock,
                )
            )
            self.events.append(out[-1])
        return out


class Session:
    """A log plus projections kept up to date incrementally."""

    def __init__(self, samples=50, classes=("a", "b", "c")) -> None:
        self.log = MemoryLog()
        self.state = ProjectProjections(self.log.registry)
        self.run(c.CreateProject("test", "f" * 64, (samples, 8, 8), tuple(classes), "test data", "e" * 64))

    def run(self, command, annotator="ann"):
        events = decide(self.state, command)
        recorded = self.log.record(events, annotator)
        self.state.apply(recorded)
        return events

    def rebuild(self, until=None) -> ProjectProjections:
        return ProjectProjections.build(self.log.events, self.log.registry, until)


@pytest.fixture
def session() -> Session:
    return Session()
