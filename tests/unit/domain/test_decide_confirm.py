"""The decider's confirmations: the class a sample already has, given by someone else."""

from domain import commands as c
from domain import events as ev


def give(session, command, who):
    return session.run(c.attributed(command, who), annotator=who)


def test_another_annotators_same_class_is_a_confirmation_that_changes_no_label(session):
    give(session, c.AssignLabel(4, "b"), "ana")
    assert give(session, c.AssignLabel(4, "b"), "ben") == [ev.LabelConfirmed((4,), 1)]
    assert session.state.labels.label_of(4) == 1
    assert session.state.labels.annotator_of(4) == "ana"  # the label is still ana's
    assert session.state.history.last_done("ben") is None  # nothing for ben to undo


def test_ones_own_label_again_or_an_unknown_annotator_records_nothing(session):
    give(session, c.AssignLabel(4, "b"), "ana")
    assert give(session, c.AssignLabel(4, "b"), "ana") == []
    assert session.run(c.AssignLabel(4, "b")) == []  # who asks is unknown: no confirmation


def test_labeling_many_changes_some_and_confirms_the_others(session):
    give(session, c.AssignLabel(1, "c"), "ana")
    give(session, c.AssignLabel(2, "c"), "ben")
    events = give(session, c.AssignLabelToMany((1, 2, 3), "c"), "ben")
    assert events == [ev.LabelsAssigned((3,), 2, (-1,)), ev.LabelConfirmed((1,), 2)]
    assert give(session, c.AssignLabelToMany((1, 2), "c"), "ana") == [ev.LabelConfirmed((2,), 2)]


def test_a_confirmation_reads_in_one_line_and_survives_the_registry(session):
    event = ev.LabelConfirmed((7,), 0)
    assert event.summary(("cat", "dog")) == "sample 7: confirmed cat"
    assert ev.LabelConfirmed((1, 2), 1).summary(("cat", "dog")) == "2 samples: confirmed dog"
    registry = session.log.registry
    assert registry.decode("LabelConfirmed", 1, event.to_data()) == event
