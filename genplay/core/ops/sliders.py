"""What the Latent panel's sliders draw: one image from the whole slider state.

A slider state is where the sliders start (a seed's latent, or any latent such as an
encoded image's) and how far each direction slider is moved, in prior standard
deviations. ``render_sliders`` turns a state into its image, the one function the tab
(through the engine) and tests call, as a visualizer renders from one state object.
The Interpolation tab's position slider is a state too (``Between``: two latents and how
far along the path between them), drawn by ``render_between``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from genplay.core.images import to_uint8_hwc

if TYPE_CHECKING:  # the model code is imported by the functions that run it, so the
    # Sliders tab can build a state (numpy only) without loading PyTorch
    from genplay.core.events import Progress, Result
    from genplay.core.ops.interpolation import LatentDirections

N_DIRECTIONS = 8


@dataclass(frozen=True, eq=False)  # eq=False: numpy fields make == ambiguous
class SliderState:
    """start: a seed (its prior latent) or a latent array; amounts: how far each of the
    first len(amounts) directions is moved, in standard deviations (needs directions)."""
    start: int | np.ndarray
    amounts: tuple[float, ...] = ()
    directions: LatentDirections | None = field(default=None, repr=False)


def moved(z: np.ndarray, amounts, directions: LatentDirections | None) -> np.ndarray:
    """z moved amounts[i] prior standard deviations along direction i (numpy, float32)."""
    z = np.array(z, np.float32)
    amounts = np.asarray(amounts, np.float32).reshape(-1)
    if directions is None or not len(amounts):
        return z
    k = len(amounts)
    flat = z.reshape(-1) + (amounts * directions.stds[:k]) @ directions.directions[:k]
    return flat.reshape(z.shape)


def slider_latent(model: Any, state: SliderState) -> np.ndarray:
    """The latent a slider state names: its start moved along the directions."""
    from genplay.core.events import final_value
    from genplay.core.ops.interpolation import endpoint_latent

    start = state.start
    if isinstance(start, int | np.integer) and not isinstance(start, bool):
        start = final_value(endpoint_latent(model, int(start)))
    return moved(start, state.amounts, state.directions)


# A held slider's preview: as many sampler steps as fit this budget on this machine, from
# MIN_PREVIEW_STEPS (the fewest that keep the image recognisable) to MAX_PREVIEW_STEPS.
# With slider-to-screen overhead and jitter, a 40 ms decode keeps the painted preview
# within 60 ms p95 (benchmarks/gui_latency.py). More steps, nearer the full image
# (benchmarks/results/preview-quality-*.txt): 3 UniPC steps give FID 32.2 on MNIST and
# 41.0 on Fashion-MNIST, the full image's class in 63.9% and 45.6% of previews; 4 steps
# 21.5 and 20.6, 72.7% and 57.1%; 5 steps 19.0 and 15.0, 77.8% and 60.5%.
PREVIEW_BUDGET_S = 0.040
MIN_PREVIEW_STEPS = 3  # ops.interpolation.PREVIEW_STEPS, kept here without importing torch
MAX_PREVIEW_STEPS = 8


def preview_steps(step_seconds: float | None) -> int:
    """The preview steps that fit PREVIEW_BUDGET_S when one step takes step_seconds
    (unknown: the fewest)."""
    if not step_seconds or step_seconds <= 0:
        return MIN_PREVIEW_STEPS
    return max(MIN_PREVIEW_STEPS, min(MAX_PREVIEW_STEPS, int(PREVIEW_BUDGET_S / step_seconds)))


def decode_timed(model: Any, z: np.ndarray, preview: bool = False,
                 steps: int = MIN_PREVIEW_STEPS) -> tuple[np.ndarray, dict[str, Any]]:
    """(uint8 HWC image, {"preview": whether it is a cheaper one, "seconds": decode time,
    "evaluations": the network evaluations it ran (the decoder's steps; 1 for one pass)})."""
    from genplay.core.models.capabilities import PreviewDecoder
    from genplay.core.ops.interpolation import decode_one

    start = time.perf_counter()
    image, cheaper = decode_one(model, z, preview, steps)
    seconds = time.perf_counter() - start
    evaluations = steps if cheaper else (
        int(model.latent_steps) if isinstance(model, PreviewDecoder) else 1)
    return to_uint8_hwc(image), {"preview": cheaper, "seconds": seconds,
                                 "evaluations": evaluations}


def render_sliders(model: Any, state: SliderState, preview: bool = False,
                   steps: int = MIN_PREVIEW_STEPS) -> tuple[np.ndarray, dict[str, Any]]:
    """The image of a whole slider state: (uint8 HWC, {"preview", "seconds",
    "evaluations", "latent"}); a preview runs `steps` sampler steps (see decode_one)."""
    z = slider_latent(model, state)
    image, facts = decode_timed(model, z, preview, steps)
    return image, {**facts, "latent": z}


@dataclass(frozen=True, eq=False)
class Between:
    """A point on the path from latent start to latent end: t = 0 is start, 1 is end."""
    start: np.ndarray
    end: np.ndarray
    t: float
    spherical: bool = True


def between_latent(state: Between) -> np.ndarray:
    """The latent a Between names, on the path interpolation_path() takes (float32)."""
    import torch

    from genplay.core.ops.interpolation import lerp, slerp

    path = slerp if state.spherical else lerp
    z = path(torch.from_numpy(np.asarray(state.start, np.float32)),
             torch.from_numpy(np.asarray(state.end, np.float32)), float(state.t))
    return z.numpy()


def render_between(model: Any, state: Between, preview: bool = False,
                   steps: int = MIN_PREVIEW_STEPS) -> tuple[np.ndarray, dict[str, Any]]:
    """The image at a point between two latents: (uint8 HWC, {"preview", "seconds",
    "evaluations", "latent"}), quick while the position slider is dragged (see
    decode_one)."""
    z = between_latent(state)
    image, facts = decode_timed(model, z, preview, steps)
    return image, {**facts, "latent": z}


def start_from_seed(model: Any, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """(the seed's latent, {"image": its full-quality image, "seconds": the decode time}),
    in one job: the first image of a model does not wait behind other work."""
    image, facts = render_sliders(model, SliderState(int(seed)))
    return facts["latent"], {"image": image, "seconds": facts["seconds"]}


def encode_for_model(model: Any, path: str, dataset: str) -> Iterator[Progress | Result]:
    """A user's image encoded, inverted or not as the model's training data needs."""
    from genplay.core.data import invert_policy
    from genplay.core.ops.interpolation import encode_file

    yield from encode_file(model, path, invert=invert_policy(dataset))


def directions_for(model: Any, folder: str, k: int = N_DIRECTIONS
                   ) -> Iterator[Progress | Result]:
    """The checkpoint's slider directions, cached beside it (found once: minutes for a
    diffusion model)."""
    from genplay.core import checkpoints
    from genplay.core.ops.interpolation import load_or_compute_directions_steps

    yield from load_or_compute_directions_steps(model, folder, checkpoints.weights_hash(folder),
                                                k=k)
