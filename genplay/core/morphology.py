"""Morphology and filters on batches of images (N, C, H, W) as float tensors: the tools
the sketch extractors (core.sketches) are built from.

Everything is vectorised over the batch and made from shifted copies of the image where
a 3x3 convolution or max_pool2d of one channel would be several times slower on a CPU.
Masks are 0/1 in the images' float dtype.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["box3", "check_images", "components", "cross", "depth", "dilate", "erode",
           "fill_holes", "foreground", "gaussian", "luminance", "max_filter", "sobel", "thin"]

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, Pillow's "L"


def check_images(images: Tensor) -> None:
    if images.dim() != 4 or images.shape[1] not in (1, 3) or not images.is_floating_point():
        raise ValueError(f"expected float images (N, 1 or 3, H, W), got {images.dtype} "
                         f"{tuple(images.shape)}")


def max_filter(x: Tensor, before: int, after: int, outside: float = 0.0) -> Tensor:
    """The maximum over the square window from `before` pixels up and left to `after`
    down and right, with `outside` beyond the image; separable, from shifted copies
    (several times faster than max_pool2d on small single-channel images on a CPU)."""
    k = before + after + 1
    p = F.pad(x, (before, after, before, after), value=outside)
    h, w = x.shape[-2:]
    rows = p[..., :w]
    for i in range(1, k):
        rows = torch.maximum(rows, p[..., i:i + w])
    out = rows[..., :h, :]
    for i in range(1, k):
        out = torch.maximum(out, rows[..., i:i + h, :])
    return out


def dilate(x: Tensor, k: int) -> Tensor:
    """Grey dilation by a k x k square (k even: the extra pixel goes right and down)."""
    return max_filter(x, (k - 1) // 2, k // 2) if k > 1 else x


def erode(mask: Tensor, k: int) -> Tensor:
    """Erosion of a 0/1 mask by a k x k square; outside the image counts as background."""
    return 1.0 - max_filter(1.0 - mask, (k - 1) // 2, k // 2, outside=1.0) if k > 1 else mask


def cross(x: Tensor, outside: float = 0.0) -> Tensor:
    """Dilation by the 3x3 cross (4-neighbours), with `outside` beyond the image."""
    p = F.pad(x, (1, 1, 1, 1), value=outside)
    centre = p[..., 1:-1, :]
    across = torch.maximum(torch.maximum(centre[..., :-2], centre[..., 1:-1]), centre[..., 2:])
    return torch.maximum(across, torch.maximum(p[..., :-2, 1:-1], p[..., 2:, 1:-1]))


def box3(x: Tensor) -> Tensor:
    """3x3 mean with the border replicated."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    rows = p[..., :-2] + p[..., 1:-1] + p[..., 2:]
    return (rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]) / 9


def luminance(images: Tensor) -> Tensor:
    """(N, 1, H, W): the image itself when grey, ITU-R 601 luma when colour."""
    check_images(images)
    if images.shape[1] == 1:
        return images
    w = images.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (images * w).sum(dim=1, keepdim=True)


def _background(images: Tensor) -> Tensor:
    """(N, 1, 1, 1): each image's background, black (0) or white (1), whichever more
    pixels of its outer frame are close to (black on a tie). An object that fills much of
    the frame (trousers, a bag) leaves it undecided between its own colour and the
    background's, which is why the choice is between two colours only."""
    frame = torch.cat([images[..., 0, :], images[..., -1, :], images[..., 1:-1, 0],
                       images[..., 1:-1, -1]], dim=-1)
    dark = (frame.amax(dim=1) < 0.05).sum(dim=-1)
    light = (frame.amin(dim=1) > 0.95).sum(dim=-1)
    return (light > dark).to(images.dtype).view(-1, 1, 1, 1)


def foreground(images: Tensor, level: float | Tensor = 0.5) -> Tensor:
    """(N, 1, H, W) 0/1: pixels whose colour differs from the background (black or
    white, from the frame) by more than `level` in some channel. For light-on-dark
    images (genplay's grey datasets) this is `images > level`; emoji are on white."""
    check_images(images)
    distance = (images - _background(images)).abs().amax(dim=1, keepdim=True)
    return (distance > level).to(images.dtype)


def _spread(reach: Tensor, outside: Tensor, dim: int) -> Tensor:
    """`reach` grown along rows (dim -1) or columns (dim -2): every run of `outside`
    pixels that holds a reached pixel is reached, all of it at once."""
    run = torch.cumsum(1.0 - outside, dim=dim).long()  # a run's number along its line
    size = list(reach.shape)
    size[dim] += 1
    reached = reach.new_zeros(size).scatter_reduce(dim, run, reach, "amax")
    return reached.gather(dim, run) * outside


def fill_holes(mask: Tensor) -> Tensor:
    """A 0/1 mask with every background region not joined to the border (4-connected)
    filled in: a ring becomes a disc, a garment's outline its filled shape. The
    background is flooded from the border a whole run of a row or column at a time, so
    it takes as many rounds as the flood has turns, not as it has pixels."""
    outside = 1.0 - mask
    reach = torch.zeros_like(mask)
    reach[..., 0, :] = outside[..., 0, :]
    reach[..., -1, :] = outside[..., -1, :]
    reach[..., :, 0] = outside[..., :, 0]
    reach[..., :, -1] = outside[..., :, -1]
    for _ in range(mask.shape[-1] * mask.shape[-2]):  # a bound; flooding stops far sooner
        grown = _spread(_spread(reach, outside, -1), outside, -2)
        if torch.equal(grown, reach):
            break
        reach = grown
    return 1.0 - reach


