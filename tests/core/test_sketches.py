"""Tests for genplay.core.sketches: every style and augmentation on tiny shapes drawn here
(a filled rectangle, a ring, a pen stroke), the training mixture, colour hints and
"Sketch from a picture"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.core import morphology, sketches
from genplay.core.errors import GenplayError

SIZE = 28


def _canvas(size: int = SIZE) -> torch.Tensor:
    return torch.zeros(1, 1, size, size)


def rectangle(size: int = SIZE) -> torch.Tensor:
    """A filled light rectangle, rows 6..21 and columns 8..19 at 28x28."""
    image = _canvas(size)
    s = size / SIZE
    image[..., round(6 * s):round(22 * s), round(8 * s):round(20 * s)] = 0.9
    return image


def ring(size: int = SIZE) -> torch.Tensor:
    """A ring: radius 5 to 9 around the centre."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    r = ((yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2).sqrt() * SIZE / size
    return ((r >= 5) & (r <= 9)).float().view(1, 1, size, size)


def stroke(size: int = SIZE) -> torch.Tensor:
    """A pen stroke as a digit has them: a bar 3 px high along row 13..15, columns 5..22,
    with soft edges."""
    image = _canvas(size)
    s = size / SIZE
    image[..., round(13 * s):round(16 * s), round(5 * s):round(23 * s)] = 1.0
    image[..., round(12 * s), round(5 * s):round(23 * s)] = 0.3
    image[..., round(16 * s), round(5 * s):round(23 * s)] = 0.3
    return image


