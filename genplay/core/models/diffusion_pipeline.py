"""Diffusion as a pipeline: every iterative loop of a diffusion model, written once against
the ``Denoising`` protocol of capabilities (the way diffusers separates a network, a
scheduler and a pipeline).

A model gives the loops its noise schedule (a ``NoiseSchedule``: genplay's cosine one, or
a ``TabulatedSchedule`` from another library's alphas or betas), a denoiser
``denoiser(labels, guidance, clip) -> (x_t, t) -> (x0, eps)``, the labels of a class, the
shape and device of its images, and its default sampler and step count. With those the
loops here give it sampling with step previews, SDEdit, inpainting, DDIM inversion and
decoding (its Latent), the variational bound (its Density) and guided restoration
(super-resolution). ``guided_denoiser`` builds the denoiser from a bare network call and
its prediction type ("eps", "v" or "sample"), classifier-free guidance included.

The solvers themselves (DDPM, DDIM, DPM-Solver++) are in ``diffusion_samplers`` and see
only a denoiser function and a schedule; the bound's formula is in ``diffusion_bound``.
Ops import this module, never those two.

Images come in and go out in [0, 1]; the loops work in [-1, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from genplay.core.events import Preview, Progress, Result, final_value
from genplay.core.images import to_uint8_hwc
from genplay.core.models import diffusion_bound
from genplay.core.models import diffusion_samplers as samplers
from genplay.core.models.diffusion_samplers import (  # re-exported: what ops and adapters use
    SAMPLERS,
    CosineSchedule,
    Denoiser,
    TabulatedSchedule,
    is_deterministic,
    timesteps_for,
)

if TYPE_CHECKING:
    from genplay.core.models.capabilities import Denoising, NoiseSchedule

__all__ = ["SAMPLERS", "CosineSchedule", "Denoiser", "TabulatedSchedule", "is_deterministic",
           "timesteps_for", "PREDICTIONS", "estimates", "guided_denoiser", "noise",
           "denoise_steps", "sample_steps", "decode", "encode_steps", "condition_steps",
           "inpaint_steps", "bound_pixels", "restore_steps"]

Events = Iterator[Progress | Preview | Result]
Network = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]
Correction = Callable[[torch.Tensor], torch.Tensor]

PREDICTIONS = ("eps", "v", "sample")  # what a network's output can be


# --- the denoiser from a network ---------------------------------------------------------------
def estimates(prediction: str, schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor,
              out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0, eps) from a network's output, by what it predicts: "eps" the noise, "v"
    a_t eps - s_t x0 (Salimans & Ho), "sample" the clean image."""
    a, s = schedule.a_s_like(t, x_t)
    if prediction == "v":
        return a * x_t - s * out, s * x_t + a * out
    if prediction == "eps":
        return (x_t - s * out) / a, out
    if prediction == "sample":
        return out, (x_t - a * out) / s
    raise ValueError(f"prediction must be one of {', '.join(PREDICTIONS)}, not {prediction!r}")


def guided_denoiser(network: Network, schedule: NoiseSchedule, prediction: str,
                    labels: torch.Tensor | None = None, guidance: float = 0.0,
                    null_label: int = 0, clip: bool = True) -> Denoiser:
    """x_t, t -> (x0, eps) estimates, images in [-1, 1], from network(x_t, t, labels).

    With labels and guidance g > 0, classifier-free guidance: the network runs on the
    class and on `null_label` ("no class"), and its output is pushed g times further
    along their difference. x0 is clipped to the image range (eps recomputed to match),
    which keeps few-step samplers from overshooting.
    """

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if labels is not None and guidance > 0:
            both = network(torch.cat([x_t, x_t]), torch.cat([t, t]),
                           torch.cat([labels, torch.full_like(labels, null_label)]))
            cond, uncond = both.chunk(2)
            out = uncond + (1 + guidance) * (cond - uncond)
        else:
            out = network(x_t, t, labels)
        x0, eps = estimates(prediction, schedule, x_t, t, out)
        if clip:
            x0 = x0.clamp(-1, 1)
            a, s = schedule.a_s_like(t, x_t)
            eps = (x_t - a * x0) / s
        return x0, eps

    return denoise


