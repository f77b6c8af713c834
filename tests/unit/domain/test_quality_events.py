"""Events of suggestions and label flags, and the read model of the queue and open flags."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from domain import events as ev
from domain.projections.project import ProjectProjections
from domain.projections.quality import QualityState
from domain.projections.training import TrainingRuns
from domain.quality_events import (
    QUALITY_EVENTS,
    LabelIssueDismissed,
    LabelIssuesFlagged,
    SuggestionsMade,
)
from domain.training_events import TRAINING_EVENTS
from eventstore import RecordedEvent

REGISTRY = ev.core_registry().extended(TRAINING_EVENTS).extended(QUALITY_EVENTS)
NAMES = ("zero", "one", "two")

EXAMPLES = [
    SuggestionsMade("typical", (4, 9), (2.5, 2.25), ("most typical of cluster 0", "of cluster 1")),
    SuggestionsMade(
        "diverse", (1,), (0.05,), ("margin 0.05 between 1 and 2",), run_id="r1", epoch=3, requested="auto"
    ),
    LabelIssuesFlagged("cl", (5, 6), (1, 2), (2, 0), (0.01, 0.2), run_id="r1"),
    LabelIssuesFlagged("cl", (), (), (), ()),
    LabelIssueDismissed(5, 1),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type_name)
def test_quality_events_survive_json_and_decoding(event):
    data = orjson.loads(orjson.dumps(event.to_data()))  # as the store keeps them
    assert REGISTRY.decode(event.type_name, event.schema_version, data) == event
    assert REGISTRY.blob_references(event.type_name, data) is not None
    assert list(REGISTRY.blob_references(event.type_name, data)) == []


def test_summaries_read_as_one_line_with_class_names():
    assert EXAMPLES[0].summary(NAMES) == "2 suggested to label (typical): samples 4, 9"
    assert "from run r1 epoch 3" in EXAMPLES[1].summary(NAMES)
    assert EXAMPLES[2].summary(NAMES) == (
        "2 labels flagged as likely wrong after run r1: sample 5: one (maybe two), sample 6: two (maybe zero)"
    )
    assert EXAMPLES[3].summary(NAMES) == "0 labels flagged as likely wrong"
    assert EXAMPLES[4].summary(NAMES) == "sample 5: kept one (flag dismissed)"
    many = SuggestionsMade("random", tuple(range(7)), (0.0,) * 7, ("r",) * 7)
    assert many.summary().endswith("samples 0, 1, 2, 3, 4, …")
    for event in EXAMPLES:
        assert REGISTRY.summarize(event.type_name, 1, event.to_data(), NAMES) == event.summary(NAMES)


class Log:
    """Recorded events built by hand, as the store would return them."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def add(self, event: ev.Event, stream: str = "project", annotator: str = "ann") -> None:
        position = len(self.events) + 1
        self.events.append(
            RecordedEvent(
                position=position,
                stream_id=stream,
                version=position,
                type=event.type_name,
                schema_version=event.schema_version,
                data=orjson.loads(orjson.dumps(event.to_data())),
                metadata={"annotator": annotator, "at": 1.0},
                recorded_at=1.0,
            )
        )


def projections(log: Log) -> ProjectProjections:
    return ProjectProjections.build(log.events, REGISTRY, extra_parts=(TrainingRuns, QualityState))


def test_the_queue_loses_what_is_labeled_and_the_latest_suggestions_replace_older_ones():
    log = Log()
    log.add(ev.ProjectCreated("p", "a" * 64, (10, 2, 2), NAMES, "test"))
    log.add(SuggestionsMade("typical", (4, 9, 2), (3.0, 2.0, 1.0), ("a", "b", "c")), "quality")
    state = projections(log)
    quality = state.extras["quality"]
    assert [s.sample for s in quality.queue(state.labels.labels)] == [4, 9, 2]
    assert quality.suggestion_for(9).reason == "b"
    log.add(ev.LabelAssigned(9, 1, -1))
    state = projections(log)
    assert [s.sample for s in state.extras["quality"].queue(state.labels.labels)] == [4, 2]
    log.add(SuggestionsMade("random", (1, 3), (0.0, 0.0), ("r", "r")), "quality")
    state = projections(log)
    assert [s.sample for s in state.extras["quality"].queue(state.labels.labels)] == [1, 3]


def test_open_flags_lose_dismissed_and_relabeled_samples():
    log = Log()
    log.add(ev.ProjectCreated("p", "a" * 64, (10, 2, 2), NAMES, "test"))
    log.add(ev.LabelsAssigned((5, 6, 7), 1, (-1, -1, -1)))
    log.add(
        LabelIssuesFlagged("cl", (5, 6, 7), (1, 1, 1), (2, 2, 0), (0.01, 0.1, 0.3), run_id="r1"), "quality"
    )
    state = projections(log)
    quality = state.extras["quality"]
    assert [f.sample for f in quality.open_flags(state.labels.labels)] == [5, 6, 7]
    assert quality.has_flags_for("r1") and not quality.has_flags_for("r2")
    log.add(LabelIssueDismissed(6, 1), "quality")
    log.add(ev.LabelAssigned(7, 0, 1))  # fixed by relabeling
    state = projections(log)
    quality = state.extras["quality"]
    assert [f.sample for f in quality.open_flags(state.labels.labels)] == [5]
    # A later check that flags the same kept label again: it stays dismissed.
    log.add(LabelIssuesFlagged("cl", (6, 5), (1, 1), (2, 2), (0.1, 0.2)), "quality")
    state = projections(log)
    assert [f.sample for f in state.extras["quality"].open_flags(state.labels.labels)] == [5]


def test_snapshot_and_restore_give_the_same_read_model():
    log = Log()
    log.add(ev.ProjectCreated("p", "a" * 64, (10, 2, 2), NAMES, "test"))
    log.add(SuggestionsMade("diverse", (1, 2), (0.1, 0.2), ("x", "y"), run_id="r", epoch=2), "quality")
    log.add(LabelIssuesFlagged("cl", (3,), (0,), (1,), (0.05,), run_id="r"), "quality")
    log.add(LabelIssueDismissed(3, 0), "quality")
    state = projections(log)
    quality = state.extras["quality"]
    again = QualityState.restore(quality.snapshot())
    assert again == quality
    assert again.suggestions == quality.suggestions and again.flags == quality.flags
    assert json.loads(quality.snapshot())["dismissed"] == [[3, 0]]
    whole = ProjectProjections.restore(state.snapshot(), REGISTRY, extra_parts=(TrainingRuns, QualityState))
    assert whole.extras["quality"] == quality


def test_the_quality_model_leaves_bulk_label_folding_on():
    # A read model that handled LabelAssigned would turn the bulk replay path off.
    state = ProjectProjections(REGISTRY, extra_parts=(TrainingRuns, QualityState))
    assert state._label_bulk
    assert np.array_equal(QualityState().queue(np.full(3, -1)), ())
