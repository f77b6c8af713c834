"""Issue 18.1: a dataset stored in content-addressed chunks, read back lazily, checked by
``verify`` chunk by chunk and copied by ``branch``, ``export --blobs`` / ``import-events``
and ``push``/``pull`` (``copy_project``); projects of one blob (before chunks) still open."""

from __future__ import annotations

import hashlib
import io
import sqlite3

import numpy as np
import pytest

from app.cli.main import main
from app.history.branching import copy_project
from app.project.bootstrap import bootstrap
from app.project.dataset_store import DatasetImages, created_event
from app.project.projections import PROJECT_STREAM
from domain.images import Dataset
from domain.initial_map import encode_map, pca_map
from eventstore import NO_STREAM, BlobCorrupt, NewEvent, open_store

CHUNK = 10 * 8 * 8 * 3  # ten colour 8×8 images a chunk


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.fixture
def images():
    return np.random.default_rng(7).integers(0, 256, (35, 8, 8, 3), dtype=np.uint8)


@pytest.fixture
def app(tmp_path):
    return bootstrap(annotator="tester", data_dir=tmp_path / "data")


@pytest.fixture
def chunked(tmp_path, app, images):
    path = tmp_path / "colour.ledger"
    app.projects.create(path, Dataset(images, source="test colour"), chunk_bytes=CHUNK).close()
    return path


def created(path):
    with open_store(path) as store:
        return next(store.read_stream(PROJECT_STREAM, limit=1))


def test_a_dataset_is_stored_in_chunks_and_reads_back_image_by_image(app, chunked, images):
    event = created(chunked)
    assert event.schema_version == 3
    assert len(event.data["dataset_chunks"]) == 4 and event.data["chunk_samples"] == 10
    # The content hash is the whole dataset's, as one .npy: independent of the chunking.
    assert event.data["dataset_sha256"] == hashlib.sha256(npy(images)).hexdigest()
    with open_store(chunked) as store:
        read = []

        def read_blob(sha):
            read.append(sha)
            return store.get_blob(sha)

        lazy = DatasetImages(read_blob, created_event(store, app.registry))
        assert lazy.shape == images.shape and len(lazy) == 35
        np.testing.assert_array_equal(lazy[23], images[23])
        np.testing.assert_array_equal(lazy[-1], images[-1])
        np.testing.assert_array_equal(lazy[21], images[21])
        chunks = event.data["dataset_chunks"]
        assert read == [chunks[2], chunks[3]]  # only the chunks holding images 21-23 and 34
    with app.projects.open(chunked) as project:
        np.testing.assert_array_equal(np.asarray(project.images()), images)
        np.testing.assert_array_equal(project.images()[[3, 31]], images[[3, 31]])


def test_the_window_reads_one_image_without_its_chunk(app, chunked, images):
    """display(i) (viewer, hover) reads the image's bytes alone through the store's ranged
    read; a chunk whose header is not what was written falls back to the whole read."""
    with open_store(chunked) as store:
        whole, ranges = [], []

        def read_blob(sha):
            whole.append(sha)
            return store.get_blob(sha)

        def read_range(sha, offset, length):
            ranges.append((sha, offset, length))
            return store.read_blob_range(sha, offset, length)

        lazy = DatasetImages(read_blob, created_event(store, app.registry), read_range=read_range)
        for index in (0, 9, 10, 23, 34, -1):
            np.testing.assert_array_equal(lazy.display(index), images[index])
        assert whole == []  # no chunk read whole, none hashed
        assert max(length for _, _, length in ranges) < 1024  # headers and 192-byte images
        # A chunk already in memory is used as it is.
        lazy.chunk(1)
        count = len(ranges)
        np.testing.assert_array_equal(lazy.display(15), images[15])
        assert len(ranges) == count
    sha = created(chunked).data["dataset_chunks"][3]
    with sqlite3.connect(chunked) as db:  # chunk 4's header damaged: shape no longer (5, 8, 8, 3)
        (data,) = db.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
        db.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (data.replace(b"(5, 8", b"(6, 8"), sha))
    with app.projects.open(chunked) as project:
        np.testing.assert_array_equal(project.images().display(2), images[2])
        with pytest.raises(BlobCorrupt, match="no longer matches its hash"):
            project.images().display(33)


