"""Datasets: MNIST-format IDX files found by name, and folders of the user's images.

Everything is held in memory as uint8 tensors (N, C, H, W): the datasets here are
small, and uint8 keeps 70,000 28x28 images under 60 MB.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genplay.core.errors import DatasetError, ImageError
from genplay.core.images import IMAGE_SUFFIXES, load_image, prepare_for_model

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(i) for i in range(10)]


@dataclass(frozen=True)
class KnownDataset:
    name: str
    class_names: list[str]
    torchvision_name: str  # folder name in a torchvision-style root (NAME/raw/)


KNOWN_DATASETS = {
    "fashion-mnist": KnownDataset("fashion-mnist", FASHION_CLASSES, "FashionMNIST"),
    "mnist": KnownDataset("mnist", DIGIT_CLASSES, "MNIST"),
}

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


@dataclass
class ImageDataset:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,) or None for unlabelled folders
    name: str
    class_names: list[str] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: torch.Tensor) -> ImageDataset:
        labels = None if self.labels is None else self.labels[index]
        return ImageDataset(self.images[index], labels, self.name, self.class_names)

    def as_float(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        images = self.images if index is None else self.images[index]
        return images.float() / 255.0


def search_places(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Folders that may hold the IDX files of a known dataset, most specific first."""
    bases: list[Path] = []
    if root is not None:
        bases.append(Path(root))
    if os.environ.get("GENPLAY_DATA"):
        bases.append(Path(os.environ["GENPLAY_DATA"]))
    repo = Path(__file__).resolve().parents[2]
    bases += [Path.cwd() / ".." / "shared" / "data", repo.parent / "shared" / "data",
              Path.home() / ".genplay" / "data", Path("/usr/share/datasets")]
    tv = KNOWN_DATASETS[name].torchvision_name
    # A folder named by the user may hold the files directly; shared base folders
    # never do, so ../shared/data can never pass MNIST off as Fashion-MNIST.
    places: list[Path] = [Path(root)] if root is not None else []
    for base in bases:
        places += [base / name, base / tv / "raw"]
    unique: list[Path] = []
    for p in places:
        if p not in unique:
            unique.append(p)
    return unique


def _has_idx(folder: Path, split: str) -> bool:
    prefix = _SPLIT_PREFIX[split]
    return any((folder / f"{prefix}-images-idx3-ubyte{ext}").is_file() for ext in (".gz", ""))


def find_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train") -> Path:
    if name not in KNOWN_DATASETS:
        raise DatasetError(
            f"unknown dataset {name!r}; known: {', '.join(KNOWN_DATASETS)} (or give a folder)"
        )
    places = search_places(name, root)
    for place in places:
        if _has_idx(place, split):
            return place
    searched = "\n  ".join(str(p) for p in places)
    raise DatasetError(
        f"dataset {name!r} ({split} split) not found. Searched:\n  {searched}\n"
        f"Put the IDX files (e.g. {_SPLIT_PREFIX[split]}-images-idx3-ubyte.gz) in one of "
        "these, set GENPLAY_DATA, or pass a folder."
    )


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
    gz = folder / f"{stem}.gz"
    return gz if gz.is_file() else folder / stem


def load_idx(folder: Path, split: str, name: str) -> ImageDataset:
    prefix = _SPLIT_PREFIX[split]
    images = read_idx(_idx_file(folder, f"{prefix}-images-idx3-ubyte"))
    labels_path = _idx_file(folder, f"{prefix}-labels-idx1-ubyte")
    labels = None
    if labels_path.is_file():
        labels = torch.from_numpy(read_idx(labels_path).astype(np.int64))
    if labels is not None and labels.shape[0] != images.shape[0]:
        raise DatasetError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels")
    known = KNOWN_DATASETS.get(name)
    return ImageDataset(
        torch.from_numpy(images.copy()).unsqueeze(1), labels, name,
        known.class_names if known else None,
    )


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


def load_dataset(
    spec: str | os.PathLike, split: str = "train", *, size: int = 28, channels: int = 1,
    root: str | os.PathLike | None = None,
) -> ImageDataset:
    """A dataset by name (``fashion-mnist``, ``mnist``), IDX folder, or image folder."""
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    name = str(spec)
    if name in KNOWN_DATASETS:
        data = load_idx(find_dataset(name, root, split), split, name)
    else:
        folder = Path(spec)
        if not folder.is_dir():
            raise DatasetError(
                f"{spec}: neither a known dataset ({', '.join(KNOWN_DATASETS)}) nor a folder"
            )
        if _has_idx(folder, split):
            data = load_idx(folder, split, folder.name)
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
