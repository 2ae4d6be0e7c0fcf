"""Models in other projects' formats, opened as genplay models.

A genplay checkpoint is a folder with config.json and model.safetensors
(core/checkpoints.py). The formats here are what people already have:

- a diffusers pipeline folder (model_index.json, unet/, scheduler/): ``diffusers_folder``;
- a super-resolution weights file of the ESRGAN family (.pth, .safetensors ...), as
  Upscayl, chaiNNer and ComfyUI users trade them: ``upscaler_file``.

Each format module has the same four functions, which ``core.checkpoints`` calls (it
never looks inside a format itself):

``recognise(path) -> bool``
    Cheap: whether path is in this format (names and small JSON files only, no weights).
``describe(path) -> Described``
    What the model is, from its config files or the weights' keys and shapes, without
    building it. Raises ``CheckpointError`` (one line) for a file or folder in the format
    that cannot be used.
``weights_file(path) -> Path``
    The file that holds the weights (its hash names the model's exact state).
``load_weights(model, path, trust_pickle=False) -> None``
    Loads the weights into a model built from ``describe``'s family and config. Loading
    never executes code: safetensors, or (``.pth``, ``.bin``) ``torch.load(weights_only=True)``;
    a pickle is refused unless ``trust_pickle`` (a diffusers ``.bin``), as each format
    documents.

The models themselves are families like any other (core/models/diffusers_unet.py,
core/models/upscaler_nets.py), registered with ``foreign=True``: genplay cannot train
them, and their config comes from the files, never from a config.json of genplay's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Described", "WEIGHT_SUFFIXES", "is_one_model"]

# The files an upscaler's weights come in (upscaler_file reads them).
# (.ckpt is left out: such files are mostly Lightning or Stable Diffusion checkpoints.)
WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors")


def is_one_model(path: str | os.PathLike) -> bool:
    """Whether path names one model (a genplay checkpoint folder, a diffusers pipeline
    folder, a weights file), not a folder of them; by names only, so the window can ask
    before PyTorch is loaded."""
    path = Path(path)
    if path.is_dir():
        return (path / "config.json").exists() or (path / "model_index.json").exists()
    return path.suffix.lower() in WEIGHT_SUFFIXES


@dataclass(frozen=True)
class Described:
    """What a model in another format is, read without loading its weights."""

    family: str  # a registered family (foreign=True), e.g. "diffusers", "rrdbnet"
    config: dict[str, Any]  # the family Config's fields, as config.json would hold them
    image_shape: tuple[int, int, int]  # (channels, height, width) it makes or takes
    architecture: str  # one line for the model list: "RRDBNet (ESRGAN) 4x, 3 channels"
    class_names: list[str] | None = None
    dataset: str = ""  # what it was trained on, where its files say (a genplay export does)
    recipe: str = ""  # how it was trained, where its files say
    source: str = ""  # where it came from, when known: "hf://google/ddpm-cifar10-32"
    notes: list[str] = field(default_factory=list)  # what a user should know (one line each)
