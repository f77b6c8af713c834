"""Issue 18.2: an image folder is decoded by worker processes (``DecodeWorkers``) into the
same pixels, in the same order, as one process reads them (and as Pillow reads them, for
every kind of PNG and JPEG); the workers load no heavy modules; a broken image is named in
one line; a cancellation or Ctrl+C leaves no worker and no file; ``new`` on a terminal
counts the images decoded and names the class folder it is reading."""

from __future__ import annotations

import os
import pty
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


def kinds_folder(root, grey):
    """Every kind of PNG and JPEG a person may have, of one channel count: the plain ones
    (decoded by the C decoder straight) and the others (read through ``Image.open``)."""
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    base = Image.fromarray(rgb[..., 0] if grey else rgb)
    exif = Image.Exif()
    exif[0x010E] = "a long description " * 300  # the frame header lies past the first bytes
    if grey:
        kinds = {
            "plain.png": (base, {}),
            "plain.jpg": (base, {"quality": 90}),
            "sixteen.png": (Image.fromarray(rgb[..., 0].astype(np.uint16) * 250), {}),
            "alpha.png": (base.convert("LA"), {}),
            "exif.jpg": (base, {"exif": exif.tobytes()}),
        }
    else:
        kinds = {
            "plain.png": (base, {}),
            "plain.jpg": (base, {"quality": 90}),
            "alpha.png": (base.convert("RGBA"), {}),
            "palette.png": (base.convert("P"), {}),
            "progressive.jpg": (base, {"progressive": True}),
            "cmyk.jpg": (base.convert("CMYK"), {}),
            "exif.jpg": (base, {"exif": exif.tobytes()}),
            "small.png": (base.resize((12, 10)), {}),  # resized to the others' size
        }
    for copy in range(3):
        for name, (image, options) in kinds.items():
            target = root / f"c{copy}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            image.save(target, **options)
    return root


@pytest.mark.parametrize("grey", [False, True], ids=["colour", "grey"])
def test_every_kind_of_png_and_jpeg_decodes_as_pillow_reads_it(tmp_path, grey):
    folder = kinds_folder(tmp_path / "kinds", grey)
    mode = "L" if grey else "RGB"
    files = sorted(folder.glob("*/*"))
    expected = []
    for path in files:
        with Image.open(path) as img:
            converted = img.convert(mode)
            expected.append(
                np.asarray(converted if converted.size == (24, 20) else converted.resize((24, 20)))
            )
    with DecodeWorkers(2) as workers:
        stream = open_dataset(folder, workers)
        images = np.concatenate(list(stream.batches(4)))  # groups of 4: every worker has some
        assert workers.started
    assert images.shape == (len(files), 20, 24) + (() if grey else (3,))
    assert np.array_equal(images, np.stack(expected))  # bit for bit
    assert np.array_equal(read_folder(folder).images, images)  # the same read in this process


def test_the_workers_load_neither_numpy_nor_jax_nor_qt_nor_the_application(tmp_path):
    folder = numbered_folder(tmp_path / "pictures", 3 * GROUP)
    with DecodeWorkers(2) as workers:
        list(open_dataset(folder, workers).batches(GROUP))
        loaded = list(workers(eval, ["sorted(__import__('sys').modules)"] * 2))
    for modules in loaded:
        assert "PIL.Image" in modules and "domain.image_decode" in modules  # they did decode
        heavy = [m for m in modules if m.split(".")[0] in {"numpy", "jax", "flax", "PySide6", "eventstore"}]
        assert heavy == [] and "domain.images" not in modules and "app.project.service" not in modules


def test_new_on_a_terminal_counts_the_images_and_names_the_class_folder(tmp_path):
    folder = numbered_folder(tmp_path / "pictures", 300)  # class folders k0, k1, k2
    terminal, child_side = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "new", str(tmp_path / "p.ledger"), "--dataset", str(folder)],
        stdout=subprocess.PIPE,
        stderr=child_side,
        env={**os.environ, "LEDGERLAB_ANNOTATOR": "tester"},
    )
    os.close(child_side)
    shown = b""
    while True:
        try:
            data = os.read(terminal, 4096)
        except OSError:  # the child's side closed
            break
        if not data:
            break
        shown += data
    os.close(terminal)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, shown
    lines = [line.strip() for line in shown.decode().replace("\r", "\n").splitlines() if line.strip()]
    reading = [line for line in lines if line.startswith("reading images [")]
    assert reading and reading[-1] == f"reading images [{'#' * 30}] 300/300 · k2 (3 of 3)", lines
    assert any(line.startswith("mapping images [") for line in lines), lines
    assert out.decode().startswith(f"created {tmp_path / 'p.ledger'}")
