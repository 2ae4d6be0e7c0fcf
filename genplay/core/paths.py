"""Where genplay finds things. No torch here: the app reads this before PyTorch is loaded."""

from __future__ import annotations

import os
from pathlib import Path


def default_checkpoint_dir() -> Path:
    """GENPLAY_CHECKPOINTS, else the checkpoints/ folder shipped beside the package."""
    env = os.environ.get("GENPLAY_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "checkpoints"


def user_model_dir() -> Path:
    """GENPLAY_MODELS, else ~/.genplay/models: where genplay pull puts the models it fetches
    (one folder each), and which the window and genplay models list."""
    env = os.environ.get("GENPLAY_MODELS")
    return Path(env).expanduser() if env else Path.home() / ".genplay" / "models"
