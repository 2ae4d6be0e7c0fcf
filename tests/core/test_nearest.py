"""Nearest training images and the near-copy yardstick (core/nearest.py), on tiny data."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genplay.core import nearest
from genplay.core.data import ImageDataset


class MeanNet(torch.nn.Module):
    """Features: the image shrunk to 2x2 per channel (what a real classifier would be
    for these tests: close images, close features), seen at `size`."""

    def __init__(self, size: int | None = None):
        super().__init__()
        self.size = size

    def features(self, x):
        if self.size is not None:
            assert x.shape[-1] == self.size, "the index must resize to the net's size"
        return F.adaptive_avg_pool2d(x, 2).flatten(1)


def dataset(n=12, c=3, size=4, seed=0, extra=None):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, c, size, size), generator=g, dtype=torch.uint8)
    return ImageDataset(images, torch.zeros(n, dtype=torch.int64), "tiny",
                        extra_labels=extra or {})


def test_a_training_image_finds_itself_first_in_both_spaces():
    train = dataset()
    index = nearest.TrainingNeighbours(train, MeanNet())
    found = index.query(train.as_float(slice(3, 5)))
    assert found.feature_index.shape == found.pixel_index.shape == (2, nearest.K)
    assert found.feature_index[:, 0].tolist() == [3, 4]
    assert found.pixel_index[:, 0].tolist() == [3, 4]
    assert np.allclose(found.feature_distance[:, 0], 0, atol=1e-5)
    assert np.allclose(found.pixel_distance[:, 0], 0, atol=1e-5)
    # nearest first
    assert (np.diff(found.feature_distance, axis=1) >= -1e-6).all()
    assert (np.diff(found.pixel_distance, axis=1) >= -1e-6).all()


def test_pixel_distance_is_the_rms_difference_in_unit_values():
    train = ImageDataset(torch.full((3, 1, 4, 4), 100, dtype=torch.uint8), None, "flat")
    train.images[1] = 0
    train.images[2] = 255
    query = torch.full((1, 1, 4, 4), 100 / 255 + 0.1)
    found = nearest.TrainingNeighbours(train, MeanNet()).query(query, k=3)
    assert found.pixel_index[0].tolist() == [0, 1, 2]  # 0.1 from grey, 0.49 from black
    assert found.pixel_distance[0].tolist() == pytest.approx(
        [0.1, 100 / 255 + 0.1, 1 - 100 / 255 - 0.1], abs=1e-4)


def test_the_pixel_search_runs_in_chunks_and_finds_the_same(monkeypatch):
    train = dataset(n=30)
    index = nearest.TrainingNeighbours(train, MeanNet())
    query = torch.rand(5, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    whole = index._nearest_pixels(query, 4)
    chunked = index._nearest_pixels(query, 4, chunk=7)
    assert (whole[0] == chunked[0]).all() and np.allclose(whole[1], chunked[1])


def test_the_net_sees_images_at_its_own_size():
    train = dataset(size=4)
    index = nearest.TrainingNeighbours(train, MeanNet(size=8), net_size=8)
    found = index.query(train.as_float(slice(0, 2)), k=2)
    assert found.feature_index[:, 0].tolist() == [0, 1]
    with pytest.raises(ValueError, match="shape"):
        index.query(torch.rand(1, 3, 5, 5))


def emoji_labels():
    # emoji 0 in styles 0, 1, 2 (no tone) and with a skin tone in style 0; emoji 1 in one
    # style only; emoji 2 in styles 0 and 2
    emoji_ids = [0, 0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3]
    styles = [0, 1, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0]
    tones = [0, 0, 0, 3, 0, 0, 0, 0, 1, 2, 3, 4]
    return {k: torch.tensor(v) for k, v in
            (("emoji", emoji_ids), ("style", styles), ("tone", tones))}


def test_pairs_are_one_emoji_in_two_styles_without_skin_tones():
    pairs = nearest.same_emoji_pairs(dataset(extra=emoji_labels()))
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (0, 2), (1, 2), (5, 6)]
    assert len(nearest.same_emoji_pairs(dataset())) == 0


def test_the_emoji_style_threshold_is_the_median_distance_of_those_pairs():
    train = dataset(extra=emoji_labels())
    index = nearest.TrainingNeighbours(train, MeanNet())
    f = index.train_features
    pairs = [(0, 1), (0, 2), (1, 2), (5, 6)]
    expected = torch.stack([(f[a] - f[b]).norm() for a, b in pairs]).median()
    assert nearest.style_threshold(index) == pytest.approx(float(expected))
    assert nearest.style_threshold(nearest.TrainingNeighbours(dataset(), MeanNet())) is None


def test_the_copy_threshold_lets_5_percent_of_the_test_images_through():
    train, test = dataset(n=40, seed=0), dataset(n=20, seed=1)
    index = nearest.TrainingNeighbours(train, MeanNet())
    real = index.features_of(test.as_float())
    threshold, twins = nearest.copy_threshold(index, real)
    share = nearest.copy_fraction(index, real, threshold + 1e-6)
    assert 0 < share <= 0.1 and twins == 0  # about 5% of the test images fall within it
    with pytest.raises(ValueError, match="test images"):
        nearest.copy_threshold(index, real[:0])


def test_test_images_that_are_training_pictures_are_counted_not_measured():
    train = dataset(n=40, seed=0)
    unseen = dataset(n=19, seed=1)
    twins = train.subset(torch.arange(3))  # the same pictures under other names
    test = ImageDataset(torch.cat([twins.images, unseen.images]), None, "tiny")
    index = nearest.TrainingNeighbours(train, MeanNet())
    threshold, share = nearest.copy_threshold(index, index.features_of(test.as_float()))
    assert share == pytest.approx(3 / 22)
    unseen_threshold, _ = nearest.copy_threshold(index, index.features_of(unseen.as_float()))
    assert threshold == unseen_threshold > 0


def test_copies_of_training_images_are_flagged_and_far_images_are_not():
    train, test = dataset(n=12, extra=emoji_labels()), dataset(n=20, seed=1)
    index = nearest.TrainingNeighbours(train, MeanNet())
    threshold, _ = nearest.copy_threshold(index, index.features_of(test.as_float()))
    copies = index.features_of(train.as_float())
    assert threshold > 0 and nearest.copy_fraction(index, copies, threshold) == 1.0
    far = index.features_of(torch.full((4, 3, 4, 4), 5.0))
    assert nearest.copy_fraction(index, far, threshold) == 0.0
    assert nearest.copy_fraction(index, far[:0], threshold) == 0.0


# --- the op behind the Sampling panel's "Nearest training images…" and genplay nearest -----
def test_the_op_finds_a_training_image_and_calls_it_a_near_copy(model_with_classifier):
    from genplay.core import checkpoints
    from genplay.core.data import load_dataset
    from genplay.core.events import Result
    from genplay.core.ops.nearest_images import nearest_training_images

    info = checkpoints.read_info(model_with_classifier)
    train = load_dataset("mnist", "train", size=8)
    image = train.images[5].permute(1, 2, 0).numpy()  # uint8 HWC, as a PNG would give
    events = list(nearest_training_images(image, dataset="mnist", shape=info.image_shape,
                                          model_path=info.path, k=3))
    value = events[-1].value
    assert isinstance(events[-1], Result) and "5% of the test images" in value["threshold_note"]
    first = value["features"][0]
    assert first["distance"] == pytest.approx(0, abs=1e-4) and value["near_copy"]
    assert (first["pixels"] == image).all() and first["label"] == train.class_names[
        int(train.labels[5])]
    assert value["pixels"][0]["index"] == 5 and len(value["pixels"]) == 3
    # a far image is not; and the index is kept, so the second ask builds nothing
    far = np.full((1, 8, 8), 0.5, np.float32)
    again = list(nearest_training_images(far, dataset="mnist", shape=info.image_shape,
                                         model_path=info.path))
    assert len(again) == 2 and not again[-1].value["near_copy"]  # one Progress: the search
    with pytest.raises(Exception, match="shape"):
        list(nearest_training_images(np.zeros((1, 4, 4), np.float32), dataset="mnist",
                                     shape=info.image_shape, model_path=info.path))


def test_without_a_classifier_the_op_says_how_to_get_one(tmp_path):
    from genplay.core.errors import GenplayError
    from genplay.core.ops.nearest_images import nearest_training_images

    with pytest.raises(GenplayError, match="genplay train classifier --data photos"):
        list(nearest_training_images(np.zeros((1, 8, 8), np.float32), dataset="photos",
                                     shape=(1, 8, 8), model_path=tmp_path / "m"))