def shapes(size: int = SIZE) -> torch.Tensor:
    return torch.cat([rectangle(size), ring(size), stroke(size)])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def near(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """The pixels within `pixels` (chessboard distance) of a 0/1 mask."""
    return morphology.dilate(mask, 2 * pixels + 1)


def border_of(shape: torch.Tensor) -> torch.Tensor:
    """The inner border of a 0/1 shape: its pixels with a 4-neighbour outside."""
    return shape - morphology.erode(shape, 3)


# --- every style -------------------------------------------------------------------------
@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("style", list(sketches.STYLES))
def test_every_style_light_on_dark_at_every_size(style, size):
    grey = sketches.sketch(shapes(size), style, gen())
    colour = sketches.sketch(rectangle(size).expand(1, 3, -1, -1).clone(), style, gen())
    for out, n in ((grey, 3), (colour, 1)):
        assert out.shape == (n, 1, size, size) and out.dtype == torch.float32
        assert out.min() >= 0 and out.max() <= 1
        assert (out.flatten(1).amax(dim=1) > 0.5).all()  # every image has ink
        assert out[:, 0, 0, 0].eq(0).all() and out[:, 0, -1, -1].eq(0).all()  # background
    # Colour: the lines are found on the luminance, so grey and colour agree.
    assert torch.equal(colour, sketches.sketch(rectangle(size), style, gen()))


def test_dark_on_white_images_get_light_on_dark_sketches():
    """Emoji are on white: the background is what the frame says, not always black."""
    on_white = 1.0 - rectangle().expand(1, 3, -1, -1)
    for style in sketches.STYLES:
        out = sketches.sketch(on_white, style, gen())
        assert out[0, 0, 0, 0] == 0 and out.sum() > 0, style
        assert out.sum() < 0.5 * SIZE * SIZE, style
    assert torch.equal(sketches.sketch(on_white, "silhouette"),
                       sketches.sketch(rectangle(), "silhouette"))


def test_outline_lies_on_the_rectangles_border_and_nothing_else():
    shape = (rectangle() > 0).float()
    out = sketches.sketch(rectangle(), "outline", gen())
    assert (out * (1 - border_of(shape))).sum() == 0  # ink only on the border
    assert out.sum() >= 0.95 * border_of(shape).sum()  # and all the way round


def test_outline_of_a_ring_is_its_outer_circle_only():
    out = sketches.sketch(ring(), "outline", gen())
    hole_edge = border_of(morphology.fill_holes((ring() > 0).float()) - (ring() > 0).float())
    assert out.sum() > 0 and (out * near(hole_edge, 1)).sum() == 0


def test_silhouette_fills_the_shape_and_its_holes():
    out = sketches.sketch(torch.cat([rectangle(), ring()]), "silhouette", gen())
    assert torch.equal(out[0], (rectangle()[0] > 0).float())
    assert out[1, 0, 14, 14] == 1.0  # the ring's hole is filled
    assert out[1, 0, 0].sum() == 0 and out[1].sum() < 0.45 * SIZE * SIZE


@pytest.mark.parametrize("style", ["lines", "canny", "edges"])
def test_edge_styles_trace_the_rectangles_edges(style):
    out = sketches.sketch(rectangle(), style, gen())
    shape = (rectangle() > 0).float()
    edge = border_of(shape)
    assert (out * (1 - near(edge, 2))).sum() == 0  # on (or right beside) the edges
    assert (out * near(edge, 2)).sum() >= 0.8 * edge.sum()  # all the way round
    assert out[0, 0, 14, 14] == 0  # the inside stays dark


@pytest.mark.parametrize("style", ["lines", "canny"])
def test_lines_are_one_pixel_wide(style):
    out = sketches.sketch(rectangle(), style, gen())
    # along the left edge, one pixel a row
    assert out[0, 0, 10:18, :14].sum(dim=1).eq(1).all()


def test_strokes_follow_a_drawn_line():
    out = sketches.sketch(stroke(), "strokes", gen())
    rows = out[0, 0].sum(dim=1).nonzero().flatten()
    assert rows.min() >= 12 and rows.max() <= 16  # the pen stays on the stroke
    assert out[0, 0, 13:16, 8:20].amax(dim=0).eq(1).all()  # along its whole middle
    thin = morphology.thin((stroke() > 0.5).float())
    assert thin[0, 0].sum(dim=0)[7:20].eq(1).all()  # a skeleton: one pixel a column


def test_strokes_of_a_filled_shape_are_its_contour():
    out = sketches.sketch(rectangle(), "strokes", gen())
    assert out[0, 0, 14, 14] == 0 and out.sum() > 0  # no stick figure down the middle


def test_interior_draws_inner_lines_without_the_outline():
    image = rectangle()
    image[..., 13, 10:18] = 0.2  # a dark seam across the inside
    out = sketches.sketch(image, "interior", gen())
    edge = border_of((image > 0).float())
    assert (out * near(edge, 1)).sum() == 0  # no outline
    assert out[0, 0, 12:15, 11:17].sum() >= 5  # the seam


def test_interior_falls_back_to_lines_when_there_is_nothing_inside():
    out = sketches.sketch(rectangle(), "interior", gen(3))
    assert out.sum() > 0


def test_fill_holes_and_thin():
    disc = morphology.fill_holes((ring() > 0).float())
    assert disc[0, 0, 14, 14] == 1 and disc[0, 0, 0, 0] == 0
    bar = torch.zeros(2, 1, 12, 20)
    bar[:, :, 4:9, 3:17] = 1.0
    line = morphology.thin(bar)
    assert line.shape == bar.shape and (line <= bar).all()
    assert line[:, 0, :, 6:14].sum(dim=1).eq(1).all()  # one pixel a column


# --- the mixture -------------------------------------------------------------------------
def test_random_sketches_deterministic_per_seed_and_different_across_seeds():
    images = shapes().repeat(6, 1, 1, 1)
    first = sketches.random_sketches(images, gen(1))
    assert first.shape == (18, 1, SIZE, SIZE) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, sketches.random_sketches(images, gen(1)))
    assert not torch.equal(first, sketches.random_sketches(images, gen(2)))


def test_random_sketches_mix_styles_and_never_use_the_held_out_one(monkeypatch):
    assert sketches.HELD_OUT in sketches.STYLES
    assert sketches.HELD_OUT not in sketches.TRAIN_STYLES
    assert set(sketches.TRAIN_STYLES) | {sketches.HELD_OUT} == set(sketches.STYLES)
    used: list[str] = []
    for name, fn in list(sketches.STYLES.items()):
        def spy(images, generator, name=name, fn=fn):
            used.extend([name] * len(images))
            return fn(images, generator)
        monkeypatch.setitem(sketches.STYLES, name, spy)
    images = shapes().repeat(11, 1, 1, 1)
    sketches.random_sketches(images, gen(0))
    assert len(used) == len(images)
    assert sketches.HELD_OUT not in used and len(set(used)) >= 4


