"""Datasets: MNIST-format IDX files and the emoji found by name (core.datasets says
where, and gets them), photos, and folders of the user's images.

Everything is held in memory as uint8 tensors (N, C, H, W): the datasets here are
small, and uint8 keeps 70,000 28x28 images under 60 MB. Photos are few and large, so
models learn from random patches of them instead (see "photos" below).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from genplay.core import datasets, emoji
from genplay.core.errors import DatasetError, ImageError
from genplay.core.images import IMAGE_SUFFIXES, load_image, prepare_for_model, with_channels

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


@dataclass
class ImageDataset:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,) or None for unlabelled folders
    name: str
    class_names: list[str] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    # Patches of a few large images: redraw(seed, n) cuts n fresh ones, so the training
    # loop can show a model new patches every epoch. None for datasets of whole images.
    redraw: Callable[[int, int], torch.Tensor] | None = None
    # Labels besides the class, by name: int64 (N,) indices into extra_names[name]. The
    # emoji have "style" (twitter, google, openmoji), "emoji" (the emoji, whatever its
    # skin tone and style: its code points) and "tone" (its skin tone, "none" or one of 5).
    extra_labels: dict[str, torch.Tensor] = field(default_factory=dict)
    extra_names: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: torch.Tensor) -> ImageDataset:
        labels = None if self.labels is None else self.labels[index]
        return ImageDataset(self.images[index], labels, self.name, self.class_names,
                            redraw=self.redraw,
                            extra_labels={k: v[index] for k, v in self.extra_labels.items()},
                            extra_names=self.extra_names)

    def as_float(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        images = self.images if index is None else self.images[index]
        return images.float() / 255.0


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file (gzip or raw) into a numpy array; a malformed file gives DatasetError."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot be read ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise DatasetError(f"{path}: size does not match its header {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _idx_file(folder: Path, stem: str) -> Path:
    return datasets.idx_path(folder, stem) or folder / stem


def load_idx(folder: Path, split: str, name: str) -> ImageDataset:
    """A split of a named dataset's folder: its IDX files, or the emoji dataset's files
    where the folder holds those (callers that know only the name come here)."""
    if not datasets.has_split(folder, split) and emoji.has_split(folder, split):
        return load_emoji(folder, split, name)
    prefix = _SPLIT_PREFIX[split]
    images = read_idx(_idx_file(folder, f"{prefix}-images-idx3-ubyte"))
    labels_path = _idx_file(folder, f"{prefix}-labels-idx1-ubyte")
    labels = None
    if labels_path.is_file():
        labels = torch.from_numpy(read_idx(labels_path).astype(np.int64))
    if labels is not None and labels.shape[0] != images.shape[0]:
        raise DatasetError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels")
    known = datasets.CATALOGUE.get(name)
    return ImageDataset(
        torch.from_numpy(images.copy()).unsqueeze(1), labels, name,
        known.class_names if known else None,
    )


def load_emoji(folder: Path, split: str, name: str = "emoji") -> ImageDataset:
    """A split of the emoji dataset as core.emoji built it: 64x64 RGB on white, the
    category as the class, the style and the emoji as extra labels."""
    part = emoji.load(folder, split)
    return ImageDataset(
        torch.from_numpy(part.images), torch.from_numpy(part.category), name,
        part.category_names,
        extra_labels={"style": torch.from_numpy(part.style),
                      "emoji": torch.from_numpy(part.emoji),
                      "tone": torch.from_numpy(part.tone)},
        extra_names={"style": part.style_names, "emoji": part.emoji_keys,
                     "tone": part.tone_names})


def load_image_folder(folder: Path, size: int, channels: int) -> ImageDataset:
    """Every readable image below folder (recursively), fitted to size x size."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    arrays, skipped = [], []
    for path in files:
        try:
            pixels, _ = prepare_for_model(
                load_image(path), size=size, channels=channels, invert=False
            )
        except ImageError as exc:
            skipped.append((str(path), str(exc)))
            continue
        arrays.append(pixels.transpose(2, 0, 1))
    if not arrays:
        raise DatasetError(f"{folder}: no readable images found ({len(skipped)} unreadable)")
    images = torch.from_numpy(np.stack(arrays))
    return ImageDataset(images, None, folder.name, None, skipped)


