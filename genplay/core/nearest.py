"""Is it new or copied? The training images nearest to generated ones.

Small datasets invite memorisation: a model can learn to give back its training images.
For any image, `TrainingNeighbours.query` finds the closest training images in two
spaces: the dataset classifier's features (what FID and KID see: close there means the
same kind of thing, drawn alike) and pixels (RMS difference of values in [0, 1] at the
model's size: close there means the same picture).

Whether "closest" is "copied" needs a yardstick, `copy_threshold`: the feature distance
within which only 5% of the test images (real images the model never saw) have a
training image. A model that makes new images has about that share of its samples within
it; one that gives back its training images has more. `copy_fraction` is the share of
images whose nearest training image (features) lies within it; `genplay eval` reports it
for 1,000 samples.

For the emoji, `style_threshold` is the yardstick first proposed for them: the median
feature distance between two drawings of one emoji in different styles (skin-tone
variants left out). It is reported beside, with the share of test images it flags, which
shows why it is not the verdict: in a classifier's feature space the styles of one emoji
lie further apart than most images lie from their nearest training image, so it flags
nearly every real test image too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genplay.core import checkpoints
from genplay.core.data import ImageDataset
from genplay.core.errors import GenplayError
from genplay.core.models.features import image_features

K = 4  # neighbours shown for an image
COPY_SAMPLES = 1000  # samples genplay eval checks for near-copies
TEST_PERCENTILE = 5.0  # the copy threshold: this share of unseen test images fall within it
TWIN_DISTANCE = 1e-4  # feature distance of a test image that is a training picture itself
THRESHOLD_NOTE = (f"feature distance within which {TEST_PERCENTILE:g}% of the test images "
                  "(never trained on) have a training image")


@dataclass(frozen=True)
class Neighbours:
    """The k nearest training images of each of N images: indices into the training split
    and distances, in the feature space and in pixels, nearest first."""

    feature_index: np.ndarray  # int64 (N, k)
    feature_distance: np.ndarray  # float32 (N, k)
    pixel_index: np.ndarray  # int64 (N, k)
    pixel_distance: np.ndarray  # float32 (N, k): RMS of the difference, values in [0, 1]


def _nearest(query: torch.Tensor, bank: torch.Tensor, k: int,
             chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Indices and Euclidean distances of the k rows of bank nearest to each row of query."""
    k = min(k, len(bank))
    index, distance = [], []
    for i in range(0, len(query), chunk):
        # exact differences, not the matrix-product shortcut: a copy is at 0, not 1e-4
        d = torch.cdist(query[i:i + chunk].float(), bank.float(),
                        compute_mode="donot_use_mm_for_euclid_dist")
        best = d.topk(k, dim=1, largest=False)
        index.append(best.indices)
        distance.append(best.values)
    if not index:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
    return (torch.cat(index).numpy().astype(np.int64),
            torch.cat(distance).numpy().astype(np.float32))


def split_features(train: ImageDataset, net: torch.nn.Module, net_size: int | None,
                   layered: bool = False) -> torch.Tensor:
    """image_features of a whole split, read in slices: the split as floats would be 4x its
    bytes (480 MB for the emoji)."""
    if not len(train):
        return torch.zeros(0)
    return torch.cat([image_features(net, train.as_float(slice(i, i + 2048)), net_size,
                                     layered=layered) for i in range(0, len(train), 2048)])