def test_a_small_dataset_is_one_chunk_equal_to_the_whole(tmp_path, app, images):
    path = tmp_path / "small.ledger"
    app.projects.create(path, Dataset(images, source="test")).close()
    data = created(path).data
    assert data["dataset_chunks"] == [data["dataset_sha256"]] and data["chunk_samples"] == 35


def test_verify_names_a_chunk_damaged_on_disk(capsys, chunked):
    code, out, _ = run(capsys, "verify", chunked)
    assert code == 0 and "blobs present and intact: 5 referenced" in out  # 4 chunks and the map
    sha = created(chunked).data["dataset_chunks"][2]
    with sqlite3.connect(chunked) as db:
        (data,) = db.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
        damaged = bytearray(data)
        damaged[-5] ^= 0xFF  # one pixel, as a bad disk sector would
        db.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (bytes(damaged), sha))
    code, out, err = run(capsys, "verify", chunked)
    assert code == 2 and err.count("\n") == 1
    assert f"the dataset chunk 3 of 4 blob {sha[:12]}… referenced at position 1" in err
    assert "no longer matches its hash" in err


def test_branch_export_import_and_copy_carry_every_chunk(capsys, tmp_path, app, chunked, images):
    copies = {
        "branch": tmp_path / "branch.ledger",
        "imported": tmp_path / "imported.ledger",
        "copied": tmp_path / "copied.ledger",
    }
    assert run(capsys, "branch", chunked, "--at", 2, copies["branch"])[0] == 0
    events, blobs = tmp_path / "events.jsonl", tmp_path / "blobs"
    code, _, err = run(capsys, "export", chunked, "--events", events, "--blobs", blobs)
    assert code == 0, err
    assert len(list(blobs.iterdir())) == 5
    assert run(capsys, "import-events", events, copies["imported"], "--blobs", blobs)[0] == 0
    copy_project(app.projects, chunked, copies["copied"])
    for path in copies.values():
        code, out, err = run(capsys, "verify", path)
        assert code == 0, err
        with app.projects.open(path) as project:
            np.testing.assert_array_equal(np.asarray(project.images()), images)


def test_a_project_of_one_blob_written_before_chunks_still_opens_verifies_and_branches(
    capsys, tmp_path, app, images
):
    path = tmp_path / "old.ledger"
    data, coords = npy(images), encode_map(pca_map(images))
    with open_store(path, create=True) as store:
        store.put_blob(data)
        store.put_blob(coords)
        meta = {"annotator": "old", "at": 1.0, "command": "CreateProject"}
        created_v2 = {
            "name": "old",
            "dataset_sha256": hashlib.sha256(data).hexdigest(),
            "shape": list(images.shape),
            "class_names": ["a", "b"],
            "source": "release 0.1",
        }
        mapped = {
            "map_sha256": hashlib.sha256(coords).hexdigest(),
            "samples": 35,
            "dims": 2,
            "method": "pca",
            "run_id": None,
        }
        store.append(
            PROJECT_STREAM,
            [NewEvent("ProjectCreated", created_v2, meta, 2), NewEvent("LatentMapComputed", mapped, meta)],
            NO_STREAM,
        )
    with app.projects.open(path) as project:
        np.testing.assert_array_equal(project.images()[9], images[9])
        np.testing.assert_array_equal(np.asarray(project.images()), images)
        project.assign_label(4, "b")
    code, out, err = run(capsys, "verify", path)
    assert code == 0 and "blobs present and intact: 2 referenced" in out, err
    assert run(capsys, "branch", path, "--at", 3, tmp_path / "old-branch.ledger")[0] == 0
    with app.projects.open(tmp_path / "old-branch.ledger") as branch:
        np.testing.assert_array_equal(np.asarray(branch.images()), images)
        assert branch.labels.label_of(4) == 1
