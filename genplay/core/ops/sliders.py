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


def decode_timed(model: Any, z: np.ndarray, preview: bool = False
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """(uint8 HWC image, {"preview": whether it is a cheaper one, "seconds": decode time})."""
    from genplay.core.ops.interpolation import decode_one

    start = time.perf_counter()
    image, cheaper = decode_one(model, z, preview)
    return to_uint8_hwc(image), {"preview": cheaper, "seconds": time.perf_counter() - start}


def render_sliders(model: Any, state: SliderState, preview: bool = False
                   ) -> tuple[np.ndarray, dict[str, Any]]:
    """The image of a whole slider state: (uint8 HWC, {"preview", "seconds", "latent"})."""
    z = slider_latent(model, state)
    image, facts = decode_timed(model, z, preview)
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


def render_between(model: Any, state: Between, preview: bool = False
                   ) -> tuple[np.ndarray, dict[str, Any]]:
    """The image at a point between two latents: (uint8 HWC, {"preview", "seconds",
    "latent"}), quick while the position slider is dragged (see decode_one)."""
    z = between_latent(state)
    image, facts = decode_timed(model, z, preview)
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
