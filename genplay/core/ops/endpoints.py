"""The ends of a latent interpolation, as typed values (numpy only, no PyTorch, so the
Latent panel builds them in the UI thread); ops.interpolation.endpoint_latent resolves them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SeedEndpoint:
    """The prior latent a seed names."""
    seed: int


@dataclass(frozen=True)
class SampleEndpoint:
    """Sample ``index`` of a grid drawn with ``seed`` at ``temperature``."""
    seed: int
    index: int
    temperature: float = 1.0


@dataclass(frozen=True)
class ImageEndpoint:
    """A user's image file, encoded."""
    path: str | Path


@dataclass(frozen=True, eq=False)  # eq=False: a numpy field makes == ambiguous
class LatentEndpoint:
    """A latent already computed (an encoded image's)."""
    latent: np.ndarray


Endpoint = SeedEndpoint | SampleEndpoint | ImageEndpoint | LatentEndpoint