def test_random_sketches_can_draw_from_given_styles():
    images = shapes().repeat(3, 1, 1, 1)
    out = sketches.random_sketches(images, gen(0), styles=("silhouette",), probability={})
    assert torch.equal(out, sketches.sketch(images, "silhouette"))
    with pytest.raises(GenplayError, match="unknown sketch style 'scribble'"):
        sketches.random_sketches(images, gen(0), styles=("scribble",))


def test_silhouettes_get_no_gaps():
    images = shapes()
    filled = sketches.sketch(images, "silhouette")
    out = sketches.augment(filled, gen(0), {"breaks": 1.0, "width": 1.0},
                           filled=torch.ones(3, dtype=torch.bool))
    assert torch.equal(out, filled)


# --- augmentations -----------------------------------------------------------------------
def _lines() -> torch.Tensor:
    return sketches.sketch(shapes(), "outline", gen())


@pytest.mark.parametrize("name", list(sketches.AUGMENTATIONS))
def test_each_augmentation_keeps_shape_range_and_seed(name):
    lines = _lines()
    out = sketches.AUGMENTATIONS[name](lines, gen(5))
    assert out.shape == lines.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, sketches.AUGMENTATIONS[name](lines, gen(5)))
    assert not torch.equal(out, lines)
    assert out[:, 0, 0, 0].eq(0).all()


def test_breaks_and_missing_erase_ink_only():
    lines = _lines()
    for name in ("breaks", "missing"):
        out = sketches.AUGMENTATIONS[name](lines, gen(1))
        assert (out <= lines).all() and out.sum() < lines.sum()


def test_wobble_moves_lines_a_little():
    lines = _lines()
    out = sketches.AUGMENTATIONS["wobble"](lines, gen(1))
    assert (out * (1 - near(lines, 3))).sum() == 0  # within a few pixels of where it was
    assert 0.5 < (out > 0.5).sum() / lines.sum() < 2.5


def test_width_gives_pens_one_to_three_pixels_wide():
    lines = _lines().repeat(4, 1, 1, 1)
    out = sketches.AUGMENTATIONS["width"](lines, gen(0))
    ratios = out.flatten(1).sum(dim=1) / lines.flatten(1).sum(dim=1)
    assert ratios.min() < 1.2 and ratios.max() > 1.8


# --- colour hints ------------------------------------------------------------------------
def test_colour_hints_sit_inside_the_object_in_its_colours():
    image = torch.zeros(2, 3, SIZE, SIZE)
    image[:, :, 4:24, 4:14] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)  # red half
    image[:, :, 4:24, 14:24] = torch.tensor([0.1, 0.2, 0.8]).view(1, 3, 1, 1)  # blue half
    lines = sketches.sketch(image, "outline", gen())
    hints = sketches.colour_hints(image, lines, gen(3), mask=True)
    assert hints.shape == (2, 4, SIZE, SIZE)
    colours, mask = hints[:, :3], hints[:, 3:]
    assert mask.sum() > 0
    inside = (image.amax(dim=1, keepdim=True) > 0).float()
    assert (mask * (1 - inside)).sum() == 0 and (colours * (1 - mask)).abs().sum() == 0
    assert ((colours - image).abs().amax(dim=1, keepdim=True) * mask).max() <= 0.15
    assert (mask * lines).sum() == 0  # hints colour regions, not the lines
    plain = sketches.colour_hints(image, lines, gen(3))
    assert torch.equal(plain, colours)
    assert not torch.equal(plain, sketches.colour_hints(image, lines, gen(4)))


def test_components_and_depth():
    two = torch.zeros(1, 1, 8, 8)
    two[..., 0:2, 0:2] = 1  # a square in the corner
    two[..., 3:8, 3:8] = 1  # and one apart from it
    names = morphology.components(two)
    assert names[..., 0:2, 0:2].unique().numel() == 1 and names[..., 3:, 3:].unique().numel() == 1
    assert names[0, 0, 0, 0] != names[0, 0, 4, 4] and names[0, 0, 2, 2] == 0
    diagonal = torch.eye(4).view(1, 1, 4, 4)  # touching corners are not 4-connected
    assert morphology.components(diagonal).unique().numel() == 5
    deep = morphology.depth(two)
    assert deep[0, 0, 5, 5] == 3 and deep[0, 0, 3, 3] == 1 and deep[0, 0, 2, 2] == 0


def coloured(mask: torch.Tensor, rgb: tuple[float, float, float]) -> torch.Tensor:
    return mask.expand(-1, 3, -1, -1) * torch.tensor(rgb).view(1, 3, 1, 1)


