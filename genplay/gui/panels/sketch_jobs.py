"""What the Sketch panel runs in the engine thread: model facts, sketches, fills, files.

Each function takes the loaded model first (the engine passes it) and returns or yields
plain values; the panel never touches torch itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FILL_STEPS = 50  # what `genplay inpaint` and the diffusion model's inpaint_steps default to


def model_facts(model) -> dict[str, Any]:
    """What the panel needs to know of a model: how it follows a sketch, whether it can
    fill a region (decided as `genplay inpaint` decides), its size, classes and steps."""
    from genplay.core.models.base import Sampler
    from genplay.core.ops.sketch import FIT_STEPS, inpaint_method, sketch_method

    options = {o.name: o for o in model.sample_options()} if isinstance(model, Sampler) else {}
    method = sketch_method(model)
    if method == "sdedit":
        steps = (int(options["steps"].default), 200)  # a whole schedule's
    elif method == "langevin":
        steps = (model.condition_default_steps, 1000)
    else:
        steps = (FIT_STEPS, 1000)
    fill = inpaint_method(model)
    most = int(options["steps"].maximum) if "steps" in options else 1000
    return {
        "method": method,
        "fill": fill,  # "diffusion", "autoregressive" or None
        "fill_steps": (min(FILL_STEPS, most), most) if fill == "diffusion" else None,
        "shape": tuple(model.image_shape),
        "classes": list(options["class"].choices) if "class" in options else [],
        "steps": steps,
    }


def _as_input(model, pixels: np.ndarray):
    """uint8 (H, W) gray at the model's size -> (1, C, H, W) in [0, 1]."""
    import torch

    c = model.image_shape[0]
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)[None, None].repeat(1, c, 1, 1)


def sketch_job(model, drawing: np.ndarray, n: int, seed: int, strength: float,
               options: dict[str, Any]):
    """A uint8 (H, W) drawing at the model's size -> candidates."""
    from genplay.core.ops.sketch import sketch_images

    yield from sketch_images(model, _as_input(model, drawing), n=n, seed=seed,
                             strength=strength, **options)


def fill_job(model, picture: np.ndarray, hole: np.ndarray, n: int, seed: int,
             options: dict[str, Any]):
    """A uint8 (H, W) picture and a bool (H, W) hole at the model's size -> n fillings
    (the op `genplay inpaint` runs: the pixels outside the hole come back as given)."""
    import torch

    from genplay.core.ops.sketch import inpaint_images

    yield from inpaint_images(model, _as_input(model, picture), torch.from_numpy(hole), n=n,
                              seed=seed, **options)


def load_pixels(path: str) -> np.ndarray:
    """A user's image file, gray and light on dark like the canvas."""
    from genplay.core.images import load_image, prepare_for_model

    pixels = load_image(path)
    prepared, _ = prepare_for_model(pixels, size=280, channels=1)
    return prepared[..., 0]
