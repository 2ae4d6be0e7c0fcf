"""Shared fixtures: tiny datasets and model configs, so the suite runs in minutes on 2 cores.

Every test sees a data home of its own (GENPLAY_DATA) holding tiny synthetic
fashion-mnist and mnist datasets, and no system dataset folder: the suite never reads
a user's datasets or a development copy, so a fresh clone passes as CI does."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(1)

# A tiny config per registered family; tests/core/test_models.py checks every family has one.
TINY_CONFIGS: dict[str, dict] = {
    "vae": {"image_size": 8, "base_channels": 4, "latent_dim": 4, "n_mix": 2, "batch_size": 8},
    "gan": {"image_size": 8, "base_channels": 4, "latent_dim": 4, "batch_size": 8},
    "classifier": {"image_size": 8, "base_channels": 4, "feature_dim": 8, "batch_size": 8},
    "pixelcnn": {"image_size": 8, "hidden_channels": 4, "n_layers": 2, "n_mix": 2, "batch_size": 8},
    "flow": {"image_size": 8, "hidden_channels": 4, "n_scales": 2, "steps_per_scale": 2,
             "n_blocks": 1, "batch_size": 8},
    "diffusion": {"image_size": 8, "base_channels": 8, "blocks_per_level": 1,
                  "attention_heads": 2, "timesteps": 50, "batch_size": 8},
    "sketch-diffusion": {"image_size": 8, "base_channels": 8, "blocks_per_level": 1,
                         "attention_heads": 2, "timesteps": 50, "batch_size": 8},
    "superres": {"image_size": 8, "features": 4, "blocks": 1, "batch_size": 8},
    "ebm": {"image_size": 8, "features": 4, "langevin_steps": 3, "sample_steps": 4,
            "buffer_size": 64, "batch_size": 8},
}

# The families that open other projects' models (registry.foreign_families()), built tiny
# from a config as their format readers would give it; never trained.
FOREIGN_TINY_CONFIGS: dict[str, dict] = {
    "diffusers": {
        "channels": 1, "image_size": 8, "timesteps": 50, "num_classes": 3, "null_class": 2,
        "unet": json.dumps({
            "sample_size": 8, "in_channels": 1, "out_channels": 1,
            "block_out_channels": [8, 16], "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
            "up_block_types": ["AttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1,
            "norm_num_groups": 4, "attention_head_dim": 4, "num_class_embeds": 3})},
    "rrdbnet": {"features": 4, "blocks": 1, "growth": 2},
    "srvgg": {"num_feat": 4, "num_conv": 1, "scale": 2},
    "spandrel": {"architecture": "FakeSR", "scale": 2},  # upscales once spandrel loaded it
}


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_idx_dataset(folder: Path, n_train: int = 32, n_test: int = 16, seed: int = 0) -> Path:
    """Writes an MNIST-format dataset of blob images whose class sets the blob's position."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):
            r, c = 4 + (label // 5) * 12, 2 + (label % 5) * 5
            images[i, r : r + 10, c : c + 6] = rng.integers(120, 256)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def write_image_and_mask(folder: Path) -> tuple[Path, Path]:
    """An 8x8 gray picture (a light bar) and a mask of its lower half, as PNGs."""
    from PIL import Image

    image = np.zeros((8, 8), np.uint8)
    image[1:7, 3:5] = 200
    Image.fromarray(image).save(folder / "image.png")
    mask = np.zeros((8, 8), np.uint8)
    mask[4:, :] = 255
    Image.fromarray(mask).save(folder / "mask.png")
    return folder / "image.png", folder / "mask.png"


@pytest.fixture(scope="session", autouse=True)
def data_home(tmp_path_factory) -> Path:
    """genplay's data home for the whole run: tiny synthetic named datasets."""
    from genplay.core import datasets

    home = tmp_path_factory.mktemp("genplay-data")
    make_idx_dataset(home / "fashion-mnist", seed=1)
    make_idx_dataset(home / "mnist", seed=2)
    patch = pytest.MonkeyPatch()
    patch.setenv("GENPLAY_DATA", str(home))
    patch.setattr(datasets, "SYSTEM_FOLDERS", ())
    yield home
    patch.undo()


@pytest.fixture
def no_datasets(tmp_path, monkeypatch) -> Path:
    """An empty data home: as on a new user's computer."""
    home = tmp_path / "empty-data-home"
    monkeypatch.setenv("GENPLAY_DATA", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return make_idx_dataset(tmp_path_factory.mktemp("data") / "tiny")


def train_tiny(out: Path, family: str, data: str | Path, config: dict, *,
               size: int | None = None, channels: int = 1, recipe: str | None = None) -> Path:
    """One epoch of a tiny config into out (the config's image_size unless size is given;
    its other fields as overrides), without previews; returns out."""
    from genplay.core.train import TrainSettings, train

    settings = TrainSettings(
        family=family, data=str(data), out=out, epochs=1, size=size or config["image_size"],
        channels=channels, overrides={k: v for k, v in config.items() if k != "image_size"},
        preview_every=0, recipe=recipe or f"test {family}")
    for _ in train(settings):
        pass
    return out


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory, tiny_data) -> Path:
    """A folder with a tiny trained checkpoint of every family (1 epoch = 2-4 steps)."""
    root = tmp_path_factory.mktemp("checkpoints")
    for family, config in TINY_CONFIGS.items():
        train_tiny(root / f"{family}-tiny", family, tiny_data, config)
    return root


@pytest.fixture
def published(tmp_path, monkeypatch, no_datasets):
    """A tiny dataset standing in for MNIST in the catalogue (its MD5s are the tiny files'),
    served by a local server (tests/served_data.py); the data home starts empty.
    Yields (server, the folder of the published files)."""
    from genplay.core import datasets
    from tests.served_data import NAME, DataServer

    folder = make_idx_dataset(tmp_path / "published", n_train=24, n_test=8, seed=5)
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    real = datasets.CATALOGUE[NAME]
    spec = datasets.KnownDataset(
        NAME, "Tiny", real.class_names, real.torchvision_name, "test", ("unused",),
        tuple(datasets.DataFile(f.name, hashlib.md5(files[f.name]).hexdigest(),
                                len(files[f.name]), 0) for f in real.files))
    monkeypatch.setitem(datasets.CATALOGUE, NAME, spec)
    server = DataServer(files)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server, folder
    server.shutdown()
    server.server_close()


@pytest.fixture
def stand_in_hub(monkeypatch, tmp_path):
    """A local stand-in for the Hugging Face Hub (tests/hub_server.py) that genplay pull
    and huggingface_hub talk to; broken transfers are retried without waiting."""
    from genplay.core import hub_transfer
    from tests import hub_server

    served = hub_server.start(monkeypatch, tmp_path)
    monkeypatch.setattr(hub_transfer, "RETRY_WAIT_S", 0.0)
    yield served
    hub_server.stop(served)



@pytest.fixture(scope="session")
def model_with_classifier(tmp_path_factory, tiny_checkpoints) -> Path:
    """vae-tiny saved as a model of the named (tiny) mnist, with a classifier-mnist beside
    it (for nearest training images): untrained, with features wide enough that no two
    different images share them, as one epoch of training on the tiny set can make them."""
    import torch

    from genplay.core import checkpoints
    from genplay.core.models.features import Classifier, ClassifierConfig

    root = tmp_path_factory.mktemp("with-classifier")
    model, _ = checkpoints.load(tiny_checkpoints / "vae-tiny")
    checkpoints.save(model, root / "vae-mnist", dataset="mnist", recipe="test")
    torch.manual_seed(0)
    net = Classifier(ClassifierConfig(image_size=8, base_channels=4, feature_dim=64)).eval()
    checkpoints.save(net, root / "classifier-mnist", dataset="mnist", recipe="test",
                     class_names=[str(i) for i in range(10)])
    return root / "vae-mnist"


@pytest.fixture(scope="session")
def model_with_upscaler(tmp_path_factory, tiny_checkpoints) -> Path:
    """vae-tiny as an 8 px model of the named mnist with a superres-mnist beside it trained
    (here: built) at 16 px: a cascade that enlarges its samples x2."""
    import torch

    from genplay.core import checkpoints
    from genplay.core.models.superres import SuperRes, SuperResConfig

    root = tmp_path_factory.mktemp("with-upscaler")
    model, _ = checkpoints.load(tiny_checkpoints / "vae-tiny")
    checkpoints.save(model, root / "vae-mnist", dataset="mnist", recipe="test")
    torch.manual_seed(0)
    net = SuperRes(SuperResConfig(image_size=16, scales=(2,), features=4, blocks=1)).eval()
    checkpoints.save(net, root / "superres-mnist", dataset="mnist", recipe="test")
    return root / "vae-mnist"