# --- sampling ------------------------------------------------------------------------------------
def noise(model: Denoising, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n standard normal images: the starting noise, and a diffusion model's prior."""
    return torch.randn((n, *model.image_shape), generator=generator, device=model.device)


def _images(x: torch.Tensor) -> np.ndarray:
    return ((x + 1) / 2).clamp(0, 1).float().cpu().numpy().astype(np.float32)


@torch.no_grad()  # on a generator function, torch restores grad mode at every yield
def denoise_steps(model: Denoising, x_t: torch.Tensor, timesteps: list[int], sampler: str,
                  opts: Mapping[str, Any], generator: torch.Generator | None,
                  project: samplers.Projection | None = None, preview: bool = True,
                  labels: torch.Tensor | None = None) -> Events:
    """Progress and a Preview of the x0 estimates after each network evaluation, then
    Result(float32 images in [0, 1]). opts: eta, class and guidance; labels, where given,
    are the class's labels already drawn (sample_steps draws a mixed chunk's)."""
    if labels is None:
        labels = model.class_labels(x_t.shape[0], opts.get("class"), generator)
    denoise = model.denoiser(labels, float(opts.get("guidance", 1.0)))
    steps = samplers.run(sampler, denoise, model.schedule, x_t, timesteps,
                         eta=float(opts.get("eta", 0.0)), generator=generator, project=project)
    x = x_t
    for i, n, x in steps:
        yield Progress(i, n, message=f"denoising ({sampler})")
        if preview and i < n:
            yield Preview(i, to_uint8_hwc(((x + 1) / 2).clamp(0, 1).cpu().numpy()))
    yield Result(_images(x))


def sample_steps(model: Denoising, n: int, generator: torch.Generator | None = None,
                 keep: int | None = None, **opts: Any) -> Events:
    """n images from noise (the first `keep` of them: all n starting noises are drawn, so
    with a deterministic sampler they are the first of the n). opts: sampler, steps, eta,
    temperature (scales the starting noise), class, guidance."""
    z = noise(model, n, generator)[:keep] * float(opts.get("temperature", 1.0))
    labels = model.class_labels(n, opts.get("class"), generator)  # all n, as the noise
    sampler, timesteps = _chosen_steps(model, opts, int(opts.get("steps", model.default_steps)))
    return denoise_steps(model, z, timesteps, sampler, opts, generator,
                         labels=None if labels is None else labels[:keep])


def _chosen_steps(model: Denoising, opts: Mapping[str, Any], steps: int,
                  start: int | None = None) -> tuple[str, list[int]]:
    """(sampler, its timesteps) as opts choose them: the sampler (the model's default
    unless named) on the grid named in opts ("auto" unless named)."""
    sampler = str(opts.get("sampler", model.default_sampler))
    return sampler, timesteps_for(sampler, model.schedule, steps, start,
                                  grid=str(opts.get("grid", "auto")))


# --- Latent: deterministic DDIM ------------------------------------------------------------------
@torch.no_grad()
def decode(model: Denoising, z: torch.Tensor, steps: int, sampler: str = "ddim"
           ) -> torch.Tensor:
    """The image DDIM (eta 0, unconditional) makes from noise z in `steps` steps: a
    deterministic map. Another deterministic sampler (UniPC) solves the same ODE from z:
    nearly the same image, in fewer steps."""
    timesteps = timesteps_for(sampler, model.schedule, steps)
    events = denoise_steps(model, z, timesteps, sampler, {}, None, preview=False)
    return torch.from_numpy(final_value(events)).to(z.device)


@torch.no_grad()
def encode_steps(model: Denoising, x: torch.Tensor,
                 steps: int) -> Iterator[tuple[int, int, torch.Tensor]]:
    """DDIM inversion: the noise that decode(model, z, steps) turns (nearly) back into x."""
    timesteps = timesteps_for("ddim", model.schedule, int(steps))
    yield from samplers.invert(model.denoiser(), model.schedule, x * 2 - 1, timesteps)


# --- Conditional: SDEdit and inpainting ----------------------------------------------------------
def condition_steps(model: Denoising, guide: torch.Tensor, strength: float,
                    generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
                    **opts: Any) -> Events:
    """SDEdit (Meng et al. 2022): noise the guide to the level `strength` (0: none,
    1: pure noise) and denoise it. `steps` counts a full schedule, as in other tools:
    strength 0.5 with 20 steps runs 10. Strength 0 returns the guide unchanged.
    `noise` (shaped like the guide) replaces the starting noise drawn from `generator`."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be from 0 to 1, not {strength}")
    guide = guide.to(model.device, torch.float32)
    if strength == 0:
        return iter([Result(guide.clamp(0, 1).cpu().numpy().astype(np.float32))])
    total = model.schedule.timesteps
    start = max(0, min(total - 1, round(strength * total) - 1))
    steps = max(1, math.ceil(int(opts.get("steps", model.default_steps)) * strength))
    sampler, timesteps = _chosen_steps(model, opts, steps, start)
    if noise is None:
        noise = torch.randn(guide.shape, generator=generator, device=model.device)
    x_t = model.schedule.add_noise(guide * 2 - 1, torch.full((guide.shape[0],), start),
                                   noise.to(model.device, torch.float32))
    return denoise_steps(model, x_t, timesteps, sampler, opts, generator)


def inpaint_steps(model: Denoising, image: torch.Tensor, mask: torch.Tensor,
                  generator: torch.Generator | None = None, **opts: Any) -> Events:
    """Fills the pixels where mask is True; the others come back exactly as given.

    Before each network evaluation the known pixels of x_t are replaced by the image
    noised to that level (fresh noise each time), so the filled region is denoised in
    agreement with them (the replacement method of Song et al. 2021). The Result holds
    the given pixels to the bit (the sampler worked in [-1, 1]). opts: sampler (default
    ddpm), steps (default 50), eta, class, guidance.
    """
    device = model.device
    image = image.to(device, torch.float32)
    hole = torch.as_tensor(mask, device=device).bool()
    if hole.dim() == 2:
        hole = hole.expand(image.shape[0], 1, *hole.shape)
    if hole.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"the mask is {tuple(hole.shape[-2:])}, the image "
                         f"{tuple(image.shape[-2:])}")
    known = image * 2 - 1

    def project(x: torch.Tensor, t: int) -> torch.Tensor:
        if t < 0:
            return x  # the clean image: the Result puts the given pixels back exactly
        fresh = torch.randn(x.shape, generator=generator, device=x.device)
        noisy = model.schedule.add_noise(known, torch.full((x.shape[0],), t), fresh)
        return torch.where(hole, x, noisy)

    z = noise(model, image.shape[0], generator)
    # Stochastic steps let the filled region settle with the held pixels (fresh noise
    # each step); a deterministic solver tends to leave a seam.
    sampler = str(opts.get("sampler", "ddpm"))
    timesteps = timesteps_for(sampler, model.schedule, int(opts.get("steps", 50)))
    for event in denoise_steps(model, z, timesteps, sampler, opts, generator, project):
        if isinstance(event, Result):
            filled = torch.from_numpy(event.value).to(device)
            event = Result(torch.where(hole, filled, image).cpu().numpy())
        yield event


# --- Density: the variational bound --------------------------------------------------------------
def bound_pixels(model: Denoising, x: torch.Tensor, k: int) -> torch.Tensor:
    """-log P(x) bound terms per sub-pixel in nats (N, C, H, W) of 8-bit images x in
    [0, 1], from k stratified timesteps; see diffusion_bound."""
    return diffusion_bound.bound_pixels(model.denoiser(clip=True), model.schedule,
                                        x.to(model.device, torch.float32), k)


# --- guided restoration (super-resolution) -------------------------------------------------------
def _noise_each(generators: Sequence[torch.Generator], shape: tuple[int, ...],
                device: torch.device) -> torch.Tensor:
    """One standard normal image per generator, stacked."""
    return torch.cat([torch.randn((1, *shape), generator=g, device=device) for g in generators])


@torch.no_grad()  # on a generator function, torch restores grad mode at every yield
def restore_steps(model: Denoising, correct: Correction, generators: Sequence[torch.Generator],
                  steps: int, eta: float = 1.0, label: str | int | None = None,
                  guidance: float = 1.0, preview_every: int = 5,
                  message: str = "denoising") -> Events:
    """One image per generator, from pure noise, by DDIM with ``correct`` applied to the
    x0 estimate of every step (DDNM, Wang et al. 2023; ILVR, Choi et al. 2021).

    At each step the network proposes a clean image; ``correct`` moves it onto the images
    that agree with what is known (for super-resolution: those that shrink to the
    low-resolution input), and the DDIM step goes on from the corrected x0 with the
    network's noise estimate. It differs from the plain samplers in two ways: the
    correction acts on x0 rather than on x_t, and every image draws its noise from its own
    generator, so image k is the same whatever else is in the batch while all of them
    share one network evaluation per step.

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
    timesteps = timesteps_for("ddim", schedule, steps)
    total = len(timesteps)
    x = _noise_each(generators, model.image_shape, model.device)
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
            x = x + sigma * _noise_each(generators, model.image_shape, x.device)
        yield Progress(i + 1, total, message=message)
        if preview_every and (i + 1) % preview_every == 0 and i + 1 < total:
            yield Preview(i + 1, to_uint8_hwc(image.clamp(0, 1).cpu().numpy()))
    yield Result(image.float().cpu().numpy().astype(np.float32))
