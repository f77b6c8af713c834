"""Issue 18.2 and 18.4: ``new`` reads a .npz (mapped or decompressed batch by batch) or an
image folder (grey or colour) in chunks, and builds the file beside its final name, so an
interrupted or killed ``new`` (issue 15) leaves nothing a later ``new`` trips over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from app.cli.main import main
from app.project.bootstrap import bootstrap
from domain.dataset import load_mnist, open_dataset
from domain.errors import DatasetError
from domain.images import stream_of
from domain.initial_map import pca_map
from domain.streaming_map import StreamingMap

SMALL = 1000  # bytes a chunk: a few images, so many chunks from a small dataset


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def app(tmp_path):
    return bootstrap(annotator="tester", data_dir=tmp_path / "data")


def files(folder):
    """What a person sees in the folder (hidden build folders included)."""
    return sorted(p.name for p in folder.iterdir() if p.name != "data")


def stored(app, path):
    with app.projects.open(path) as project:
        return np.asarray(project.images()).copy(), project.info


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["mapped", "decompressed"])
def test_a_npz_is_streamed_into_chunks(tmp_path, app, save):
    images = np.random.default_rng(1).integers(0, 256, (57, 9, 7, 3), dtype=np.uint8)
    save(tmp_path / "d.npz", images=images, labels=np.arange(57), class_names=np.array(["x", "y"]))
    stream = open_dataset(tmp_path / "d.npz")
    assert stream.shape == (57, 9, 7, 3) and stream.class_names == ("x", "y")
    assert [len(b) for b in stream.batches(20)] == [20, 20, 17]
    seen = []
    app.projects.create(
        tmp_path / "d.ledger", stream, chunk_bytes=SMALL, progress=lambda *a: seen.append(a)
    ).close()
    got, info = stored(app, tmp_path / "d.ledger")
    np.testing.assert_array_equal(got, images)
    assert info.class_names == ("x", "y")
    assert seen[0] == ("storing", 5, 57) and seen[-1] == ("mapping", 57, 57)  # 189 B an image


def test_float_pixels_are_converted_batch_by_batch_and_a_nan_is_named_in_the_whole_set(tmp_path, app):
    floats = np.random.default_rng(2).random((40, 6, 6)).astype(np.float32)
    np.savez_compressed(tmp_path / "f.npz", images=floats)
    app.projects.create(tmp_path / "f.ledger", open_dataset(tmp_path / "f.npz"), chunk_bytes=SMALL).close()
    got, _ = stored(app, tmp_path / "f.ledger")
    np.testing.assert_array_equal(got, np.rint(floats * 255).astype(np.uint8))
    floats[33, 1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", images=floats)
    with pytest.raises(DatasetError, match="image 33 contains NaN"):
        app.projects.create(tmp_path / "nan.ledger", open_dataset(tmp_path / "nan.npz"), chunk_bytes=SMALL)
    assert files(tmp_path) == ["f.ledger", "f.npz", "nan.npz"]


@pytest.mark.parametrize("mode, shape", [("RGB", (3,)), ("L", ())], ids=["colour", "grey"])
def test_an_image_folder_of_either_kind_is_stored_at_its_own_size(tmp_path, app, mode, shape):
    rng = np.random.default_rng(3)
    folder = tmp_path / "pictures"
    pictures = []
    for i in range(23):
        (folder / f"class{i % 2}").mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (10, 12, *shape), dtype=np.uint8)
        Image.fromarray(pixels, mode).save(folder / f"class{i % 2}" / f"{i:02d}.png")
        pictures.append((f"class{i % 2}/{i:02d}", pixels))
    app.projects.create(tmp_path / "p.ledger", open_dataset(folder), chunk_bytes=SMALL).close()
    got, info = stored(app, tmp_path / "p.ledger")
    assert got.shape == (23, 10, 12, *shape)
    expected = np.stack([pixels for _, pixels in sorted(pictures)])
    np.testing.assert_array_equal(got, expected)
    assert info.class_names == ("class0", "class1")


def test_a_folder_mixing_grey_and_colour_is_one_line(tmp_path, capsys):
    Image.new("L", (5, 5)).save(tmp_path / "a.png")
    Image.new("RGB", (5, 5)).save(tmp_path / "b.png")
    code, _, err = run(capsys, "new", tmp_path / "m.ledger", "--dataset", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "mixes channel counts" in err
    assert not (tmp_path / "m.ledger").exists()


def test_an_interrupted_creation_leaves_no_file_and_no_folder(tmp_path, app):
    images = np.zeros((50, 8, 8), np.uint8)
    np.savez(tmp_path / "d.npz", images=images)

    def interrupt(stage, done, total):
        if done > 20:
            raise KeyboardInterrupt  # what Ctrl+C raises in the middle of the import

    with pytest.raises(KeyboardInterrupt):
        app.projects.create(
            tmp_path / "d.ledger", open_dataset(tmp_path / "d.npz"), chunk_bytes=640, progress=interrupt
        )
    assert files(tmp_path) == ["d.npz"]
    app.projects.create(tmp_path / "d.ledger", open_dataset(tmp_path / "d.npz")).close()  # works again


def _ledgerlab(*args: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LEDGERLAB_ANNOTATOR": "tester"},
    )


def wait_for_build_folder(folder, process):
    """Until ``new`` has begun building its file beside the target."""
    deadline = time.monotonic() + 60
    while not any(name.startswith(".d.ledger.") for name in files(folder)):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)


def test_a_new_killed_at_any_moment_leaves_nothing_under_the_name(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", images=np.zeros((20_000, 28, 28), np.uint8))
    target = tmp_path / "d.ledger"
    for delay in (0.01, 0.3, 1.0, 2.0):
        process = _ledgerlab("new", target, "--dataset", tmp_path / "d.npz")
        time.sleep(delay)
        process.kill()
        process.communicate()
        if target.exists():  # it finished first: then it is whole
            code, out, err = run(capsys, "info", target)
            assert code == 0 and "20000 samples" in out, err
            target.unlink()
        assert not target.exists()  # never a half-made file that `info` calls "not a project"
    process = _ledgerlab("new", target, "--dataset", tmp_path / "d.npz")
    wait_for_build_folder(tmp_path, process)
    process.kill()
    process.communicate()
    assert not target.exists() and any(name.startswith(".d.ledger.") for name in files(tmp_path))
    code, out, err = run(capsys, "new", target, "--dataset", tmp_path / "d.npz")
    assert code == 0, err
    assert files(tmp_path) == ["d.ledger", "d.npz"]  # the killed ones' build folders swept


def test_ctrl_c_during_new_cancels_cleanly(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((150_000, 28, 28), np.uint8))  # 118 MB
    process = _ledgerlab("new", tmp_path / "d.ledger", "--dataset", tmp_path / "d.npz")
    wait_for_build_folder(tmp_path, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the import finished before the interrupt arrived (a very fast machine)")
    assert process.returncode == 130, err
    assert err.decode().strip() == "ledgerlab: new: interrupted; nothing was created"
    assert files(tmp_path) == ["d.npz"]


def test_importing_an_empty_export_creates_no_file(tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    code, _, err = run(capsys, "import-events", tmp_path / "empty.jsonl", tmp_path / "x.ledger")
    assert code == 2 and err.count("\n") == 1
    assert files(tmp_path) == ["empty.jsonl"]


def test_the_first_map_fitted_batch_by_batch_is_pca_map_when_the_sample_is_whole():
    images = load_mnist().images
    mapping = StreamingMap(len(images), 28 * 28)
    batches = list(stream_of(load_mnist()).batches(3000))
    for i, batch in enumerate(batches):
        mapping.add(3000 * i, batch)
    mapping.fit()
    for i, batch in enumerate(batches):
        mapping.project(3000 * i, batch)
    np.testing.assert_allclose(mapping.coordinates(), pca_map(images), atol=1e-5)


def test_one_channel_images_are_stored_as_grey(tmp_path, app):
    images = np.random.default_rng(4).integers(0, 256, (9, 5, 4, 1), dtype=np.uint8)
    np.savez(tmp_path / "g.npz", images=images)
    app.projects.create(tmp_path / "g.ledger", open_dataset(tmp_path / "g.npz"), chunk_bytes=SMALL).close()
    got, info = stored(app, tmp_path / "g.ledger")
    assert info.shape == (9, 5, 4)
    np.testing.assert_array_equal(got, images[..., 0])
