"""Nearest training images of one image: what "Nearest training images…" on a sample in
the Sampling panel and `genplay nearest` run (core/nearest.py does the search).

The index (the training split at the model's size and its features) takes seconds to
build, so the last one built is kept: asking about a second sample of the same model is
immediate.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genplay.core import checkpoints, nearest
from genplay.core.data import load_dataset
from genplay.core.errors import GenplayError
from genplay.core.events import Progress, Result, relay
from genplay.core.images import to_float_chw

_cache: dict[tuple, tuple[nearest.TrainingNeighbours, float]] = {}
_cache_lock = threading.Lock()


def _index(dataset: str, shape: tuple[int, int, int], near: Path | None,
           data_root: str | None) -> Iterator[Progress | Result]:
    """Result((TrainingNeighbours, copy threshold)) for a model's dataset and shape."""
    net_path = checkpoints.find_feature_net(dataset, near)
    if net_path is None:
        raise GenplayError(f"no classifier for {dataset}: nearest training images are "
                           "found in its feature space (train one with genplay train "
                           f"classifier --data {dataset})")
    key = (dataset, tuple(shape), str(net_path.resolve()), data_root)
    with _cache_lock:
        if key in _cache:
            yield Result(_cache[key])
            return
    net, net_info = checkpoints.load(net_path)
    c, size = shape[0], shape[1]
    if net_info.image_shape[0] != c:
        raise GenplayError(f"{net_path.name} sees {net_info.image_shape[0]}-channel images; "
                           f"this model makes {c}-channel ones")
    yield Progress(0, None, message=f"loading the {dataset} training images")
    train = load_dataset(dataset, "train", size=size, channels=c, root=data_root)
    yield Progress(0, None, message=f"features of {len(train):,} training images")
    index = nearest.TrainingNeighbours(train, net, net_info.image_shape[1])
    test = load_dataset(dataset, "test", size=size, channels=c, root=data_root)
    test_features = index.features_of(test.as_float(slice(0, nearest.COPY_SAMPLES)))
    threshold, _ = nearest.copy_threshold(index, test_features)
    with _cache_lock:
        _cache.clear()  # one index at a time: a training split's features take memory
        _cache[key] = (index, threshold)
    yield Result((index, threshold))


def _names(data, indices: np.ndarray) -> list[str]:
    if data.labels is None or not data.class_names:
        return ["" for _ in indices]
    return [data.class_names[int(data.labels[i])] for i in indices]


@torch.no_grad()
def nearest_training_images(
    image: np.ndarray, *, dataset: str, shape: tuple[int, int, int],
    model_path: str | Path | None = None, k: int = nearest.K, data_root: str | None = None,
) -> Iterator[Progress | Result]:
    """The k training images nearest to image (float (C, H, W) in [0, 1], or uint8 (H, W[,
    C]), of the model's shape) in the classifier's features and in pixels.

    model_path: the model's folder (a classifier beside it is preferred). Result: a dict
    with "features" and "pixels", each a list of {"index", "distance", "label",
    "pixels" (uint8 HWC)}, nearest first, and "threshold", "threshold_note",
    "near_copy" (whether the nearest in features is within it)."""
    x = np.asarray(image)
    if x.dtype == np.uint8:
        x = to_float_chw(x)
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]
    if tuple(x.shape[1:]) != tuple(shape):
        raise GenplayError(f"an image of shape {tuple(x.shape[1:])} for a model of "
                           f"{tuple(shape)}")
    near = Path(model_path).parent if model_path is not None else None
    index, threshold = (yield from relay(_index(dataset, tuple(shape), near, data_root))).value
    yield Progress(0, None, message="searching the training images")
    found = index.query(x, k=k)
    train = index.train
    value: dict[str, Any] = {"threshold": threshold, "threshold_note": nearest.THRESHOLD_NOTE,
                             "training_images": len(train),
                             "near_copy": bool(found.feature_distance[0, 0] < threshold)}
    for space, idx, dist in (("features", found.feature_index, found.feature_distance),
                             ("pixels", found.pixel_index, found.pixel_distance)):
        labels = _names(train, idx[0])
        value[space] = [{"index": int(i), "distance": float(d), "label": label,
                         "pixels": train.images[int(i)].permute(1, 2, 0).numpy()}
                        for i, d, label in zip(idx[0], dist[0], labels)]
    yield Result(value)
