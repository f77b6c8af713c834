"""A run whose trainer vanished is recorded as interrupted once, however many workstations
notice at once: the record is appended at the run stream's version as each one read it,
so the second append meets a conflict instead of adding a duplicate. On a ``.ledger`` file
and on a real PostgreSQL (pgserver)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from app.project.bootstrap import bootstrap
from app.training.lease import TrainingLease
from app.training.recorder import recover_interrupted
from domain.images import Dataset
from domain.training_events import TrainingInterrupted, TrainingStarted, run_stream

from .pg_fixtures import pg_uri, project_url  # noqa: F401  (pg_uri is a fixture)

REPO = Path(__file__).resolve().parents[2]

# Opens the project (its state: r1 running), says so, waits for the word, then recovers.
NOTICER = textwrap.dedent(
    """
    import sys
    from app.project.bootstrap import bootstrap
    from app.training.lease import TrainingLease
    from app.training.recorder import recover_interrupted

    where, who, data_dir = sys.argv[1:4]
    with bootstrap(annotator=who, data_dir=data_dir).projects.open(where) as project:
        assert [run.run_id for run in project.state.training.running] == ["r1"]
        print("ready", flush=True)
        sys.stdin.readline()
        recorded = recover_interrupted(project, TrainingLease(project.address))
        print(",".join(recorded) or "-", flush=True)
    """
)


@pytest.fixture(params=["sqlite", "postgres"])
def where(request, tmp_path) -> str:
    """A project with run r1 recorded as started and nobody training it."""
    if request.param == "sqlite":
        address = str(tmp_path / "p.ledger")
    else:
        address = project_url(request.getfixturevalue("pg_uri"))
    images = np.random.default_rng(5).integers(0, 256, (20, 8, 8), dtype=np.uint8)
    dataset = Dataset(images=images, class_names=("a", "b"), source="test")
    with bootstrap(annotator="lead", data_dir=tmp_path).projects.create(address, dataset) as project:
        project.record(run_stream("r1"), [TrainingStarted(run_id="r1", **_started_fields())])
    return address


def interruptions(where: str, tmp_path: Path) -> list[str]:
    with bootstrap(annotator="reader", data_dir=tmp_path).projects.open(where) as project:
        assert project.state.training.runs["r1"].status == "interrupted"
        return [e.metadata["annotator"] for e in project.events() if e.type == TrainingInterrupted.type_name]


def test_two_workstations_noticing_at_once_record_the_interruption_once(where, tmp_path):
    noticers = [
        subprocess.Popen(
            [sys.executable, "-c", NOTICER, where, who, str(tmp_path)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("alice", "bob")
    ]
    try:
        for p in noticers:  # both have read the run as running before either records
            assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.stderr
        for p in noticers:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        said = []
        for p in noticers:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            said.append(out.strip())
    finally:
        for p in noticers:
            p.kill()
    # One of them recorded it (whichever came first), the other found it recorded (or
    # saw the other's brief hold of the lease and left the run alone).
    assert sorted(said) == ["-", "r1"]
    recorders = interruptions(where, tmp_path)
    assert recorders == [["alice", "bob"][said.index("r1")]]


def test_a_stale_view_does_not_record_the_interruption_again(where, tmp_path):
    first = bootstrap(annotator="alice", data_dir=tmp_path).projects.open(where)
    second = bootstrap(annotator="bob", data_dir=tmp_path).projects.open(where)
    try:
        assert recover_interrupted(first, TrainingLease(first.address)) == ["r1"]
        # bob's view still reads r1 as running: his record would be a duplicate
        assert [run.run_id for run in second.state.training.running] == ["r1"]
        assert recover_interrupted(second, TrainingLease(second.address)) == []
        assert second.state.training.runs["r1"].status == "interrupted"  # caught up
    finally:
        first.close()
        second.close()
    assert interruptions(where, tmp_path) == ["alice"]


def _started_fields() -> dict[str, object]:
    return {
        "config": {},
        "seed": 0,
        "epochs": 5,
        "labels_position": 1,
        "dataset_sha256": "0" * 64,
        "versions": {},
        "runner": "process",
    }
