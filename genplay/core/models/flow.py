"""Multi-scale normalizing flow (RealNVP / Glow style): exact likelihood, exact encoder.

An 8-bit image x (values k/255) is dequantized, y = (255 x + u) / 256 with
u ~ U[0, 1)^D, and sent through a logit, y' = logit(alpha + (1 - 2 alpha) y),
so the network sees unbounded values. The network is invertible: per scale a
squeeze (space to channels), K steps of actnorm -> invertible 1x1 conv ->
affine coupling, then half of the channels leave as latent and the rest go on.
With a standard normal prior the change of variables gives

    log P(x) >= E_u[ log N(z) + log|det dz/dy'| + log|det dy'/dy| ] - D log 256,

a lower bound (Jensen over u) on the probability of the discrete image, in nats,
so its bits/dim compare directly with the VAE's and PixelCNN's.

Latent layout: ``latent_shape`` is the image shape (C, H, W). ``z.flatten(1)`` is
the concatenation, in order, of each scale's factored-out half (scale 0 first,
each flattened row-major as (channels, height, width)) and last the final
scale's whole output. Every element is N(0, 1) a priori, so the layout only
matters to code that wants a scale's part back (``_split_latent``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genplay.core.models.base import GenerativeModel, ModelConfig, SampleOption
from genplay.core.models.blocks import ResBlock, group_norm
from genplay.core.models.families import register

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class FlowConfig(ModelConfig):
    """n_scales is capped at the number of times image_size halves evenly (each scale
    starts with a 2x squeeze): 28 -> 2, so the default 2 fits every size. The last
    scale's maps must stay at least 2x2 (a 1x1 map has nothing to normalise), so 8 takes
    at most 2 scales, 16 -> 3, 32 -> 4, 64 -> 5; more is refused."""

    BOUNDS = ModelConfig.BOUNDS | {"hidden_channels": (1, 1024), "n_scales": (1, 8),
                                   "steps_per_scale": (1, 64), "n_blocks": (0, 32)}

    hidden_channels: int = 64
    n_scales: int = 2
    steps_per_scale: int = 4
    n_blocks: int = 2  # residual blocks in each coupling network
    logit_alpha: float = 0.05  # keeps the logit away from 0 and 1 (RealNVP's choice)
    lr: float = 1e-3
    batch_size: int = 64
    cosine_lr: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("hidden_channels", "n_scales", "steps_per_scale"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.n_blocks < 0:
            raise ValueError(f"n_blocks must be at least 0, not {self.n_blocks}")
        if not 0.0 < self.logit_alpha < 0.5:
            raise ValueError(f"logit_alpha must be in (0, 0.5), not {self.logit_alpha}")
        if self.image_size >> scale_count(self.image_size, self.n_scales) < 2:
            most = scale_count(self.image_size, self.n_scales) - 1
            raise ValueError(f"n_scales {self.n_scales} would squeeze {self.image_size}x"
                             f"{self.image_size} images down to 1x1; at most {most} for "
                             "this size")


def scale_count(image_size: int, n_scales: int) -> int:
    """Scales actually built: each squeezes 2x, so at most the number of even halvings."""
    halvings = 0
    while image_size % 2 == 0:
        image_size //= 2
        halvings += 1
    return max(1, min(n_scales, halvings))


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 4C, H/2, W/2); each 2x2 patch becomes 4 channels."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, 2 * h, 2 * w)


# Every layer returns its log|det| per spatial position, (N, H, W) at its own scale: the
# model sums them for an image, and pixel_nll spreads them over the pixels they cover.


class ActNorm(nn.Module):
    """Per-channel affine y = (x + bias) * exp(logs). Starts as the identity; the model
    sets it from the statistics of the first training batch so every step starts with
    unit-variance activations (batch-independent afterwards, unlike batch norm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, init: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        if init:
            with torch.no_grad():
                self.bias.copy_(-x.mean(dim=(0, 2, 3), keepdim=True))
                std = x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
                self.logs.copy_(-torch.log(std))
        logdet = self.logs.sum().expand(x.shape[0], *x.shape[2:])  # per position
        return (x + self.bias) * torch.exp(self.logs), logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.logs) - self.bias


