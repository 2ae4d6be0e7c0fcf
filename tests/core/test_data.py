"""Datasets: IDX files, the search for named datasets, image folders, splits."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch
from PIL import Image

from genplay.core import data, datasets
from genplay.core.errors import DatasetError
from tests.conftest import make_idx_dataset


def test_idx_folder_loads_with_labels(tiny_data):
    train = data.load_dataset(tiny_data, "train")
    test = data.load_dataset(tiny_data, "test")
    assert train.images.shape == (32, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.labels.shape == (16,)


def test_resize_and_colour(tiny_data):
    d = data.load_dataset(tiny_data, "train", size=32, channels=3)
    assert d.images.shape == (32, 3, 32, 32)
    assert torch.equal(d.images[:, 0], d.images[:, 2])


def test_named_dataset_found_under_an_explicit_root(tmp_path):
    make_idx_dataset(tmp_path / "root" / "MNIST" / "raw")
    assert datasets.find("mnist", tmp_path / "root") == tmp_path / "root" / "MNIST" / "raw"


def test_named_datasets_come_from_the_data_home_only(data_home):
    # the suite's tiny copies, never a development or user copy
    assert datasets.find("mnist", split="test") == data_home / "mnist"
    assert data.load_dataset("fashion-mnist", "train").images.shape == (32, 1, 28, 28)
    places = datasets.search_places("fashion-mnist", "/somewhere")
    assert places == [Path("/somewhere"), Path("/somewhere/fashion-mnist"),
                      Path("/somewhere/FashionMNIST/raw"), data_home / "fashion-mnist",
                      data_home / "FashionMNIST" / "raw"]


def test_a_missing_dataset_says_in_one_line_how_to_get_it(no_datasets):
    with pytest.raises(datasets.MissingDataset) as caught:
        data.load_dataset("fashion-mnist", "test")
    message = str(caught.value)
    assert "\n" not in message and caught.value.name == "fashion-mnist"
    assert "'fashion-mnist' (test split) is not on this computer" in message
    assert "genplay data get fashion-mnist" in message and str(no_datasets) in message


def test_unknown_name_and_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="neither a known dataset"):
        data.load_dataset(tmp_path / "nothing-here")


def test_malformed_idx_is_a_clear_error(tmp_path):
    make_idx_dataset(tmp_path)
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") * 3 + b"short")
    with pytest.raises(DatasetError, match="does not match its header"):
        data.load_dataset(tmp_path)


def test_image_folder_is_recursive_resized_and_skips_unreadable_files(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (40, 20), (200, 10, 10)).save(tmp_path / "a.png")
    Image.new("L", (5, 7), 99).save(tmp_path / "sub" / "b.jpg")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored")
    d = data.load_dataset(tmp_path, size=16, channels=3)
    assert d.images.shape == (2, 3, 16, 16) and d.labels is None
    assert len(d.skipped) == 1 and "broken.png" in d.skipped[0][0]


def test_only_light_on_dark_data_may_invert_a_users_picture(tmp_path, tiny_data):
    # None: prepare_for_model decides from the border, for MNIST-like data only
    assert data.invert_policy("mnist") is None and data.invert_policy("fashion-mnist") is None
    assert data.invert_policy(str(tiny_data)) is None  # a folder of IDX files
    (tmp_path / "pictures").mkdir()
    Image.new("RGB", (9, 9), (250, 250, 200)).save(tmp_path / "pictures" / "sky.png")
    assert data.invert_policy(str(tmp_path / "pictures")) is False  # taken as they are
    assert data.invert_policy(data.PHOTOS) is False
    assert data.invert_policy(str(tmp_path / "moved-away")) is False


def test_folder_without_images(tmp_path):
    with pytest.raises(DatasetError, match="no readable images"):
        data.load_dataset(tmp_path)


def test_split_is_seeded_and_disjoint(tiny_data):
    d = data.load_dataset(tiny_data)
    a_train, a_val = data.train_val_split(d, 0.25, seed=1)
    b_train, _ = data.train_val_split(d, 0.25, seed=1)
    assert len(a_train) == 24 and len(a_val) == 8
    assert torch.equal(a_train.images, b_train.images)
    rows = {tuple(x.flatten().tolist()) for x in a_train.images}
    assert len(rows & {tuple(x.flatten().tolist()) for x in a_val.images}) <= 1
