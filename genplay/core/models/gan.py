"""DCGAN-style generator and discriminator.

Trained with the non-saturating loss and an R1 gradient penalty on real images
(applied lazily every few steps, scaled to match), which keeps a small DCGAN
stable without batch norm in the discriminator. The training loop keeps an EMA
of the weights; samples come from the EMA generator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genplay.core.models import augment
from genplay.core.models.base import GenerativeModel, ModelConfig, SampleOption
from genplay.core.models.blocks import TensorAdam, channel_widths, frozen_weights, resolution_plan
from genplay.core.models.families import register


@dataclass(frozen=True)
class GANConfig(ModelConfig):
    BOUNDS = ModelConfig.BOUNDS | {"latent_dim": (1, 4096), "base_channels": (1, 1024),
                                   "r1_every": (1, 100_000)}
    latent_dim: int = 64
    base_channels: int = 32
    r1_gamma: float = 1.0
    r1_every: int = 4
    lr: float = 2e-4
    batch_size: int = 64
    ema_decay: float = 0.999
    # DiffAugment for small datasets: what the discriminator sees of real and generated
    # images alike, e.g. "colour,translation,cutout" (models/augment.py); "" for none.
    augment: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        augment.parse(self.augment)


class Generator(nn.Module):
    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        base, levels = resolution_plan(c.image_size)
        widths = channel_widths(c.base_channels, levels)
        self.start = (widths[-1], base, base)
        self.project = nn.Sequential(
            nn.Linear(c.latent_dim, widths[-1] * base * base, bias=False),
            nn.Unflatten(1, self.start), nn.BatchNorm2d(widths[-1]), nn.ReLU(),
        )
        layers: list[nn.Module] = []
        for i in reversed(range(1, levels)):
            layers += [
                nn.ConvTranspose2d(widths[i + 1], widths[i], 4, 2, 1, bias=False),
                nn.BatchNorm2d(widths[i]), nn.ReLU(),
            ]
        layers += [
            nn.ConvTranspose2d(widths[1], widths[0], 4, 2, 1, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(),
            nn.Conv2d(widths[0], c.channels, 3, padding=1),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(self.project(z)))  # in [-1, 1]


class Discriminator(nn.Module):
    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        base, levels = resolution_plan(c.image_size)
        widths = channel_widths(c.base_channels, levels)
        layers: list[nn.Module] = [
            nn.Conv2d(c.channels, widths[0], 3, padding=1), nn.LeakyReLU(0.2),
        ]
        for i in range(levels):
            layers += [nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1), nn.LeakyReLU(0.2)]
        layers += [nn.Flatten(), nn.Linear(widths[-1] * base * base, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(1)


@register("gan", GANConfig)
class GAN(GenerativeModel):
    def __init__(self, config: GANConfig) -> None:
        super().__init__(config)
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def configure_optimizers(self):
        betas = (0.5, 0.99)
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), self.config.lr, betas=betas),
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(), self.config.lr, betas=betas
            ),
        }

    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        c = self.config
        policy = augment.parse(c.augment)
        real = augment.augment(x * 2.0 - 1.0, policy).detach()
        z = torch.randn(x.shape[0], c.latent_dim, device=x.device)
        # Discriminator: softplus(-D(real)) + softplus(D(fake)), plus lazy R1 on reals
        # (on what it sees of them: augmented where augmentation is on).
        fake = self.generator(z)
        d_opt, g_opt = optimizers["discriminator"], optimizers["generator"]
        apply_r1 = c.r1_gamma > 0 and step % c.r1_every == 0
        real.requires_grad_(apply_r1)
        d_real = self.discriminator(real)
        seen_fake = augment.augment(fake, policy)
        d_loss = (F.softplus(-d_real).mean()
                  + F.softplus(self.discriminator(seen_fake.detach())).mean())
        r1 = torch.zeros(())
        if apply_r1:
            (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
            d_loss = d_loss + 0.5 * c.r1_gamma * c.r1_every * r1
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        # Generator: non-saturating loss softplus(-D(G(z))).
        g_loss = F.softplus(-self.discriminator(seen_fake)).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        out = {"d_loss": d_loss.item(), "g_loss": g_loss.item(),
               "d_real": torch.sigmoid(d_real).mean().item()}
        if apply_r1:
            out["r1"] = r1.item()
        return out

    @torch.no_grad()
    def validation_metrics(self, x, labels):
        d_real = torch.sigmoid(self.discriminator(x * 2.0 - 1.0)).mean()
        return {"d_real": d_real.item()}

    # --- Sampler ----------------------------------------------------------------------------
    def sample_options(self) -> list[SampleOption]:
        return [SampleOption(
            "temperature", 1.0, 0.0, 2.0,
            "scale of the latent (truncation); below 1 trades variety for quality",
        )]

    @torch.no_grad()
    def sample(self, n, generator=None, temperature: float = 1.0):
        return self.decode(self.prior_sample(n, generator) * temperature)

    # --- Latent -----------------------------------------------------------------------------
    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn((n, *self.latent_shape), generator=generator, device=self.device)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_continuous(z)

    def decode_continuous(self, z: torch.Tensor) -> torch.Tensor:
        """decode() with gradients, for fitting latents to an image."""
        return (self.generator(z) + 1.0) / 2.0

    def encode_steps(
        self, x: torch.Tensor, steps: int = 300, lr: float = 0.05, restarts: int = 4,
        prior_weight: float = 1e-3, generator: torch.Generator | None = None,
    ) -> Iterator[tuple[int, int, torch.Tensor]]:
        """Finds z whose image matches x by gradient descent on the pixel error.

        Several random starts per image run side by side and the best is kept;
        a small prior term keeps z where the generator was trained.
        """
        was_training = self.training
        self.eval()
        n = x.shape[0]
        target = (x * 2.0 - 1.0).repeat(restarts, 1, 1, 1)
        z = self.prior_sample(n * restarts, generator).requires_grad_(True)
        adam = TensorAdam(z, lr)
        try:
            with frozen_weights(self.generator):
                for step in range(1, steps + 1):
                    err = (self.generator(z) - target).pow(2).mean(dim=(1, 2, 3))
                    loss = err + prior_weight * z.pow(2).mean(dim=1)
                    (grad,) = torch.autograd.grad(loss.sum(), z)
                    adam.step(z, grad)
                    best = loss.detach().view(restarts, n).argmin(dim=0)
                    chosen = z.detach().view(restarts, n, -1)[best, torch.arange(n)]
                    yield step, steps, chosen
        finally:
            self.train(was_training)
