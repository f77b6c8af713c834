"""Reading labels without copying them: what a key press at a million samples reads."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ui import navigation
from domain import commands as c
from domain.projections import LabelSet

from .domain.conftest import Session


def _reference_next_unlabeled(labels, after):
    """The old whole-array scan, kept as the reference."""
    unlabeled = np.flatnonzero(labels == -1)
    if unlabeled.size == 0:
        return None
    start = -1 if after is None else after
    later = unlabeled[unlabeled > start]
    return int(later[0] if later.size else unlabeled[0])


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(0, 30_000),
    gaps=st.lists(st.integers(0, 29_999), max_size=4),
    after=st.one_of(st.none(), st.integers(-3, 30_003)),
)
def test_next_unlabeled_is_the_first_gap_after_the_current_sample_wrapping_round(count, gaps, after):
    labels = np.zeros(count, dtype=np.int32)
    labels[[g for g in gaps if g < count]] = -1
    assert navigation.next_unlabeled(labels, after) == _reference_next_unlabeled(labels, after)


def test_next_unlabeled_at_a_million_samples():
    labels = np.zeros(1_000_000, dtype=np.int32)
    assert navigation.next_unlabeled(labels, 500_000) is None
    labels[[7, 900_001]] = -1
    assert navigation.next_unlabeled(labels, 500_000) == 900_001
    assert navigation.next_unlabeled(labels, 900_001) == 7
    assert navigation.next_unlabeled(labels, None) == 7


def test_labels_read_are_read_only_and_keep_what_they_showed_after_later_events():
    session = Session(samples=20)
    labels, who, when = (
        session.state.labels.labels,
        session.state.labels.annotator_ids,
        session.state.labels.changed_at,
    )
    part = labels[5:10]  # a slice of a view kept, too
    session.run(c.AssignLabel(7, "b"), annotator="alice")
    session.run(c.RemoveLabel(7), annotator="bob")
    with pytest.raises(ValueError):
        labels[0] = 1
    assert labels.tolist() == [-1] * 20 and part.tolist() == [-1] * 5
    assert who.tolist() == [-1] * 20 and when.tolist() == [0.0] * 20
    now = session.state.labels
    assert now.label_of(7) == -1 and now.annotator_of(7) == "bob" and now.changed_at[7] > 0
    assert now.labels.tolist() == session.rebuild().labels.labels.tolist()


def test_an_event_nobody_is_reading_is_folded_in_place():
    session = Session(samples=20)
    labels = session.state.labels
    buffer = labels.labels.__array_interface__["data"][0]  # the view is dropped at once
    session.run(c.AssignLabel(3, "a"))
    session.run(c.AssignLabelToMany((4, 5), "c"))
    assert labels.labels.__array_interface__["data"][0] == buffer
    assert labels.labels[3:6].tolist() == [0, 2, 2] and labels.counts.tolist() == [1, 0, 2]


def test_a_restored_snapshot_reads_and_folds_as_the_original():
    session = Session(samples=20)
    session.run(c.AssignLabel(2, "c"), annotator="alice")
    restored = LabelSet.restore(session.state.labels.snapshot())
    kept = restored.labels
    assert kept.tolist() == session.state.labels.labels.tolist()
    assert restored.counts.tolist() == [0, 0, 1] and restored.labeled == 1
