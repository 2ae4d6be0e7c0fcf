"""An energy-based model: a network E(x) whose low values mark likely images.

p(x) is proportional to exp(-E(x)); the normaliser is never computed. Training is
contrastive divergence (Du & Mordatch 2019): push the energy of data down and the
energy of the model's own samples up,

    loss = E(x+) - E(x-) + alpha * (E(x+)^2 + E(x-)^2),

where the negatives x- come from a few steps of Langevin dynamics (SGLD)

    x <- clamp(x - step_size * clamp(dE/dx) + noise * N(0, 1), -1, 1)

started from a replay buffer of earlier negatives, with a few fresh starts from
uniform noise (5%) so the chains keep exploring. The squared-energy term keeps the
energies near zero; without it they drift apart until the gradients blow up.
Sampling runs the same dynamics from uniform noise, short-run as in Nijkamp et al.
2019, usually for a few more steps than training used.

Everything here works in the network's [-1, 1] space (``u = 2x - 1``); images in and
out of the public methods are in [0, 1] as everywhere in genplay.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from genplay.core.events import Preview, Progress, Result, final_value
from genplay.core.images import to_uint8_hwc
from genplay.core.models.base import GenerativeModel, ModelConfig, SampleOption
from genplay.core.models.blocks import channel_widths, frozen_weights, resolution_plan
from genplay.core.models.families import register


@dataclass(frozen=True)
class EBMConfig(ModelConfig):
    BOUNDS = ModelConfig.BOUNDS | {
        "features": (1, 1024), "langevin_steps": (1, 100_000), "sample_steps": (1, 100_000),
        "buffer_size": (1, 1_000_000), "reinit": (0.0, 1.0)}
    features: int = 16  # width of the first conv layer; doubles per halving, up to 4x
    langevin_steps: int = 30  # SGLD steps per training batch
    sample_steps: int = 200  # default SGLD steps when sampling from noise
    step_size: float = 10.0  # multiplies dE/du in the SGLD update
    # Per-pixel clamp of step_size * dE/du: the largest move a step makes, in [-1, 1] units.
    # 0.3 (a clamp of 0.03 on the gradient itself, as Du & Mordatch's code has it): with 0.03
    # the chains crept, the negatives stayed near noise, and the energy learnt only "noise
    # is unlikely" (Fashion-MNIST samples were noise-textured blobs after 1,900 steps).
    grad_clamp: float = 0.3
    noise: float = 0.005  # std of the Gaussian noise added at every SGLD step
    buffer_size: int = 10000  # persistent chains kept between batches
    reinit: float = 0.05  # chance a chain restarts from uniform noise
    alpha: float = 0.1  # weight of the E(x+)^2 + E(x-)^2 regulariser
    data_noise: float = 0.005  # Gaussian noise on the data, so E need not be sharp at 8-bit levels
    grad_clip: float = 0.1  # max norm of the parameter gradient
    spectral_norm: bool = False  # spectral normalisation of every layer
    lr: float = 1e-4
    batch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.langevin_steps < 1 or self.sample_steps < 1:
            raise ValueError("langevin_steps and sample_steps must be at least 1")
        if self.buffer_size < self.batch_size:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be at least batch_size "
                             f"({self.batch_size})")
        if not 0.0 <= self.reinit <= 1.0:
            raise ValueError(f"reinit must be from 0 to 1, not {self.reinit}")


class EnergyNet(nn.Module):
    """A small conv net to one scalar per image: 3x3 conv, a stride-2 conv per halving,
    3x3 conv, then a linear layer over the whole map (positions matter: digits and
    clothes are centred). SiLU throughout, smooth so the Langevin gradients are too."""

    def __init__(self, c: EBMConfig) -> None:
        super().__init__()
        base, levels = resolution_plan(c.image_size)
        widths = channel_widths(c.features, levels)
        wrap = spectral_norm if c.spectral_norm else (lambda layer: layer)
        layers: list[nn.Module] = [wrap(nn.Conv2d(c.channels, widths[0], 3, padding=1)), nn.SiLU()]
        for i in range(levels):
            layers += [wrap(nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1)), nn.SiLU()]
        layers += [wrap(nn.Conv2d(widths[-1], widths[-1], 3, padding=1)), nn.SiLU(),
                   nn.Flatten(), wrap(nn.Linear(widths[-1] * base * base, 1))]
        self.body = nn.Sequential(*layers)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.body(u).squeeze(1)


@register("ebm", EBMConfig)
class EBM(GenerativeModel):
    # log_prob is -E(x): an unnormalised log-density, so bits/dim would be meaningless;
    # core.ops.outliers scores it as an energy instead and core.evaluation reports no bpd.
    normalised = False

    def __init__(self, config: EBMConfig) -> None:
        super().__init__(config)
        self.net = EnergyNet(config)
        # The replay buffer of persistent chains, in [-1, 1], stored as float16 (half the
        # memory; its precision is far finer than the SGLD noise). Not persistent: it is
        # no part of the weights, so it never goes into model.safetensors, nor into the
        # trainer state (which holds state_dict()): a resumed run starts from a fresh
        # buffer of noise, and the chains catch up within a few hundred steps.
        # Allocated on the first training step: a model loaded to sample needs none.
        self.register_buffer("replay", torch.empty(0, dtype=torch.float16), persistent=False)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) of images in [0, 1], shape (N,); lower means more likely."""
        return self.net(x * 2.0 - 1.0)

    # --- training ---------------------------------------------------------------------------
    def configure_optimizers(self):
        return {"main": torch.optim.Adam(self.parameters(), lr=self.config.lr, betas=(0.0, 0.999))}

    def _draw_chains(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices into the buffer, starting points) for n negatives."""
        c = self.config
        if self.replay.shape[0] != c.buffer_size:
            self.replay = torch.rand((c.buffer_size, *self.image_shape),
                                     device=self.device).mul_(2).sub_(1).half()
        index = torch.randperm(c.buffer_size, device=self.device)[:n]
        start = self.replay[index].float()
        fresh = torch.rand(n, device=self.device) < c.reinit
        start[fresh] = torch.rand_like(start[fresh]) * 2 - 1
        return index, start

    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        c = self.config
        n = x.shape[0]
        pos = (x * 2.0 - 1.0 + c.data_noise * torch.randn_like(x)).clamp(-1, 1)
        index, start = self._draw_chains(n)
        neg = start
        for _step, moved in self._langevin(start, c.langevin_steps, c.step_size, c.noise, None, n):
            neg = moved
        self.replay[index] = neg.half()
        energies = self.net(torch.cat([pos, neg]))
        e_pos, e_neg = energies[:n], energies[n:]
        reg = e_pos.pow(2).mean() + e_neg.pow(2).mean()
        loss = e_pos.mean() - e_neg.mean() + c.alpha * reg
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), c.grad_clip)
        opt.step()
        return {"loss": loss.item(), "energy_pos": e_pos.mean().item(),
                "energy_neg": e_neg.mean().item(), "reg": reg.item()}

    @torch.no_grad()
    def validation_metrics(self, x, labels):
        return {"energy": self.energy(x).mean().item()}

    # --- Langevin dynamics ------------------------------------------------------------------
    def _langevin(self, u: torch.Tensor, steps: int, step_size: float, noise: float,
                  generator: torch.Generator | None, n_noise: int,
                  ) -> Iterator[tuple[int, torch.Tensor]]:
        """Yields (step, u) after each SGLD step from u in [-1, 1].

        Each step's noise is drawn for n_noise images and the first u.shape[0] used, so
        the first k images of a run are the same whether k or n_noise were asked for.
        """
        u = u.detach()
        shape = (n_noise, *u.shape[1:])
        for step in range(1, steps + 1):
            with frozen_weights(self.net), torch.enable_grad():
                u = u.requires_grad_(True)
                (grad,) = torch.autograd.grad(self.net(u).sum(), u)
            with torch.no_grad():
                kick = torch.randn(shape, generator=generator, device=u.device)[: u.shape[0]]
                move = (step_size * grad).clamp(-self.config.grad_clamp, self.config.grad_clamp)
                u = (u.detach() - move + noise * kick).clamp(-1, 1)
            yield step, u

    def _chain_events(self, u: torch.Tensor, generator: torch.Generator | None, n_noise: int,
                      opts: Mapping[str, Any], preview_every: int | None,
                      ) -> Iterator[Progress | Preview | Result]:
        c = self.config
        steps = int(opts.get("steps", c.sample_steps))
        step_size = float(opts.get("step_size", c.step_size))
        noise = float(opts.get("noise", c.noise))
        if preview_every is None:
            preview_every = max(1, steps // 20)
        # Eval mode: spectral norm's power iteration would otherwise move at every step,
        # and the same seed would stop giving the same images.
        was_training = self.training
        self.eval()
        x = u
        try:
            for step, x in self._langevin(u, steps, step_size, noise, generator, n_noise):
                yield Progress(step, steps, message="Langevin dynamics")
                if preview_every and step % preview_every == 0 and step < steps:
                    yield Preview(step, to_uint8_hwc(((x + 1) / 2).cpu().numpy()))
        finally:
            self.train(was_training)
        yield Result(((x + 1) / 2).clamp(0, 1).float().cpu().numpy().astype(np.float32))

    # --- Sampler ----------------------------------------------------------------------------
    def sample_options(self) -> list[SampleOption]:
        c = self.config
        return [
            SampleOption("steps", c.sample_steps, 1, 1000,
                         "Langevin steps from uniform noise: more give cleaner images",
                         integer=True),
            SampleOption("step_size", c.step_size, 0.0, max(100.0, c.step_size),
                         "how far each step follows the energy's gradient (each move is "
                         f"capped at {c.grad_clamp:g} per pixel)"),
            SampleOption("noise", c.noise, 0.0, max(0.1, c.noise),
                         "random noise added at every step: 0 is plain gradient descent "
                         "on the energy"),
        ]

    # sample_steps(n, keep=k) draws the starting noise and each step's noise for n images
    # and moves the first k, which are the first k of the n.
    partial_chunks = True

    def sample_steps(self, n: int, generator: torch.Generator | None = None,
                     keep: int | None = None, preview_every: int | None = None,
                     **opts: Any) -> Iterator[Progress | Preview | Result]:
        """Langevin dynamics from uniform noise: Progress per step, a Preview every
        preview_every steps (0: none; default about 20 in all), then Result(float32
        (keep or n, C, H, W) images in [0, 1]). opts: steps, step_size, noise."""
        u = torch.rand((n, *self.image_shape), generator=generator, device=self.device)
        return self._chain_events(u[:keep] * 2 - 1, generator, n, opts, preview_every)

    def sample(self, n: int, generator: torch.Generator | None = None,
               **opts: Any) -> torch.Tensor:
        steps = self.sample_steps(n, generator, preview_every=0, **opts)
        return torch.from_numpy(final_value(steps)).to(self.device)

    def refine_steps(self, x: torch.Tensor, generator: torch.Generator | None = None,
                     preview_every: int | None = None, **opts: Any,
                     ) -> Iterator[Progress | Preview | Result]:
        """Langevin dynamics started from given images (N, C, H, W) in [0, 1] instead of
        noise: they drift towards what the model finds likely (denoising, filling in,
        "what would the model make of this"). Same events and opts as sample_steps."""
        u = x.to(self.device, torch.float32).clamp(0, 1) * 2 - 1
        return self._chain_events(u, generator, x.shape[0], opts, preview_every)

    def refine(self, x: torch.Tensor, generator: torch.Generator | None = None,
               **opts: Any) -> torch.Tensor:
        steps = self.refine_steps(x, generator, preview_every=0, **opts)
        return torch.from_numpy(final_value(steps)).to(self.device)

    # --- Conditional: Langevin dynamics from a noised guide ------------------------------------
    condition_method = "langevin"  # how ops.sketch names what condition_steps does

    @property
    def condition_default_steps(self) -> int:
        """Langevin steps from a guide unless asked otherwise: half a run from noise (the
        guide already holds the shape)."""
        return max(1, self.config.sample_steps // 2)

    def condition_steps(self, guide: torch.Tensor, strength: float,
                        generator: torch.Generator | None = None,
                        **opts: Any) -> Iterator[Progress | Preview | Result]:
        """Images from guides (N, C, H, W) in [0, 1], a sketch or a photo: each guide is
        mixed with uniform noise, (1 - strength) * guide + strength * noise, and Langevin
        dynamics run from there (opts: steps, default half of sample_steps; step_size,
        noise). Strength 0 returns the guides; 1 starts from noise alone, as sampling
        does. The same events as sample_steps."""
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be from 0 to 1, not {strength}")
        guide = guide.to(self.device, torch.float32).clamp(0, 1)
        if strength == 0:
            return iter([Result(guide.cpu().numpy().astype(np.float32))])
        noise = torch.rand(guide.shape, generator=generator, device=self.device)
        start = (1 - strength) * guide + strength * noise
        opts = {"steps": self.condition_default_steps, **opts}
        return self.refine_steps(start, generator, **opts)

    def condition(self, guide: torch.Tensor, strength: float, **opts: Any) -> torch.Tensor:
        return torch.from_numpy(final_value(self.condition_steps(guide, strength, **opts)))

    # --- Density (unnormalised) -------------------------------------------------------------
    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """-E(x) per image, shape (N,): log p(x) up to an unknown constant (-log Z).

        NOT a normalised log-likelihood: its differences between images mean something,
        its level does not, and it is not in calibrated nats either (the regulariser
        and the sampler's step size and noise set the energy's scale). So bits/dim
        computed from it would be meaningless; genplay scores it as an "energy" outlier
        score, read against the same score on the test split (``normalised = False``).
        """
        return -self.energy(x)
