"""ops.superres and the PSNR/SSIM it reports: tiles that join without seams, channels,
limits, references, the diffusion hand-off and folders; on small images and a test-double
network whose reach is known."""

from __future__ import annotations

import math
import sys
import time
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genplay.core import metrics
from genplay.core.errors import GenplayError
from genplay.core.events import Partial, Progress, Result, final_value
from genplay.core.images import load_image, read_png_metadata, save_png, to_float_chw
from genplay.core.ops import superres
from genplay.core.resize import downscale, upscale_bicubic

RNG = np.random.default_rng(0)


def _photo() -> np.ndarray:
    """A 50x37 colour picture: smooth shapes (coarse noise enlarged) plus fine noise, so
    SSIM and seams have something to see."""
    coarse = torch.rand(1, 3, 10, 13, generator=torch.Generator().manual_seed(1)) * 255
    smooth = F.interpolate(coarse, size=(37, 50), mode="bilinear", align_corners=False)
    pixels = smooth[0].permute(1, 2, 0).numpy() + RNG.normal(0, 8, (37, 50, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


PHOTO = _photo()
GRAY = PHOTO[..., 1].copy()


class TinyUpscaler(nn.Module):
    """A test double for an SR network: bicubic plus a residual from three 3x3 convolutions
    at low resolution, so each output pixel depends on input pixels at most 3 (convolutions)
    + 2 (bicubic) away."""

    scales = (2, 4)
    REACH = 5

    def __init__(self, channels: int = 3, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.convs = nn.ModuleList([nn.Conv2d(channels, 6, 3, padding=1),
                                    nn.Conv2d(6, 6, 3, padding=1),
                                    nn.Conv2d(6, channels, 3, padding=1)])
        self.image_shape = (channels, 8, 8)
        self.calls: list[tuple[int, ...]] = []

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def upscale(self, lowres: torch.Tensor, scale: int) -> torch.Tensor:
        assert not torch.is_grad_enabled(), "models run under no_grad"
        self.calls.append(tuple(lowres.shape))
        r = self.convs[2](torch.tanh(self.convs[1](torch.tanh(self.convs[0](lowres)))))
        up = F.interpolate(lowres + r, scale_factor=scale, mode="bicubic",
                           align_corners=False)
        return up.clamp(0, 1)


def run(*args, **kwargs) -> dict:
    return final_value(superres.upscale_steps(*args, **kwargs))


def whole(model, pixels, scale, method="net"):
    """The reference result: everything in one tile."""
    return run(model, pixels, scale, method, tile=10_000)["images"][0].astype(int)


def reach(model, scale: int, channels: int) -> int:
    """The overlap a network needs: how far (in input pixels) the input pixels an output
    depends on lie from the input pixel the output sits on (output i sits on input
    i // scale, the tile it is kept from), measured by poking one pixel of a random
    picture and seeing which outputs change."""
    base = torch.rand(1, channels, 41, 41, generator=torch.Generator().manual_seed(0))
    poked = base.clone()
    poked[..., 20, 20] = 1 - poked[..., 20, 20]
    with torch.no_grad():
        changed = (model.upscale(poked, scale) - model.upscale(base, scale)).abs().amax(1)[0] > 0
    rows, cols = torch.nonzero(changed, as_tuple=True)
    return int(max((rows // scale - 20).abs().max(), (cols // scale - 20).abs().max()))


# --- PSNR and SSIM ------------------------------------------------------------------------
def test_psnr_of_a_constant_offset_and_of_equal_images():
    a = np.full((9, 7, 3), 100, np.uint8)
    assert metrics.psnr(a, a + 10) == pytest.approx(20 * math.log10(255 / 10))
    assert metrics.psnr(a.astype(float) / 255, (a + 10.0) / 255, max_value=1.0) == pytest.approx(
        20 * math.log10(255 / 10))
    assert metrics.psnr(a, a) == math.inf
    # uint8 arithmetic must not wrap: 5 - 250 is a difference of 245, not 11
    assert metrics.psnr(np.full((2, 2), 5, np.uint8), np.full((2, 2), 250, np.uint8)) == (
        pytest.approx(20 * math.log10(255 / 245)))
    with pytest.raises(GenplayError, match="shapes"):
        metrics.psnr(a, a[:, :6])


def test_ssim_of_equal_negative_and_constant_images():
    assert metrics.ssim(PHOTO, PHOTO) == pytest.approx(1.0)
    assert metrics.ssim(PHOTO, 255 - PHOTO) < -0.5
    # Flat images: no variance, so SSIM is its luminance term (2 m1 m2 + C1) / (m1^2 + m2^2 + C1)
    c1 = (0.01 * 255) ** 2
    flat = metrics.ssim(np.full((16, 16), 100, np.uint8), np.full((16, 16), 110, np.uint8))
    assert flat == pytest.approx((2 * 100 * 110 + c1) / (100**2 + 110**2 + c1))
    assert metrics.ssim(PHOTO, np.clip(PHOTO + RNG.normal(0, 20, PHOTO.shape), 0, 255)) < 0.9


def direct_ssim(a, b, L=255.0):
    """SSIM written out position by position with a 2-D 11x11 Gaussian window."""
    g = np.exp(-0.5 * (np.arange(-5, 6) / 1.5) ** 2)
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    values = []
    for c in range(a.shape[2]):
        x, y = a[..., c].astype(float), b[..., c].astype(float)
        for i in range(a.shape[0] - 10):
            for j in range(a.shape[1] - 10):
                px, py = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
                mx, my = (w * px).sum(), (w * py).sum()
                vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
                cov = (w * (px - mx) * (py - my)).sum()
                values.append((2 * mx * my + c1) * (2 * cov + c2)
                              / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_ssim_matches_a_direct_implementation_and_bands_change_nothing(monkeypatch):
    a = PHOTO[:20, :17]
    b = np.clip(a + RNG.normal(0, 15, a.shape), 0, 255).astype(np.uint8)
    expected = direct_ssim(a, b)
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-9)
    whole_psnr = metrics.psnr(a, b)
    monkeypatch.setattr(metrics, "BAND_ROWS", 3)  # many bands, each with its window rows
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-9)
    assert metrics.psnr(a, b) == pytest.approx(whole_psnr, abs=1e-9)


# --- tiles --------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("pixels", [PHOTO, GRAY], ids=["rgb", "gray"])
def test_bicubic_in_tiles_is_exactly_bicubic_of_the_whole(pixels, scale):
    expected = upscale_bicubic(torch.from_numpy(to_float_chw(pixels))[None], scale)
    expected = np.round(expected[0].permute(1, 2, 0).numpy() * 255).astype(int)
    result = run(None, pixels, scale, "bicubic", tile=16, overlap=4)
    image = result["images"][0]
    assert image.dtype == np.uint8 and image.shape == (37 * scale, 50 * scale, expected.shape[2])
    assert np.array_equal(image, expected)
    assert result["method"] == "bicubic" and result["scale"] == scale
    assert result["metrics"] is None and result["baseline"] is None


def test_the_test_network_reaches_less_far_than_the_overlap():
    for channels in (1, 3):
        for scale in (2, 4):
            measured = reach(TinyUpscaler(channels), scale, channels)
            assert measured == TinyUpscaler.REACH < 16  # 16: upscale_steps' default overlap


@pytest.mark.parametrize("scale", [2, 4])
def test_network_tiles_join_without_seams(scale):
    net = TinyUpscaler(3)
    expected = whole(net, PHOTO, scale)
    tiled = run(net, PHOTO, scale, "net", tile=16, overlap=TinyUpscaler.REACH)["images"][0]
    assert np.abs(tiled.astype(int) - expected).max() <= 1
    # Context short of the reach shows: the comparison above can see a missing pixel.
    short = run(net, PHOTO, scale, "net", tile=16, overlap=TinyUpscaler.REACH - 2)["images"][0]
    assert np.abs(short.astype(int) - expected).max() >= 3
    # Without context the tiles disagree with the whole, and only along the tile borders:
    # the comparison above can see a seam.
    seamed = run(net, PHOTO, scale, "net", tile=16, overlap=0)["images"][0].astype(int)
    diff = np.abs(seamed - expected).max(axis=2)
    near = np.zeros(diff.shape, dtype=bool)  # within the network's reach of a tile border
    for border in (16, 32, 48):
        band = slice((border - TinyUpscaler.REACH) * scale, (border + TinyUpscaler.REACH) * scale)
        near[band, :] = True
        near[:, band] = True
    assert diff[near].max() > 10 and diff[~near].max() <= 1


def test_progress_per_tile_and_tiles_no_bigger_than_asked():
    net = TinyUpscaler(3)
    events = list(superres.upscale_steps(net, PHOTO, 2, "net", tile=16, overlap=6))
    progress = [e for e in events if isinstance(e, Progress)]
    assert [(p.step, p.total) for p in progress] == [(k, 12) for k in range(1, 13)]  # 3 x 4
    assert isinstance(events[-1], Result) and len(net.calls) == 12
    assert max(max(shape[2:]) for shape in net.calls) <= 16 + 2 * 6


@pytest.mark.parametrize("blocks", [6, 9])
def test_the_real_network_in_tiles_equals_it_on_the_whole_image(blocks):
    """The SR family's network (random weights everywhere, the zero-initialised last
    layers included) declares how far it reaches; tiles get at least that much context,
    also when it is deeper than the default overlap of 16 covers, so tiles join."""
    from genplay.core import registry

    torch.manual_seed(0)
    net = registry.build("superres", channels=3, blocks=blocks).eval()
    with torch.no_grad():
        for tail in net.tails.values():
            nn.init.normal_(tail.to_pixels.weight, std=0.05)
    for scale in net.scales:
        assert reach(net, scale, 3) <= net.reach
        # Asked for less overlap than it reaches, it still gets the context it needs.
        tiled = run(net, PHOTO, scale, "net", tile=16, overlap=2)["images"][0]
        expected = whole(net, PHOTO, scale)
        assert np.abs(tiled.astype(int) - expected).max() <= 1
        assert np.abs(expected - whole(None, PHOTO, scale, "bicubic")).max() > 10  # not bicubic


class Nearest(nn.Module):
    """A fast stand-in network (pixel repetition) that records its tile sizes."""

    scales = (2,)
    image_shape = (3, 8, 8)

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0
        self.dummy = nn.Parameter(torch.zeros(()))

    @property
    def device(self):
        return self.dummy.device

    def upscale(self, lowres, scale):
        self.largest = max(self.largest, lowres.shape[-1] * lowres.shape[-2])
        return lowres.repeat_interleave(scale, -1).repeat_interleave(scale, -2)


def test_a_3000_pixel_photo_is_upscaled_in_tiles():
    pixels = np.broadcast_to(np.arange(3000, dtype=np.uint8)[:, None, None], (3000, 3000, 3))
    net = Nearest()
    image = run(net, pixels, 2, "net")["images"][0]
    assert image.shape == (6000, 6000, 3)
    assert net.largest <= (256 + 2 * 16) ** 2  # never the whole picture at once
    rows = np.arange(3000).astype(np.uint8)
    assert (image[::2, 0, 0] == rows).all() and (image[1::2, -1, 2] == rows).all()


def test_huge_outputs_are_refused_at_once():
    huge = np.broadcast_to(np.uint8(0), (10_000, 10_000))  # no memory behind it
    start = time.perf_counter()
    with pytest.raises(GenplayError, match=r"20000x20000 pixels \(400 megapixels\).*crop"):
        run(None, huge, 2, "bicubic")
    assert time.perf_counter() - start < 0.5
    with pytest.raises(GenplayError, match="x2 instead"):
        run(None, np.broadcast_to(np.uint8(0), (3000, 3000, 3)), 4, "bicubic")


# --- channels -----------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [2, 4])
def test_results_keep_the_inputs_channels_whatever_the_network_sees(scale):
    for net_channels in (1, 3):
        net = TinyUpscaler(net_channels)
        for pixels in (PHOTO, GRAY, GRAY[..., None]):
            image = run(net, pixels, scale, "net", tile=16, overlap=6)["images"][0]
            channels = 3 if pixels.ndim == 3 and pixels.shape[2] == 3 else 1
            assert image.shape == (37 * scale, 50 * scale, channels) and image.dtype == np.uint8
            assert 0 < image.mean() < 255 and image.std() > 10


def test_a_gray_network_on_colour_works_on_the_luminance():
    net = TinyUpscaler(1)
    as_gray = whole(net, GRAY, 2)
    colour_of_gray = whole(net, np.repeat(GRAY[..., None], 3, axis=2), 2)
    # gray given as RGB comes back gray, as the network made it
    for c in range(3):
        assert np.abs(colour_of_gray[..., c] - as_gray[..., 0]).max() <= 2
    # a colour picture keeps its colours (the chroma enlarged bicubically)
    colour = whole(net, PHOTO, 2)
    bicubic = whole(None, PHOTO, 2, "bicubic")
    assert np.abs(colour - bicubic).mean(axis=(0, 1)).max() < 25
    assert np.corrcoef(colour[..., 0].ravel(), bicubic[..., 0].ravel())[0, 1] > 0.9


def test_a_colour_network_on_gray_gives_the_luminance_of_its_colour_result():
    net = TinyUpscaler(3)
    gray = whole(net, GRAY, 2)
    colour = whole(net, np.repeat(GRAY[..., None], 3, axis=2), 2)
    luma = np.round(colour @ np.array([0.299, 0.587, 0.114]))
    assert gray.shape[2] == 1 and np.abs(gray[..., 0] - luma).max() <= 1


# --- references and simulate --------------------------------------------------------------
@pytest.mark.parametrize("scale", [2, 4])
def test_simulate_crops_and_shrinks_with_the_one_degradation(scale):
    lowres, reference = superres.simulate(GRAY, scale)
    h, w = 37 - 37 % scale, 50 - 50 % scale
    assert reference.shape == (h, w, 1) and np.array_equal(reference[..., 0], GRAY[:h, :w])
    expected = downscale(torch.from_numpy(to_float_chw(reference))[None], scale)
    expected = np.round(expected[0].permute(1, 2, 0).numpy() * 255).astype(int)
    assert lowres.shape == (h // scale, w // scale, 1) and lowres.dtype == np.uint8
    assert np.abs(lowres.astype(int) - expected).max() <= 1
    with pytest.raises(GenplayError, match="too small"):
        superres.simulate(GRAY[:1], scale)


def test_figures_against_a_reference_with_the_bicubic_baseline():
    lowres, reference = superres.simulate(PHOTO, 2)
    result = run(TinyUpscaler(3), lowres, 2, "net", tile=16, reference=reference)
    (figures,) = result["metrics"]
    image = result["images"][0]
    assert figures == {"psnr": pytest.approx(metrics.psnr(image, reference)),
                       "ssim": pytest.approx(metrics.ssim(image, reference))}
    bicubic = run(None, lowres, 2, "bicubic", reference=reference)
    assert result["baseline"] == bicubic["metrics"][0] == bicubic["baseline"]
    assert 15 < figures["psnr"] < 60 and 0 < figures["ssim"] < 1
    # the reference of an image upscaled perfectly
    same = run(None, lowres, 2, "bicubic", reference=bicubic["images"][0])
    assert same["metrics"] == [{"psnr": math.inf, "ssim": pytest.approx(1.0)}]


def test_a_reference_of_another_size_is_explained():
    with pytest.raises(GenplayError, match="reference is 50x37 pixels but the upscaled image "
                                           "is 100x74.*original of this very image"):
        run(None, PHOTO, 2, "bicubic", reference=PHOTO)


def test_a_reference_in_colour_for_a_gray_result_is_converted():
    lowres, reference = superres.simulate(GRAY, 2)
    in_colour = np.repeat(reference, 3, axis=2)
    gray = run(None, lowres, 2, "bicubic", reference=reference)["metrics"][0]
    assert run(None, lowres, 2, "bicubic", reference=in_colour)["metrics"][0] == pytest.approx(
        gray)
    rgb_result = run(None, np.repeat(lowres, 3, axis=2), 2, "bicubic", reference=reference)
    assert rgb_result["metrics"][0] == pytest.approx(gray)


# --- methods and their checks -----------------------------------------------------------------
class Guided:
    """A stand-in generative model for the diffusion method."""

    image_shape = (1, 8, 8)
    device = torch.device("cpu")


@pytest.fixture
def fake_guided(monkeypatch):
    """ops.guided_superres replaced: candidates are bicubic plus seeded noise."""
    calls = []

    def guided_upscale_steps(model, lowres, scale, n=4, seed=0, steps=None, **opts):
        calls.append({"shape": tuple(lowres.shape), "n": n, "seed": seed, "steps": steps})
        yield Progress(1, 2)
        base = upscale_bicubic(lowres, scale)
        noise = [torch.randn(base.shape[1:], generator=torch.Generator().manual_seed(seed + k))
                 for k in range(n)]
        yield Progress(2, 2)
        yield Result((base + 0.05 * torch.stack(noise)).clamp(0, 1))

    fake = types.ModuleType("genplay.core.ops.guided_superres")
    fake.guided_method = lambda model: "diffusion" if isinstance(model, Guided) else None
    fake.guided_upscale_steps = guided_upscale_steps
    monkeypatch.setitem(sys.modules, "genplay.core.ops.guided_superres", fake)
    return calls


def test_methods_follow_the_models_capabilities(fake_guided):
    assert superres.methods_for(None) == ["bicubic"]
    assert superres.methods_for(TinyUpscaler()) == ["net", "bicubic"]
    assert superres.methods_for(Guided()) == ["diffusion", "bicubic"]
    with pytest.raises(GenplayError, match="'net' method needs a model"):
        run(None, PHOTO, 2, "net")
    with pytest.raises(GenplayError, match="offers: diffusion, bicubic"):
        run(Guided(), PHOTO, 2, "net")
    with pytest.raises(GenplayError, match="unknown method"):
        run(None, PHOTO, 2, "magic")
    with pytest.raises(GenplayError, match="2 or 4, not 5"):
        run(None, PHOTO, 5, "bicubic")
    with pytest.raises(GenplayError, match="2 or 4, not 3"):
        run(Guided(), PHOTO, 3, "diffusion")
    assert run(None, PHOTO, 3, "bicubic")["images"][0].shape[0] == 3 * PHOTO.shape[0]
    net = TinyUpscaler()
    net.scales = (4,)
    with pytest.raises(GenplayError, match="upscales x4, not x2"):
        run(net, PHOTO, 2, "net")


def test_diffusion_fits_the_input_to_the_model_and_gives_candidates(fake_guided):
    result = run(Guided(), PHOTO, 2, "diffusion", candidates=3, seed=5, steps=7)
    assert fake_guided[-1] == {"shape": (1, 1, 4, 4), "n": 3, "seed": 5, "steps": 7}
    assert len(result["images"]) == 3 and result["metrics"] is None
    assert all(image.shape == (8, 8, 1) and image.dtype == np.uint8 for image in result["images"])
    # A reference of the input's size times the scale is letterboxed like the input.
    small, reference = superres.simulate(GRAY[:8, :8], 2)
    result = run(Guided(), small, 2, "diffusion", candidates=2, reference=reference)
    assert len(result["metrics"]) == 2 and result["baseline"]["psnr"] > 10
    assert result["metrics"][0]["psnr"] == pytest.approx(
        metrics.psnr(result["images"][0], reference))
    with pytest.raises(GenplayError, match="reference is 50x37"):
        run(Guided(), small, 2, "diffusion", reference=PHOTO)
    with pytest.raises(GenplayError, match="from 1 to 16"):
        run(Guided(), small, 2, "diffusion", candidates=0)


# --- folders --------------------------------------------------------------------------------
def test_a_folder_is_upscaled_with_the_unreadable_reported(tmp_path):
    src = tmp_path / "in"
    save_png(src / "a.png", GRAY)
    save_png(src / "sub" / "b.png", PHOTO[:10, :12])
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    save_png(src / "out" / "old_x2.png", GRAY[:4, :4])  # inside out_dir: not an input
    events = list(superres.upscale_folder_steps(None, src, src / "out", 2, "bicubic", tile=16))
    partials = {e.value["file"]: e.value for e in events if isinstance(e, Partial)}
    assert "broken.png: not an image file" in partials[str(src / "broken.png")]["error"]
    assert load_image(src / "out" / "a_x2.png").shape == (74, 100)
    assert load_image(src / "out" / "sub" / "b_x2.png").shape == (20, 24, 3)
    assert read_png_metadata(src / "out" / "a_x2.png")["method"] == "bicubic"
    result = events[-1].value
    assert result["written"] == 2 and [f for f, _ in result["failed"]] == [str(src / "broken.png")]
    assert str(src / "out" / "old_x2.png") not in partials
    # Run again: the outputs are kept (an interrupted run goes on), unless asked
    save_png(src / "out" / "a_x2.png", GRAY[:2, :2])
    again = final_value(superres.upscale_folder_steps(None, src, src / "out", 2, "bicubic"))
    assert again["written"] == 0 and again["existing"] == 2
    assert load_image(src / "out" / "a_x2.png").shape == (2, 2)
    final_value(superres.upscale_folder_steps(None, src, src / "out", 2, "bicubic",
                                              overwrite=True))
    assert load_image(src / "out" / "a_x2.png").shape == (74, 100)


def test_stopping_a_folder_leaves_no_half_written_file(tmp_path):
    for name in ("a", "b"):
        save_png(tmp_path / "in" / f"{name}.png", GRAY)
    events = superres.upscale_folder_steps(None, tmp_path / "in", tmp_path / "out", 4, "bicubic",
                                           tile=16)
    for event in events:
        if isinstance(event, Progress) and event.message.startswith("b.png: tile 2"):
            events.close()  # what the engine does on cancel, between two tiles
            break
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_x4.png"]


def test_folder_errors(tmp_path):
    with pytest.raises(GenplayError, match="no such folder"):
        final_value(superres.upscale_folder_steps(None, tmp_path / "none", tmp_path, 2,
                                                  "bicubic"))
    with pytest.raises(GenplayError, match="no images found"):
        final_value(superres.upscale_folder_steps(None, tmp_path, tmp_path / "o", 2, "bicubic"))