def test_a_coloured_ring_puts_its_colour_inside_it_and_a_filled_shape_in_its_body():
    yellow = (1.0, 0.85, 0.0)
    hints = sketches.drawing_hints(coloured(ring(32), yellow))
    colours, mask = hints[:, :3], hints[:, 3:]
    ring_mask = (ring(32) > 0).float()
    inside = morphology.fill_holes(ring_mask) - ring_mask
    assert mask.sum() >= 9  # a blob, HINT_RADIUS across
    assert (mask * (1 - inside)).sum() == 0  # inside the ring, never on its line
    assert torch.allclose(colours[0, :, mask[0, 0] > 0].T, torch.tensor(yellow).expand(
        int(mask.sum()), 3))
    assert (colours * (1 - mask)).abs().sum() == 0
    body = (rectangle(32) > 0).float()
    hints = sketches.drawing_hints(coloured(body, (0.9, 0.1, 0.1)))
    assert hints[:, 3].sum() >= 9 and (hints[:, 3:] * (1 - body)).sum() == 0


def test_white_lines_give_no_hint_and_each_coloured_stroke_one_blob():
    white = coloured(ring(32), (1.0, 1.0, 1.0))
    assert sketches.drawing_hints(white).abs().sum() == 0
    assert sketches.drawing_hints(ring(32)).abs().sum() == 0  # a grey drawing: none
    drawing = white.clone()
    drawing[..., 14:18, 14:18] = torch.tensor([0.1, 0.3, 1.0]).view(1, 3, 1, 1)  # a blue dab
    drawing[..., 0:3, 0:4] = torch.tensor([0.1, 0.8, 0.1]).view(1, 3, 1, 1)  # a green one
    hints = sketches.drawing_hints(drawing)
    mask = hints[:, 3:]
    assert morphology.components(mask).unique().numel() == 3  # background and two blobs
    assert mask[..., 14:18, 14:18].sum() > 0 and mask[..., 0:3, 0:4].sum() > 0
    assert torch.allclose(hints[0, :3, 15, 15], torch.tensor([0.1, 0.3, 1.0]))
    # several candidates of one drawing: the same hints for each
    many = sketches.drawing_hints(drawing.expand(3, -1, -1, -1))
    assert torch.equal(many, hints.expand(3, -1, -1, -1))


# --- sketch from a picture ---------------------------------------------------------------
def _drawing(dark_on_light: bool, height: int = 90, width: int = 90) -> np.ndarray:
    picture = np.zeros((height, width), np.uint8)
    picture[20:70, 25:65] = 255
    picture[30:60, 35:55] = 0  # a thick square frame
    return 255 - picture if dark_on_light else picture


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_from_picture_gives_a_light_on_dark_sketch_of_the_canvas_size(dark_on_light):
    out = sketches.from_picture(_drawing(dark_on_light), 28)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0].max() == 0 and out[:, 0].max() == 0  # dark background
    assert out.max() == 255 and (out > 127).mean() < 0.4  # light lines, not a fill


def test_from_picture_same_lines_either_polarity_and_at_canvas_size():
    light, dark = (sketches.from_picture(_drawing(d), 28) for d in (False, True))
    assert np.array_equal(light, dark)
    big = sketches.from_picture(_drawing(False), 280, work_size=28)
    assert big.shape == (280, 280)
    back = big.reshape(28, 10, 28, 10).mean(axis=(1, 3))  # the canvas's area average
    assert np.abs(back - light).mean() < 20


def test_from_picture_colour_and_letterbox():
    rgb = np.stack([_drawing(True, 60, 120)] * 3, axis=2)
    rgb[..., 2] = 255  # blue ink on white: still dark on light
    out = sketches.from_picture(rgb, 32, "outline")
    assert out.shape == (32, 32) and out.max() == 255
    photo = np.tile(np.linspace(40, 220, 120, dtype=np.uint8), (60, 1))  # no object
    lines = sketches.from_picture(photo, 32, "lines")
    assert lines[:9].max() == 0 and lines[-9:].max() == 0  # no line along the letterbox


def test_from_picture_refuses_an_unknown_style():
    with pytest.raises(GenplayError, match="unknown sketch style"):
        sketches.from_picture(_drawing(False), 28, "watercolour")
