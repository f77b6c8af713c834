"""Issue 15 at the command line: damage, closed pipes, unwritable folders and edited
exports end in one line with exit 2 (or a quiet exit), never an internal error."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from app.cli.main import main
from app.history.export import event_hash
from app.history.portability import NEW_HISTORY
from eventstore import open_store
from eventstore.codec import GENESIS

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ledger(tmp_path, capsys):
    npz = tmp_path / "small.npz"
    np.savez(npz, images=np.random.default_rng(2).integers(0, 256, (50, 8, 8), dtype=np.uint8))
    path = tmp_path / "p.ledger"
    assert main(["new", str(path), "--dataset", str(npz), "--classes", "cat,dog", "--annotator", "al"]) == 0
    for sample in (1, 2, 3):
        assert main(["label", str(path), str(sample), "dog", "--annotator", "al"]) == 0
    capsys.readouterr()
    return path


def damage(path: Path, position: int, data: bytes) -> None:
    """Change an event's stored bytes as a disk fault or a hand edit would."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER events_no_update")
        db.execute("UPDATE events SET data = ? WHERE position = ?", (data, position))
    sqlite3.connect(path).close()


# --- a damaged event on every read path ------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["info", "{p}"],
        ["label", "{p}", "7", "cat"],
        ["log", "{p}"],
        ["export", "{p}", "--events", "{d}/out.jsonl"],
        ["replay", "{p}", "--until", "5"],
    ],
)
def test_an_event_whose_bytes_no_longer_decode_is_named_with_the_way_out(capsys, ledger, command):
    # Before: "internal error (JSONDecodeError: unexpected end of data …); please report it", exit 1.
    damage(ledger, 4, b'{"sample":')
    code, _, err = run(capsys, *[a.format(p=ledger, d=ledger.parent) for a in command])
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"ledgerlab: error: {ledger}: the event at position 4 is damaged (")
    assert f"keep the 3 events before it with `ledgerlab branch {ledger} --at 3 NEW.ledger`" in err
    assert "Restore the file from a backup" in err and f"`ledgerlab verify {ledger}`" in err
    assert not (ledger.parent / "out.jsonl").exists()


def test_verify_names_the_damage_and_the_way_out_without_sending_you_to_verify(capsys, ledger):
    damage(ledger, 4, b'{"sample":')
    code, _, err = run(capsys, "verify", ledger)
    assert code == 2 and "hash chain broken at position 4" in err
    assert "keep the 3 events before it with `ledgerlab branch PATH --at 3 NEW.ledger`" in err
    assert "run `ledgerlab verify`" not in err and "`ledgerlab verify` shows" not in err


def test_label_refuses_to_write_over_a_broken_chain_unless_told_to(capsys, ledger):
    damage(ledger, 4, b'{"label":0,"previous":-1,"sample":2}')  # still reads: only the chain tells
    code, _, err = run(capsys, "label", ledger, 7, "cat")
    assert code == 2 and "the event at position 4 is damaged" in err and "--despite-damage" in err
    with open_store(ledger, read_only=True) as store:
        assert store.head() == 5  # nothing was written
    code, out, err = run(capsys, "label", ledger, 7, "cat", "--despite-damage")
    assert code == 0 and out == "sample 7: (none) -> cat\n"
    assert err.startswith("ledgerlab: warning: the event at position 4 is damaged")
    assert run(capsys, "branch", ledger, "--at", 3, ledger.parent / "before.ledger")[0] == 0
    assert run(capsys, "verify", ledger.parent / "before.ledger")[0] == 0


# --- closed stdout ---------------------------------------------------------------------


@pytest.mark.parametrize("command", [["info"], ["log"]])
def test_a_reader_that_stops_early_gets_a_quiet_exit(ledger, command):
    # Before: `ledgerlab info | head -1` printed a BrokenPipeError traceback.
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", *command, str(ledger)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader went away before the first line
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 0 and err == "", err


# --- a folder that cannot be written ---------------------------------------------------


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to become another user (root ignores folder permissions)",
)
def test_a_ledger_in_a_folder_that_cannot_be_written_says_why(ledger):
    # Before: "… is open read-only (or the file is not writable)". pytest's own folders
    # may not be entered by another user, so this one is made in the system's.
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="ledgerlab-locked-"))
    folder = tmp_path / "locked"
    folder.mkdir()
    shutil.copy(ledger, folder / "p.ledger")
    (folder / "p.ledger").chmod(0o666)
    folder.chmod(0o555)
    tmp_path.chmod(0o755)
    try:
        result = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-m",
                "app.cli.main",
                "info",
                str(folder / "p.ledger"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "LEDGERLAB_ANNOTATOR": "nobody", "HOME": str(tmp_path)},
        )
    finally:
        folder.chmod(0o755)
        shutil.rmtree(tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"ledgerlab: error: cannot open {folder / 'p.ledger'}: its folder {folder} is not writable, "
        "and SQLite needs to create the write-ahead log (-wal, -shm files) beside the project even "
        "to read it; make the folder writable, or copy the file to a folder you can write and open "
        "the copy\n"
    )


