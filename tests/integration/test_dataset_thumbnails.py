"""Issue 18.2: images larger than 128 px get display thumbnails, made while the dataset
is stored, content-addressed in chunks, named by the creation event, read one chunk at
a time, checked by ``verify`` and copied by ``branch`` and ``export --blobs``."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from app.cli.main import main
from app.history.branching import copy_project
from app.project.bootstrap import bootstrap
from app.project.dataset_store import DatasetImages, created_event
from app.project.projections import PROJECT_STREAM
from domain.images import Dataset
from domain.resample import to_training_size
from eventstore import open_store

THUMB_CHUNK = 4  # thumbnails a chunk in these tests (128×85×3 bytes each)


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def images():
    return np.random.default_rng(11).integers(0, 256, (10, 300, 200, 3), dtype=np.uint8)


@pytest.fixture
def app(tmp_path):
    return bootstrap(annotator="tester", data_dir=tmp_path / "data")


@pytest.fixture
def large(tmp_path, app, images, monkeypatch):
    import app.project.dataset_store as dataset_store

    monkeypatch.setattr(dataset_store, "THUMBNAIL_CHUNK_BYTES", THUMB_CHUNK * 128 * 85 * 3)
    path = tmp_path / "large.ledger"
    app.projects.create(path, Dataset(images, source="test 300×200")).close()
    return path


def created(path):
    with open_store(path) as store:
        return next(store.read_stream(PROJECT_STREAM, limit=1))


def test_large_images_get_thumbnails_read_one_chunk_at_a_time(app, large, images):
    data = created(large).data
    assert data["thumbnail_shape"] == [10, 128, 85, 3]  # longest side 128, aspect kept
    assert data["thumbnail_samples"] == THUMB_CHUNK and len(data["thumbnail_chunks"]) == 3
    expected = to_training_size(images, 128)
    with open_store(large) as store:
        read = []

        def read_blob(sha):
            read.append(sha)
            return store.get_blob(sha)

        lazy = DatasetImages(read_blob, created_event(store, app.registry))
        np.testing.assert_array_equal(lazy.display(5), expected[5])
        np.testing.assert_array_equal(lazy.display(6), expected[6])
        np.testing.assert_array_equal(lazy.display(-1), expected[9])
        # Only the thumbnail chunks holding 5, 6 and 9, each once; no dataset chunk.
        assert read == [data["thumbnail_chunks"][1], data["thumbnail_chunks"][2]]
        with pytest.raises(IndexError):
            lazy.display(10)


def test_small_images_have_no_thumbnails_and_show_themselves(tmp_path, app):
    small = np.random.default_rng(3).integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    path = tmp_path / "small.ledger"
    app.projects.create(path, Dataset(small, source="test 64×64")).close()
    assert created(path).data.get("thumbnail_chunks", []) == []
    with app.projects.open(path) as project:
        np.testing.assert_array_equal(project.images().display(4), small[4])


def test_verify_names_a_damaged_thumbnail_chunk(capsys, large):
    code, out, err = run(capsys, "verify", large)
    assert code == 0, err
    assert "blobs present and intact: 5 referenced" in out  # dataset, 3 thumbnail chunks, map
    sha = created(large).data["thumbnail_chunks"][1]
    with sqlite3.connect(large) as db:
        (data,) = db.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
        damaged = bytearray(data)
        damaged[-5] ^= 0xFF
        db.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (bytes(damaged), sha))
    code, out, err = run(capsys, "verify", large)
    assert code == 2 and err.count("\n") == 1
    assert f"the thumbnail chunk 2 of 3 blob {sha[:12]}… referenced at position 1" in err


def test_a_missing_thumbnail_chunk_shows_the_image_itself_and_verify_names_it(capsys, app, large, images):
    sha = created(large).data["thumbnail_chunks"][0]
    with sqlite3.connect(large) as db:  # as a copy made by a release that knew no thumbnails
        db.execute("DELETE FROM blobs WHERE sha256 = ?", (sha,))
    with app.projects.open(large) as project:
        np.testing.assert_array_equal(project.images().display(1), images[1])
    code, _, err = run(capsys, "verify", large)
    assert code == 2 and f"the thumbnail chunk 1 of 3 blob {sha[:12]}… referenced at position 1" in err
    assert "is missing" in err


def test_branch_export_and_copy_carry_the_thumbnails(capsys, tmp_path, app, large, images):
    branch = tmp_path / "branch.ledger"
    assert run(capsys, "branch", large, "--at", 2, branch)[0] == 0
    events, blobs = tmp_path / "events.jsonl", tmp_path / "blobs"
    code, _, err = run(capsys, "export", large, "--events", events, "--blobs", blobs)
    assert code == 0, err
    thumbnails = set(created(large).data["thumbnail_chunks"])
    assert thumbnails <= {p.name for p in blobs.iterdir()} | {p.stem for p in blobs.iterdir()}
    imported = tmp_path / "imported.ledger"
    assert run(capsys, "import-events", events, imported, "--blobs", blobs)[0] == 0
    copied = tmp_path / "copied.ledger"  # what push and pull do
    copy_project(app.projects, large, copied)
    expected = to_training_size(images, 128)
    for path in (branch, imported, copied):
        code, out, err = run(capsys, "verify", path)
        assert code == 0, err
        with app.projects.open(path) as project:
            np.testing.assert_array_equal(project.images().display(7), expected[7])
