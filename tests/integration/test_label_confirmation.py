"""Agreeing with a standing label leaves a trace (``LabelConfirmed``): the label does not
change, undo passes over it, and the annotators' agreement counts it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli.main import main
from app.project.bootstrap import bootstrap
from domain.events import LabelConfirmed


@pytest.fixture
def project(tmp_path, capsys):
    npz = tmp_path / "small.npz"
    np.savez(npz, images=np.random.default_rng(3).integers(0, 256, (30, 8, 8), dtype=np.uint8))
    path = tmp_path / "p.ledger"
    assert (
        main(["new", str(path), "--dataset", str(npz), "--classes", "cat,dog,fox", "--annotator", "alice"])
        == 0
    )
    capsys.readouterr()
    return path


def label(path, sample, name, who) -> None:
    assert main(["label", str(path), str(sample), name, "--annotator", who]) == 0


def info(path, capsys) -> dict:
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def open_project(path, annotator: str):
    return bootstrap(annotator=annotator).projects.open(path)


def confirmations(path) -> list[tuple[tuple[int, ...], int, str]]:
    with open_project(path, annotator="reader") as p:
        return [
            (tuple(e.data["samples"]), e.data["label"], e.metadata["annotator"])
            for e in p.events()
            if e.type == LabelConfirmed.type_name
        ]


def test_agreeing_with_anothers_label_counts_in_kappa_and_changes_no_label(project, capsys):
    for sample, name in ((1, "cat"), (2, "dog"), (3, "fox"), (4, "cat")):
        label(project, sample, name, "alice")
    before = info(project, capsys)
    assert before["agreement"] == []  # bob has said nothing yet
    # bob presses the class each sample already has from alice: agreements, not changes
    for sample, name in ((1, "cat"), (2, "dog"), (3, "fox")):
        label(project, sample, name, "bob")
    after = info(project, capsys)
    assert after["labeled"] == before["labeled"] == 4 and after["per_class"] == before["per_class"]
    assert after["annotators"]["bob"] == {"labels": 3}
    (pair,) = after["agreement"]
    assert pair["annotators"] == ["alice", "bob"] and pair["overlaps"] == 3 and pair["agreed"] == 3
    assert pair["kappa"] == pytest.approx(1.0)
    assert confirmations(project) == [((1,), 0, "bob"), ((2,), 1, "bob"), ((3,), 2, "bob")]
    capsys.readouterr()
    assert main(["log", str(project)]) == 0
    assert "sample 2: confirmed dog" in capsys.readouterr().out


def test_giving_ones_own_label_again_records_nothing(project, capsys):
    label(project, 5, "dog", "alice")
    with open_project(project, annotator="alice") as p:
        head = p.position
        assert p.assign_label(5, "dog") == []
        assert p.head() == head


def test_a_confirmation_resolves_a_conflict_and_undo_passes_over_it(project, capsys):
    label(project, 7, "cat", "alice")
    label(project, 7, "dog", "bob")  # a conflict: dog counts (bob's is the latest)
    label(project, 8, "fox", "alice")  # alice's own change, before her confirmation
    capsys.readouterr()
    assert main(["conflicts", str(project), "--json"]) == 0
    assert [c["sample"] for c in json.loads(capsys.readouterr().out)] == [7]
    label(project, 7, "dog", "alice")  # alice agrees with bob now
    capsys.readouterr()
    assert main(["conflicts", str(project), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    with open_project(project, annotator="alice") as p:
        assert p.labels.label_of(7) == 1 and p.labels.annotator_of(7) == "bob"  # unchanged
        (undone,) = p.undo()  # her last label *change*: sample 8, not the confirmation
        assert undone.samples == (8,) and p.labels.label_of(8) == -1
        assert p.labels.label_of(7) == 1


def test_labeling_many_confirms_the_samples_that_already_had_the_label(project, capsys):
    label(project, 10, "fox", "alice")
    label(project, 11, "fox", "bob")
    with open_project(project, annotator="bob") as p:
        events = p.assign_label_to_many([10, 11, 12], "fox")
    # 12 changes; 10 is alice's fox, confirmed; 11 is bob's own, nothing to record
    assert [type(e).__name__ for e in events] == ["LabelsAssigned", "LabelConfirmed"]
    assert events[0].samples == (12,) and events[1].samples == (10,)
    (pair,) = info(project, capsys)["agreement"]
    assert pair["overlaps"] == 1 and pair["agreed"] == 1


def test_another_view_is_told_which_samples_a_confirmation_touched(project):
    label(project, 9, "dog", "alice")
    with open_project(project, annotator="alice") as watcher, open_project(project, annotator="bob") as bob:
        touched: list[frozenset[int]] = []
        watcher.subscribe(lambda change: touched.append(change.samples))
        assert [type(e).__name__ for e in bob.assign_label(9, "dog")] == ["LabelConfirmed"]
        watcher.refresh()
    assert touched == [frozenset({9})]  # e.g. the map redraws its conflict marker