# --- names -----------------------------------------------------------------------------


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to become another user"
)
def test_a_project_behind_a_folder_that_may_not_be_entered_is_a_sentence(ledger):
    # Found trying: "internal error (PermissionError: [Errno 13] …); please report it".
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "app.cli.main",
            "info",
            str(ledger),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LEDGERLAB_ANNOTATOR": "nobody"},
    )
    if result.returncode == 0:
        pytest.skip("pytest's folder is open to other users here")
    assert result.returncode == 2 and result.stderr.startswith("ledgerlab: error: permission denied for ")
    assert "check the permissions of it and of the folders above it" in result.stderr


def test_an_annotator_name_with_a_newline_is_refused(capsys, ledger):
    code, _, err = run(capsys, "label", ledger, 7, "cat", "--annotator", "al\nice")
    assert code == 2 and err.count("\n") == 1
    assert (
        "the annotator name 'al\\nice' contains a line break" in err and "(it came from --annotator)" in err
    )


def test_a_class_name_with_a_newline_is_refused(capsys, ledger):
    code, _, err = run(capsys, "add-class", ledger, "bird\nfish")
    assert code == 2 and "the class name 'bird\\nfish' contains a line break" in err


# --- exports carry the chain -----------------------------------------------------------


def _export(capsys, ledger) -> Path:
    out = ledger.parent / "log.jsonl"
    code, text, err = run(capsys, "export", ledger, "--events", out, "--blobs", ledger.parent / "blobs")
    assert code == 0, err
    return out


def test_an_export_carries_each_event_s_hash_in_the_file_s_chain(capsys, ledger):
    lines = [json.loads(line) for line in _export(capsys, ledger).read_text().splitlines()]
    with open_store(ledger, read_only=True) as store:
        assert [line["hash"] for line in lines] == [store.chain_hash(p) for p in range(1, 6)]


def test_an_edited_export_is_refused_unless_imported_as_new_history(capsys, ledger):
    # Before: a changed label in the .jsonl imported with exit 0.
    out = _export(capsys, ledger)
    edited = ledger.parent / "edited.jsonl"
    edited.write_text(
        out.read_text().replace('"label":1,"previous":-1,"sample":3', '"label":0,"previous":-1,"sample":3')
    )
    blobs, target = ledger.parent / "blobs", ledger.parent / "copy.ledger"
    code, _, err = run(capsys, "import-events", edited, target, "--blobs", blobs)
    assert code == 2 and err.count("\n") == 1
    assert "line 5 (position 5, LabelAssigned) does not match its hash" in err and "--as-new-history" in err
    assert not target.exists()

    code, text, err = run(capsys, "import-events", edited, target, "--blobs", blobs, "--as-new-history")
    assert code == 0 and "imported as new history" in text, err
    with open_store(target, read_only=True) as store:
        first = next(store.read_all())
        assert first.metadata[NEW_HISTORY] == {
            "source": "edited.jsonl",
            "unverified": "line 5 (position 5, LabelAssigned) does not match its hash: the export "
            "was edited or damaged after it was written",
        }
    assert run(capsys, "verify", target)[0] == 0


def test_an_intact_export_imports_checked_and_unmarked(capsys, ledger):
    out = _export(capsys, ledger)
    target = ledger.parent / "copy.ledger"
    code, text, _ = run(capsys, "import-events", out, target, "--blobs", ledger.parent / "blobs")
    assert code == 0 and "every exported hash checked" in text
    with open_store(target, read_only=True) as store:
        assert NEW_HISTORY not in next(store.read_all()).metadata


def test_an_export_without_hashes_needs_as_new_history(capsys, ledger):
    out = _export(capsys, ledger)
    old = ledger.parent / "old.jsonl"
    old.write_text(
        "".join(
            orjson.dumps({k: v for k, v in json.loads(line).items() if k != "hash"}).decode() + "\n"
            for line in out.read_text().splitlines()
        )
    )
    code, _, err = run(
        capsys, "import-events", old, ledger.parent / "c.ledger", "--blobs", ledger.parent / "blobs"
    )
    assert code == 2 and "line 1 carries no hash" in err


def test_an_imported_event_naming_a_sample_out_of_range_is_refused(capsys, ledger):
    # Before: "internal error (IndexError: index 999 is out of bounds …)". The hashes are
    # made to agree, so only the replay can tell.
    out = _export(capsys, ledger)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    lines[4]["data"]["sample"] = 999
    previous, rehashed = GENESIS, []
    from eventstore import RecordedEvent

    for line in lines:
        previous = event_hash(previous, RecordedEvent(*(line[f] for f in RecordedEvent._fields)))
        rehashed.append(orjson.dumps({**line, "hash": previous.hex()}).decode() + "\n")
    out.write_text("".join(rehashed))
    target = ledger.parent / "copy.ledger"
    code, _, err = run(capsys, "import-events", out, target, "--blobs", ledger.parent / "blobs")
    assert code == 2 and err.count("\n") == 1, err
    assert "does not replay into a project: the event at position 5 (LabelAssigned does not fit" in err
    assert "nothing was created" in err and not target.exists()


def test_an_empty_export_creates_nothing(capsys, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run(capsys, "import-events", empty, tmp_path / "n.ledger")
    assert code == 2 and "holds no events" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]
