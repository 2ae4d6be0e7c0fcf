"""Super-resolution network: one small residual net that enlarges by each of its scales.

The idea of EDSR/MDSR (Lim et al. 2017), made small enough for a CPU: a head convolution
and a body of residual blocks work at the LOW resolution, where pixels are few, and are
shared by every scale; each scale has its own short tail that ends in a sub-pixel
convolution (Shi et al. 2016: a convolution to C * s * s channels, then PixelShuffle
rearranges them into an image s times larger). The net predicts only what bicubic
enlargement misses: output = bicubic(lowres) + residual, and the last convolution of each
tail starts at zero, so an untrained net IS bicubic and training can only add to it.

Training pairs are made the one way genplay makes low-resolution images everywhere
(core/resize.py: antialiased bicubic shrink), from high-resolution training crops of
``image_size`` pixels; the net itself is fully convolutional and takes any size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genplay.core import resize
from genplay.core.errors import GenplayError
from genplay.core.models.base import GenerativeModel, ModelConfig
from genplay.core.models.families import register

SUPPORTED_SCALES = (2, 3, 4)
LOSSES = ("charbonnier", "l1")
_CHARBONNIER_EPS = 1e-3  # below 1/255: a smooth L1 that stays differentiable at zero error


@dataclass(frozen=True)
class SuperResConfig(ModelConfig):
    BOUNDS = ModelConfig.BOUNDS | {"features": (1, 1024), "blocks": (0, 64)}
    # 32 features, 6 blocks: 0.14M parameters; on one CPU thread (shared with other work)
    # ~320 training images/s at 28x28x1 and ~260/s for 32x32x3 photo patches.
    scales: tuple[int, ...] = (2, 4)
    features: int = 32
    blocks: int = 6
    loss: str = "charbonnier"
    lr: float = 1e-3
    batch_size: int = 32
    cosine_lr: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        # config.json stores a tuple as a list; the field is compared and hashed as a tuple.
        scales = self.scales
        if isinstance(scales, int):
            scales = (scales,)
        if not isinstance(scales, list | tuple | set | frozenset) or any(
                isinstance(s, bool) or not isinstance(s, int) for s in scales):
            raise ValueError(f"scales must be a list of 2, 3 or 4, not {self.scales!r}")
        scales = tuple(sorted(set(scales)))
        object.__setattr__(self, "scales", scales)
        if not scales or any(s not in SUPPORTED_SCALES for s in scales):
            raise ValueError(f"scales must be some of 2, 3, 4, not {self.scales!r}")
        if self.features < 1 or self.blocks < 0:
            raise ValueError("features >= 1 and blocks >= 0")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")


class ResidualBlock(nn.Module):
    """conv, ReLU, conv, plus the input. No normalisation: EDSR found that batch norm
    hurts SR (it flattens the range of the features), and none keeps the block cheap."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class SubPixelTail(nn.Module):
    """One scale's tail: a 3x3 conv of its own, then a conv to C*s*s channels that
    PixelShuffle turns into an s-times larger residual image."""

    def __init__(self, features: int, channels: int, scale: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(features, features, 3, padding=1)
        self.to_pixels = nn.Conv2d(features, channels * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        # Zero residual at the start: the untrained net is exactly bicubic.
        nn.init.zeros_(self.to_pixels.weight)
        nn.init.zeros_(self.to_pixels.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.to_pixels(F.relu(self.conv(h))))


def psnr_per_image(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of each image of a batch (values in [0, 1]), on 8-bit-rounded values so
    the figure is the one a saved PNG would give; identical images count as 100 dB."""
    a = torch.round(a.clamp(0, 1) * 255) / 255
    b = torch.round(b.clamp(0, 1) * 255) / 255
    mse = ((a - b) ** 2).flatten(1).mean(dim=1)
    return torch.where(mse > 0, -10 * torch.log10(mse.clamp_min(1e-20)), torch.full_like(mse, 100))


@register("superres", SuperResConfig)
class SuperRes(GenerativeModel):
    # Declared on the class too, so capabilities_of(SuperRes) finds "upscaler" without
    # building a model (the checkpoint list does that).
    scales: tuple[int, ...] = ()

    def __init__(self, config: SuperResConfig) -> None:
        super().__init__(config)
        c = config
        self.scales = c.scales
        self.head = nn.Conv2d(c.channels, c.features, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(c.features) for _ in range(c.blocks)],
                                  nn.Conv2d(c.features, c.features, 3, padding=1))
        # ModuleDict keys must be strings; "x2" also names the weights in the checkpoint.
        self.tails = nn.ModuleDict({f"x{s}": SubPixelTail(c.features, c.channels, s)
                                    for s in c.scales})

    @property
    def reach(self) -> int:
        """How far (in low-resolution pixels) an output pixel's inputs lie: 1 for the head,
        2 per residual block, 1 for the body's end, 1 for the tail's conv and 1 for its
        sub-pixel conv; bicubic reads 2. Tiles need at least this much context."""
        return 2 * self.config.blocks + 4

    # --- network ----------------------------------------------------------------------------
    def enlarge(self, lowres: torch.Tensor, scale: int) -> torch.Tensor:
        """bicubic(lowres) + the predicted residual, unclamped (what the loss sees)."""
        h = self.head(lowres - 0.5)  # centred input: the convolutions see values around 0
        h = h + self.body(h)  # a long skip around the body, as in EDSR
        return resize.upscale_bicubic(lowres, scale) + self.tails[f"x{scale}"](h)

    def _check(self, lowres: torch.Tensor, scale: int) -> None:
        if scale not in self.scales:
            have = ", ".join(f"{s}x" for s in self.scales)
            raise GenplayError(f"this model enlarges by {have} only, not {scale}x")
        c = self.config.channels
        if lowres.ndim != 4 or lowres.shape[1] != c:
            raise GenplayError(f"this model takes {c}-channel images as (N, {c}, H, W); "
                               f"got shape {tuple(lowres.shape)}")
        if 0 in lowres.shape:
            raise GenplayError("an empty image cannot be enlarged")

    # --- Upscaler ---------------------------------------------------------------------------
    @torch.no_grad()
    def upscale(self, lowres: torch.Tensor, scale: int) -> torch.Tensor:
        self._check(lowres, scale)
        return self.enlarge(lowres.to(self.device, torch.float32), scale).clamp(0.0, 1.0)

    # --- training ---------------------------------------------------------------------------
    def pixel_loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = prediction - target
        if self.config.loss == "l1":
            return diff.abs().mean()
        return torch.sqrt(diff * diff + _CHARBONNIER_EPS**2).mean()

    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        terms: dict[str, float] = {}
        total = x.new_zeros(())
        for s in self.scales:
            target = resize.modcrop(x, s)  # 28 is no multiple of 3: crop to 27
            loss = self.pixel_loss(self.enlarge(resize.downscale(target, s), s), target)
            total = total + loss / len(self.scales)
            terms[f"x{s}"] = loss.item()
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        return {"loss": total.item(), **terms}

    @torch.no_grad()
    def validation_metrics(self, x, labels):
        metrics: dict[str, float] = {}
        for s in self.scales:
            target = resize.modcrop(x, s)
            lowres = resize.downscale(target, s)
            net = psnr_per_image(self.enlarge(lowres, s), target).mean().item()
            bicubic = psnr_per_image(resize.upscale_bicubic(lowres, s), target).mean().item()
            metrics[f"psnr_x{s}"] = net
            metrics[f"bicubic_psnr_x{s}"] = bicubic
        metrics["psnr_gain"] = sum(metrics[f"psnr_x{s}"] - metrics[f"bicubic_psnr_x{s}"]
                                   for s in self.scales) / len(self.scales)
        return metrics

    @torch.no_grad()
    def preview(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """A resolution chart through each scale: rows of (bicubic, net, original).

        The training loop hands previews no data, so the chart is drawn: a zone plate
        (rings whose frequency rises outwards) shows where each enlargement stops
        resolving detail, and how sharp the net's edges are next to bicubic's."""
        size, c = self.config.image_size, self.config.channels
        chart = zone_plate(size).expand(1, c, size, size).to(self.device)
        rows = []
        for s in self.scales:
            target = resize.modcrop(chart, s)
            lowres = resize.downscale(target, s)
            pad = (0, size - target.shape[-1], 0, size - target.shape[-2])
            rows += [F.pad(img, pad) for img in (resize.upscale_bicubic(lowres, s),
                                                 self.enlarge(lowres, s).clamp(0, 1), target)]
        return torch.cat(rows)


def zone_plate(size: int) -> torch.Tensor:
    """(1, 1, size, size) rings 0.5 + 0.5 cos(k r^2) whose frequency reaches the Nyquist
    limit only in the corners (so the chart itself has no aliasing), plus a dark square
    whose straight edges and corners show how edges are enlarged."""
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    r2 = r[None, :] ** 2 + r[:, None] ** 2
    # The local frequency is k r / pi cycles a pixel: 1/2 at the corners, r = size / sqrt 2.
    k = math.pi / (size * math.sqrt(2))
    chart = 0.5 + 0.5 * torch.cos(k * r2)
    quarter = size // 4
    chart[quarter : 2 * quarter, quarter : 2 * quarter] = 0.05
    return chart.view(1, 1, size, size)
