"""Team mode from the command line against a real PostgreSQL (pgserver): a server project
named by a URL wherever a ``.ledger`` path goes, push and pull, annotators and conflicts,
the two roles of ``server init``, and passwords kept out of every message."""

from __future__ import annotations

import json
import uuid

import numpy as np
import psycopg
import pytest
from psycopg import sql

from app.cli.main import main
from app.project.address import ProjectAddress
from app.project.errors import ProjectError
from eventstore import open_store
from eventstore.urls import postgres_target

from .pg_fixtures import pg_uri, project_url  # noqa: F401  (pg_uri is a fixture)


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "small.npz"
    images = np.random.default_rng(2).integers(0, 256, (40, 8, 8), dtype=np.uint8)
    np.savez(path, images=images)
    return path


@pytest.fixture
def server_project(pg_uri, npz, capsys):  # noqa: F811
    url = project_url(pg_uri)
    assert main(["new", url, "--dataset", str(npz), "--classes", "cat,dog,fox", "--annotator", "alice"]) == 0
    capsys.readouterr()
    return url


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def as_user(url: str, user: str) -> str:
    """The same project, connecting as ``user`` (the test server trusts local sockets)."""
    return url.replace("postgresql://postgres:@", f"postgresql://{user}@", 1)


def test_an_address_is_a_file_or_a_server_project_and_never_shows_a_password(tmp_path):
    file = ProjectAddress.parse(tmp_path / "p.ledger")
    assert not file.is_server and file.file == tmp_path / "p.ledger" and file.stem == "p"
    server = ProjectAddress.parse("postgresql://bob:s3cret@db.lan:5433/labels?project=digits&sslmode=require")
    assert server.is_server and server.name == "digits" and server.file is None
    assert "s3cret" not in str(server) and "s3cret" not in repr(server) and "***" in str(server)
    with pytest.raises(ProjectError, match="names no project"):
        ProjectAddress.parse("postgresql://db.lan/labels")


def test_the_usual_commands_work_on_a_server_project(capsys, server_project, tmp_path):
    url = server_project
    assert run(capsys, "label", url, 3, "dog", "--annotator", "alice")[0] == 0
    assert run(capsys, "label-many", url, "fox", 4, 5, "--annotator", "bob")[0] == 0
    code, out, err = run(capsys, "info", url, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["labeled"] == 3 and data["per_class"] == {"cat": 0, "dog": 1, "fox": 2}
    assert data["path"] == ProjectAddress.parse(url).display
    code, out, _ = run(capsys, "log", url)
    assert code == 0 and "LabelsAssigned" in out and "bob" in out
    code, out, _ = run(capsys, "verify", url)
    assert code == 0 and "hash chain intact" in out
    code, out, _ = run(capsys, "export", url, "--labels", tmp_path / "l.csv")
    assert code == 0 and (tmp_path / "l.csv").read_text().count("\n") == 4
    code, out, err = run(capsys, "branch", url, "--at", 3, tmp_path / "b.ledger")
    assert code == 0, err
    code, out, _ = run(capsys, "info", tmp_path / "b.ledger", "--json")
    assert json.loads(out)["labeled"] == 1  # the branch stops before bob's labels
    assert json.loads(out)["branched_from"]["path"] == ProjectAddress.parse(url).display
    code, _, err = run(capsys, "new", url, "--mnist")
    assert code == 2 and "already exists" in err


def test_push_then_pull_round_trips_every_event_and_blob(capsys, tmp_path, npz, pg_uri):  # noqa: F811
    local = tmp_path / "p.ledger"
    assert main(["new", str(local), "--dataset", str(npz), "--classes", "a,b", "--annotator", "alice"]) == 0
    for sample in (1, 2, 3):
        assert main(["label", str(local), str(sample), "b", "--annotator", "alice"]) == 0
    assert main(["undo", str(local), "--annotator", "alice"]) == 0
    url = project_url(pg_uri)
    code, out, err = run(capsys, "push", local, url)
    assert code == 0, err
    assert "copied 6 events" in out
    back = tmp_path / "back.ledger"
    code, out, err = run(capsys, "pull", url, back)
    assert code == 0, err
    for where in (local, url, back):
        code, out, err = run(capsys, "verify", where)
        assert code == 0, err
    with open_store(local) as a, open_store(url) as b, open_store(back) as c:
        rows = [
            [(e.position, e.stream_id, e.version, e.type, e.data, e.metadata) for e in s.read_all()]
            for s in (a, b, c)
        ]
        assert rows[0] == rows[1] == rows[2]
    for where in (url, back):
        code, out, _ = run(capsys, "info", where, "--json")
        assert json.loads(out)["labeled"] == 2
    code, _, err = run(capsys, "push", local, url)  # never over a project that holds events
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, "pull", url, back)
    assert code == 2 and "already exists" in err


