"""Denoising diffusion model: a small U-Net trained to undo Gaussian noise.

Training (Ho et al. 2020, with Salimans & Ho's v-prediction): pick a timestep t and
noise eps, form x_t = a_t x + s_t eps on the cosine schedule, and regress the
network's output on v = a_t eps - s_t x (or on eps). The network sees t and,
for class-conditional models, a class; the class is dropped (replaced by a "no
class" token) for a fraction of batches, so one network is both conditional and
unconditional and classifier-free guidance (Ho & Salimans 2022) can mix the two:
eps = eps_uncond + g (eps_cond - eps_uncond).

This module holds the network, its config, its loss and training, and the members of the
Denoising protocol (capabilities). Every loop that runs the network (sampling with
previews, SDEdit, inpainting, DDIM inversion and decoding, the bound, guided restoration)
is in ``diffusion_pipeline``, written against that protocol, and the methods below
delegate to it; the samplers (DDPM, DDIM, DPM-Solver++) in ``diffusion_samplers`` see the
network only through ``denoiser()``. Capabilities: Latent by deterministic DDIM inversion,
Conditional by SDEdit (noise a guide to a level, denoise it) and inpainting (hold known
pixels at every step), and Density by the variational bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genplay.core.models import diffusion_pipeline as pipeline
from genplay.core.models.base import ModelConfig
from genplay.core.models.blocks import (
    Downsample,
    Upsample,
    channel_widths,
    group_norm,
    resolution_plan,
)
from genplay.core.models.denoising_model import DenoisingModel
from genplay.core.models.families import register

LAYOUTS = ("v1", "v2")


@dataclass(frozen=True)
class DiffusionConfig(ModelConfig):
    BOUNDS = ModelConfig.BOUNDS | {
        "base_channels": (8, 1024), "blocks_per_level": (1, 16), "max_mult": (1, 16),
        "attention_heads": (0, 64), "timesteps": (2, 100_000), "num_classes": (0, 100_000),
        "label_dropout": (0.0, 1.0), "dropout": (0.0, 1.0)}
    # 32 wide, 2 blocks a level: 1.8M parameters, ~85 training images/s on one CPU core at
    # 28x28 (48 wide: 4.1M, ~43/s). Attention at 7x7 costs ~10%.
    base_channels: int = 32
    blocks_per_level: int = 2
    max_mult: int = 2  # widths double per level up to this multiple of base_channels
    attention_heads: int = 4  # self-attention at the lowest resolution; 0 disables it
    timesteps: int = 1000
    prediction: str = "v"  # "v" or "eps"
    num_classes: int = 10  # 0: unconditional
    label_dropout: float = 0.1  # fraction of batches trained without their class
    dropout: float = 0.0
    lr: float = 5e-4
    batch_size: int = 64
    ema_decay: float = 0.999
    cosine_lr: bool = True
    # The U-Net's blocks. "v2": those of diffusers' UNet2DModel (3x3 strided downsampling,
    # nearest-neighbour + 3x3 upsampling, the time embedding through SiLU before each
    # block's projection, timesteps unscaled), so a model exports to a diffusers pipeline
    # weight for weight (core/export.py). "v1": the first layout (4x4 strided and
    # transposed convolutions), which diffusers has no blocks for; checkpoints saved
    # before this field existed are v1 (upgrade).
    layout: str = "v2"

    @classmethod
    def upgrade(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        return {"layout": "v1", **values}

    @property
    def condition_channels(self) -> int:
        """Channels of a condition image beside the noisy one at the U-Net's input: none."""
        return 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {self.layout!r}")
        if self.prediction not in ("v", "eps"):
            raise ValueError(f"prediction must be 'v' or 'eps', not {self.prediction!r}")
        if self.base_channels < 8 or self.base_channels % 8:
            raise ValueError(f"base_channels must be a multiple of 8, not {self.base_channels}")
        if self.blocks_per_level < 1 or self.timesteps < 2 or self.num_classes < 0:
            raise ValueError("blocks_per_level >= 1, timesteps >= 2 and num_classes >= 0")
        if not 0.0 <= self.label_dropout <= 1.0:
            raise ValueError("label_dropout must be from 0 to 1")
        if self.attention_heads:  # attention runs at the lowest level, at its width
            width = channel_widths(self.base_channels, resolution_plan(self.image_size)[1],
                                   self.max_mult)[-1]
            if width % self.attention_heads:
                raise ValueError(f"attention_heads ({self.attention_heads}) must divide the "
                                 f"width of the lowest level ({width})")


