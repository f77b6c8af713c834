import pytest

from domain import commands as c
from domain.errors import DomainError


def labels(session):
    return session.state.labels.labels.tolist()[:6]


def test_undo_and_redo_walk_back_and_forth_through_own_changes(session):
    session.run(c.AssignLabel(1, "a"))
    session.run(c.AssignLabel(1, "b"))
    session.run(c.RemoveLabel(1))
    session.run(c.Undo("ann"))
    assert session.state.labels.label_of(1) == 1
    session.run(c.Undo("ann"))
    assert session.state.labels.label_of(1) == 0
    session.run(c.Redo("ann"))
    assert session.state.labels.label_of(1) == 1
    session.run(c.Redo("ann"))
    assert session.state.labels.label_of(1) == -1
    with pytest.raises(DomainError, match="nothing to redo"):
        session.run(c.Redo("ann"))


def test_undo_of_a_bulk_label_is_one_step(session):
    session.run(c.AssignLabel(0, "c"))
    session.run(c.AssignLabelToMany((0, 1, 2, 3), "a"))
    session.run(c.Undo("ann"))
    assert labels(session) == [2, -1, -1, -1, -1, -1]


def test_each_annotator_undoes_only_their_own_changes(session):
    session.run(c.AssignLabel(1, "a"), annotator="alice")
    session.run(c.AssignLabel(2, "b"), annotator="bob")
    session.run(c.Undo("alice"), annotator="alice")
    assert labels(session)[1:3] == [-1, 1]
    with pytest.raises(DomainError) as err:
        session.run(c.Undo("alice"), annotator="alice")
    assert str(err.value) == "nothing to undo: alice has no label changes left to undo"


def test_a_later_change_by_someone_else_wins_over_an_undo(session):
    session.run(c.AssignLabelToMany((1, 2), "a"), annotator="alice")
    session.run(c.AssignLabel(2, "c"), annotator="bob")
    undone = session.run(c.Undo("alice"), annotator="alice")
    assert undone[0].samples == (1,)
    assert labels(session)[1:3] == [-1, 2]


def test_a_new_change_ends_the_redo_chain(session):
    session.run(c.AssignLabel(1, "a"))
    session.run(c.Undo("ann"))
    session.run(c.AssignLabel(2, "b"))
    with pytest.raises(DomainError, match="nothing to redo: ann has not undone anything"):
        session.run(c.Redo("ann"))


def test_undo_history_is_rebuilt_from_the_log(session):
    session.run(c.AssignLabel(1, "a"))
    session.run(c.AssignLabel(2, "b"))
    session.run(c.Undo("ann"))
    rebuilt = session.rebuild()
    assert rebuilt.history.state() == session.state.history.state()
    assert rebuilt.history.last_undone("ann").samples == (2,)
    assert rebuilt.history.last_done("ann").samples == (1,)


def test_nothing_to_undo_on_a_fresh_project(session):
    with pytest.raises(DomainError, match="nothing to undo: ann has no label changes"):
        session.run(c.Undo("ann"))
