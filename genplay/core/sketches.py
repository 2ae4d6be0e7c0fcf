"""Synthetic sketches: the drawings people make, made from training images.

A sketch-conditioned model learns p(image | sketch) from pairs, and the pairs come from
running extractors over the training images, as pix2pix (edges2shoes) and ControlNet
(canny, scribble) do. One extractor gives one kind of drawing and a model trained on it
alone learns that kind only, so here there are several (edge maps at several detectors
and thresholds, thinned lines, pen strokes, outlines, filled silhouettes, interior lines)
and augmentations on top (a shaking hand, gaps, a missing part, another pen width).
Training draws a style per image (`random_sketches`); the benchmark holds one style out
of training (`HELD_OUT`) to measure on drawings the model never saw.

Conventions. Images in: float (N, C, H, W) in [0, 1], C 1 or 3. Lines are found on the
luminance (ITU-R 601, as Pillow's "L"). The object is what differs from the image's
background, black or white as its outer frame says: light on dark for genplay's grey
datasets, anything on white for emoji. Sketches out: float (N, 1, H, W) in [0, 1], ink 1
on 0, as the Sketch canvas draws. Everything random comes from the `torch.Generator`
passed in, so a seed gives the same sketches; work is vectorised over the batch (images
are grouped by style), with no Python loop over pixels. Sizes in pixels are for 28x28
and scale with the image (`_px`).

`from_picture` is the Sketch panel's "Sketch from a picture" (ControlNet's fake
scribble): any picture, prepared as the panel prepares pictures (core.images), as a
sketch at the canvas's size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from genplay.core.errors import GenplayError
from genplay.core.images import prepare_for_model, to_float_chw
from genplay.core.morphology import (
    box3,
    check_images,
    components,
    cross,
    depth,
    dilate,
    erode,
    fill_holes,
    foreground,
    gaussian,
    luminance,
    max_filter,
    sobel,
    thin,
)

__all__ = ["AUGMENTATIONS", "AUGMENT_PROBABILITY", "FILLED_STYLES", "HELD_OUT", "LINE_ONLY",
           "STYLES", "TRAIN_STYLES", "augment", "colour_hints", "drawing_hints", "edge_f1",
           "edge_sketch", "faithfulness", "from_picture", "random_sketches", "sketch",
           "stroke_sketch"]

# A style: images (N, C, H, W) and a generator -> sketches (N, 1, H, W). An augmentation:
# sketches and a generator -> sketches.
Style = Callable[[Tensor, torch.Generator | None], Tensor]

# --- small tools --------------------------------------------------------------------------
def _px(size: int, pixels: float) -> int:
    """A length given for 28x28 images, at `size` (at least 1)."""
    return max(1, round(pixels * size / 28))


def _uniform(n: int, generator: torch.Generator | None, low: float, high: float,
             device: torch.device) -> Tensor:
    """(n, 1, 1, 1) uniform in [low, high), drawn on the generator's device."""
    where = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(n, generator=generator, device=where).to(device)
    return (low + (high - low) * u).view(n, 1, 1, 1)


def _rand(shape: tuple[int, ...], generator: torch.Generator | None,
          device: torch.device) -> Tensor:
    where = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(shape, generator=generator, device=where).to(device)


# --- extractors with fixed settings (the benchmark's) --------------------------------------
def edge_sketch(images: Tensor, threshold: float | Tensor = 0.25) -> Tensor:
    """Outlines as light lines on black, (N, 1, H, W): the Sobel gradient magnitude of
    the 3x3-blurred luminance, over its image's strongest edge, above `threshold` (a
    float, or one per image) becomes ink."""
    gray = luminance(images)
    blur = box3(gray)
    gx, gy = sobel(blur)
    magnitude = (gx**2 + gy**2).sqrt()
    peak = magnitude.flatten(1).amax(dim=1).clamp_min(1e-6).view(-1, 1, 1, 1)
    if isinstance(threshold, Tensor):
        threshold = threshold.view(-1, 1, 1, 1)
    return (magnitude / peak > threshold).to(images.dtype)


