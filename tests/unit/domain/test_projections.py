import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import commands as c
from domain.errors import DomainError
from domain.projections import LabelSet, ProjectProjections

from .conftest import Session

SAMPLES = 12
ANNOTATORS = ("alice", "bob", "carol")

commands = st.one_of(
    st.builds(c.AssignLabel, st.integers(0, SAMPLES - 1), st.sampled_from(["a", "b", "c", 0, 1])),
    st.builds(c.RemoveLabel, st.integers(0, SAMPLES - 1)),
    st.builds(
        c.AssignLabelToMany,
        st.lists(st.integers(0, SAMPLES - 1), min_size=1, max_size=5).map(tuple),
        st.sampled_from(["a", "b", "c"]),
    ),
    st.builds(c.AddClass, st.sampled_from(["d", "e", "f"])),
    st.builds(c.RenameClass, st.sampled_from(["a", "b", 2]), st.sampled_from(["x", "y", "z"])),
    st.just("undo"),
    st.just("redo"),
)
steps = st.lists(st.tuples(commands, st.sampled_from(ANNOTATORS)), max_size=60)


def run_all(session, script):
    for command, who in script:
        if command == "undo":
            command = c.Undo(who)
        elif command == "redo":
            command = c.Redo(who)
        with contextlib.suppress(DomainError):  # refused commands record nothing, as in the app
            session.run(command, annotator=who)


def state_of(p: ProjectProjections):
    return (
        p.position,
        p.event_count,
        p.stream_version,
        p.info.state(),
        p.labels.labels.tolist(),
        p.labels.counts.tolist(),
        [p.labels.annotator_of(s) for s in range(p.labels.sample_count)],
        p.labels.changed_at.tolist(),
        p.history.state(),
        p.latent_map.current,
    )


@settings(max_examples=60, deadline=None)
@given(script=steps, cut=st.floats(0, 1))
def test_rebuilt_restored_and_incremental_projections_agree(script, cut):
    session = Session(samples=SAMPLES)
    session.state = ProjectProjections(session.log.registry, undo_depth=3)
    session.state.apply(session.log.events)
    run_all(session, script)
    events = session.log.events
    k = int(cut * len(events))

    # Rebuilding folds runs of label events in bulk (threshold 2); the session
    # folded them one at a time as they happened -- both must agree.
    rebuilt = ProjectProjections.build(events, session.log.registry, undo_depth=3, batch_threshold=2)
    partial = ProjectProjections.build(events[:k], session.log.registry, undo_depth=3)
    restored = ProjectProjections.restore(partial.snapshot(), session.log.registry, batch_threshold=2)
    restored.apply(events[k:])

    assert state_of(rebuilt) == state_of(session.state) == state_of(restored)
    assert rebuilt.snapshot() == restored.snapshot() == session.state.snapshot()
    # Counts always match the labels they summarise.
    labels = rebuilt.labels.labels
    for cls, n in enumerate(rebuilt.labels.counts):
        assert (labels == cls).sum() == n


def test_projections_can_be_built_as_of_any_position(session):
    session.run(c.AssignLabel(1, "a"))  # position 3
    session.run(c.AssignLabel(1, "b"))  # position 4
    session.run(c.RemoveLabel(1))  # position 5
    assert [session.rebuild(until=p).labels.label_of(1) for p in (2, 3, 4, 5)] == [-1, 0, 1, -1]
    as_of = session.rebuild(until=3)
    assert as_of.position == 3 and as_of.event_count == 3


def test_the_label_set_knows_who_labeled_what_and_when(session):
    session.run(c.AssignLabel(3, "a"), annotator="alice")
    session.run(c.AssignLabel(4, "c"), annotator="bob")
    session.run(c.AssignLabel(5, "c"), annotator="alice")
    ls = session.state.labels
    assert ls.annotator_of(3) == "alice" and ls.annotator_of(4) == "bob"
    assert ls.annotator_of(0) is None
    assert ls.annotators == ("alice", "bob")
    assert ls.changed_at[4] == session.log.events[3].metadata["at"]
    assert ls.counts.tolist() == [1, 0, 2] and ls.labeled == 3
    with pytest.raises(ValueError):
        ls.labels[0] = 1  # readers cannot change the projection behind its back