def timestep_embedding(t: torch.Tensor, dim: int, scale: float = 1.0) -> torch.Tensor:
    """Sinusoidal features of t * scale (Vaswani et al.'s positions), shape (N, dim): sines
    then cosines, as diffusers' Timesteps with flip_sin_to_cos off and no frequency shift."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = (t.float() * scale)[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class TimeResBlock(nn.Module):
    """Residual block whose second norm is scaled and shifted by the (time, class) embedding
    (through a SiLU first with emb_act, as diffusers' ResnetBlock2D does)."""

    def __init__(self, channels: int, out_channels: int, emb_dim: int, dropout: float,
                 emb_act: bool = False) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(group_norm(channels), nn.SiLU(),
                                       nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_act = emb_act
        self.emb = nn.Linear(emb_dim, 2 * out_channels)
        self.norm = group_norm(out_channels)
        self.out_layers = nn.Sequential(nn.SiLU(), nn.Dropout(dropout),
                                        nn.Conv2d(out_channels, out_channels, 3, padding=1))
        nn.init.zeros_(self.out_layers[-1].weight)  # each block starts as the identity
        nn.init.zeros_(self.out_layers[-1].bias)
        self.skip = (nn.Identity() if channels == out_channels
                     else nn.Conv2d(channels, out_channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        if self.emb_act:
            emb = F.silu(emb)
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm(h) * (1 + scale) + shift
        return self.skip(x) + self.out_layers(h)


class Attention(nn.Module):
    """Multi-head self-attention over positions, residual."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2),
                                             v.transpose(-1, -2))
        return x + self.out(out.transpose(-1, -2).reshape(n, c, h, w))


class UNet(nn.Module):
    """Encoder-decoder with skip connections; widths double per halving up to max_mult.
    The config's condition_channels: channels of a condition image concatenated to the
    input (a sketch: models/sketch_diffusion.py); zeros where none is given."""

    def __init__(self, c: DiffusionConfig) -> None:
        super().__init__()
        self.extra_inputs = extra_inputs = c.condition_channels
        _, levels = resolution_plan(c.image_size)
        widths = channel_widths(c.base_channels, levels, c.max_mult)
        emb_dim = 4 * c.base_channels
        self.base = c.base_channels
        v2 = c.layout == "v2"
        # v1 scaled t to a 1000-step range; v2 feeds t as it is, as diffusers does
        self.t_scale = 1.0 if v2 else 1000.0 / c.timesteps
        self.time_mlp = nn.Sequential(nn.Linear(c.base_channels, emb_dim), nn.SiLU(),
                                      nn.Linear(emb_dim, emb_dim))
        # Index num_classes is "no class", the unconditional half of guidance.
        self.class_emb = nn.Embedding(c.num_classes + 1, emb_dim) if c.num_classes else None
        self.stem = nn.Conv2d(c.channels + extra_inputs, widths[0], 3, padding=1)

        def attention(width: int, level: int) -> nn.Module:
            if level == levels and c.attention_heads:
                return Attention(width, c.attention_heads)
            return nn.Identity()

        self.down = nn.ModuleList()
        skips = [widths[0]]
        width = widths[0]
        for level, out in enumerate(widths):
            for _ in range(c.blocks_per_level):
                self.down.append(nn.ModuleList([TimeResBlock(width, out, emb_dim, c.dropout, v2),
                                                attention(out, level)]))
                width = out
                skips.append(width)
            if level < levels:
                self.down.append(Downsample(width, width, 3 if v2 else 4))
                skips.append(width)
        self.mid = nn.ModuleList([TimeResBlock(width, width, emb_dim, c.dropout, v2),
                                  Attention(width, c.attention_heads) if c.attention_heads
                                  else nn.Identity(),
                                  TimeResBlock(width, width, emb_dim, c.dropout, v2)])
        self.up = nn.ModuleList()
        for level in reversed(range(levels + 1)):
            out = widths[level]
            for _ in range(c.blocks_per_level + 1):
                self.up.append(nn.ModuleList([
                    TimeResBlock(width + skips.pop(), out, emb_dim, c.dropout, v2),
                    attention(out, level)]))
                width = out
            if level > 0:
                self.up.append(Upsample(width, width, nearest=v2))
        self.head = nn.Sequential(group_norm(width), nn.SiLU(),
                                  nn.Conv2d(width, c.channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.base, self.t_scale))
        if self.class_emb is not None:
            if labels is None:
                labels = torch.full_like(t, self.class_emb.num_embeddings - 1)
            emb = emb + self.class_emb(labels)
        if self.extra_inputs:
            if condition is None:
                condition = x.new_zeros((x.shape[0], self.extra_inputs, *x.shape[2:]))
            x = torch.cat([x, condition], dim=1)
        h = self.stem(x)
        hs = [h]
        for layer in self.down:
            h = layer(h) if isinstance(layer, Downsample) else layer[1](layer[0](h, emb))
            hs.append(h)
        h = self.mid[0](h, emb)
        h = self.mid[2](self.mid[1](h), emb)
        for layer in self.up:
            if isinstance(layer, Upsample):
                h = layer(h)
            else:
                h = layer[1](layer[0](torch.cat([h, hs.pop()], dim=1), emb))
        return self.head(h)


@register("diffusion", DiffusionConfig)
class Diffusion(DenoisingModel):

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__(config)
        self.net = UNet(config)
        self.schedule = pipeline.CosineSchedule(config.timesteps)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def null_class(self) -> int:
        return self.config.num_classes  # the extra embedding, "no class"

    # --- the network's estimates ------------------------------------------------------------
    def denoiser(self, labels: torch.Tensor | None = None, guidance: float = 0.0,
                 clip: bool = True) -> pipeline.Denoiser:
        """x_t, t -> (x0, eps) estimates in [-1, 1], classifier-free guidance with labels
        and guidance > 0 ("no class" is index num_classes); see pipeline.guided_denoiser."""
        return pipeline.guided_denoiser(self.net, self.schedule, self.config.prediction,
                                        labels, guidance, self.null_class, clip)

    # --- training ---------------------------------------------------------------------------
    def loss(self, x: torch.Tensor, labels: torch.Tensor | None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        x0 = x * 2 - 1
        n = x.shape[0]
        t = torch.randint(0, self.config.timesteps, (n,), generator=generator, device=x.device)
        eps = torch.randn(x0.shape, generator=generator, device=x.device)
        x_t = self.schedule.add_noise(x0, t, eps)
        if self.config.num_classes and labels is not None:
            drop = torch.rand(n, generator=generator, device=x.device) < self.config.label_dropout
            labels = torch.where(drop, torch.full_like(labels, self.null_class), labels.long())
        else:
            labels = None
        out = self.net(x_t, t, labels, self.condition_for_training(x, generator))
        if self.config.prediction == "v":
            a, s = self.schedule.a_s_like(t, x0)
            target = a * eps - s * x0
        else:
            target = eps
        return F.mse_loss(out, target)

    def condition_for_training(self, x: torch.Tensor,
                               generator: torch.Generator | None) -> torch.Tensor | None:
        """The condition image the network sees beside each noisy training image x (in
        [0, 1]): none here; a sketch of x for a sketch-conditioned model."""
        return None

    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        loss = self.loss(x, labels)
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.parameters(), 1.0)
        opt.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def validation_metrics(self, x, labels):
        # A fixed generator, so validation losses of different epochs compare.
        g = torch.Generator(device=x.device).manual_seed(1234)
        return {"loss": self.loss(x, labels, generator=g).item()}
