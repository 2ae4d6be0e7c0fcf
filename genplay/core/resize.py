"""The one degradation genplay's super-resolution is built around, and its inverse guess.

A low-resolution image is the high-resolution one shrunk by an integer factor with an
antialiased bicubic filter (what Pillow, and most image editors, do when they shrink a
picture). SR networks are trained on pairs made this way, "simulate" in the
Super-resolution panel makes its input this way, and the benchmark's bicubic baseline
is plain bicubic enlargement back. Keeping all three in one place keeps the comparison
honest: a network trained on one degradation and scored on another would be judged
unfairly, in either direction.

Tensors are float (N, C, H, W) in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genplay.core.errors import GenplayError


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crops the bottom and right edges so height and width are multiples of scale."""
    h, w = x.shape[-2] - x.shape[-2] % scale, x.shape[-1] - x.shape[-1] % scale
    if h == 0 or w == 0:
        raise GenplayError(
            f"an image of {x.shape[-1]}x{x.shape[-2]} pixels is too small to shrink {scale}x"
        )
    return x[..., :h, :w]


def downscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Shrinks by an integer factor (antialiased bicubic); height and width must divide."""
    h, w = x.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"{w}x{h} is not a multiple of {scale}; modcrop it first")
    if scale == 1:
        return x
    y = F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                      align_corners=False)
    return y.clamp(0.0, 1.0)


def upscale_bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Enlarges by an integer factor with bicubic interpolation: the baseline."""
    if scale == 1:
        return x
    y = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    return y.clamp(0.0, 1.0)


def downscale_matrix(size: int, scale: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (size // scale, size) matrix D with downscale(x) = D x D^T along each axis
    (before clamping): the antialiased bicubic filter is separable and linear, so
    projecting onto "images that shrink to y" needs only this and its pseudo-inverse."""
    eye = torch.eye(size, dtype=dtype)
    # Each column of the identity, shrunk along one axis, is one column of D.
    columns = F.interpolate(eye.view(size, 1, 1, size), size=(1, size // scale), mode="bicubic",
                            antialias=True, align_corners=False)
    return columns.view(size, size // scale).T.contiguous()