class TrainingNeighbours:
    """The training split, indexed for nearest-neighbour queries in features and pixels.

    train: the split at the model's size and channels; net: the dataset's classifier
    (anything with .features(x)); net_size: the side of the images it sees (models'
    images of another size are resized to it)."""

    def __init__(self, train: ImageDataset, net: torch.nn.Module, net_size: int | None = None):
        self.train = train
        self.net = net
        self.net_size = net_size
        self.train_features = split_features(train, net, net_size)
        self._pixels_scale = float(np.sqrt(train.images[0].numel())) if len(train) else 1.0

    def features_of(self, images: torch.Tensor) -> torch.Tensor:
        return image_features(self.net, images, self.net_size)

    def _pixels(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().flatten(1)

    def query(self, images: torch.Tensor, k: int = K,
              image_features: torch.Tensor | None = None) -> Neighbours:
        """The k nearest training images of float images (N, C, H, W) in [0, 1] of the
        training split's shape (image_features: their features, if known already)."""
        if tuple(images.shape[1:]) != tuple(self.train.images.shape[1:]):
            raise ValueError(f"images of shape {tuple(images.shape[1:])} against a training "
                             f"split of {tuple(self.train.images.shape[1:])}")
        feats = self.features_of(images) if image_features is None else image_features
        fi, fd = self.nearest_in_features(feats, k)
        pi, pd = self._nearest_pixels(images, k)
        return Neighbours(fi, fd, pi, pd)

    def nearest_in_features(self, image_features: torch.Tensor,
                            k: int = K) -> tuple[np.ndarray, np.ndarray]:
        """Indices and distances of the k training images nearest in the feature space."""
        return _nearest(image_features, self.train_features, k)

    def _nearest_pixels(self, images: torch.Tensor, k: int,
                        chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """As _nearest, over the training split in chunks (never all of it as floats)."""
        query = self._pixels(images)
        k = min(k, len(self.train))
        best_d = torch.full((len(query), k), float("inf"))
        best_i = torch.zeros((len(query), k), dtype=torch.int64)
        for j in range(0, len(self.train), chunk):
            bank = self._pixels(self.train.as_float(slice(j, j + chunk)))
            d = torch.cdist(query, bank)
            d_all = torch.cat([best_d, d], dim=1)
            i_all = torch.cat([best_i, torch.arange(j, j + len(bank)).expand(len(query), -1)],
                              dim=1)
            top = d_all.topk(k, dim=1, largest=False)
            best_d, best_i = top.values, i_all.gather(1, top.indices)
        return best_i.numpy(), (best_d / self._pixels_scale).numpy().astype(np.float32)


def same_emoji_pairs(train: ImageDataset) -> np.ndarray:
    """(P, 2) indices of training images that draw one emoji, without a skin tone, in two
    different styles; empty where the split has no such labels."""
    labels = train.extra_labels
    if "emoji" not in labels or "style" not in labels:
        return np.zeros((0, 2), np.int64)
    emoji_ids = labels["emoji"].numpy()
    styles = labels["style"].numpy()
    plain = labels["tone"].numpy() == 0 if "tone" in labels else np.ones(len(train), bool)
    pairs = []
    index = np.flatnonzero(plain)
    order = index[np.argsort(emoji_ids[index], kind="stable")]
    bounds = np.flatnonzero(np.diff(emoji_ids[order])) + 1
    for group in np.split(order, bounds):
        for a in range(len(group)):
            for b in range(a + 1, len(group)):
                if styles[group[a]] != styles[group[b]]:
                    pairs.append((group[a], group[b]))
    return np.array(pairs, np.int64).reshape(-1, 2)


def copy_threshold(index: TrainingNeighbours,
                   test_features: torch.Tensor) -> tuple[float, float]:
    """(threshold, twins): the feature distance below which an image counts as a near-copy
    of its nearest training image, the TEST_PERCENTILE-th percentile of the first
    COPY_SAMPLES test images' distances to theirs (given by their features); and the
    share of those test images that are pictures of the training split (distance 0: one
    picture under two names, such as an emoji's gendered and neutral forms drawn alike),
    which are left out of the percentile, as they are no images the model never saw."""
    if len(test_features) == 0:
        raise ValueError("a copy threshold needs test images")
    _, d = index.nearest_in_features(test_features[:COPY_SAMPLES], 1)
    d = d[:, 0]
    twin = d <= TWIN_DISTANCE
    unseen = d[~twin] if (~twin).any() else d
    return float(np.percentile(unseen, TEST_PERCENTILE)), float(twin.mean())


def style_threshold(index: TrainingNeighbours) -> float | None:
    """The median feature distance between two drawings of one emoji in different styles
    (same_emoji_pairs); None where the training split has no such pairs."""
    pairs = same_emoji_pairs(index.train)
    if not len(pairs):
        return None
    f = index.train_features
    return float((f[pairs[:, 0]] - f[pairs[:, 1]]).norm(dim=1).median())


def copy_fraction(index: TrainingNeighbours, image_features: torch.Tensor,
                  threshold: float) -> float:
    """The share of images (given by their features) whose nearest training image in the
    feature space is closer than threshold."""
    if len(image_features) == 0:
        return 0.0
    _, d = index.nearest_in_features(image_features, 1)
    return float((d[:, 0] < threshold).mean())


# --- a model's training split in features, for the "features" outlier score --------------
BANK_FILE = "feature_bank.npz"
BANK_KIND = "layered-1"  # what a bank's rows are: Classifier.layered_features


class FeatureBank:
    """The training split as the dataset classifier sees it at two depths (its layered
    features: channel statistics of a middle stage beside the penultimate features, each
    of length 1), as a model of one size sees its images (the split resized to the model's
    size, then to the classifier's), stored beside the model: its "features" outlier score
    is an image's distance to its nearest training image there (deep nearest neighbours,
    Sun et al. 2022, with normalised features). Photos and garments land far from every
    emoji there, whatever their likelihood says; the middle stage's statistics (colour,
    strokes, texture) separate them better than the penultimate features alone."""

    def __init__(self, net: torch.nn.Module, net_size: int | None, features: torch.Tensor):
        self.net = net
        self.net_size = net_size
        self.features = features.float()

    @classmethod
    def of_split(cls, train: ImageDataset, net: torch.nn.Module,
                 net_size: int | None) -> FeatureBank:
        return cls(net, net_size, split_features(train, net, net_size, layered=True))

    def distance(self, images: torch.Tensor) -> np.ndarray:
        """float64 (N,): each image's (float (N, C, H, W) in [0, 1]) feature distance to its
        nearest training image."""
        query = image_features(self.net, images.cpu(), self.net_size, layered=True)
        return _nearest(query, self.features, 1)[1][:, 0].astype(np.float64)

    def save(self, folder: str | os.PathLike, net_hash: str) -> None:
        """Beside the model, as float16 (half the bytes; distances change by under 1e-3)."""
        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, features=self.features.half().numpy(),
                         classifier_hash=np.array(net_hash), kind=np.array(BANK_KIND))

        checkpoints.atomic_write(Path(folder) / BANK_FILE, write)


def load_feature_bank(folder: str | os.PathLike) -> FeatureBank | None:
    """The feature bank stored beside a model, with the dataset's classifier it was made
    with; None where there is none. A bank made with another classifier than the one
    found now is an error: its distances would mean nothing."""
    path = Path(folder) / BANK_FILE
    if not path.is_file():
        return None
    info = checkpoints.read_info(folder)
    net_path = checkpoints.find_feature_net(info.dataset, Path(folder).parent)
    if net_path is None:
        raise GenplayError(f"{path} needs classifier-{info.dataset}, which is not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            features, made_with = data["features"], str(data["classifier_hash"])
            kind = str(data["kind"]) if "kind" in data else "penultimate"
    except Exception as exc:
        raise GenplayError(f"{path}: unreadable ({exc})") from None
    if kind != BANK_KIND:
        raise GenplayError(f"{path} holds another kind of features ({kind}); run `genplay "
                           f"eval {folder} --scores-only --feature-bank` to make it again")
    if made_with != checkpoints.weights_hash(net_path):
        raise GenplayError(f"{path} was made with other classifier weights; run `genplay eval "
                           f"{folder} --scores-only --feature-bank` to make it again")
    net, net_info = checkpoints.load(net_path, device="cpu")
    return FeatureBank(net.eval(), net_info.image_shape[1], torch.from_numpy(features))
