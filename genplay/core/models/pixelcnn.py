"""Gated PixelCNN (van den Oord et al. 2016) with a discretized-logistic-mixture output.

An exact autoregressive density over pixel positions in raster order:
log p(x) = sum over pixels of log p(x_ij | pixels before ij). Its bits/dim is the
real likelihood of the 8-bit image, not a bound, so it reads beside the VAE's.

Two stacks of causal convolutions remove the blind spot of the original masked
PixelCNN: the vertical stack sees a (k//2 + 1) x k window of the rows above
(shifted down one row before it reaches the horizontal stack, so it only ever
reports rows strictly above), the horizontal stack sees the current row to the
left. The first layer is "type A" (its horizontal input is shifted right, so the
current pixel is excluded); later layers are "type B". Every activation is gated,
tanh(a) * sigmoid(b).

Colour (channels == 3) is kept simple: the channels of one pixel are treated as
conditionally independent given the pixels before it, each with its own mixture.
For grayscale the factorisation is exact with no approximation at all.

Because a vertical-stack row depends only on rows at or above it, and a
horizontal-stack position only on positions to its left, sampling caches both
stacks (see ``_Incremental``) and each new pixel costs one position of each layer
instead of a whole network pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genplay.core.events import Preview, Progress, Result, final_value
from genplay.core.images import to_uint8_hwc
from genplay.core.models import likelihood
from genplay.core.models.base import GenerativeModel, ModelConfig, SampleOption
from genplay.core.models.families import register


@dataclass(frozen=True)
class PixelCNNConfig(ModelConfig):
    BOUNDS = ModelConfig.BOUNDS | {"hidden_channels": (1, 1024), "n_layers": (1, 64),
                                   "first_kernel_size": (3, 15), "kernel_size": (3, 15),
                                   "n_mix": (1, 64)}
    # 32 x 8 layers trains at roughly 100 images/s on one busy CPU core at 28x28; 64 wide is
    # about 3.5x slower. Eight layers reach 10 rows up and 9 columns either side.
    hidden_channels: int = 32
    n_layers: int = 8
    first_kernel_size: int = 5  # a wide first layer gives a quick start to the receptive field
    kernel_size: int = 3
    n_mix: int = 5
    lr: float = 1e-3
    batch_size: int = 64
    cosine_lr: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("first_kernel_size", "kernel_size"):
            k = getattr(self, name)
            if k < 3 or k % 2 == 0:
                raise ValueError(f"{name} must be odd and at least 3, not {k}")
        if self.n_layers < 1 or self.hidden_channels < 1 or self.n_mix < 1:
            raise ValueError("n_layers, hidden_channels and n_mix must be at least 1")


def _gate(t: torch.Tensor) -> torch.Tensor:
    a, b = t.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def _shift_down(t: torch.Tensor) -> torch.Tensor:
    return F.pad(t, (0, 0, 1, 0))[:, :, :-1]


def _shift_right(t: torch.Tensor) -> torch.Tensor:
    return F.pad(t, (1, 0, 0, 0))[:, :, :, :-1]


class GatedLayer(nn.Module):
    """One layer of both stacks. Inputs come already padded, so the same code runs
    on whole images (training) and on single positions (cached sampling)."""

    def __init__(self, in_channels: int, hidden: int, kernel: int, first: bool) -> None:
        super().__init__()
        self.reach = kernel // 2
        self.first = first  # type A: no residual, horizontal input shifted by the caller
        self.v_conv = nn.Conv2d(in_channels, 2 * hidden, (self.reach + 1, kernel))
        self.h_conv = nn.Conv2d(in_channels, 2 * hidden, (1, self.reach + 1))
        self.link = nn.Conv2d(hidden, 2 * hidden, 1)  # vertical (row above) -> horizontal
        self.h_out = nn.Conv2d(hidden, hidden, 1)

    def vertical(self, v_padded: torch.Tensor) -> torch.Tensor:
        """v_padded has `reach` extra rows on top and `reach` extra columns each side."""
        return _gate(self.v_conv(v_padded))

    def horizontal(
        self, h_padded: torch.Tensor, h_skip: torch.Tensor, v_above: torch.Tensor
    ) -> torch.Tensor:
        """h_padded has `reach` extra columns on the left; v_above is already shifted down."""
        out = self.h_out(_gate(self.h_conv(h_padded) + self.link(v_above)))
        return out if self.first else h_skip + out


@register("pixelcnn", PixelCNNConfig)
class PixelCNN(GenerativeModel):
    def __init__(self, config: PixelCNNConfig) -> None:
        super().__init__(config)
        c = config
        hid = c.hidden_channels
        # The input gets a constant-ones channel: zero padding then marks the border,
        # which the network could not otherwise tell from mid-gray pixels.
        self.layers = nn.ModuleList(
            [GatedLayer(c.channels + 1, hid, c.first_kernel_size, first=True)]
            + [GatedLayer(hid, hid, c.kernel_size, first=False) for _ in range(c.n_layers - 1)]
        )
        self.head = nn.Sequential(
            nn.ELU(), nn.Conv2d(hid, hid, 1), nn.ELU(),
            nn.Conv2d(hid, likelihood.param_channels(c.channels, c.n_mix), 1),
        )

    # --- the network ------------------------------------------------------------------------
    def network_input(self, x: torch.Tensor) -> torch.Tensor:
        ones = torch.ones_like(x[:, :1])
        return torch.cat([x * 2.0 - 1.0, ones], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mixture parameters (N, param_channels, H, W); those at ij see only pixels before ij."""
        v = h = self.network_input(x)
        for layer in self.layers:
            r = layer.reach
            v = layer.vertical(F.pad(v, (r, r, r, 0)))
            h_src = _shift_right(h) if layer.first else h
            h = layer.horizontal(F.pad(h_src, (r, 0, 0, 0)), h, _shift_down(v))
        return self.head(h)

    def log_prob_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_ij[c] | pixels before ij) in nats, shape (N, C, H, W)."""
        return likelihood.log_prob(x, self(x), self.config.n_mix)

    # --- training ---------------------------------------------------------------------------
    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        nll = -self.log_prob_pixels(x).mean()  # nats per sub-pixel
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        nll.backward()
        nn.utils.clip_grad_norm_(self.parameters(), 100.0)
        opt.step()
        return {"bpd": nll.item() / math.log(2)}

    @torch.no_grad()
    def validation_metrics(self, x, labels):
        return {"bpd": (-self.log_prob_pixels(x).mean() / math.log(2)).item()}

    # --- Density ----------------------------------------------------------------------------
    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) of 8-bit images in nats, shape (N,)."""
        return self.log_prob_pixels(x).sum(dim=(1, 2, 3))

    pixel_bits_note = ("exact: -log2 p(pixel | the pixels above and to its left), summed over "
                       "colour channels; the image's bits are the sum over its pixels")

    def pixel_nll(self, x: torch.Tensor) -> torch.Tensor:
        """Bits each pixel costs, (N, H, W); sums to the image's exact -log2 p(x)."""
        return -self.log_prob_pixels(x).sum(dim=1) / math.log(2)

    # --- Sampler ----------------------------------------------------------------------------
    def sample_options(self) -> list[SampleOption]:
        return [SampleOption(
            "temperature", 1.0, 0.5, 1.5,
            "scales every logistic component's width (an approximation of a true "
            "temperature): below 1 gives cleaner, less varied images",
        )]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """n images in [0, 1] on the 8-bit grid, drawn pixel by pixel in raster order."""
        steps = self.sample_steps(n, generator, temperature, preview_every=0)
        return torch.from_numpy(final_value(steps))

    def sample_steps(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
        preview_every: int = 28,
    ) -> Iterator[Progress | Preview | Result]:
        """Progress per pixel row, Preview every `preview_every` pixels, then Result."""
        x = torch.zeros((n, *self.image_shape), device=self.device)
        keep = torch.zeros((n, 1, *self.image_shape[1:]), dtype=torch.bool, device=self.device)
        return self._fill_steps(x, keep, generator, temperature, preview_every)

    # --- completion -------------------------------------------------------------------------
    @torch.no_grad()
    def complete(self, x: torch.Tensor, mask: torch.Tensor,
                 generator: torch.Generator | None = None,
                 temperature: float = 1.0) -> torch.Tensor:
        """Fills the pixels where mask is False; given pixels come back exactly as given.

        Each filled pixel is drawn conditioned on every pixel before it in raster
        order (given or already drawn). Given pixels *after* it are kept but not
        conditioned on: the model cannot look ahead. So "keep the top rows, sample
        the rest" is exact, while a hole in the middle only sees what is above and to
        its left.
        """
        steps = self.complete_steps(x, mask, generator, temperature, 0)
        return torch.from_numpy(final_value(steps))

    def complete_steps(
        self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None,
        temperature: float = 1.0, preview_every: int = 28,
    ) -> Iterator[Progress | Preview | Result]:
        """Like sample_steps, for complete(); mask is bool (N, 1, H, W) or (H, W)."""
        if x.dim() != 4 or x.shape[1] != self.config.channels:
            raise ValueError(f"expected images (N, {self.config.channels}, H, W), "
                             f"got {tuple(x.shape)}")
        keep = torch.as_tensor(mask, device=x.device).bool()
        if keep.dim() == 2:
            keep = keep.expand(x.shape[0], 1, *keep.shape)
        if keep.shape != (x.shape[0], 1, *x.shape[2:]):
            raise ValueError(f"mask must be (H, W) or (N, 1, H, W) matching the images, "
                             f"got {tuple(keep.shape)}")
        x = x.detach().float().clone()
        return self._fill_steps(x, keep, generator, temperature, preview_every)

    @torch.no_grad()  # on a generator function, torch restores grad mode at every yield
    def _fill_steps(self, x, keep, generator, temperature, preview_every):
        """The one pixel-by-pixel loop behind sample and complete (so they agree exactly).

        Steps count pixel positions; positions kept in every image skip the draw, so
        they use no random numbers.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, not {temperature}")
        c, n_mix = self.config.channels, self.config.n_mix
        # Temperature widens or narrows each logistic component by adding log(T) to its
        # log-scale. This is not p ** (1 / T) of the mixture, only a cheap stand-in for it.
        shift = torch.zeros(3 * n_mix, device=x.device)
        shift[2 * n_mix:] = math.log(temperature)
        shift = shift.repeat(c).view(1, -1, 1, 1)
        height, width = x.shape[2:]
        total = height * width
        cache = _Incremental(self, x)
        for i in range(height):
            for j in range(width):
                params = cache.params_at(i, j)
                draw = ~keep[:, :, i, j]  # (N, 1)
                if draw.any():
                    drawn = likelihood.sample(params[..., None, None] + shift, c, n_mix,
                                              generator)[..., 0, 0]
                    cache.set_pixel(i, j, torch.where(draw, drawn, cache.x[:, :, i, j]))
                step = i * width + j + 1
                if preview_every > 0 and step % preview_every == 0:
                    yield Preview(step, to_uint8_hwc(cache.x.cpu().numpy()))
            cache.finish_row(i)
            yield Progress(step=(i + 1) * width, total=total, message="sampling pixels")
        yield Result(cache.x.cpu().numpy().astype(np.float32))


class _Incremental:
    """Caches of both stacks over a batch filled in raster order.

    A vertical-stack row depends only on input rows at or above it, so once row i is
    final its vertical features are computed once (``finish_row``) and reused by all
    rows below; a horizontal-stack position depends only on positions to its left,
    so ``params_at(i, j)`` computes one new position per layer. The arithmetic is the
    forward pass's, padding included (zeros outside the image); tests compare the two.
    """

    def __init__(self, model: PixelCNN, x: torch.Tensor) -> None:
        self.model = model
        self.x = x
        self.inp = model.network_input(x)
        n, _, height, width = x.shape
        hid = model.config.hidden_channels
        self.v = [x.new_zeros(n, hid, height, width) for _ in model.layers]
        self.h = [x.new_zeros(n, hid, 1, width) for _ in model.layers]  # the current row

    def set_pixel(self, i: int, j: int, values: torch.Tensor) -> None:
        self.x[:, :, i, j] = values
        self.inp[:, :-1, i, j] = values * 2.0 - 1.0

    def finish_row(self, i: int) -> None:
        """Vertical features of row i, once the row's pixels are final."""
        src = self.inp
        for layer, v in zip(self.model.layers, self.v):
            r = layer.reach
            rows = src[:, :, max(0, i - r): i + 1]
            v[:, :, i: i + 1] = layer.vertical(F.pad(rows, (r, r, r + 1 - rows.shape[2], 0)))
            src = v

    def params_at(self, i: int, j: int) -> torch.Tensor:
        """Mixture parameters (N, P) of pixel ij; needs rows < i finished and the row's
        pixels before j set."""
        src = self.inp[:, :, i: i + 1]
        for layer, v, h in zip(self.model.layers, self.v, self.h):
            r = layer.reach
            end = j if layer.first else j + 1  # type A sees columns < j, type B columns <= j
            cols = src[:, :, :, max(0, end - r - 1): end]
            # The row above (the shift down); above the image it is the zero padding.
            v_above = v[:, :, i - 1: i, j: j + 1] if i > 0 else torch.zeros_like(v[:, :, :1, :1])
            skip = src[:, :, :, j: j + 1]
            padded = F.pad(cols, (r + 1 - cols.shape[3], 0, 0, 0))
            h[:, :, :, j: j + 1] = layer.horizontal(padded, skip, v_above)
            src = h
        return self.model.head(src[:, :, :, j: j + 1])[:, :, 0, 0]
