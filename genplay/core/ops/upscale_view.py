"""What the Super-resolution panel runs (in the engine's thread): the chosen method with
what its comparison view shows beside it, one method of the side-by-side comparison, a
folder, and what the panel needs to know of a model. Each is ops.superres's
upscale_steps / upscale_folder_steps (what `genplay upscale` runs) plus the view's extras.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

BICUBIC_VIEW_MAX = 25_000_000  # output pixels up to which bicubic is made for the view too


def upscale_for_view(model, pixels: np.ndarray, scale: int, method: str, simulate: bool,
                     reference: np.ndarray | None, options: dict[str, Any],
                     view_bicubic: bool = True):
    """The chosen method (``model`` is None for bicubic), plus what the comparison view
    shows beside it: the input as the method saw it, bicubic from that input (unless
    view_bicubic is False), and the reference in the result's frame."""
    from genplay.core.events import Result, final_value, relay
    from genplay.core.images import prepare_for_model
    from genplay.core.ops import superres

    if simulate:
        lowres, reference = superres.simulate(pixels, scale)
    else:
        lowres = pixels if pixels.ndim == 3 else pixels[..., None]
    result = yield from relay(superres.upscale_steps(model, lowres, scale, method,
                                                     reference=reference, **options))
    value = dict(result.value)
    shown = lowres
    if method == "diffusion":
        # The model saw the input letterboxed into its own size // scale, and its
        # candidates are of its size: show the input, and the reference, in that frame.
        channels, size = model.image_shape[0], model.image_shape[1]
        shown, _ = prepare_for_model(lowres, size=size // scale, channels=channels,
                                     invert=False)
        if reference is not None and reference.shape[:2] != (size, size):
            reference, _ = prepare_for_model(reference, size=size, channels=channels,
                                             invert=False)
    out_h, out_w = value["images"][0].shape[:2]
    if method == "bicubic":
        bicubic = value["images"][0]
    elif view_bicubic and out_h * out_w <= BICUBIC_VIEW_MAX:
        bicubic = final_value(superres.upscale_steps(None, shown, scale, "bicubic"))["images"][0]
    else:
        bicubic = None  # a second full-size image just for the view would cost too much
    value.update(input=shown, reference=reference, bicubic=bicubic)
    yield Result(value, result.summary)


def compare_method(model, pixels: np.ndarray, scale: int, method: str, simulate: bool,
                reference: np.ndarray | None, options: dict[str, Any]):
    """One method of the comparison, timed in the engine's thread. A method that cannot
    run on this image says why in its tile instead of in an error message."""
    from genplay.core.errors import GenplayError
    from genplay.core.events import Result, relay

    started = time.perf_counter()
    try:
        result = yield from relay(upscale_for_view(model, pixels, scale, method, simulate,
                                              reference, options, view_bicubic=False))
    except GenplayError as exc:
        yield Result({"error": str(exc)}, {})
        return
    value = dict(result.value)
    value["seconds"] = time.perf_counter() - started
    yield Result(value, result.summary)


def upscale_folder(model, folder: str, out_dir: str, scale: int, method: str,
                   options: dict[str, Any]):
    """upscale_folder_steps() with the options as one dict."""
    from genplay.core.ops.superres import upscale_folder_steps

    yield from upscale_folder_steps(model, folder, out_dir, scale, method, **options)


def superres_facts(model) -> dict[str, Any]:
    """What the panel needs to know of a model: which methods it serves, at which scales."""
    from genplay.core.ops.guided_superres import guided_method
    from genplay.core.ops.superres import methods_for

    methods = list(methods_for(model))
    # Only an Upscaler's "scales" are scales (a flow has a "scales" of its own: its layers).
    return {"methods": methods, "scales": [int(s) for s in model.scales] if "net" in methods
            else [], "guided": guided_method(model)}


def method_choices() -> dict[str, Any]:
    """The scales and method names of ops.superres, read in the engine's thread: importing
    it imports PyTorch, which the window must not wait for."""
    from genplay.core.ops.superres import METHODS, SCALES

    return {"scales": list(SCALES), "methods": dict(METHODS)}
