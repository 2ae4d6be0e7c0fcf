"""Where genplay finds things. No torch here: the app reads this before PyTorch is loaded."""

from __future__ import annotations

import os
from pathlib import Path


def default_checkpoint_dir() -> Path:
    """GENPLAY_CHECKPOINTS, else the checkpoints/ folder shipped beside the package."""
    env = os.environ.get("GENPLAY_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "checkpoints"