class InvConv1x1(nn.Module):
    """Learned channel mixing (Glow): a 1x1 conv started at a random rotation, so the
    coupling halves are not always the same channels. Channel counts here are small
    (4C..), so a plain slogdet is cheaper than keeping an LU factorisation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        self.weight = nn.Parameter(q)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.weight.shape[0]
        logdet = torch.linalg.slogdet(self.weight)[1].expand(x.shape[0], *x.shape[2:])
        return F.conv2d(x, self.weight.view(c, c, 1, 1)), logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        c = self.weight.shape[0]
        return F.conv2d(y, torch.linalg.inv(self.weight).view(c, c, 1, 1))


class AffineCoupling(nn.Module):
    """The second half of the channels is shifted and scaled by a function of the first.

    scale = sigmoid(raw + 2) lies in (0, 1) and starts near 0.88 (the output conv is
    zero-initialised), so no step can blow activations up and training starts close
    to a fixed linear map; the inverse only divides by it.
    """

    def __init__(self, channels: int, hidden: int, n_blocks: int) -> None:
        super().__init__()
        half = channels // 2
        out = nn.Conv2d(hidden, 2 * (channels - half), 3, padding=1)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.net = nn.Sequential(
            nn.Conv2d(half, hidden, 3, padding=1),
            *[ResBlock(hidden) for _ in range(n_blocks)],
            group_norm(hidden), nn.SiLU(), out,
        )
        self.half = half

    def _shift_scale(self, xa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, raw = self.net(xa).chunk(2, dim=1)
        return shift, raw + 2.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xa, xb = x[:, : self.half], x[:, self.half :]
        shift, raw = self._shift_scale(xa)
        yb = (xb + shift) * torch.sigmoid(raw)
        logdet = F.logsigmoid(raw).sum(dim=1)  # per position
        return torch.cat([xa, yb], dim=1), logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        ya, yb = y[:, : self.half], y[:, self.half :]
        shift, raw = self._shift_scale(ya)
        return torch.cat([ya, yb / torch.sigmoid(raw) - shift], dim=1)


class FlowStep(nn.Module):
    def __init__(self, channels: int, hidden: int, n_blocks: int) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.mix = InvConv1x1(channels)
        self.coupling = AffineCoupling(channels, hidden, n_blocks)

    def forward(self, x: torch.Tensor, init: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        x, ld1 = self.actnorm(x, init)
        x, ld2 = self.mix(x)
        x, ld3 = self.coupling(x)
        return x, ld1 + ld2 + ld3

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return self.actnorm.inverse(self.mix.inverse(self.coupling.inverse(y)))


@register("flow", FlowConfig)
class Flow(GenerativeModel):
    exact_inverse = True  # decode(encode(x)) == x for 8-bit images

    def __init__(self, config: FlowConfig) -> None:
        super().__init__(config)
        c = config
        channels, size = c.channels, c.image_size
        self.n_scales = scale_count(size, c.n_scales)
        self.scales = nn.ModuleList()
        self._part_shapes: list[tuple[int, int, int]] = []  # latent pieces, in layout order
        for i in range(self.n_scales):
            channels, size = channels * 4, size // 2
            self.scales.append(nn.ModuleList(
                FlowStep(channels, c.hidden_channels, c.n_blocks)
                for _ in range(c.steps_per_scale)
            ))
            if i < self.n_scales - 1:
                self._part_shapes.append((channels // 2, size, size))
                channels -= channels // 2
        self._part_shapes.append((channels, size, size))
        # 0 until actnorm has been set from a training batch; saved with the weights so a
        # loaded or resumed model is not re-initialised (an integer, so EMA copies it).
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.image_shape

    # --- the invertible pieces --------------------------------------------------------------
    def _dequantize(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (255.0 * x.clamp(0.0, 1.0) + u) / 256.0

    def _logit(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """y in [0, 1) -> logit(alpha + (1 - 2 alpha) y) and log|det| per image.

        d/dy = (1 - 2 alpha) / (s (1 - s)), and -log s - log(1 - s) is
        softplus(-y') + softplus(y'), which stays finite at both ends.
        """
        out, logdet = self._logit_map(y)
        return out, logdet.flatten(1).sum(dim=1)

    def _logit_map(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """_logit with log|det| per sub-pixel, (N, C, H, W)."""
        a = self.config.logit_alpha
        s = a + (1.0 - 2.0 * a) * y
        out = torch.log(s) - torch.log1p(-s)
        return out, math.log(1.0 - 2.0 * a) + F.softplus(-out) + F.softplus(out)

    def _unlogit(self, out: torch.Tensor) -> torch.Tensor:
        a = self.config.logit_alpha
        return (torch.sigmoid(out) - a) / (1.0 - 2.0 * a)

    def _forward(self, h: torch.Tensor, init: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The network: logit-space images -> (latent in the documented layout, log|det|).

        init=True sets every actnorm from the statistics of the activations it sees.
        """
        z, maps = self._forward_maps(h, init)
        return z, sum(m.flatten(1).sum(dim=1) for m in maps)

    def _forward_maps(self, h: torch.Tensor, init: bool = False,
                      ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Like _forward, with log|det| per position of each scale: [(N, H_i, W_i)]."""
        maps = []
        parts = []
        for i, steps in enumerate(self.scales):
            h = squeeze(h)
            logdet = torch.zeros(h.shape[0], *h.shape[2:], device=h.device, dtype=h.dtype)
            for step in steps:
                h, ld = step(h, init)
                logdet = logdet + ld
            maps.append(logdet)
            if i < self.n_scales - 1:
                out, h = h[:, : h.shape[1] // 2], h[:, h.shape[1] // 2 :]
                parts.append(out.flatten(1))
        parts.append(h.flatten(1))
        return torch.cat(parts, dim=1).reshape(h.shape[0], *self.image_shape), maps

    def _split_latent(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The latent's pieces per scale, in their (channels, size, size) shapes."""
        sizes = [c * h * w for c, h, w in self._part_shapes]
        pieces = z.flatten(1).split(sizes, dim=1)
        return [p.reshape(z.shape[0], *s) for p, s in zip(pieces, self._part_shapes)]

    def _inverse(self, z: torch.Tensor) -> torch.Tensor:
        pieces = self._split_latent(z)
        h = pieces[-1]
        for i in reversed(range(self.n_scales)):
            if i < self.n_scales - 1:
                h = torch.cat([pieces[i], h], dim=1)
            for step in reversed(self.scales[i]):
                h = step.inverse(h)
            h = unsqueeze(h)
        return h

    def _log_likelihood(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The dequantized bound on log P(x) in nats, per image (with gradients)."""
        h, ld_logit = self._logit(self._dequantize(x, generator))
        z, ld_flow = self._forward(h)
        log_pz = -0.5 * (z.square() + _LOG_2PI).flatten(1).sum(dim=1)
        dims = x[0].numel()
        return log_pz + ld_flow + ld_logit - dims * math.log(256.0)

    # --- training ---------------------------------------------------------------------------
    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        if not self.initialized:
            with torch.no_grad():
                self._forward(self._logit(self._dequantize(x, None))[0], init=True)
                self.initialized.fill_(1)
        bpd = -self._log_likelihood(x).mean() / (x[0].numel() * math.log(2))
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        bpd.backward()
        nn.utils.clip_grad_norm_(self.parameters(), 50.0)
        opt.step()
        return {"bpd": bpd.item()}

    @torch.no_grad()
    def validation_metrics(self, x, labels):
        return {"bpd": (-self.log_prob(x).mean() / (x[0].numel() * math.log(2))).item()}

    # --- Sampler ----------------------------------------------------------------------------
    def sample_options(self) -> list[SampleOption]:
        # Flows put mass on blurry and noisy images; shrinking the prior (Glow used 0.7)
        # trades variety for cleaner samples. 1 draws from the model's true distribution.
        return [SampleOption("temperature", 0.8, 0.0, 1.5,
                             "scale of the prior's standard deviation; 1 is the model itself")]

    @torch.no_grad()
    def sample(self, n, generator=None, temperature: float = 0.8):
        return self.decode(self.prior_sample(n, generator) * temperature)

    # --- Latent -----------------------------------------------------------------------------
    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn((n, *self.latent_shape), generator=generator, device=self.device)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The inverse map, then the bin the continuous value falls in: images on the 8-bit
        grid, so sample() == decode(temperature * prior_sample()) exactly and
        decode(encode(x)) == x for 8-bit x. A latent far outside the prior may
        overflow; such pixels come out mid-grey rather than NaN."""
        return torch.round(self.decode_continuous(z) * 255.0) / 255.0

    def decode_continuous(self, z: torch.Tensor) -> torch.Tensor:
        """decode() before rounding to the 8-bit grid, with gradients, for fitting latents."""
        y = self._unlogit(torch.nan_to_num(self._inverse(z), nan=0.0))
        x = (256.0 * y - 0.5) / 255.0  # the inverse of the bin-centre dequantization
        return x.clamp(0.0, 1.0)

    @torch.no_grad()
    def encode_steps(self, x: torch.Tensor, **opts) -> Iterator[tuple[int, int, torch.Tensor]]:
        """Exact and deterministic: the forward map of the bin centres (u = 1/2)."""
        y = (255.0 * x.clamp(0.0, 1.0) + 0.5) / 256.0
        yield 1, 1, self._forward(self._logit(y)[0])[0]

    pixel_bits_note = (
        "approximate: the image's exact bits at the centre of each pixel's bin, shared out "
        "by position: each term of the flow's log-likelihood (a latent's prior density, a "
        "layer's volume change) belongs to a position of a squeezed grid and is spread "
        "evenly over the block of pixels that position covers")

    @torch.no_grad()
    def pixel_nll(self, x: torch.Tensor) -> torch.Tensor:
        """Bits per pixel, (N, H, W), summing to -log2 p(x) at the bin centres."""
        y = (255.0 * x.clamp(0.0, 1.0) + 0.5) / 256.0
        h, logit_map = self._logit_map(y)
        z, maps = self._forward_maps(h)
        size = x.shape[-1]
        nats = math.log(256.0) * x.shape[1] - logit_map.sum(dim=1)  # (N, H, W)
        # scale i has its layers' volume change and the latent piece it factors out
        for logdet, piece in zip(maps, self._split_latent(z), strict=True):
            term = 0.5 * (piece.square() + _LOG_2PI).sum(dim=1) - logdet
            factor = size // term.shape[-1]
            spread = term.repeat_interleave(factor, 1).repeat_interleave(factor, 2)
            nats = nats + spread / (factor * factor)
        return nats / math.log(2)

    # --- Density ----------------------------------------------------------------------------
    stochastic_log_prob = True  # one dequantization draw, from generator=

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Lower bound on log P(x) of the 8-bit image in nats, one dequantization draw
        (from generator, so an evaluation can be seeded). Not importance-weighted (no
        ``k``), so metrics reports no ELBO/IWAE figures for it."""
        return self._log_likelihood(x, generator)