def test_annotators_agreement_and_conflicts(capsys, server_project):
    url = server_project
    for sample, label in ((1, "cat"), (2, "dog"), (3, "fox"), (4, "cat")):
        assert main(["label", url, str(sample), label, "--annotator", "alice"]) == 0
    # bob's agreements here are changes away and back (pressing the standing class would
    # record a LabelConfirmed instead: tests/integration/test_label_confirmation.py).
    for sample, label in ((1, "dog"), (1, "cat"), (2, "fox"), (3, "cat"), (3, "fox")):
        assert main(["label", url, str(sample), label, "--annotator", "bob"]) == 0
    capsys.readouterr()
    data = json.loads(run(capsys, "info", url, "--json")[1])
    assert data["annotators"] == {"alice": {"labels": 4}, "bob": {"labels": 3}}
    (pair,) = data["agreement"]
    assert pair["annotators"] == ["alice", "bob"] and pair["overlaps"] == 3 and pair["agreed"] == 2
    # alice: cat, dog, fox; bob: cat, fox, fox -> po 2/3, pe (1*1 + 1*0 + 1*2)/9 = 1/3 -> kappa 0.5
    assert pair["kappa"] == pytest.approx(0.5)
    code, out, _ = run(capsys, "conflicts", url, "--json")
    (conflict,) = json.loads(out)
    assert conflict["sample"] == 2
    assert conflict["labels"] == {"alice": {"label": 1, "class": "dog"}, "bob": {"label": 2, "class": "fox"}}
    assert conflict["current"] == {"label": 2, "class": "fox", "annotator": "bob"}  # the latest counts
    code, out, _ = run(capsys, "conflicts", url)
    assert "sample 2: alice said dog, bob said fox; fox counts (by bob)" in out
    # Resolving: bob changes to alice's "dog" (alice pressing "fox" would confirm his).
    assert main(["label", url, "2", "dog", "--annotator", "bob"]) == 0
    capsys.readouterr()
    assert "no conflicts" in run(capsys, "conflicts", url)[1]


def test_server_init_gives_a_writer_and_a_view_only_reader(capsys, pg_uri, npz):  # noqa: F811
    url = project_url(pg_uri)
    suffix = uuid.uuid4().hex[:8]
    writer, reader = f"w{suffix}", f"r{suffix}"
    with psycopg.connect(postgres_target(url).conninfo, autocommit=True) as conn:
        for user in (writer, reader):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user)))
    code, out, err = run(capsys, "server", "init", url, "--writer", writer, "--reader", reader)
    assert code == 0, err
    assert "_writer" in out and "_reader" in out
    as_writer, as_reader = as_user(url, writer), as_user(url, reader)
    code, _, err = run(capsys, "new", as_writer, "--dataset", npz, "--classes", "a,b")
    assert code == 0, err
    assert run(capsys, "label", as_writer, 1, "b", "--annotator", "w")[0] == 0
    code, out, err = run(capsys, "info", as_reader, "--json")
    assert code == 0, err
    assert json.loads(out)["labeled"] == 1
    code, out, err = run(capsys, "label", as_reader, 2, "a")
    assert code == 2
    assert "you may view this project but not change it" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "push", npz, as_reader)  # not a .ledger: refused before any write
    assert code == 2


def test_a_password_never_reaches_a_message_or_the_log(capsys, pg_uri, server_project):  # noqa: F811
    with_password = server_project.replace("postgresql://postgres:@", "postgresql://postgres:hunter2@", 1)
    assert main(["label", with_password, "1", "cat", "--annotator", "alice"]) == 0  # trust: password unused
    out, err = capsys.readouterr()
    assert "hunter2" not in out + err
    code, out, err = run(capsys, "info", with_password, "--json")
    assert "hunter2" not in out + err and "***" in json.loads(out)["path"]
    wrong = with_password.replace("?", "?port=1&", 1)  # nobody listens there
    code, out, err = run(capsys, "info", wrong)
    assert code == 2 and "hunter2" not in out + err
    code, out, _ = run(capsys, "log", with_password, "--json")
    assert "hunter2" not in out


def test_a_server_project_trains_and_holds_the_cross_machine_lease(capsys, server_project):
    """`ledgerlab train URI` runs, records its run in the server's log, and holds the
    PostgreSQL advisory lock (not a file lock beside the working folder) while it trains."""
    from app.project.address import ProjectAddress
    from app.training.lease import TrainingLease

    assert run(capsys, "label-many", server_project, "cat", 0, 3)[0] == 0
    assert run(capsys, "label-many", server_project, "dog", 1, 4)[0] == 0
    flags = ["--epochs", "1", "--hidden", "16", "--latent", "2", "--batch", "8", "--seed", "1"]
    code, out, err = run(capsys, "train", server_project, *flags)
    assert code == 0, err
    assert "completed" in out
    code, out, _ = run(capsys, "info", server_project, "--json")
    (training_run,) = json.loads(out)["runs"]
    assert training_run["status"] == "completed"
    lease = TrainingLease(ProjectAddress.parse(server_project))
    assert lease.path is None  # a server project's lease is the database's, not a file
    assert lease.acquire()
    try:
        assert TrainingLease(ProjectAddress.parse(server_project)).someone_else_holds_it()
    finally:
        lease.release()
