"""The reference library's samplers on genplay's own networks: diffusers' schedulers
driven by a genplay diffusion model's denoiser, so the benchmark compares solvers and
nothing else.

The adapter:
- gives each scheduler genplay's noise schedule exactly: its betas, recovered from the
  model's alpha_bar table (beta_0 = 1 - alpha_bar_0, beta_t = 1 - alpha_bar_t /
  alpha_bar_{t-1}), over the same number of training timesteps;
- feeds it the noise estimate of genplay's denoiser ("epsilon" prediction). That
  denoiser has already clipped its clean-image estimate to the image range and
  recomputed the noise to match, so the scheduler's own clipping and thresholding are
  off: both libraries work from the same clipped estimate;
- starts from the same noise as genplay (the model's ``noise`` with the benchmark's
  seeded generator; times the scheduler's init_noise_sigma, which Euler's sigma-space
  needs), and hands the same generator to the stochastic schedulers;
- rounds a scheduler's fractional timesteps (Euler's interpolated ones at "linspace"
  spacing) to the network's integer timesteps.

diffusers is an optional extra (``pip install -e ".[diffusers]"``); ``available()``
says whether it is installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from genplay.core.models.diffusion_pipeline import noise
from genplay.core.ops.sampling import CHUNK, chunk_seed


@dataclass(frozen=True)
class Peer:
    """One diffusers scheduler with its settings, under the name the tables give it."""

    name: str
    scheduler: str  # the class name in diffusers
    settings: dict[str, Any] = field(default_factory=dict)


# The schedulers the comparison names, each with diffusers' own defaults but for the
# timestep spacing: "trailing", which diffusers recommends for few steps (DDIM's default
# "leading" starts 20% below pure noise at 5 steps; the multistep solvers' "linspace"
# gives them the same grid within a timestep, FIDs within 0.1 in a 64-image trial).
# Euler runs on its default "linspace" grid: on "trailing" it is DDIM (Euler's step in
# sigma space is DDIM's update), which is measured already.
PEERS = (
    Peer("DDIM", "DDIMScheduler", {"set_alpha_to_one": True}),
    Peer("DPM-Solver++ 2M", "DPMSolverMultistepScheduler",
         {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    Peer("SDE-DPM-Solver++ 2M", "DPMSolverMultistepScheduler",
         {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}),
    Peer("UniPC", "UniPCMultistepScheduler", {"solver_order": 2}),
    # UniPC's other B(h) (h itself, not e^h - 1), which its authors recommend for
    # unconditional sampling in very few steps; diffusers offers it as solver_type "bh1".
    # Its default last step, to noise level 0, gives NaN there (B(h) = h is -inf, times a
    # zero correction), so it ends at the smallest training noise level instead.
    Peer("UniPC bh1", "UniPCMultistepScheduler",
         {"solver_order": 2, "solver_type": "bh1", "final_sigmas_type": "sigma_min"}),
    Peer("Euler", "EulerDiscreteScheduler", {}),
)
SPACINGS = {"Euler": ("linspace",)}
DEFAULT_SPACINGS = ("trailing",)


def available() -> bool:
    """Whether diffusers is installed (the peer rows need it)."""
    return importlib.util.find_spec("diffusers") is not None


def peer_rows(names: list[str] | None = None) -> list[tuple[Peer, str]]:
    """Every (peer, spacing) the benchmark measures, or only those of the named peers."""
    peers = PEERS if not names else [find_peer(name) for name in names]
    return [(p, s) for p in peers for s in SPACINGS.get(p.name, DEFAULT_SPACINGS)]


def find_peer(name: str) -> Peer:
    for peer in PEERS:
        if peer.name == name:
            return peer
    raise ValueError(f"no peer {name!r}; choose from {', '.join(p.name for p in PEERS)}")


def betas_of(alpha_bar: torch.Tensor) -> torch.Tensor:
    """The per-step noise variances whose running product is alpha_bar (float64)."""
    alpha_bar = alpha_bar.double()
    previous = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
    return 1 - alpha_bar / previous


def make_scheduler(peer: Peer, schedule, spacing: str):
    """The diffusers scheduler of `peer` on genplay's noise schedule."""
    import diffusers

    cls = getattr(diffusers, peer.scheduler)
    settings = {"num_train_timesteps": schedule.timesteps,
                "trained_betas": betas_of(schedule.alpha_bar).tolist(),
                "prediction_type": "epsilon", "timestep_spacing": spacing,
                "steps_offset": 0, **peer.settings}
    accepted = _parameters(cls.__init__)
    for name in ("clip_sample", "thresholding"):  # off: genplay's denoiser clipped already
        if name in accepted:
            settings[name] = False
    return cls(**settings)


def _parameters(function: Callable) -> set[str]:
    import inspect

    return set(inspect.signature(function).parameters)


@torch.no_grad()
def peer_sample(denoise: Callable, scheduler, x: torch.Tensor, steps: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Images in [-1, 1] from starting noise x by the scheduler, in `steps` steps, with
    genplay's denoiser as the network. Returns the scheduler's final sample."""
    scheduler.set_timesteps(steps, device=x.device)
    sample = x * scheduler.init_noise_sigma
    kwargs = {"generator": generator} if "generator" in _parameters(scheduler.step) else {}
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(sample, t)
        t_int = torch.full((x.shape[0],), int(round(float(t))), dtype=torch.long,
                           device=x.device)
        _x0, eps = denoise(model_input, t_int)
        sample = scheduler.step(eps, t, sample, **kwargs).prev_sample
    return sample


def sample_like_genplay(model, peer: Peer, spacing: str, n: int, seed: int,
                        steps: int) -> np.ndarray:
    """n images (float32, (N, C, H, W) in [0, 1]) by a peer on the model, in genplay's
    seeded chunks, each chunk's starting noise drawn as genplay's sample_images draws it,
    so a peer's image i starts where genplay's image i does."""
    parts = []
    denoise = model.denoiser()
    for index in range((n + CHUNK - 1) // CHUNK):
        count = min(CHUNK, n - index * CHUNK)
        generator = torch.Generator(device=model.device).manual_seed(chunk_seed(seed, index))
        x = noise(model, CHUNK, generator)[:count]
        scheduler = make_scheduler(peer, model.schedule, spacing)
        out = peer_sample(denoise, scheduler, x, steps, generator)
        parts.append(((out + 1) / 2).clamp(0, 1).float().cpu().numpy())
    return np.concatenate(parts).astype(np.float32)