def fit_images(images: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """Resizes uint8 (N, C, H, W) images to size x size and channels (1 or 3)."""
    if images.shape[1] != channels:
        images = images.expand(-1, 3, -1, -1) if channels == 3 else (
            images.float().mean(dim=1, keepdim=True).round().to(torch.uint8)
        )
    if images.shape[-1] != size or images.shape[-2] != size:
        x = F.interpolate(images.float(), size=(size, size), mode="bilinear",
                          antialias=True, align_corners=False)
        images = x.round().clamp(0, 255).to(torch.uint8)
    return images.contiguous()


# --- photos: the sample photographs scikit-image ships, cut into patches ----------------------
PHOTOS = "photos"
# File in skimage/data -> its licence, as scikit-image's documentation of skimage.data
# states it (each loader's docstring). Only photographs with a stated free licence. Left
# out: the motorcycle stereo pair (Middlebury 2014; no licence stated), moon and page (no
# licence stated), clock (blurred on purpose: a bad sharp target), and everything drawn,
# synthetic or not a photograph (text, horse, logo, colour wheel, chessboards, phantom, the
# cell's phase image).
PHOTO_LICENCES = {
    "astronaut.png": "public domain (NASA)",
    "camera.png": "CC0 (photographer Lav Varshney)",
    "coins.png": "no known copyright restrictions (Brooklyn Museum)",
    "brick.png": "CC0 (CC0Textures)",
    "grass.png": "CC0 (DeviantArt, linolafett)",
    "gravel.png": "CC0 (CC0Textures)",
    "hubble_deep_field.jpg": "public domain (NASA)",
    "ihc.png": "no known copyright restrictions (CMMI)",
    "retina.jpg": "CC0 (Mikael Häggström, Wikimedia Commons)",
    "chelsea.png": "CC0 (photographer Stefan van der Walt)",
    "coffee.png": "CC0 (photographer Rachel Michetti)",
    "rocket.jpg": "public domain (SpaceX)",
}
# Held out for the benchmark, never cut into training patches: colour scenes unlike every
# training photo (a cat's fur, a cup on wood grain, an outdoor launch).
PHOTOS_TEST = ("chelsea.png", "coffee.png", "rocket.jpg")
PHOTOS_TRAIN = tuple(f for f in PHOTO_LICENCES if f not in PHOTOS_TEST)
PATCHES_PER_EPOCH = 16_384  # at most: fewer when patches are large, by PATCH_PIXELS
PATCH_PIXELS = 1 << 24  # pixels cut per epoch: 16,384 patches of 32x32, 4,096 of 64x64
# A user's photos are held whole in memory; larger ones are shrunk to this longest side
# (phone photos at full size are also noisier and softer per pixel than a 2K version).
PATCH_SOURCE_SIDE = 2048
PATCH_SOURCE_BYTES = 1 << 30


def photos_folder() -> Path:
    """scikit-image's data folder, found without importing it (that would load scipy)."""
    folder = datasets.photos_folder()
    if folder is None:
        raise DatasetError(
            "the photos dataset is the sample photographs that come with scikit-image, "
            "which is not installed: pip install scikit-image (or pip install 'genplay[photos]')"
        )
    missing = [name for name in PHOTO_LICENCES if not (folder / name).is_file()]
    if missing:
        raise DatasetError(f"{folder}: scikit-image's sample photos lack {', '.join(missing)}; "
                           "reinstall scikit-image")
    return folder


def load_photos(split: str = "test") -> dict[str, np.ndarray]:
    """The photos of a split, whole, as uint8 (H, W, 3) arrays by name ("chelsea", ...);
    gray photos are replicated to 3 channels. "test" holds the benchmark's photos."""
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = photos_folder()
    return {Path(name).stem: with_channels(load_image(folder / name), 3)
            for name in (PHOTOS_TEST if split == "test" else PHOTOS_TRAIN)}


def sample_patches(photos: Sequence[np.ndarray], n: int, size: int,
                   seed: int | Sequence[int], augment: bool = True) -> torch.Tensor:
    """n random size x size patches of (H, W, C) uint8 photos, as uint8 (n, C, size, size).

    Each photo is equally likely (one large photo does not crowd out the rest), then each
    position in it; with augment, each patch also gets one of the 8 flips and quarter
    turns. The same seed gives the same patches."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(photos), n)
    out = np.empty((n, photos[0].shape[2], size, size), np.uint8)
    for i, photo in enumerate(photos):
        picked = np.flatnonzero(which == i)
        h, w = photo.shape[:2]
        tops = rng.integers(0, h - size + 1, len(picked))
        lefts = rng.integers(0, w - size + 1, len(picked))
        # (h - size + 1, w - size + 1, C, size, size) views; indexing copies the picked ones
        windows = np.lib.stride_tricks.sliding_window_view(photo, (size, size), axis=(0, 1))
        out[picked] = windows[tops, lefts]
    if augment:
        turns, flips = rng.integers(0, 4, n), rng.integers(0, 2, n).astype(bool)
        for t in (1, 2, 3):
            out[turns == t] = np.rot90(out[turns == t], t, axes=(2, 3))
        out[flips] = out[flips][..., ::-1]
    return torch.from_numpy(out)


def tile_patches(photos: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """Every whole size x size tile of each photo (left to right, top to bottom), as uint8
    (N, C, size, size): a fixed test set that covers the photos once."""
    tiles = [photo[top : top + size, left : left + size]
             for photo in photos
             for top in range(0, photo.shape[0] - size + 1, size)
             for left in range(0, photo.shape[1] - size + 1, size)]
    return torch.from_numpy(np.ascontiguousarray(np.stack(tiles).transpose(0, 3, 1, 2)))


def patch_dataset(photos: Sequence[np.ndarray], name: str, size: int,
                  skipped: Sequence[tuple[str, str]] = ()) -> ImageDataset:
    """A training set of random patches of (H, W, C) photos that draws new ones on request."""
    photos = list(photos)
    n = min(PATCHES_PER_EPOCH, PATCH_PIXELS // (size * size))

    def redraw(seed: int, count: int) -> torch.Tensor:
        # Stream 1; the first draw below is stream 0, so a redraw never repeats it.
        return sample_patches(photos, count, size, seed=[seed, 1])

    return ImageDataset(sample_patches(photos, n, size, seed=[0, 0]), None, name, None,
                        list(skipped), redraw=redraw)


def load_photo_dataset(split: str, size: int, channels: int) -> ImageDataset:
    """The photos dataset: random augmented patches of the training photos; for "test",
    every tile of the held-out photos."""
    photos = [with_channels(p, channels) for p in load_photos(split).values()]
    if split == "test":
        return ImageDataset(tile_patches(photos, size), None, PHOTOS)
    return patch_dataset(photos, PHOTOS, size)


def load_patch_folder(folder: Path, size: int, channels: int) -> ImageDataset:
    """Every readable image below folder, whole, as the source of random training patches
    (for models that learn from patches of photos, such as super-resolution nets)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    photos, skipped, held = [], [], 0
    for path in files:
        try:
            pixels = load_image(path)
        except ImageError as exc:
            skipped.append((str(path), str(exc)))
            continue
        if min(pixels.shape[:2]) < size:
            skipped.append((str(path), f"smaller than the {size}x{size} training patches"))
            continue
        factor = -(-max(pixels.shape[:2]) // PATCH_SOURCE_SIDE)
        if factor > 1 and min(pixels.shape[:2]) // factor >= size:
            pixels = np.asarray(Image.fromarray(pixels).reduce(factor))  # box filter
        photo = with_channels(pixels, channels)
        held += photo.nbytes
        if held > PATCH_SOURCE_BYTES:
            raise DatasetError(f"{folder}: its images take more than "
                               f"{PATCH_SOURCE_BYTES >> 20} MB of memory even with the "
                               f"longest side at {PATCH_SOURCE_SIDE} pixels; use fewer images")
        photos.append(photo)
    if not photos:
        raise DatasetError(f"{folder}: no readable images of at least {size}x{size} pixels "
                           f"({len(skipped)} skipped)")
    return patch_dataset(photos, folder.name, size, skipped)


def invert_policy(dataset: str) -> bool | None:
    """The ``invert`` for prepare_for_model() when a user's picture goes to a model trained
    on dataset (a name, or a folder's path as checkpoints store it): None, decide from the
    picture's border, for the MNIST-format datasets (light strokes on black, so a drawing
    or photo of dark on light is inverted to match); False for the emoji (dark on white,
    like most pictures), a folder of pictures and the photos, which a model learns as
    they are (a light sky is not to be inverted)."""
    if dataset in datasets.CATALOGUE:
        return None if datasets.CATALOGUE[dataset].kind == "idx" else False
    folder = Path(dataset)
    if dataset != PHOTOS and folder.is_dir() and (datasets.has_split(folder, "train")
                                                  or datasets.has_split(folder, "test")):
        return None
    return False


def dataset_names(training: bool = False) -> list[str]:
    """The datasets known by name (besides folders); training: only those with a training
    split (not a set held out for outlier tests)."""
    names = [n for n in datasets.CATALOGUE if not training or "train" in datasets.splits_of(n)]
    return [*names, PHOTOS]


def load_dataset(
    spec: str | os.PathLike, split: str = "train", *, size: int = 28, channels: int = 1,
    root: str | os.PathLike | None = None, patches: bool = False,
) -> ImageDataset:
    """A dataset by name (``fashion-mnist``, ``mnist``, ``emoji``, ``photos``), IDX folder,
    a folder of the emoji dataset's files, or image folder. patches: an image folder
    gives random size x size patches of its images, redrawn on request, instead of each
    image fitted whole to size x size."""
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    name = str(spec)
    if name == PHOTOS:
        return load_photo_dataset(split, size, channels)
    if name in datasets.CATALOGUE and datasets.CATALOGUE[name].kind == "emoji":
        data = load_emoji(datasets.find(name, root, split), split, name)
    elif name in datasets.CATALOGUE:
        data = load_idx(datasets.find(name, root, split), split, name)
    else:
        folder = Path(spec)
        if not folder.is_dir():
            raise DatasetError(
                f"{spec}: neither a known dataset ({', '.join(dataset_names())}) nor a folder"
            )
        if datasets.has_split(folder, split):
            data = load_idx(folder, split, folder.name)
        elif emoji.has_split(folder, split):
            data = load_emoji(folder, split, folder.name)
        elif patches:
            return load_patch_folder(folder, size, channels)
        else:
            return load_image_folder(folder, size, channels)
    data.images = fit_images(data.images, size, channels)
    return data


def train_val_split(
    data: ImageDataset, val_fraction: float = 0.05, seed: int = 0
) -> tuple[ImageDataset, ImageDataset]:
    """A seeded split of a training set into training and validation parts."""
    n = len(data)
    n_val = max(1, min(n - 1, round(n * val_fraction))) if n > 1 else 0
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return data.subset(order[n_val:]), data.subset(order[:n_val])
