"""``ledgerlab suggest`` and ``ledgerlab flags`` on small real projects: the JSON they
print, the events they record, and a deliberately flipped label found end to end."""

from __future__ import annotations

import json

import pytest

from app.cli.main import main
from app.quality import review as quality
from domain import commands
from tests.integration.training_fixtures import make_project, stripes


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def recorded_types(app, path):
    with app.projects.open(path) as project:
        return [e.type for e in project.events()]


@pytest.fixture
def fresh(tmp_path):
    app, project = make_project(tmp_path, labeled=0)
    path = project.path
    project.close()
    return app, path


@pytest.fixture
def flipped(tmp_path):
    """48 of the 64 striped images labeled with their true class, except sample 7."""
    app, project = make_project(tmp_path, name="flipped", labeled=0)
    _, truth = stripes()
    for s in range(48):
        label = int(truth[s]) if s != 7 else (int(truth[s]) + 1) % 3
        project.execute(commands.AssignLabel(sample=s, label=label))
    path = project.path
    project.close()
    return app, path, truth


def test_suggest_json_before_any_model_is_typical_and_recorded(capsys, fresh):
    app, path = fresh
    code, out, err = run(capsys, "suggest", path, "--count", 3, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["strategy"] == "typical" and result["run"] is None
    assert [set(row) for row in result["samples"]] == [{"sample", "score", "reason"}] * 3
    assert all("typical" in row["reason"] for row in result["samples"])
    # The three stripe directions are three clusters: one pick from each.
    _, truth = stripes()
    assert sorted(int(truth[row["sample"]]) for row in result["samples"]) == [0, 1, 2]
    assert recorded_types(app, path)[-1] == "SuggestionsMade"
    with app.projects.open(path) as project:
        assert [s.sample for s in quality.queue(project)] == [r["sample"] for r in result["samples"]]


def test_suggest_refuses_bad_input_in_one_line(capsys, fresh):
    _, path = fresh
    code, _, err = run(capsys, "suggest", path, "--strategy", "uncertain")
    assert code == 2 and "train first" in err and err.count("\n") == 1
    code, _, err = run(capsys, "suggest", path, "--count", "0")
    assert code == 2 and "--count" in err and err.count("\n") == 1
    code, _, err = run(capsys, "suggest", path, "--strategy", "best")
    assert code == 2 and "invalid choice" in err
    code, _, err = run(capsys, "suggest", path.with_name("missing.ledger"))
    assert code == 2 and err.count("\n") == 1


def test_suggest_text_and_random(capsys, fresh):
    _, path = fresh
    code, out, _ = run(capsys, "suggest", path, "--strategy", "random", "--count", 2)
    assert code == 0 and out.startswith("2 to label next, by random:")


def test_a_deliberately_flipped_label_is_flagged_then_kept(capsys, flipped):
    app, path, truth = flipped
    code, out, err = run(capsys, "flags", path, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {"run", "flags"}
    assert result["run"] is None and result["checked_now"] is True
    assert result["flags"][0] == {
        "sample": 7,
        "label": "hvd"[(truth[7] + 1) % 3],
        "suggested": "hvd"[truth[7]],
        "score": result["flags"][0]["score"],
    }
    assert 0.0 <= result["flags"][0]["score"] < 0.5
    assert recorded_types(app, path).count("LabelIssuesFlagged") == 1
    # Asked again: the flags of "no run yet" are not computed twice.
    code, out, _ = run(capsys, "flags", path, "--json")
    assert json.loads(out)["checked_now"] is False
    assert recorded_types(app, path).count("LabelIssuesFlagged") == 1
    code, out, _ = run(capsys, "flags", path, "--keep", 7)
    assert code == 0 and "sample       7" not in out
    assert recorded_types(app, path)[-1] == "LabelIssueDismissed"
    code, _, err = run(capsys, "flags", path, "--keep", 7)
    assert code == 2 and "no open flag" in err


def test_relabeling_a_flagged_sample_closes_its_flag(capsys, flipped):
    app, path, truth = flipped
    run(capsys, "flags", path)
    code, _, _ = run(capsys, "label", path, 7, "hvd"[truth[7]])
    assert code == 0
    code, out, _ = run(capsys, "flags", path, "--json")
    assert 7 not in [row["sample"] for row in json.loads(out)["flags"]]


def test_flags_show_annotators_who_disagree(capsys, flipped):
    app, path, truth = flipped
    assert main(["label", str(path), "3", "v", "--annotator", "bob"]) == 0  # tester said h
    capsys.readouterr()
    code, out, _ = run(capsys, "flags", path, "--json")
    assert json.loads(out)["disagreements"] == [{"sample": 3, "labels": {"bob": "v", "tester": "h"}}]
    code, out, _ = run(capsys, "flags", path)
    assert "annotators disagree: bob says v, tester says h" in out