def stroke_sketch(images: Tensor, width: int = 3) -> Tensor:
    """A pen drawing of a line image (a digit), (N, 1, H, W): the skeleton of its ink
    (what differs from the background by more than half the range) redrawn with a pen
    `width` pixels wide, as a user traces it on the canvas."""
    return dilate(thin(foreground(images, 0.5)), width)


# --- the styles ---------------------------------------------------------------------------
def _line_pen(lines: Tensor) -> Tensor:
    """One-pixel lines drawn with the canvas's thinnest sensible pen at this size (1 px
    at 28 and 32, 2 at 64)."""
    return dilate(lines, _px(lines.shape[-1], 1))


def _edges(images: Tensor, generator: torch.Generator | None) -> Tensor:
    """Sobel edges at a random threshold: bands two or three pixels wide, a felt pen."""
    threshold = _uniform(len(images), generator, 0.15, 0.4, images.device)
    return edge_sketch(images, threshold)


def _canny(images: Tensor, generator: torch.Generator | None) -> Tensor:
    """Canny's detector: Gaussian blur of random width, Sobel gradient, non-maximum
    suppression along the gradient, hysteresis between two random thresholds."""
    n, _, h, w = images.shape
    sigma = _uniform(n, generator, 0.6, 1.1, images.device) * (h / 28)
    high = _uniform(n, generator, 0.2, 0.4, images.device)
    low = high * _uniform(n, generator, 0.35, 0.6, images.device)
    gx, gy = sobel(gaussian(luminance(images), sigma))
    magnitude = (gx**2 + gy**2).sqrt()
    peak = magnitude.flatten(1).amax(dim=1).clamp_min(1e-6).view(-1, 1, 1, 1)
    magnitude = magnitude / peak
    # The gradient's direction in four bins: across x, the diagonal down-right, across
    # y, the diagonal down-left (y grows downwards); a pixel stays if it is a maximum
    # along it (strictly on one side, so a plateau two pixels wide keeps one).
    angle = torch.remainder(torch.atan2(gy, gx), math.pi)
    direction = torch.floor((angle + math.pi / 8) / (math.pi / 4)).long() % 4
    p = F.pad(magnitude, (1, 1, 1, 1))

    def at(dy: int, dx: int) -> Tensor:
        return p[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

    ahead = torch.stack([at(0, 1), at(1, 1), at(1, 0), at(1, -1)])
    behind = torch.stack([at(0, -1), at(-1, -1), at(-1, 0), at(-1, 1)])
    pick = direction[None]
    ahead, behind = ahead.gather(0, pick)[0], behind.gather(0, pick)[0]
    ridge = (magnitude > ahead) & (magnitude >= behind)
    strong = (ridge & (magnitude >= high)).to(images.dtype)
    weak = (ridge & (magnitude >= low)).to(images.dtype)
    for _ in range(h * w):  # hysteresis: weak ridges joined to strong ones stay
        grown = strong
        for _ in range(4):  # a few steps between checks: a check costs as much as a step
            grown = dilate(grown, 3) * weak
        if torch.equal(grown, strong):
            break
        strong = grown
    return _line_pen(strong)


def _contour(shape: Tensor) -> Tensor:
    """The pixels of a 0/1 shape with a 4-neighbour outside it (beyond the image counts
    as outside): its boundary, one pixel wide and 8-connected."""
    return shape * cross(1.0 - shape, outside=1.0)


def _silhouette_mask(images: Tensor, generator: torch.Generator | None) -> Tensor:
    level = _uniform(len(images), generator, 0.05, 0.2, images.device)
    return fill_holes(foreground(images, level))


def _silhouette(images: Tensor, generator: torch.Generator | None) -> Tensor:
    """The filled shape: what differs from the background, holes filled."""
    return _silhouette_mask(images, generator)


def _outline(images: Tensor, generator: torch.Generator | None) -> Tensor:
    """The silhouette's outer contour only, one pixel wide (8-connected)."""
    return _line_pen(_contour(_silhouette_mask(images, generator)))


def _centre_lines(band: Tensor) -> Tensor:
    """A band of edge pixels as one-pixel lines. The holes of the band no more than a
    pixel wide (the middle of a thin stroke, between its two edges) are filled first, so
    a stroke thins to one line along its middle, not to a ladder; wider holes (the loops
    of an 8, the inside of a garment) stay."""
    hole = fill_holes(band) - band
    anchored = 1.0 - max_filter(1.0 - hole, 0, 1, outside=1.0)  # 2x2 squares inside
    wide = max_filter(anchored, 1, 0)  # their union: the opening
    return thin(band + hole - wide)


def _sharp_edges(images: Tensor) -> Tensor:
    """Sobel gradient magnitude of the luminance, unblurred (edges a pixel or two wide),
    over each image's strongest edge."""
    gx, gy = sobel(luminance(images))
    magnitude = (gx**2 + gy**2).sqrt()
    return magnitude / magnitude.flatten(1).amax(dim=1).clamp_min(1e-6).view(-1, 1, 1, 1)


def _lines(images: Tensor, generator: torch.Generator | None) -> Tensor:
    """Unblurred Sobel edges at a random threshold as single-pixel lines: a garment's
    outline and its seams, a digit's strokes along their middle."""
    threshold = _uniform(len(images), generator, 0.3, 0.5, images.device)
    return _line_pen(_centre_lines((_sharp_edges(images) > threshold).to(images.dtype)))


def _pen(lines: Tensor, width: Tensor) -> Tensor:
    """One-pixel lines drawn with a pen of `width` ((N, 1, 1, 1): 1, 2 or 3 px at 28)."""
    size = lines.shape[-1]
    pens = [dilate(lines, _px(size, k)) for k in (1, 2, 3)]
    return torch.where(width == 1, pens[0], torch.where(width == 2, pens[1], pens[2]))


def _pen_widths(n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    where = generator.device if generator is not None else torch.device("cpu")
    width = torch.randint(1, 4, (n,), generator=generator, device=where)
    return width.to(device).view(n, 1, 1, 1)


def _strokes(images: Tensor, generator: torch.Generator | None) -> Tensor:
    """What a pen draws, with a pen 1 to 3 px wide: the skeleton of the ink for line
    images (how digits are drawn), the contour of the shape for filled ones (a garment:
    ink on average more than 5 px wide at 28x28, where a skeleton is a stick figure)."""
    n, _, h, _ = images.shape
    ink = foreground(images, 0.5)
    skeleton = thin(ink)
    wide = ink.flatten(1).sum(dim=1) > 5 * (h / 28) * skeleton.flatten(1).sum(dim=1)
    lines = torch.where(wide.view(n, 1, 1, 1), _contour(fill_holes(ink)), skeleton)
    return _pen(lines, _pen_widths(n, generator, images.device))


def _interior(images: Tensor, generator: torch.Generator | None) -> Tensor:
    """A few lines inside the shape (a collar, a seam, the inside of a loop), without
    the outline: unblurred edges over the strongest edge more than 3 px inside the
    silhouette, as single-pixel lines, kept where they lie more than 2 px inside it.
    Images with (almost) none get `lines` instead."""
    n, _, h, _ = images.shape
    shape = _silhouette_mask(images, generator)
    magnitude = _sharp_edges(images)
    peak = (magnitude * erode(shape, 2 * _px(h, 3) + 1)).flatten(1).amax(dim=1)
    threshold = _uniform(n, generator, 0.3, 0.5, images.device)
    band = (magnitude > threshold * peak.clamp_min(0.05).view(-1, 1, 1, 1)).to(images.dtype)
    lines = _line_pen(_centre_lines(band) * erode(shape, 2 * _px(h, 2) + 1))
    few = (lines.flatten(1).sum(dim=1) < _px(h, 4)).nonzero().squeeze(1)
    if len(few):
        lines[few] = _lines(images[few], generator)
    return lines


STYLES: dict[str, Style] = {
    "edges": _edges,
    "canny": _canny,
    "outline": _outline,
    "lines": _lines,
    "strokes": _strokes,
    "silhouette": _silhouette,
    "interior": _interior,
}

# Held out of training, so the benchmark measures on drawings the model never saw. Canny
# is a detector of its own (non-maximum suppression and hysteresis, not a threshold and
# thinning) and the one ControlNet's edge model is trained on; its thin, connected lines
# are what a careful person draws. Outline and strokes stay in training because they are
# what people draw most (a garment's contour, a digit's pen lines): the product needs
# them learned, not merely generalised to.
HELD_OUT = "canny"
TRAIN_STYLES: tuple[str, ...] = tuple(name for name in STYLES if name != HELD_OUT)


# --- augmentations ------------------------------------------------------------------------
def _wobble(sketches: Tensor, generator: torch.Generator | None) -> Tensor:
    """A hand's shake: a smooth random displacement (up to about a pixel at 28x28) and a
    slight turn, scale and shift of the whole drawing; lines come out antialiased."""
    n, _, h, w = sketches.shape
    device = sketches.device
    field = _rand((n, 2, 4, 4), generator, device) * 2 - 1
    field = F.interpolate(field, size=(h, w), mode="bicubic", align_corners=True)
    amplitude = _uniform(n, generator, 0.5, 1.3, device) * (h / 28)
    turn = (_uniform(n, generator, -6, 6, device) * math.pi / 180).view(n)
    scale = _uniform(n, generator, 0.93, 1.07, device).view(n)
    shift = (_rand((n, 2), generator, device) * 2 - 1) * (h / 28) * 2 / w
    cos, sin = torch.cos(turn) / scale, torch.sin(turn) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    grid = grid + (field * amplitude * 2 / w).permute(0, 2, 3, 1)
    moved = F.grid_sample(sketches, grid, mode="bilinear", padding_mode="zeros",
                          align_corners=False)
    return (moved * 1.5).clamp(0, 1)  # a line split between two pixels keeps its ink


def _breaks(sketches: Tensor, generator: torch.Generator | None) -> Tensor:
    """Gaps along the lines: small squares (2-3 px) erased at random points of the ink."""
    n, _, h, _ = sketches.shape
    rate = _uniform(n, generator, 0.02, 0.07, sketches.device)
    seeds = ((sketches > 0.5) & (_rand(tuple(sketches.shape), generator, sketches.device)
                                 < rate)).to(sketches.dtype)
    small = dilate(seeds, _px(h, 2))
    big = dilate(seeds, _px(h, 3))
    which = _uniform(n, generator, 0, 1, sketches.device) < 0.5
    return sketches * (1.0 - torch.where(which, small, big))


def _missing(sketches: Tensor, generator: torch.Generator | None) -> Tensor:
    """A part not drawn: a disc (radius 15-27% of the image: 4 to 7 px at 28x28) erased
    around a random point of the ink."""
    n, _, h, w = sketches.shape
    device = sketches.device
    score = (_rand((n, h * w), generator, device) + 1) * (sketches.flatten(1) > 0.5)
    centre = score.argmax(dim=1)
    cy, cx = (centre // w).view(n, 1, 1, 1), (centre % w).view(n, 1, 1, 1)
    radius = _uniform(n, generator, 0.15, 0.27, device) * h
    yy = torch.arange(h, device=device).view(1, 1, h, 1)
    xx = torch.arange(w, device=device).view(1, 1, 1, w)
    hole = ((yy - cy)**2 + (xx - cx)**2).to(sketches.dtype) <= radius**2
    return sketches.masked_fill(hole, 0.0)


def _width(sketches: Tensor, generator: torch.Generator | None) -> Tensor:
    """Another pen: the lines' middles redrawn with a pen 1, 2 or 3 px wide."""
    lines = _centre_lines((sketches > 0.5).to(sketches.dtype))
    return _pen(lines, _pen_widths(len(sketches), generator, sketches.device))


AUGMENTATIONS: dict[str, Style] = {
    "width": _width,
    "missing": _missing,
    "breaks": _breaks,
    "wobble": _wobble,  # last, so every line it moves comes out antialiased
}
LINE_ONLY = ("width", "breaks")  # not for filled shapes
FILLED_STYLES = ("silhouette",)
# The chance that each augmentation is applied to a training sketch (independently, in
# the order of AUGMENTATIONS).
AUGMENT_PROBABILITY: dict[str, float] = {"width": 0.3, "missing": 0.15, "breaks": 0.25,
                                         "wobble": 0.5}


# --- the API ------------------------------------------------------------------------------
def _style(name: str) -> Style:
    if name not in STYLES:
        raise GenplayError(f"unknown sketch style {name!r}: choose one of "
                           f"{', '.join(STYLES)}")
    return STYLES[name]


def sketch(images: Tensor, style: str, generator: torch.Generator | None = None) -> Tensor:
    """Sketches (N, 1, H, W) of `images` (N, C, H, W) in one style, no augmentation."""
    check_images(images)
    return _style(style)(images, generator)


def augment(sketches: Tensor, generator: torch.Generator | None,
            probability: Mapping[str, float] | None = None,
            filled: Tensor | None = None) -> Tensor:
    """Each augmentation applied to each sketch with its probability (default
    AUGMENT_PROBABILITY), the sketches grouped so that each runs once a batch. `filled`
    ((N,) bool) marks filled shapes (silhouettes), which get no LINE_ONLY augmentation:
    gaps in a filled shape are holes, and its middle is a stick figure."""
    probability = AUGMENT_PROBABILITY if probability is None else probability
    out = sketches.clone()
    for name, fn in AUGMENTATIONS.items():
        draw = _rand((len(out),), generator, out.device) < probability.get(name, 0.0)
        if filled is not None and name in LINE_ONLY:
            draw &= ~filled.to(out.device)
        chosen = draw.nonzero().squeeze(1)
        if len(chosen):
            out[chosen] = fn(out[chosen], generator)
    return out


def random_sketches(images: Tensor, generator: torch.Generator | None,
                    styles: Sequence[str] = TRAIN_STYLES,
                    probability: Mapping[str, float] | None = None) -> Tensor:
    """Training sketches (N, 1, H, W): each image gets a style drawn uniformly from
    `styles` (repeat a name to draw it more often) and the augmentations with their
    probabilities, everything from `generator`."""
    check_images(images)
    if not styles:
        raise ValueError("no sketch styles to draw from")
    for name in styles:
        _style(name)
    n, _, h, w = images.shape
    where = generator.device if generator is not None else torch.device("cpu")
    choice = torch.randint(len(styles), (n,), generator=generator, device=where)
    names = np.array(styles)[choice.cpu().numpy()]  # the style of each image
    out = images.new_zeros(n, 1, h, w)
    for name in dict.fromkeys(styles):  # each style once, in a fixed order
        chosen = torch.from_numpy(np.flatnonzero(names == name)).to(images.device)
        if len(chosen):
            out[chosen] = STYLES[name](images[chosen], generator)
    filled = torch.from_numpy(np.isin(names, FILLED_STYLES))
    return augment(out, generator, probability, filled)


def colour_hints(images: Tensor, sketches: Tensor, generator: torch.Generator | None, *,
                 most: int = 4, mask: bool = False) -> Tensor:
    """Colour hints for colour datasets: 1 to `most` blobs of the image's own colours
    inside the object, (N, 3, H, W).

    Convention: a hint pixel holds the colour its region should have; every other pixel
    is 0. A blob sits at a random point of the object off the sketch's lines, has a
    radius of 1-2.5 px at 28x28, takes the colour there (3x3 average) and covers only
    the pixels of the disc whose colour is within 0.15 of it ("this region is this
    colour", never spilling over an edge). Black is a colour too, so a hint of black
    cannot be told from no hint: with `mask=True` a fourth channel is 1 where a hint is
    set, and a model should take all four (proposed: the sketch, the three hint colours
    and the mask as five conditioning channels).
    """
    check_images(images)
    n, c, h, w = images.shape
    device = images.device
    colour = images if c == 3 else images.expand(n, 3, h, w)
    obj = foreground(images, 0.1) * (sketches < 0.5).to(images.dtype)
    score = (_rand((n, h * w), generator, device) + 1) * obj.flatten(1)
    value, centre = score.topk(most, dim=1)  # (n, most); value 0: no object pixel left
    count = torch.randint(1, most + 1, (n, 1), generator=generator,
                          device=generator.device if generator is not None else "cpu")
    active = (value > 0) & (torch.arange(most, device=device) < count.to(device))
    smooth = box3(colour)
    picked = smooth.flatten(2).gather(2, centre[:, None].expand(n, 3, most))  # (n, 3, most)
    cy = (centre // w).view(n, most, 1, 1)
    cx = (centre % w).view(n, most, 1, 1)
    radius = (1.0 + 1.5 * _rand((n, most), generator, device)).view(n, most, 1, 1) * (h / 28)
    yy = torch.arange(h, device=device).view(1, 1, h, 1)
    xx = torch.arange(w, device=device).view(1, 1, 1, w)
    disc = ((yy - cy)**2 + (xx - cx)**2).to(images.dtype) <= radius**2
    near = (colour[:, :, None] - picked[..., None, None]).abs().amax(dim=1) <= 0.15
    cover = disc & near & (obj[:, :1] > 0) & active.view(n, most, 1, 1)  # (n, most, h, w)
    # Where blobs overlap, the first one wins.
    first = cover.to(torch.uint8).argmax(dim=1, keepdim=True)  # (n, 1, h, w)
    hinted = cover.any(dim=1, keepdim=True).to(images.dtype)
    hint = picked.gather(2, first.flatten(2).expand(n, 3, h * w)).view(n, 3, h, w) * hinted
    return torch.cat([hint, hinted], dim=1) if mask else hint


# A colour drawing's pixel whose channels differ by more than this is coloured: a hint.
HINT_SATURATION = 0.25
HINT_RADIUS = 2.0  # pixels at 28x28: a hint blob of a drawing, within colour_hints' 1-2.5
MIN_STROKE = 3  # pixels at 28x28: a coloured stroke smaller is where two inks blend


def drawing_hints(drawing: Tensor) -> Tensor:
    """What a person's colour drawing (N, 3, H, W in [0, 1], light on dark, as the Sketch
    canvas draws) says about colours, in colour_hints' convention: (N, 4, H, W), the hint
    colours and the mask where a hint is set.

    People colour a shape by drawing it in colour (a yellow circle for a yellow face, brown
    walls under a red roof) or by dabbing colour inside its lines; training hints are small
    blobs inside the object, off its lines. So each coloured stroke (a 4-connected region
    of pixels of one ink) gives blobs of its colour (where its ink lies full), HINT_RADIUS
    across: in each area the lines enclose whose border is more its than any other ink's
    (a ring's inside, the walls' inside), where such an area reaches deeper than the stroke
    itself; else in its own body (a dab, a filled shape, an open line), unless it lies in
    an area a stroke of its ink owns (a face's eyes in the face's yellow: lines, not
    colour). Each blob sits at the deepest point of its place. White and grey strokes give
    none.
    """
    check_images(drawing)
    n, c, h, w = drawing.shape
    out = drawing.new_zeros((n, 4, h, w))
    if c != 3:
        return out
    if n > 1 and bool((drawing == drawing[:1]).all()):  # one drawing, several candidates
        return drawing_hints(drawing[:1]).expand(n, -1, -1, -1).clone()
    for i in range(n):
        out[i] = _one_drawings_hints(drawing[i:i + 1])[0]
    return out


def _ink_strokes(drawing: Tensor, lines: Tensor, coloured: Tensor) -> Tensor:
    """(1, 1, H, W): a number for each stroke of one ink, 0 elsewhere. Pixels are of one
    ink when their chromaticity (the colour over its brightest channel, which antialiasing
    on black keeps) rounds to the same quarters: a red roof on brown walls is two strokes.
    Strokes of fewer than MIN_STROKE pixels (at 28x28; where two inks blend) are dropped."""
    h, w = drawing.shape[-2:]
    chroma = torch.round(drawing / lines.clamp_min(1e-6) * 4).long()  # 0..4 a channel
    key = (chroma[:, 0] * 25 + chroma[:, 1] * 5 + chroma[:, 2])[:, None] * coloured.long()
    names = torch.zeros_like(lines)
    for k in key[coloured > 0].unique().tolist():
        mask = (key == k).to(lines) * coloured
        names = names + (components(mask) + k * (h * w + 1)) * mask
    smallest = MIN_STROKE * (h / 28) ** 2
    for name in names.unique().tolist():
        if name and float((names == name).sum()) < smallest:
            names[names == name] = 0
    return names


def _middle_of_deepest(place: Tensor) -> tuple[int, int]:
    """(row, column) of the deepest pixel of a 0/1 mask (1, 1, H, W) nearest the middle of
    all its deepest pixels (a ring's inside: its centre, not its first deepest row)."""
    deep = depth(place)[0, 0]
    rows, cols = torch.nonzero(deep == deep.max(), as_tuple=True)
    nearest = ((rows - rows.float().mean()) ** 2 + (cols - cols.float().mean()) ** 2).argmin()
    return int(rows[nearest]), int(cols[nearest])


def _detail_of_its_shape(name: float, stroke: Tensor, owned: dict[float, list[Tensor]],
                         drawn: Tensor, per_ink: int) -> bool:
    """Whether a stroke lies inside an area owned by another stroke of its ink (a face's
    eyes drawn in the face's yellow): a detail of that shape, to be drawn as a line, not
    a colour of its own. Stroke numbers of one ink share name // per_ink (_ink_strokes)."""
    around = dilate(stroke, 3) * (1 - drawn)
    if not bool(around.any()):
        return False
    return any(owner // per_ink == name // per_ink and owner != name
               and float((around * area).sum()) >= 0.9 * float(around.sum())
               for owner, areas in owned.items() for area in areas)


def _one_drawings_hints(drawing: Tensor) -> Tensor:
    """drawing_hints of one drawing (1, 3, H, W)."""
    h, w = drawing.shape[-2:]
    lines = drawing.amax(dim=1, keepdim=True)
    coloured = ((lines - drawing.amin(dim=1, keepdim=True)) > HINT_SATURATION).to(drawing)
    strokes = (lines > 0.5).to(drawing)
    drawn = torch.maximum(strokes, coloured)  # every pixel of a line, of any ink
    inks = _ink_strokes(drawing, lines, coloured)  # each coloured stroke by its number
    areas = components(fill_holes(drawn) * (1 - drawn))
    owned: dict[float, list[Tensor]] = {}  # a coloured stroke's number: the areas it owns
    for name in areas.unique().tolist():
        if name == 0:
            continue
        area = (areas == name).to(drawing)
        border = dilate(area, 3) * drawn * (1 - area)
        votes = inks[border > 0]
        white = int((votes == 0).sum())
        if votes.numel() and int((votes > 0).sum()):
            owner = float(votes[votes > 0].mode().values)
            if int((votes == owner).sum()) > white:
                owned.setdefault(owner, []).append(area)
    out = drawing.new_zeros((1, 4, h, w))
    yy = torch.arange(h, device=drawing.device).view(h, 1)
    xx = torch.arange(w, device=drawing.device).view(1, w)
    radius = HINT_RADIUS * h / 28
    for name in inks.unique().tolist():
        if name == 0:
            continue
        stroke = (inks == name).to(drawing)
        body_depth = float(depth(stroke).max())
        places = [a for a in owned.get(name, []) if float(depth(a).max()) > body_depth]
        if not places and _detail_of_its_shape(name, stroke, owned, drawn, h * w + 1):
            continue
        # its colour where the ink lies full (its antialiased edges are darker)
        full = stroke * (lines >= 0.9 * float((lines * stroke).max()))
        colour = (drawing * full).sum(dim=(2, 3)) / full.sum()  # (1, 3)
        for place in places or [stroke]:
            cy, cx = _middle_of_deepest(place)
            disc = ((yy - cy) ** 2 + (xx - cx) ** 2) <= radius ** 2
            blob = disc.to(drawing) * place[0, 0]
            out[0, :3] = torch.where(blob > 0, colour.view(3, 1, 1), out[0, :3])
            out[0, 3] = torch.maximum(out[0, 3], blob)
    return out


# --- faithfulness -------------------------------------------------------------------------
F1_TOLERANCE = 1  # pixels either way a drawn line may miss the sketch's and still count


def edge_f1(drawn: torch.Tensor, target: torch.Tensor, tolerance: int = F1_TOLERANCE
            ) -> torch.Tensor:
    """Per image (N,): F1 of the ink of `drawn` against the ink of `target` (both
    (N, C, H, W), ink above 0.5 in any channel), a pixel matching within `tolerance` px
    (a square neighbourhood). Precision is 1 when nothing is drawn and recall 1 when the
    target is empty, so two empty images score 1 and one empty against ink scores 0.
    Faithfulness as ControlNet++ measures it: the output drawn again by the style that made
    the input sketch, against that sketch, with a 1-pixel tolerance."""
    a = (drawn.amax(dim=1, keepdim=True) > 0.5).float()
    b = (target.amax(dim=1, keepdim=True) > 0.5).float()
    k = 2 * tolerance + 1
    near_a, near_b = dilate(a, k), dilate(b, k)
    count_a, count_b = a.sum(dim=(1, 2, 3)), b.sum(dim=(1, 2, 3))
    precision = torch.where(count_a > 0, (a * near_b).sum(dim=(1, 2, 3)) / count_a.clamp_min(1),
                            torch.ones_like(count_a))
    recall = torch.where(count_b > 0, (b * near_a).sum(dim=(1, 2, 3)) / count_b.clamp_min(1),
                         torch.ones_like(count_b))
    total = precision + recall
    return torch.where(total > 0, 2 * precision * recall / total.clamp_min(1e-12),
                       torch.zeros_like(total))


def faithfulness(images: Tensor, drawn: Tensor, style: str, seed: int) -> dict[str, float]:
    """Mean edge F1 of `images` drawn again in `style` with the generator seeded `seed` (so
    with the thresholds that drew `drawn` from their sources) against `drawn`: with the
    1-pixel tolerance and exact (at 28x28 a pixel either way covers much of a small image,
    so the exact figure separates methods better)."""
    again = sketch(images, style, torch.Generator().manual_seed(seed))
    return {"edge_f1": float(edge_f1(again, drawn).mean()),
            "edge_f1_exact": float(edge_f1(again, drawn, tolerance=0).mean())}


def _upscale_lines(sketches: Tensor, size: int) -> Tensor:
    """Lines made at a model's size, drawn at the canvas's: bilinear, then a contrast
    ramp so each line is a smooth pen stroke about a model pixel wide, which the
    canvas's area-averaging turns back into (nearly) the same lines."""
    up = F.interpolate(sketches, size=(size, size), mode="bilinear", align_corners=False)
    return ((up - 0.25) * 2).clamp(0, 1)


def from_picture(pixels: np.ndarray, size: int, style: str = "lines", *,
                 work_size: int | None = None, seed: int = 0) -> np.ndarray:
    """Any picture (uint8 HW or HWC; a photo, a drawing, dark on light or light on dark)
    as a light-on-dark sketch, uint8 (size, size), for the Sketch canvas.

    The picture is prepared as the panel prepares pictures (`prepare_for_model`:
    inverted when its border is light, letterboxed) at `work_size`, the resolution at
    which lines are found, and the sketch is drawn at `size`. `work_size` defaults to
    `size` up to 64 and to a tenth of it above (the canvas keeps its drawing at ten
    times the model's size). `seed` picks the style's random settings: the same picture
    and seed give the same sketch.
    """
    fn = _style(style)
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    work = work_size if work_size is not None else (size if size <= 64 else max(8, size // 10))
    colour = pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    prepared, _ = prepare_for_model(pixels, size=work, channels=3 if colour else 1)
    images = torch.from_numpy(to_float_chw(prepared))[None]
    with torch.no_grad():
        out = fn(images, torch.Generator().manual_seed(seed))
        height, width = pixels.shape[:2]
        if height != width:  # letterboxed: no lines along the picture's own edge
            frame, _ = prepare_for_model(np.full((height, width), 255, np.uint8), size=work,
                                         channels=1, invert=False)
            inside = torch.from_numpy(frame[..., 0] > 127).to(out.dtype)[None, None]
            out = out * erode(inside, 3)
        if work != size:
            out = _upscale_lines(out, size)
    return np.round(out[0, 0].numpy() * 255).astype(np.uint8)