def components(mask: Tensor) -> Tensor:
    """The 4-connected regions of a 0/1 mask (..., H, W), each named by a number: every
    pixel of a region holds the largest of its pixels' 1-based positions, the background
    0. The numbers spread to a fixed point, as many rounds as a region is long."""
    h, w = mask.shape[-2:]
    names = (torch.arange(1, h * w + 1, dtype=mask.dtype, device=mask.device)
             .view(h, w) * mask)
    for _ in range(h * w):  # a bound; the spreading settles far sooner
        grown = torch.maximum(cross(names), names) * mask
        if torch.equal(grown, names):
            break
        names = grown
    return names


def depth(mask: Tensor) -> Tensor:
    """How deep each pixel of a 0/1 mask (..., H, W) lies: the number of 3x3 erosions it
    survives plus one (0 outside the mask; beyond the image counts as outside)."""
    out = torch.zeros_like(mask)
    left = mask
    while bool(left.any()):
        out = out + left
        left = erode(left, 3)
    return out


def sobel(gray: Tensor) -> tuple[Tensor, Tensor]:
    """Sobel's x and y derivatives (replicated border), from shifted copies: a 3x3
    convolution of one channel is several times slower on a CPU."""
    p = F.pad(gray, (1, 1, 1, 1), mode="replicate")
    across = p[..., 2:] - p[..., :-2]
    gx = across[..., :-2, :] + 2 * across[..., 1:-1, :] + across[..., 2:, :]
    smooth = p[..., :-2] + 2 * p[..., 1:-1] + p[..., 2:]
    return gx, smooth[..., 2:, :] - smooth[..., :-2, :]


def gaussian(gray: Tensor, sigma: Tensor) -> Tensor:
    """Each image of (N, 1, H, W) blurred by its own sigma ((N, 1, 1, 1), in pixels)."""
    n, _, h, w = gray.shape
    sigma = sigma.view(n, 1)
    r = max(1, math.ceil(2.5 * float(sigma.max())))
    t = torch.arange(-r, r + 1, device=gray.device, dtype=gray.dtype).view(1, -1)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum(dim=1, keepdim=True)
    padded = F.pad(gray, (r, r, r, r), mode="replicate").view(1, n, h + 2 * r, w + 2 * r)
    rows = F.conv2d(padded, k.view(n, 1, 1, 2 * r + 1), groups=n)
    return F.conv2d(rows, k.view(n, 1, 2 * r + 1, 1), groups=n).view(n, 1, h, w)


# --- thinning -----------------------------------------------------------------------------
# Zhang & Suen (1984): peel boundary pixels in two alternating sub-passes until only a
# one-pixel-wide skeleton is left. Whether a pixel goes depends on its 3x3 neighbourhood
# only, so each sub-pass is a table of 512 answers, looked up by the neighbourhood's code:
# bit 3 * row + column, row and column 0..2 from the top left (the centre is bit 4).
def _thinning_table(first: bool) -> list[bool]:
    table = []
    for code in range(512):
        bits = [(code >> i) & 1 for i in range(9)]
        # P2 ... P9 of Zhang and Suen: N, NE, E, SE, S, SW, W, NW.
        p = [bits[1], bits[2], bits[5], bits[8], bits[7], bits[6], bits[3], bits[0]]
        count = sum(p)
        transitions = sum(p[i] == 0 and p[(i + 1) % 8] == 1 for i in range(8))
        p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
        if first:
            side = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
        else:
            side = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
        table.append(bits[4] == 1 and 2 <= count <= 6 and transitions == 1 and side)
    return table


_THINNING = (torch.tensor(_thinning_table(True)), torch.tensor(_thinning_table(False)))


def _neighbourhood_code(b: Tensor) -> Tensor:
    """The 9-bit code of every pixel's 3x3 neighbourhood in a 0/1 int64 batch (outside
    counts as 0), from shifted copies: a 3x3 convolution of one channel is slower."""
    p = F.pad(b, (1, 1, 1, 1))
    row = p[..., :-2] + 2 * p[..., 1:-1] + 4 * p[..., 2:]
    return row[..., :-2, :] + 8 * row[..., 1:-1, :] + 64 * row[..., 2:, :]


def thin(binary: Tensor, max_iterations: int = 50) -> Tensor:
    """Zhang-Suen thinning of 0/1 images (..., H, W) to one-pixel-wide skeletons."""
    shape = binary.shape
    flat = binary.reshape(-1, 1, *shape[-2:])
    if len(flat) > 256:  # in parts that stay in the processor's cache
        parts = [_thin(part, max_iterations) for part in flat.split(256)]
        return torch.cat(parts).reshape(shape)
    return _thin(flat, max_iterations).reshape(shape)


def _thin(binary: Tensor, max_iterations: int) -> Tensor:
    b = binary.long()
    tables = [t.to(b.device) for t in _THINNING]
    for _ in range(max_iterations):
        changed = False
        for table in tables:
            remove = table[_neighbourhood_code(b)]
            if remove.any():
                b = b.masked_fill(remove, 0)
                changed = True
        if not changed:
            break
    return b.to(binary.dtype)
