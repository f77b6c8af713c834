"""The ``ledgerlab`` command line, in process and as a real subprocess."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "small.npz"
    images = np.random.default_rng(2).integers(0, 256, (50, 8, 8), dtype=np.uint8)
    np.savez(path, images=images, labels=np.zeros(50, dtype=np.int64))
    return path


@pytest.fixture
def ledger(tmp_path, npz, capsys):
    path = tmp_path / "p.ledger"
    assert (
        main(["new", str(path), "--dataset", str(npz), "--classes", "cat,dog", "--annotator", "alice"]) == 0
    )
    capsys.readouterr()
    return str(path)


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def info(capsys, ledger):
    code, out, _ = run(capsys, "info", ledger, "--json")
    assert code == 0
    return json.loads(out)


def test_new_reports_what_it_created(capsys, tmp_path, npz):
    code, out, err = run(capsys, "new", tmp_path / "x.ledger", "--dataset", npz, "--name", "Pets")
    assert code == 0, err
    assert "'Pets', 50 samples 8×8 grey from npz file small.npz" in out
    assert "note: the 'labels' array was ignored" in out


def test_label_undo_redo_and_info(capsys, ledger):
    assert run(capsys, "label", ledger, 3, "dog", "--annotator", "alice")[1] == "sample 3: (none) -> dog\n"
    # the same annotator pressing the class again changes nothing (another annotator would confirm it)
    assert run(capsys, "label", ledger, 3, "dog", "--annotator", "alice")[1] == (
        "nothing changed: nothing was recorded\n"
    )
    assert run(capsys, "label", ledger, 4, 0)[1] == "sample 4: (none) -> cat\n"
    assert run(capsys, "unlabel", ledger, 4)[1] == "sample 4: cat -> (none)\n"
    code, out, _ = run(capsys, "undo", ledger)
    assert code == 0 and "undid the change at position 5 (sample 4: (none) -> cat)" in out
    assert "redid the change at position 5" in run(capsys, "redo", ledger)[1]
    summary = info(capsys, ledger)
    assert {k: summary[k] for k in ("name", "samples", "classes", "events", "labeled", "per_class")} == {
        "name": "p",
        "samples": 50,
        "classes": ["cat", "dog"],
        "events": 7,
        "labeled": 1,
        "per_class": {"cat": 0, "dog": 1},
    }


def test_undo_is_per_annotator_across_invocations(capsys, ledger):
    run(capsys, "label", ledger, 1, "cat", "--annotator", "alice")
    run(capsys, "label", ledger, 2, "cat", "--annotator", "bob")
    assert run(capsys, "undo", ledger, "--annotator", "alice")[0] == 0
    code, _, err = run(capsys, "undo", ledger, "--annotator", "alice")
    assert code == 2 and err == "ledgerlab: error: nothing to undo: alice has no label changes left to undo\n"
    assert info(capsys, ledger)["per_class"] == {"cat": 1, "dog": 0}


def test_label_many_add_and_rename_class(capsys, ledger):
    assert run(capsys, "label-many", ledger, "cat", 1, 2, 3)[1] == "3 samples -> cat\n"
    assert run(capsys, "add-class", ledger, "bird")[1] == "added class 2=bird\n"
    assert run(capsys, "rename-class", ledger, "cat", "kitten")[1] == "renamed class 0: cat -> kitten\n"
    assert info(capsys, ledger)["per_class"] == {"kitten": 3, "dog": 0, "bird": 0}


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["label", "{p}", "50", "cat"],
            "ledgerlab: error: sample 50 is out of range: the dataset has 50 samples (0–49)",
        ),
        (["label", "{p}", "1", "cow"], "ledgerlab: error: unknown class 'cow': the classes are 0=cat, 1=dog"),
        (
            ["label", "{p}", "one", "cat"],
            "ledgerlab label: argument SAMPLE: must be a whole number, not 'one'",
        ),
        (["redo", "{p}"], "ledgerlab: error: nothing to redo"),
        (["label", "{d}/missing.ledger", "1", "cat"], "ledgerlab: error: no project file at"),
        (["new", "{p}"], "already exists: open it, or choose another file name"),
        (["new", "{d}/q.ledger", "--dataset", "{d}/none.npz"], "none.npz does not exist"),
        (["new", "{d}/q.ledger", "--mnist", "--dataset", "x"], "not allowed with argument --mnist"),
        (
            ["new", "{d}/q.ledger", "--dataset", "{d}/small.npz", "--classes", "a,,b"],
            "a class name cannot be empty",
        ),
        (["export", "{p}"], "nothing to export: give --labels"),
        (["export", "{p}", "--labels", "{d}/out.txt"], "export labels to a .csv or .json file"),
        (["export", "{p}", "--labels", "{d}/no/dir/out.csv"], "the folder"),
        (["replay", "{p}", "--until", "99"], "position 99 is outside the log"),
        (["replay", "{p}", "--until", "-3"], "argument --until: must be a whole number >= 0"),
        (["replay", "{p}"], "the following arguments are required: --until"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["export", "{p}", "--events", "{d}/log.json"], "export events to a .jsonl file"),
        (["info", "{d}/small.npz"], "is not a Ledgerlab project"),
        (["info", "{p}", "--annotator", ""], "the annotator name is empty"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(capsys, tmp_path, ledger, args, message):
    args = [a.format(p=ledger, d=tmp_path) for a in args]
    code, out, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "q.ledger").exists()


def test_every_command_has_help(capsys):
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "--annotator" in out, name


def test_export_labels_and_events(capsys, tmp_path, ledger):
    run(capsys, "label", ledger, 7, "dog", "--annotator", "carol")
    run(capsys, "label", ledger, 2, "cat", "--annotator", "carol")
    code, out, _ = run(
        capsys, "export", ledger, "--labels", tmp_path / "l.csv", "--events", tmp_path / "e.jsonl"
    )
    assert code == 0 and "wrote 2 labels" in out and "wrote 4 events" in out
    rows = list(csv.DictReader(open(tmp_path / "l.csv")))
    assert [(r["sample"], r["label"], r["annotator"]) for r in rows] == [
        ("2", "cat", "carol"),
        ("7", "dog", "carol"),
    ]
    assert rows[0]["time"].endswith("+00:00")
    events = [json.loads(line) for line in open(tmp_path / "e.jsonl")]
    assert [e["type"] for e in events] == [
        "ProjectCreated",
        "LatentMapComputed",
        "LabelAssigned",
        "LabelAssigned",
    ]
    assert events[2]["metadata"]["annotator"] == "carol" and events[2]["position"] == 3
    run(capsys, "export", ledger, "--labels", tmp_path / "l.json")
    document = json.loads((tmp_path / "l.json").read_text())
    assert document["labels"][1] == {**document["labels"][1], "sample": 7, "label": "dog", "label_index": 1}


def test_replay_shows_the_state_as_of_a_position(capsys, ledger):
    run(capsys, "label", ledger, 1, "cat")
    run(capsys, "label", ledger, 1, "dog")
    code, out, _ = run(capsys, "replay", ledger, "--until", 3, "--json")
    state = json.loads(out)
    assert code == 0 and state["position"] == 3 and state["per_class"] == {"cat": 1, "dog": 0}
    code, out, _ = run(capsys, "replay", ledger, "--until", 3)
    assert "labeled   1 of 50" in out


def test_the_gui_command_hands_over_to_the_window(capsys, monkeypatch, tmp_path):
    import types

    calls = []
    ui = types.ModuleType("app.ui")
    ui.launch = lambda path, app: calls.append((path, app.settings.annotator)) or 0
    monkeypatch.setitem(sys.modules, "app.ui", ui)
    assert main(["gui", str(tmp_path / "p.ledger"), "--annotator", "zoe"]) == 0
    assert main([]) == 0
    assert calls[0] == (str(tmp_path / "p.ledger"), "zoe") and calls[1][0] is None


def test_the_real_executable(tmp_path, ledger):
    exe = REPO / ".venv" / "bin" / "ledgerlab"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "app.cli"]
    env = {**os.environ, "LEDGERLAB_ANNOTATOR": "sam"}
    done = subprocess.run(
        [*command, "label", ledger, "5", "dog"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [*command, "info", ledger, "--json"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert json.loads(done.stdout)["labeled"] == 1
    done = subprocess.run(
        [*command, "label", ledger, "500", "dog"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert done.returncode == 2 and done.stderr.startswith("ledgerlab: error: sample 500 is out of range")
    assert "Traceback" not in done.stderr


def test_headless_commands_do_not_load_qt(ledger):
    code = (
        "import sys, app.cli.main; assert app.cli.main.main(['info', sys.argv[1]]) == 0; "
        "assert 'PySide6' not in sys.modules, 'Qt was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code, ledger], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr


def test_a_missing_window_module_is_explained(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "app.ui", None)  # import fails
    code, _, err = run(capsys, "gui")
    assert code == 2 and err.startswith("ledgerlab: error: the window is not available")


def test_an_unexpected_failure_is_one_line_with_exit_code_1(capsys, monkeypatch, ledger):
    def broken(args, app):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("app.cli.project.cmd_info", broken)
    code, _, err = run(capsys, "info", ledger)
    assert code == 1
    assert err == "ledgerlab: internal error (RuntimeError: disk on fire); please report it\n"
