import pytest

from domain import commands as c
from domain import events as ev
from domain.decide import decide
from domain.errors import DomainError
from domain.projections import ProjectProjections

from .conftest import Session


def test_assigning_a_label_records_the_previous_one(session):
    assert session.run(c.AssignLabel(4, "b")) == [ev.LabelAssigned(4, 1, -1)]
    assert session.run(c.AssignLabel(4, 2)) == [ev.LabelAssigned(4, 2, 1)]
    assert session.state.labels.label_of(4) == 2


def test_assigning_the_label_a_sample_already_has_records_nothing(session):
    session.run(c.AssignLabel(4, "a"))
    before = len(session.log.events)
    assert session.run(c.AssignLabel(4, "a")) == []
    assert session.run(c.AssignLabel(4, "0")) == []  # the same class by number
    assert len(session.log.events) == before


def test_a_sample_out_of_range_is_refused_with_the_valid_range():
    s = Session(samples=10000)
    with pytest.raises(DomainError) as err:
        s.run(c.AssignLabel(10412, "a"))
    assert str(err.value) == "sample 10412 is out of range: the dataset has 10000 samples (0–9999)"
    with pytest.raises(DomainError, match="sample -1 is out of range"):
        s.run(c.RemoveLabel(-1))
    with pytest.raises(DomainError, match="'x' is not a sample number"):
        s.run(c.AssignLabel("x", "a"))


def test_an_unknown_class_lists_the_classes(session):
    with pytest.raises(DomainError) as err:
        session.run(c.AssignLabel(1, "cat"))
    assert "unknown class 'cat'" in str(err.value)
    assert "0=a, 1=b, 2=c" in str(err.value)
    with pytest.raises(DomainError, match="unknown class 7"):
        session.run(c.AssignLabel(1, 7))


def test_a_project_without_classes_asks_for_one_first():
    s = Session(classes=())
    with pytest.raises(DomainError, match="has no classes yet; add one first"):
        s.run(c.AssignLabel(1, "cat"))
    s.run(c.AddClass("cat"))
    assert s.run(c.AssignLabel(1, "cat")) == [ev.LabelAssigned(1, 0, -1)]


def test_removing_a_label(session):
    session.run(c.AssignLabel(4, "b"))
    assert session.run(c.RemoveLabel(4)) == [ev.LabelRemoved(4, 1)]
    assert session.run(c.RemoveLabel(4)) == []
    assert session.state.labels.label_of(4) == -1


def test_one_label_to_many_samples_is_one_event_skipping_those_already_labeled(session):
    session.run(c.AssignLabel(2, "c"))
    events = session.run(c.AssignLabelToMany((1, 2, 3, 1), "c"))
    assert events == [ev.LabelsAssigned((1, 3), 2, (-1, -1))]
    assert session.state.labels.counts.tolist() == [0, 0, 3]


def test_many_samples_are_refused_as_a_whole_when_one_is_out_of_range(session):
    with pytest.raises(DomainError, match="sample 50 is out of range.*50 samples"):
        session.run(c.AssignLabelToMany((1, 50), "a"))
    assert session.state.labels.labeled == 0
    with pytest.raises(DomainError, match="no samples are selected"):
        session.run(c.AssignLabelToMany((), "a"))


def test_classes_are_added_and_renamed_without_touching_labels(session):
    session.run(c.AssignLabel(0, "a"))
    assert session.run(c.AddClass(" dog ")) == [ev.ClassAdded(3, "dog")]
    assert session.run(c.RenameClass("a", "ant")) == [ev.ClassRenamed(0, "a", "ant")]
    assert session.state.info.class_names == ("ant", "b", "c", "dog")
    assert session.state.labels.label_of(0) == 0
    assert session.state.labels.counts.tolist() == [1, 0, 0, 0]


@pytest.mark.parametrize(
    "command, message",
    [
        (c.AddClass("b"), "class 'b' already exists \\(number 1\\): choose another name"),
        (c.AddClass("  "), "a class name cannot be empty"),
        (c.AddClass("x" * 101), "too long"),
        (c.RenameClass("a", "c"), "class 'c' already exists"),
        (c.RenameClass("zebra", "z"), "unknown class 'zebra'"),
    ],
)
def test_bad_class_names_are_refused(session, command, message):
    with pytest.raises(DomainError, match=message):
        session.run(command)


def test_creating_a_project_twice_or_with_duplicate_classes_is_refused(session):
    create = c.CreateProject("x", "a" * 64, (5, 2, 2), ("a",), "src", "b" * 64)
    with pytest.raises(DomainError, match="already exists"):
        session.run(create)
    fresh = ProjectProjections(session.log.registry)
    with pytest.raises(DomainError, match="'a' is listed twice"):
        decide(fresh, c.CreateProject("x", "a" * 64, (5, 2, 2), ("a", "a"), "src", "b" * 64))
    with pytest.raises(DomainError, match="has not been created yet"):
        decide(fresh, c.AssignLabel(1, "a"))


def test_create_records_the_project_and_its_first_map(session):
    created, mapped = session.log.events[:2]
    assert created.type == "ProjectCreated" and created.data["shape"] == [50, 8, 8]
    assert mapped.type == "LatentMapComputed"
    assert session.state.latent_map.current.map_sha256 == "e" * 64
    assert session.state.info.project_name == "test"


def test_an_unknown_command_is_refused(session):
    with pytest.raises(DomainError, match="unknown command str"):
        decide(session.state, "label everything")
