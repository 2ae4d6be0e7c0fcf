"""Network pieces shared by several families."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def resolution_plan(size: int) -> tuple[int, int]:
    """(smallest feature-map size, number of 2x down/upsamplings) for an image size.

    28 -> (7, 2), 32 -> (8, 2), 64 -> (8, 3), 8 -> (4, 1): halve while the size
    stays even and at least 4, stopping at 8 once at least one halving was made.
    """
    n = 0
    while size % 2 == 0 and size // 2 >= 4 and (size > 8 or n == 0):
        size //= 2
        n += 1
    return size, n


def group_norm(channels: int) -> nn.GroupNorm:
    # Batch-independent, so a sample does not depend on what else is in its batch.
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    """Pre-activation residual block: norm, SiLU, 3x3 conv, twice."""

    def __init__(self, channels: int, out_channels: int | None = None) -> None:
        super().__init__()
        out_channels = out_channels or channels
        self.body = nn.Sequential(
            group_norm(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1),
            group_norm(out_channels), nn.SiLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip = (
            nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


def channel_widths(base: int, levels: int, max_mult: int = 4) -> list[int]:
    """Widths per resolution level, doubling as the maps shrink, capped at max_mult*base."""
    return [base * min(2**i, max_mult) for i in range(levels + 1)]


class Downsample(nn.Module):
    """A strided convolution that halves an even size: 4x4 by default, 3x3 as diffusers'
    Downsample2D has it."""

    def __init__(self, channels: int, out_channels: int, kernel_size: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels, kernel_size, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """2x larger: a transposed convolution (about half the cost of nearest-neighbour + 3x3
    on CPU), or with nearest=True nearest-neighbour then a 3x3 convolution, as diffusers'
    Upsample2D has it."""

    def __init__(self, channels: int, out_channels: int, nearest: bool = False) -> None:
        super().__init__()
        self.nearest = nearest
        self.conv = (nn.Conv2d(channels, out_channels, 3, padding=1) if nearest
                     else nn.ConvTranspose2d(channels, out_channels, 4, stride=2, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.nearest:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x)


class EMA:
    """Exponential moving average of a module's parameters and buffers."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        for key, value in module.state_dict().items():
            shadow = self.shadow[key]
            if value.dtype.is_floating_point:
                shadow.lerp_(value.detach(), 1.0 - self.decay)
            else:
                shadow.copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for key, value in state.items():
            self.shadow[key].copy_(value)


class TensorAdam:
    """Adam for one tensor, written out: the first torch.optim optimiser of a process
    imports torch._dynamo (2 s of Python), which would freeze the app's UI thread.
    Fitting a latent to an image (GAN encoding, sketches) uses it."""

    def __init__(self, like: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999)
                 ) -> None:
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.m = torch.zeros_like(like)
        self.v = torch.zeros_like(like)
        self.steps = 0

    @torch.no_grad()
    def step(self, value: torch.Tensor, grad: torch.Tensor) -> None:
        """Updates `value` in place."""
        self.steps += 1
        self.m.lerp_(grad, 1 - self.beta1)
        self.v.lerp_(grad * grad, 1 - self.beta2)
        m_hat = self.m / (1 - self.beta1**self.steps)
        v_hat = self.v / (1 - self.beta2**self.steps)
        value -= self.lr * m_hat / (v_hat.sqrt() + 1e-8)


@contextmanager
def frozen_weights(module: nn.Module) -> Iterator[None]:
    """The module's parameters without gradients inside the block, given back as they
    were after it: for gradient steps on an input or a latent (latent fitting, GAN
    encoding, Langevin dynamics), where gradients of the weights would only cost time."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)