def test_undo_depth_is_bounded(session):
    state = ProjectProjections(session.log.registry, undo_depth=2)
    state.apply(session.log.events)
    session.state = state
    for s in range(6):
        session.run(c.AssignLabel(s, "a"))
    assert 2 <= state.history.undo_depth("ann") <= 4
    while True:
        try:
            session.run(c.Undo("ann"))
        except DomainError:
            break
    assert state.labels.labeled >= 2  # the oldest changes fell out of the history


def test_events_nobody_handles_are_counted_and_skipped(session):
    from .conftest import Recorded

    extra = Recorded(len(session.log.events) + 1, "training", 1, "EpochCompleted", 1, {}, {}, 0.0)
    session.state.apply([extra])
    assert session.state.event_count == len(session.log.events) + 1
    assert session.state.stream_version == len(session.log.events)  # the project stream's


def test_an_unreadable_snapshot_says_to_replay():
    with pytest.raises(DomainError, match="snapshot is unreadable.*replay the log"):
        LabelSet.restore(b"garbage")


def test_bulk_folding_across_chunks_equals_folding_one_by_one(monkeypatch):
    import random

    rnd = random.Random(7)
    session = Session(samples=30)
    for _ in range(600):
        who = rnd.choice(ANNOTATORS)
        roll = rnd.random()
        command = (
            c.AssignLabel(rnd.randrange(30), rnd.choice("abc"))
            if roll < 0.9
            else c.RemoveLabel(rnd.randrange(30))
            if roll < 0.95
            else c.Undo(who)
        )
        try:
            session.run(command, annotator=who)
        except DomainError:
            pass
    events = session.log.events
    one_by_one = ProjectProjections.build(events, session.log.registry, undo_depth=5, batch_threshold=10**9)
    monkeypatch.setattr("domain.projections.project._CHUNK", 17)
    bulk = ProjectProjections.build(events, session.log.registry, undo_depth=5, batch_threshold=2)
    assert state_of(bulk) == state_of(one_by_one)
    assert bulk.snapshot() == one_by_one.snapshot()


def test_label_events_without_annotator_metadata_fold_alike():
    from .conftest import Recorded

    session = Session(samples=10)
    events = list(session.log.events)
    for i in range(20):
        p = len(events) + 1
        events.append(
            Recorded(
                p,
                "project",
                p,
                "LabelAssigned",
                1,
                {"sample": i % 10, "label": i % 3, "previous": -1},
                {},
                100.0 + i,
            )
        )
    bulk = ProjectProjections.build(events, session.log.registry, batch_threshold=2)
    one = ProjectProjections.build(events, session.log.registry, batch_threshold=10**9)
    assert state_of(bulk) == state_of(one)
    assert bulk.labels.annotators == ("",) and bulk.labels.changed_at[9] == 119.0


def test_a_snapshot_of_another_format_is_refused(session):
    from domain.projections import codec

    payload = codec.pack({"format": 99}, {})
    with pytest.raises(DomainError, match="snapshot format 99 is not 1; replay the log"):
        ProjectProjections.restore(payload, session.log.registry)


class LabelTally:
    """A read model another module might add: how many label events it saw."""

    name = "tally"

    def __init__(self):
        self.position = 0
        self.seen = 0
        self.handlers = {"LabelAssigned": self._on_label}

    def _on_label(self, e):
        self.seen += 1

    def snapshot(self):
        return str(self.seen).encode()

    @classmethod
    def restore(cls, payload):
        self = cls()
        self.seen = int(payload)
        return self


def test_other_modules_add_read_models_that_snapshot_and_fold_every_event(session):
    for s in range(100):
        session.run(c.AssignLabel(s % 50, "abc"[s % 3]))
    events, registry = session.log.events, session.log.registry
    state = ProjectProjections.build(events[:50], registry, extra_parts=(LabelTally,), batch_threshold=2)
    restored = ProjectProjections.restore(state.snapshot(), registry, extra_parts=(LabelTally,))
    restored.apply(events[50:])
    tally = restored.extras["tally"]
    assert tally.seen == sum(e.type == "LabelAssigned" for e in events)
    assert tally.position == restored.position == len(events)
    plain = ProjectProjections.build(events, registry)
    with pytest.raises(DomainError, match=r"snapshot lacks the read models \['tally'\]; replay the log"):
        ProjectProjections.restore(plain.snapshot(), registry, extra_parts=(LabelTally,))
    assert "tally" not in plain.extras
    with pytest.raises(AttributeError, match="built without the training read model"):
        _ = plain.training
