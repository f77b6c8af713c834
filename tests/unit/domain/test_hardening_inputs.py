"""Issue 15: bad inputs to the domain end in one sentence that says what is wrong and
what to do (a ``DomainError``/``DatasetError``), never in an internal error."""

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from domain import commands as c
from domain.dataset import load_dataset
from domain.decide import check_name
from domain.errors import DatasetError, DomainError

from .conftest import Session

# --- .npz files ------------------------------------------------------------------------


def _npz_with_member(path, member: bytes) -> str:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("images.npy", member)
    return str(path)


def _header(shape) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_an_npz_header_claiming_an_impossible_size_is_refused_before_any_allocation(tmp_path):
    # Before: MemoryError ("Unable to allocate 711. PiB"), an internal error.
    path = _npz_with_member(tmp_path / "huge.npz", _header((10**12, 10**5, 8)) + bytes(100))
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    message = str(err.value)
    assert "array 'images' is incomplete: its header claims shape (1000000000000, 100000, 8)" in message
    assert "but the file holds 100 bytes of data" in message and "save or copy it again" in message


def test_a_truncated_npz_is_called_incomplete_not_python_objects(tmp_path):
    np.savez(tmp_path / "ok.npz", images=np.zeros((50, 8, 8), np.uint8))
    with zipfile.ZipFile(tmp_path / "ok.npz") as z:
        whole = z.read("images.npy")
    path = _npz_with_member(tmp_path / "cut.npz", whole[:-100])
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert "Python objects" not in str(err.value)
    assert "is incomplete" in str(err.value) and "(the file was cut off or damaged)" in str(err.value)


def test_an_npz_of_python_objects_is_still_named_so(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, 2], dtype=object), allow_pickle=True)
    path = _npz_with_member(tmp_path / "objects.npz", buffer.getvalue())
    with pytest.raises(DatasetError, match="array 'images' holds Python objects; save plain numeric arrays"):
        load_dataset(path)


def test_an_npz_with_an_unreadable_header_is_a_sentence(tmp_path):
    path = _npz_with_member(tmp_path / "garbled.npz", b"\x93NUMPY\x01\x00" + b"\xff" * 40)
    with pytest.raises(DatasetError, match="the header of array 'images' is unreadable"):
        load_dataset(path)


# --- image folders ---------------------------------------------------------------------


def test_an_image_over_the_pixel_budget_is_refused_with_a_sentence(tmp_path, monkeypatch):
    # Before: DecompressionBombError, an internal error. A small budget keeps the test light.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.new("L", (8, 8)).save(folder / "small.png")
    Image.new("L", (50, 50)).save(folder / "bomb.png")
    with pytest.raises(DatasetError) as err:
        load_dataset(folder)
    assert str(err.value) == (
        f"image bomb.png in {folder} is too large to read safely (more than 2,000 pixels); "
        "shrink it or remove it from the folder"
    )


def test_an_unreadable_folder_is_not_called_empty(tmp_path, monkeypatch):
    # Before: "contains no PNG or JPEG images". Tests may run as root, for whom chmod
    # does not deny reading, so the refusal the kernel would give is simulated.
    folder = tmp_path / "pictures"
    (folder / "cats").mkdir(parents=True)
    Image.new("L", (8, 8)).save(folder / "cats" / "a.png")
    real_scandir = os.scandir

    def denied(path="."):
        if os.fspath(path).endswith("cats"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    with pytest.raises(DatasetError) as err:
        load_dataset(folder)
    assert str(err.value) == (
        f"cannot read the folder {folder / 'cats'} (Permission denied); check its permissions "
        "(every folder under the one you chose must be readable) or choose another folder"
    )


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, shown",
    [
        ("a\nb", "a line break"),
        ("x\ty", "a tab"),
        ("bell\x07", "a control character"),
        ("a\u2028b", "a line separator"),
    ],
)
def test_names_with_control_characters_are_refused(name, shown):
    with pytest.raises(DomainError, match=f"contains {shown}"):
        check_name("class name", name)


def test_class_names_with_a_newline_are_refused_when_added_renamed_or_created(session):
    with pytest.raises(
        DomainError, match=r"the class name 'dog\\nx' contains a line break \(U\+000A, character 4\)"
    ):
        session.run(c.AddClass("dog\nx"))
    with pytest.raises(DomainError, match="contains a line break"):
        session.run(c.RenameClass("a", "b\nc"))
    with pytest.raises(DomainError, match="contains a line break"):
        Session(classes=("cat", "do\ng"))
    assert session.state.info.class_names == ("a", "b", "c")  # nothing was recorded


def test_project_and_annotator_names_with_control_characters_are_refused(session):
    from domain.projections import ProjectProjections

    with pytest.raises(DomainError, match="the project name 'my\\\\rproject' contains a carriage return"):
        from domain.decide import decide

        decide(
            ProjectProjections(session.log.registry),
            c.CreateProject("my\rproject", "f" * 64, (5, 8, 8), (), "test", "e" * 64),
        )
    with pytest.raises(DomainError, match="the annotator name 'al\\\\nice' contains a line break"):
        session.run(c.Undo("al\nice"))
    with pytest.raises(DomainError, match="the annotator name"):
        session.run(c.Redo("bob\x00"))


def test_renaming_a_class_to_an_existing_name_quotes_that_class_s_number(session):
    # Before: "class 'c' already exists (number 1)": counted without the renamed class.
    with pytest.raises(DomainError) as err:
        session.run(c.RenameClass("a", "c"))
    assert str(err.value) == "class 'c' already exists (number 2): choose another name"
    assert session.run(c.RenameClass("a", " a ")) == []  # its own name: nothing to do
