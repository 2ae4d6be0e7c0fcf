"""Variational autoencoder with a discretized-logistic-mixture decoder.

The ELBO is a bound on the likelihood of 8-bit images, so its bits/dim can be
read beside flows and PixelCNN; ``log_prob`` tightens it with importance
weighting (IWAE). ``beta`` scales the KL term (beta = 0 is a plain autoencoder).

The prior is N(0, I) while it trains. ``prior_components`` K > 0 gives the model a
Gaussian mixture of K components over its codes instead (core/models/mixture.py), fitted
to the training codes after training (``genplay prior``, core/ops/code_prior.py): the
model then draws its codes, and measures its bounds, with that mixture. A mixture not yet
fitted is K copies of N(0, I), the same model as none.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from genplay.core.models import likelihood
from genplay.core.models.base import GenerativeModel, ModelConfig, SampleOption
from genplay.core.models.blocks import (
    Downsample,
    ResBlock,
    Upsample,
    channel_widths,
    group_norm,
    resolution_plan,
)
from genplay.core.models.families import register
from genplay.core.models.mixture import Mixture

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class VAEConfig(ModelConfig):
    BOUNDS = ModelConfig.BOUNDS | {"latent_dim": (1, 4096), "base_channels": (1, 1024),
                                   "n_mix": (1, 64), "prior_components": (0, 1024)}
    latent_dim: int = 32
    base_channels: int = 32
    n_mix: int = 5
    beta: float = 1.0
    lr: float = 1e-3
    batch_size: int = 128
    cosine_lr: bool = True
    prior_components: int = 0  # 0: N(0, I); K: a K-component mixture fitted to the codes


def _gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (_LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(dim=1)


@register("vae", VAEConfig)
class VAE(GenerativeModel):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        c = config
        base, levels = resolution_plan(c.image_size)
        # Width capped at 2x base and no residual block at full resolution: the
        # full-resolution convolutions dominate CPU training time.
        widths = channel_widths(c.base_channels, levels, max_mult=2)
        self._base = base
        enc: list[nn.Module] = [nn.Conv2d(c.channels, widths[0], 3, padding=1)]
        for i in range(levels):
            enc += [Downsample(widths[i], widths[i + 1]), ResBlock(widths[i + 1])]
        enc += [group_norm(widths[-1]), nn.SiLU(), nn.Flatten()]
        self.encoder = nn.Sequential(*enc)
        self.to_posterior = nn.Linear(widths[-1] * base * base, 2 * c.latent_dim)
        self.from_latent = nn.Linear(c.latent_dim, widths[-1] * base * base)
        dec: list[nn.Module] = [nn.Unflatten(1, (widths[-1], base, base)), ResBlock(widths[-1])]
        for i in reversed(range(levels)):
            dec += [Upsample(widths[i + 1], widths[i])]
            if i > 0:
                dec += [ResBlock(widths[i])]
        dec += [
            group_norm(widths[0]), nn.SiLU(),
            nn.Conv2d(widths[0], likelihood.param_channels(c.channels, c.n_mix), 3, padding=1),
        ]
        self.decoder = nn.Sequential(*dec)
        k, d = c.prior_components, c.latent_dim
        if k > 0:  # saved with the weights; N(0, I) in each component until fitted
            self.register_buffer("prior_weights", torch.full((k,), 1.0 / k))
            self.register_buffer("prior_means", torch.zeros(k, d))
            self.register_buffer("prior_scale_tril", torch.eye(d).repeat(k, 1, 1))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    # --- the prior over codes -----------------------------------------------------------------
    def code_prior(self) -> Mixture | None:
        """The fitted mixture over codes, or None for N(0, I)."""
        if self.config.prior_components == 0:
            return None
        return Mixture(self.prior_weights, self.prior_means, self.prior_scale_tril)

    def set_code_prior(self, mixture: Mixture) -> None:
        """Takes a mixture of prior_components components over latent_dim codes."""
        for name, value in (("prior_weights", mixture.weights), ("prior_means", mixture.means),
                            ("prior_scale_tril", mixture.scale_tril)):
            buffer = getattr(self, name)
            if tuple(value.shape) != tuple(buffer.shape):
                raise ValueError(f"{name} is {tuple(buffer.shape)}, the mixture gives "
                                 f"{tuple(value.shape)}")
            buffer.copy_(value)

    def prior_log_density(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) per row of z (N, latent_dim), nats."""
        mixture = self.code_prior()
        if mixture is None:
            return -0.5 * (_LOG_2PI + z**2).sum(dim=1)
        return mixture.log_density(z)

    def _draw_codes(self, n: int, generator: torch.Generator | None,
                    temperature: float = 1.0) -> torch.Tensor:
        mixture = self.code_prior()
        if mixture is None:
            return temperature * torch.randn((n, *self.latent_shape), generator=generator,
                                             device=self.device)
        return mixture.sample(n, generator, temperature)

    # --- pieces -----------------------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_posterior(self.encoder(x * 2.0 - 1.0)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decoder_params(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.from_latent(z))

    def _pixel_log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return likelihood.log_prob(x, self.decoder_params(z), self.config.n_mix).sum(dim=(1, 2, 3))

    def elbo_terms(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image (reconstruction log-likelihood, KL) in nats, one posterior sample (the
        KL to a fitted mixture is that sample's log q(z|x) - log p(z): it has no closed
        form)."""
        mu, logvar = self.posterior(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        mixture = self.code_prior()
        if mixture is None:
            kl = 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar).sum(dim=1)
        else:
            kl = _gaussian_log_density(z, mu, logvar) - mixture.log_density(z)
        return self._pixel_log_prob(x, z), kl

    pixel_bits_note = ("approximate: -log2 p(pixel | z) under the decoder at the posterior mean "
                       "z; the KL term of the bound belongs to no pixel and is left out")

    def pixel_nll(self, x: torch.Tensor) -> torch.Tensor:
        """Bits per pixel of the reconstruction at the posterior mean, (N, H, W)."""
        mu, _ = self.posterior(x)
        params = self.decoder_params(mu)
        return -likelihood.log_prob(x, params, self.config.n_mix).sum(dim=1) / math.log(2)

    # --- training ---------------------------------------------------------------------------
    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        rec, kl = self.elbo_terms(x)
        dims = x[0].numel()
        loss = (-rec + self.config.beta * kl).mean() / dims
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.parameters(), 100.0)
        opt.step()
        nats_to_bpd = 1.0 / (dims * math.log(2))
        return {
            "loss": loss.item(),
            "recon_bpd": (-rec.mean() * nats_to_bpd).item(),
            "kl_bpd": (kl.mean() * nats_to_bpd).item(),
        }

    @torch.no_grad()
    def validation_metrics(self, x, labels):
        rec, kl = self.elbo_terms(x)
        return {"elbo_bpd": ((kl - rec).mean() / (x[0].numel() * math.log(2))).item()}

    # --- Sampler ----------------------------------------------------------------------------
    def sample_options(self) -> list[SampleOption]:
        return [
            SampleOption("temperature", 1.0, 0.0, 2.0, "scale of the prior's standard deviation"
                         " (of each mixture component's, for a fitted prior)"),
            SampleOption("pixel_noise", 0.0, 0.0, 1.0,
                         "1 draws each pixel from the decoder; 0 shows the decoder's mean"),
        ]

    @torch.no_grad()
    def sample(self, n, generator=None, temperature: float = 1.0, pixel_noise: float = 0.0):
        z = self._draw_codes(n, generator, temperature)
        params = self.decoder_params(z)
        if pixel_noise >= 0.5:
            return likelihood.sample(params, self.config.channels, self.config.n_mix, generator)
        return likelihood.mean(params, self.config.channels, self.config.n_mix)

    # --- Latent -----------------------------------------------------------------------------
    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._draw_codes(n, generator)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_continuous(z)

    def decode_continuous(self, z: torch.Tensor) -> torch.Tensor:
        """decode() with gradients (the decoder's mean image), for fitting latents."""
        return likelihood.mean(self.decoder_params(z), self.config.channels, self.config.n_mix)

    @torch.no_grad()
    def encode_steps(self, x: torch.Tensor, **opts) -> Iterator[tuple[int, int, torch.Tensor]]:
        yield 1, 1, self.posterior(x)[0]

    # --- Density ----------------------------------------------------------------------------
    importance_weighted = True  # log_prob(x, k): the IWAE bound, with the ELBO as k = 1
    stochastic_log_prob = True  # it draws posterior samples from generator=

    @torch.no_grad()
    def log_prob(
        self, x: torch.Tensor, k: int = 16, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Importance-weighted lower bound on log p(x) with k posterior samples (nats)."""
        mu, logvar = self.posterior(x)
        std = torch.exp(0.5 * logvar)
        weights = []
        chunk = max(1, 2048 // max(1, x.shape[0]))
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, *mu.shape), generator=generator, device=mu.device)
            z = (mu + std * eps).reshape(-1, mu.shape[1])
            xs = x.unsqueeze(0).expand(m, *x.shape).reshape(-1, *x.shape[1:])
            log_px = self._pixel_log_prob(xs, z).view(m, -1)
            z = z.view(m, *mu.shape)
            log_pz = self.prior_log_density(z.reshape(-1, mu.shape[1])).view(m, -1)
            log_qz = _gaussian_log_density(
                z.reshape(-1, mu.shape[1]),
                mu.repeat(m, 1), logvar.repeat(m, 1),
            ).view(m, -1)
            weights.append(log_px + log_pz - log_qz)
        return torch.logsumexp(torch.cat(weights, dim=0), dim=0) - math.log(k)
