"""Two workstations on one server project: each sees the other's labels through the same
catch-up as its own (``Project.refresh`` reads by position), and one training run at a
time across machines (the advisory-lock lease)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from app.project.address import ProjectAddress
from app.project.bootstrap import bootstrap
from app.project.errors import ProjectError
from app.training.lease import TrainingLease
from app.training.recorder import recover_interrupted
from domain.images import Dataset
from domain.training_events import TrainingStarted, run_stream

from .pg_fixtures import pg_uri, project_url  # noqa: F401  (pg_uri is a fixture)

REPO = Path(__file__).resolve().parents[2]
SAMPLES = 60


@pytest.fixture
def url(pg_uri, tmp_path):  # noqa: F811
    url = project_url(pg_uri)
    images = np.random.default_rng(3).integers(0, 256, (SAMPLES, 8, 8), dtype=np.uint8)
    dataset = Dataset(images=images, class_names=("a", "b", "c"), source="test")
    bootstrap(annotator="lead", data_dir=tmp_path).projects.create(url, dataset).close()
    return url


def test_two_projects_on_two_connections_label_at_once_and_both_see_every_label(url, tmp_path):
    alice = bootstrap(annotator="alice", data_dir=tmp_path).projects.open(url)
    bob = bootstrap(annotator="bob", data_dir=tmp_path).projects.open(url)
    seen_by_bob: set[int] = set()
    bob.subscribe(lambda change: seen_by_bob.update(change.samples))
    errors: list[BaseException] = []

    def label(project, samples, label):
        try:
            for s in samples:
                project.assign_label(s, label)  # a conflict with the other writer is decided again
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=label, args=(alice, range(0, SAMPLES, 2), "a")),
        threading.Thread(target=label, args=(bob, range(1, SAMPLES, 2), "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    alice.refresh()
    bob.refresh()
    for p in (alice, bob):
        assert p.labels.labeled == SAMPLES
        assert p.labels.labels[0::2].tolist() == [0] * (SAMPLES // 2)
        assert p.labels.labels[1::2].tolist() == [1] * (SAMPLES // 2)
    assert set(range(0, SAMPLES, 2)) <= seen_by_bob  # alice's labels reached bob's listeners
    assert alice.position == bob.position
    alice.close()
    bob.close()


WRITER = textwrap.dedent(
    """
    import sys
    from app.project.bootstrap import bootstrap
    url, who, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with bootstrap(annotator=who).projects.open(url) as project:
        for s in range(first, {samples}, 2):
            project.assign_label(s, first)
    """
).format(samples=SAMPLES)


def test_two_processes_label_at_once_and_both_end_up_seeing_every_label(url, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "LEDGERLAB_DATA_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, who, str(first)],
            env=env,
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who, first in (("alice", 0), ("bob", 1))
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with bootstrap(annotator="lead", data_dir=tmp_path).projects.open(url) as project:
        assert project.labels.labeled == SAMPLES
        assert project.labels.labels.tolist() == [s % 2 for s in range(SAMPLES)]
        assert {project.labels.annotator_of(s) for s in range(SAMPLES)} == {"alice", "bob"}


def test_one_training_run_per_server_project_and_a_vanished_holder_is_noticed(url, tmp_path):
    address = ProjectAddress.parse(url)
    here, there = TrainingLease(address), TrainingLease(address)
    assert here.acquire() and here.held and here.path is None
    assert not there.acquire() and there.someone_else_holds_it()
    here.release()
    assert not there.someone_else_holds_it()

    # A holder in another process that dies mid-run: its session ends, the lock goes,
    # and whoever opens the project next records the run as interrupted.
    with bootstrap(annotator="alice", data_dir=tmp_path).projects.open(url) as project:
        project.record(run_stream("r1"), [TrainingStarted(run_id="r1", **_started_fields())])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from app.project.address import ProjectAddress;"
            "from app.training.lease import TrainingLease;"
            "lease = TrainingLease(ProjectAddress.parse(sys.argv[1])); assert lease.acquire();"
            "print('held', flush=True); sys.stdin.read()",
            url,
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with bootstrap(annotator="bob", data_dir=tmp_path).projects.open(url) as project:
            lease = TrainingLease(project.address)
            assert recover_interrupted(project, lease) == []  # someone trains: not interrupted
            assert not lease.acquire()
            holder.kill()
            holder.wait(timeout=30)
            assert recover_interrupted(project, lease) == ["r1"]
            assert project.state.training.runs["r1"].status == "interrupted"
            assert lease.acquire()
            lease.release()
    finally:
        holder.kill()


def test_a_server_lease_says_when_the_server_is_unreachable(url):
    gone = ProjectAddress.parse(url.replace("?", "?port=1&", 1))
    with pytest.raises(ProjectError, match="cannot reach the server"):
        TrainingLease(gone).acquire()


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
