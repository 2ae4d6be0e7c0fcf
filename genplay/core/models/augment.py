"""Differentiable augmentation for GAN training on small datasets (DiffAugment).

A discriminator that sees a few thousand images memorises them and its gradients stop
telling the generator anything useful. Augmenting what it sees — real and generated
images alike, in the discriminator's and the generator's steps — keeps it from
memorising, and because every operation here is differentiable, the generator still
learns through it; the generated images themselves are not augmented.

Images are on the [-1, 1] scale, (N, C, H, W). Each image draws its own parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _colour(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    n = x.shape[0]

    def draw() -> torch.Tensor:
        return torch.rand(n, 1, 1, 1, generator=generator, device="cpu").to(x.device, x.dtype)

    x = x + (draw() - 0.5)  # brightness
    if x.shape[1] > 1:  # saturation: away from or towards each pixel's grey
        grey = x.mean(dim=1, keepdim=True)
        x = grey + (x - grey) * (draw() * 2.0)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return mean + (x - mean) * (draw() + 0.5)  # contrast


def _translation(x: torch.Tensor, generator: torch.Generator | None,
                 ratio: float = 0.125) -> torch.Tensor:
    """Shifts each image by up to `ratio` of its size, whole pixels, edges repeated."""
    n, _, h, w = x.shape
    rx, ry = max(1, round(w * ratio)), max(1, round(h * ratio))
    shift = torch.stack([torch.randint(-rx, rx + 1, (n,), generator=generator),
                         torch.randint(-ry, ry + 1, (n,), generator=generator)], 1).to(x.dtype)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = shift[:, 0] * 2.0 / w  # a pixel is 2/w in grid units
    theta[:, 1, 2] = shift[:, 1] * 2.0 / h
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _cutout(x: torch.Tensor, generator: torch.Generator | None,
            ratio: float = 0.5) -> torch.Tensor:
    """Blanks (to 0, mid-grey) a square of `ratio` of the size at a random place."""
    n, _, h, w = x.shape
    ch, cw = max(1, round(h * ratio)), max(1, round(w * ratio))
    top = torch.randint(0, h - ch + 1, (n, 1, 1), generator=generator)
    left = torch.randint(0, w - cw + 1, (n, 1, 1), generator=generator)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.device, x.dtype)


OPERATIONS = {"colour": _colour, "translation": _translation, "cutout": _cutout}


def parse(policy: str) -> tuple[str, ...]:
    """'colour,translation,cutout' -> its names, checked; '' -> none."""
    names = tuple(s.strip() for s in policy.split(",") if s.strip())
    unknown = [s for s in names if s not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; known: {', '.join(OPERATIONS)}")
    return names


def augment(x: torch.Tensor, policy: str | tuple[str, ...],
            generator: torch.Generator | None = None) -> torch.Tensor:
    """x with each operation of `policy` applied in turn (differentiable in x)."""
    for name in parse(policy) if isinstance(policy, str) else policy:
        x = OPERATIONS[name](x, generator)
    return x
