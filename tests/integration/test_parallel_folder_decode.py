"""Issue 18.2: an image folder is decoded by worker processes (``DecodeWorkers``) into the
same pixels, in the same order, as one process reads them; a broken image is named in one
line; a cancellation or Ctrl+C leaves no worker and no file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
from PIL import Image

from app.project.decode_workers import Cancelled, DecodeWorkers
from domain.dataset import open_dataset
from domain.errors import DatasetError
from domain.image_folder import GROUP, read_folder


def numbered_folder(root, count, side=12):
    """Image i (in reading order) carries its number in its first pixels; PNG and JPEG
    alternate, and every seventh image has another size (so it is resized)."""
    rng = np.random.default_rng(0)
    for i in range(count):
        size = side + 4 if i % 7 == 3 else side
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        pixels[0, 0] = (i % 256, i // 256, 0)
        target = root / f"k{i // 100}" / f"{i:05d}.{'png' if i % 2 == 0 else 'jpg'}"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(target, quality=95) if i % 2 else Image.fromarray(pixels).save(target)
    return root


def plain_loop(files, size):
    out = []
    for path in files:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
            out.append(np.asarray(rgb if rgb.size == size else rgb.resize(size)))
    return np.stack(out)


def children():
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_workers_decode_the_same_pixels_in_the_same_order(tmp_path):
    folder = numbered_folder(tmp_path / "pictures", 5 * GROUP + 17)
    serial = read_folder(folder).images
    with DecodeWorkers(2) as workers:
        stream = open_dataset(folder, workers)
        batches = list(stream.batches(50))  # batches that do not line up with the groups
        assert workers.started
    parallel = np.concatenate(batches)
    assert [len(b) for b in batches] == [50] * 6 + [37]
    assert parallel.dtype == np.uint8 and np.array_equal(parallel, serial)  # bit for bit
    files = sorted(folder.glob("*/*"))
    assert np.array_equal(parallel, plain_loop(files, (12, 12)))
    kept = [i for i in range(0, len(files), 2) if i % 7 != 3]  # lossless and not resized
    numbers = parallel[kept, 0, 0, 0].astype(int) + 256 * parallel[kept, 0, 0, 1].astype(int)
    assert list(numbers) == kept  # each image carries its number: the order is kept
    assert stream.class_names == ("k0", "k1", "k2", "k3")


def test_a_broken_image_is_named_in_one_line_from_a_worker(tmp_path):
    folder = numbered_folder(tmp_path / "pictures", 3 * GROUP)
    # A valid PNG header (so the header pass accepts it) over pixels that do not decode.
    good = (folder / "k1" / "00100.png").read_bytes()
    (folder / "k1" / "00100.png").write_bytes(good[:60] + b"\0" * 40)
    with DecodeWorkers(2) as workers:
        stream = open_dataset(folder, workers)
        with pytest.raises(DatasetError) as err:
            list(stream.batches(64))
    message = str(err.value)
    assert message.startswith(f"cannot read image {os.path.join('k1', '00100.png')} in {folder} (")
    assert message.endswith("; remove or replace the file") and "\n" not in message
    (folder / "k0" / "00007.jpg").write_bytes(b"not an image")  # refused by the header pass
    with DecodeWorkers(2) as workers, pytest.raises(DatasetError, match=r"cannot read image k0/00007.jpg"):
        open_dataset(folder, workers)


def test_a_cancelled_reading_stops_its_workers(tmp_path):
    folder = numbered_folder(tmp_path / "pictures", 6 * GROUP)
    before = children()
    stop = []
    with DecodeWorkers(2, stop=lambda: bool(stop)) as workers:
        stream = open_dataset(folder, workers)
        batches = stream.batches(GROUP)
        next(batches)
        assert workers.started and len(children() - before) == 2
        stop.append(True)
        with pytest.raises(Cancelled):
            next(batches)
    assert children() - before == set()


def test_ctrl_c_during_new_from_a_folder_leaves_no_file_and_no_worker(tmp_path):
    folder = numbered_folder(tmp_path / "pictures", 3000, side=32)
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "new", str(tmp_path / "p.ledger"), "--dataset", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LEDGERLAB_ANNOTATOR": "tester"},
    )
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
        try:
            workers |= {p.pid for p in psutil.Process(process.pid).children()}
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the import finished before the interrupt arrived (a very fast machine)")
    assert len(workers) == 2, err
    assert process.returncode == 130, err
    assert err.decode().strip().endswith("interrupted; nothing was created") or err.decode().strip() == (
        "ledgerlab: interrupted"
    )
    assert sorted(os.listdir(tmp_path)) == ["pictures"]
    time.sleep(0.2)
    assert [
        pid for pid in workers if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
    ] == []
