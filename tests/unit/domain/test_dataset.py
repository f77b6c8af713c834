import os

import numpy as np
import pytest
from PIL import Image

from domain.dataset import load_dataset, load_mnist
from domain.errors import DatasetError
from domain.initial_map import decode_map, encode_map, pca_map


def save_npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_the_embedded_set_loads_with_digit_classes_and_evaluation_only_labels():
    ds = load_mnist()
    assert ds.shape == (10000, 28, 28) and ds.images.dtype == np.uint8
    assert ds.class_names == tuple("0123456789")
    assert np.bincount(ds.true_labels).tolist()[:3] == [1001, 1127, 991]


def test_a_missing_embedded_set_says_to_reinstall(tmp_path):
    with pytest.raises(DatasetError, match="embedded MNIST set is missing.*reinstall"):
        load_mnist(tmp_path)


def test_npz_grey_colour_and_float_images(tmp_path):
    grey = load_dataset(save_npz(tmp_path, images=np.zeros((5, 8, 8), np.uint8)))
    assert grey.shape == (5, 8, 8)
    rgb = load_dataset(save_npz(tmp_path, "c.npz", images=np.zeros((4, 6, 6, 3), np.uint8)))
    assert rgb.shape == (4, 6, 6, 3)
    floats = np.full((3, 4, 4), 0.5, np.float32)
    f = load_dataset(save_npz(tmp_path, "f.npz", images=floats, labels=np.arange(3)))
    assert f.images.dtype == np.uint8 and f.images[0, 0, 0] == 128
    assert any("labels" in n for n in f.notes) and any("8-bit" in n for n in f.notes)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((0, 8, 8), np.uint8), "the dataset is empty"),
        (np.zeros((5, 64), np.uint8), r"shape \(5, 64\); expected N×H×W"),
        (np.zeros((5, 8, 8, 2), np.uint8), "2 channels; use 1"),
        (np.zeros((5, 8, 8), np.int64), "pixels are int64; store uint8"),
        (np.full((5, 8, 8), 2.0), "range from 2 to 2; scale them to"),
    ],
)
def test_bad_npz_arrays_are_explained(tmp_path, images, message):
    path = save_npz(tmp_path, images=images)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset(path)
    assert str(path) in str(err.value)


def test_nan_pixels_name_the_image(tmp_path):
    images = np.zeros((5, 8, 8), np.float32)
    images[3, 2, 2] = np.nan
    with pytest.raises(DatasetError, match="image 3 contains NaN"):
        load_dataset(save_npz(tmp_path, images=images))


def test_npz_problems_with_the_file_itself(tmp_path):
    with pytest.raises(DatasetError, match="no 'images' array \\(it has pixels\\)"):
        load_dataset(save_npz(tmp_path, pixels=np.zeros((2, 2, 2))))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="cannot read .*broken.npz"):
        load_dataset(broken)
    objects = save_npz(tmp_path, "o.npz", images=np.array([None, 1], dtype=object))
    with pytest.raises(DatasetError, match="Python objects"):
        load_dataset(objects)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope.npz")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DatasetError, match="neither a .npz file nor a folder"):
        load_dataset(tmp_path / "x.txt")


def write_png(path, size=(8, 8), mode="L", value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 0)).save(path)


def test_a_folder_of_images_with_class_subfolders(tmp_path):
    for i in range(3):
        write_png(tmp_path / "cats" / f"{i}.png")
        write_png(tmp_path / "dogs" / f"{i}.jpg")
    ds = load_dataset(tmp_path)
    assert ds.shape == (6, 8, 8)
    assert ds.class_names == ("cats", "dogs")
    assert ds.notes == ()


def test_odd_sized_images_are_resized_to_the_most_common_size_with_a_note(tmp_path):
    for i in range(3):
        write_png(tmp_path / f"{i}.png")
    write_png(tmp_path / "big.png", size=(16, 12))
    ds = load_dataset(tmp_path)
    assert ds.shape == (4, 8, 8)
    assert ds.notes == ("resized 1 of 4 images to 8×8, the most common size (e.g. big.png was 16×12)",)


def test_mixed_channel_counts_are_refused(tmp_path):
    write_png(tmp_path / "a.png")
    write_png(tmp_path / "b.png", mode="RGB")
    with pytest.raises(
        DatasetError, match="1 greyscale images \\(e.g. a.png\\) and 1 colour images \\(e.g. b.png\\)"
    ):
        load_dataset(tmp_path)


def test_an_unreadable_image_is_named(tmp_path):
    write_png(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DatasetError, match="cannot read image bad.png.*remove or replace"):
        load_dataset(tmp_path)


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="contains no PNG or JPEG images"):
        load_dataset(tmp_path)


def test_links_leaving_the_chosen_folder_are_refused(tmp_path):
    chosen, elsewhere = tmp_path / "chosen", tmp_path / "elsewhere"
    write_png(chosen / "a.png")
    write_png(elsewhere / "secret.png")
    os.symlink(elsewhere / "secret.png", chosen / "link.png")
    with pytest.raises(DatasetError, match="link.png links to .*secret.png, outside the folder you chose"):
        load_dataset(chosen)
    os.remove(chosen / "link.png")
    os.symlink(elsewhere, chosen / "sub")
    with pytest.raises(DatasetError, match="sub links to .*outside the folder"):
        load_dataset(chosen)


def test_links_inside_the_folder_are_read_once(tmp_path):
    write_png(tmp_path / "d" / "a.png")
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    assert len(load_dataset(tmp_path)) == 1


def test_the_initial_map_separates_what_differs_and_is_deterministic():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 30, (40, 8, 8), dtype=np.uint8)
    images[20:, :4] += 200  # two clearly different groups
    coords = pca_map(images)
    assert coords.shape == (40, 2) and coords.dtype == np.float32
    assert np.abs(coords).max() <= 1.0
    first, second = coords[:20, 0], coords[20:, 0]
    assert first.max() < second.min() or second.max() < first.min()
    np.testing.assert_array_equal(pca_map(images), coords)
    np.testing.assert_array_equal(decode_map(encode_map(coords)), coords)
