"""Restoring images with a diffusion model: DDIM whose clean-image estimate is corrected
at every step.

The idea of DDNM (Wang et al. 2023), ILVR (Choi et al. 2021) and DDRM (Kawar et al.
2022): at each step the network proposes a clean image x0; a caller's ``correct``
moves it onto the images that agree with what is known (for super-resolution: those
that shrink to the low-resolution input), and the DDIM step goes on from the corrected
x0 with the network's noise estimate. The network fills in what the measurement does
not fix (the detail a shrink throws away), each step agreeing with the measurement, so
the result both looks like the model's images and reproduces the input.

Kept apart from ``diffusion`` (which runs the plain samplers) because the loop differs
in two ways the shared samplers do not offer: the correction acts on x0 rather than on
x_t, and every image of the batch draws its noise from its own generator, so image k
is the same whatever else is in the batch (a request for more candidates keeps the
first ones) while all of them still share one network evaluation per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from genplay.core.events import Preview, Progress, Result
from genplay.core.images import to_uint8_hwc
from genplay.core.models import diffusion_samplers as samplers

Correction = Callable[[torch.Tensor], torch.Tensor]


def _noise(generators: Sequence[torch.Generator], shape: tuple[int, ...],
           device: torch.device) -> torch.Tensor:
    """One standard normal image per generator, stacked."""
    return torch.cat([torch.randn((1, *shape), generator=g, device=device) for g in generators])


@torch.no_grad()  # on a generator function, torch restores grad mode at every yield
def restore_steps(model, correct: Correction, generators: Sequence[torch.Generator],
                  steps: int, eta: float = 1.0, label: str | int | None = None,
                  guidance: float = 1.0, preview_every: int = 5,
                  message: str = "denoising") -> Iterator[Progress | Preview | Result]:
    """One image per generator, from pure noise, by DDIM with ``correct`` applied to the
    x0 estimate of every step.

    correct: images (N, C, H, W) on the [0, 1] scale -> corrected images, same shape;
    it is given the network's estimate (clipped to the image range) and may return
    values outside it. eta: 0 is deterministic after the starting noise, 1 as noisy as
    DDPM; fresh noise is what lets candidates differ where the measurement allows.
    label, guidance: a class and classifier-free guidance, as in ``sample_steps``.

    Yields Progress per step, a Preview of the corrected estimates every
    `preview_every` steps, then Result(float32 (N, C, H, W)): the last corrected
    estimate, not clamped, so a caller's final correction is not undone.
    """
    n = len(generators)
    labels = model.class_labels(n, label)
    denoise = model.denoiser(labels, guidance)
    schedule = model.schedule
    timesteps = samplers.timesteps_for("ddim", schedule, steps)
    total = len(timesteps)
    x = _noise(generators, model.image_shape, model.device)
    image = x
    for i, t in enumerate(timesteps):
        x0, eps = denoise(x, torch.full((n,), t, dtype=torch.long, device=x.device))
        image = correct((x0 + 1) / 2)
        x0 = image * 2 - 1
        # DDIM's step from the corrected x0; the last step (u = -1, the clean image)
        # returns x0 itself.
        u = timesteps[i + 1] if i + 1 < total else -1
        x, sigma = samplers.ddim_step(schedule, x0, eps, t, u, eta)
        if eta > 0 and u >= 0:
            x = x + sigma * _noise(generators, model.image_shape, x.device)
        yield Progress(i + 1, total, message=message)
        if preview_every and (i + 1) % preview_every == 0 and i + 1 < total:
            yield Preview(i + 1, to_uint8_hwc(image.clamp(0, 1).cpu().numpy()))
    yield Result(image.float().cpu().numpy().astype(np.float32))
