"""``ledgerlab verify``: the hash chain, the blobs and the snapshots, each caught."""

from __future__ import annotations

import sqlite3

import pytest

from app.cli.main import main
from app.project.projections import SNAPSHOT_NAME

from .training_fixtures import make_project


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ledger(tmp_path):
    _, project = make_project(tmp_path, labeled=8)
    project.save_snapshot()  # a stored snapshot at the head, to be checked too
    path = project.path
    project.close()
    return path


def test_an_intact_project_passes_every_check(capsys, ledger):
    code, out, err = run(capsys, "verify", ledger)
    assert code == 0, err
    assert "hash chain intact: 10 events" in out
    assert "blobs present and intact: 2 referenced" in out
    assert "snapshots equal a rebuild from zero: 1 checked" in out


def test_an_edited_row_is_caught(capsys, ledger):
    with sqlite3.connect(ledger) as db:
        db.execute("DROP TRIGGER events_no_update")
        db.execute("""UPDATE events SET data = CAST('{"label":2,"previous":-1,"sample":4}' AS BLOB)
                      WHERE position = 7""")
    code, out, err = run(capsys, "verify", ledger)
    assert code == 2 and err.count("\n") == 1
    assert "hash chain broken at position 7" in err


def test_a_missing_blob_is_named(capsys, ledger):
    with sqlite3.connect(ledger) as db:
        (sha,) = db.execute("SELECT sha256 FROM blobs ORDER BY size DESC LIMIT 1").fetchone()
        db.execute("DELETE FROM blobs WHERE sha256 = ?", (sha,))
    code, out, err = run(capsys, "verify", ledger)
    assert code == 2 and err.count("\n") == 1
    assert f"the dataset blob {sha[:12]}… referenced at position 1 (ProjectCreated) is missing" in err
    assert "hash chain intact" in out


def test_a_snapshot_of_another_state_is_caught(capsys, tmp_path, ledger):
    (tmp_path / "other").mkdir()
    _, other = make_project(tmp_path / "other", labeled=3)
    with other:
        for sample in range(3, 8):  # same length of log, other labels
            other.assign_label(sample + 20, 0)
        wrong = other.state.snapshot()
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE snapshots SET payload = ? WHERE name = ?", (wrong, SNAPSHOT_NAME))
    code, out, err = run(capsys, "verify", ledger)
    assert code == 2 and err.count("\n") == 1
    assert f"snapshot '{SNAPSHOT_NAME}' at position 10 does not equal the read models rebuilt" in err
    assert "labels" in err


def test_verify_of_a_missing_file_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "verify", tmp_path / "nope.ledger")
    assert code == 2 and "no project file" in err and err.count("\n") == 1
