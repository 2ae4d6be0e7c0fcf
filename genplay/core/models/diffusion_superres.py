"""Where guided restoration with a diffusion model used to live: the loop is now
``diffusion_pipeline.restore_steps`` (with the other loops of a diffusion model, on the
Denoising protocol). This name stays importable until ops import the pipeline; then this
module can go."""

from __future__ import annotations

from genplay.core.models.diffusion_pipeline import Correction, restore_steps

__all__ = ["Correction", "restore_steps"]
