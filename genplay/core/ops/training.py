"""What the Training panel asks of the engine's thread before a run starts: the families
and datasets to offer, and a preview of a dataset as the model will see it (the same
loaders `genplay train` reads its data with)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Helper networks that are not generative models of their own: "classifier" is the feature
# net behind FID/KID and needs labelled data (a folder of one's own images has none).
HELPER_FAMILIES = {"classifier"}
PREVIEW_COUNT = 16
PREVIEW_TRIES = 64  # files read at most for the dataset preview (unreadable ones skipped)


def training_choices() -> tuple[list[str], list[str]]:
    """The families the Training panel offers and the named datasets (read in the engine's
    thread: the registry imports PyTorch)."""
    from genplay.core.data import dataset_names
    from genplay.core.registry import families

    return [f for f in families() if f not in HELPER_FAMILIES], dataset_names(training=True)


def dataset_preview(spec: str, size: int, channels: int) -> dict[str, Any]:
    """A few images of a dataset as the model will see them: uint8 (N, size, size, C).

    Cheap on purpose: a named dataset gives its first images (fitted alone, not all 60,000
    of them), a folder its first readable files. A named dataset that is not on this
    computer gives {"missing": name}."""
    from genplay.core import data, datasets
    from genplay.core.errors import DatasetError, ImageError
    from genplay.core.images import IMAGE_SUFFIXES, load_image, prepare_for_model, with_channels

    skipped: list[tuple[str, str]] = []
    if spec == data.PHOTOS:
        photos = [with_channels(p, channels) for p in data.load_photos("train").values()]
        images = data.sample_patches(photos, PREVIEW_COUNT, size, seed=[0, 0]).numpy()
        return {"images": images.transpose(0, 2, 3, 1), "files": None, "skipped": skipped}
    if spec in datasets.CATALOGUE:
        folder = datasets.locate(spec, None, "train")
        if folder is None:  # not an error: the form offers to get it
            return {"missing": spec}
        raw = data.load_idx(folder, "train", spec).images[:PREVIEW_COUNT]
        images = data.fit_images(raw, size, channels).numpy()
        return {"images": images.transpose(0, 2, 3, 1), "files": None, "skipped": skipped}
    folder = Path(spec)
    if not folder.is_dir():
        raise DatasetError(f"{spec}: not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"{folder}: no image files in it (looked for "
                           f"{', '.join(IMAGE_SUFFIXES)})")
    pictures = []
    for path in files[:PREVIEW_TRIES]:
        try:
            pixels, _ = prepare_for_model(load_image(path), size=size, channels=channels,
                                          invert=False)
        except ImageError as exc:
            skipped.append((str(path), str(exc)))
            continue
        pictures.append(pixels)
        if len(pictures) == PREVIEW_COUNT:
            break
    if not pictures:
        raise DatasetError(f"{folder}: none of the first {min(len(files), PREVIEW_TRIES)} "
                           "image files could be read")
    return {"images": np.stack(pictures), "files": len(files), "skipped": skipped}
