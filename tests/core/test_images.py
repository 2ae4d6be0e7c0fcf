"""Tests for genplay.core.images: a corpus of good and bad files is built in tmp_path."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, features

from genplay.core import images
from genplay.core.errors import ImageError
from genplay.core.images import (
    MAX_PIXELS,
    load_image,
    make_grid,
    prepare_for_model,
    read_png_metadata,
    save_png,
    to_float_chw,
    to_uint8_hwc,
)


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_declaring(width: int, height: int) -> bytes:
    """A structurally valid PNG whose header claims width x height but holds almost no data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


def _encoded(fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_noise(6, 5, seed=11)).save(buf, format=fmt, **options)
    return buf.getvalue()


# Small valid files to mutate in the fuzz test, so that it reaches the decoders.
_SEEDS = [_encoded("PNG"), _encoded("JPEG"), _encoded("GIF"), _encoded("BMP"),
          _encoded("TIFF"), _encoded("PNG", transparency=(0, 0, 0))]


def _mutate(seed: bytes, cut: int, at: int, byte: int) -> bytes:
    data = bytearray(seed[: max(1, len(seed) - cut)])
    data[at % len(data)] = byte
    return bytes(data)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_noise(32, 32)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_noise(32, 32)).save(buf, format="JPEG")
    return buf.getvalue()


# --- load_image: bad input -------------------------------------------------------------------

def test_truncated_png(tmp_path, png_bytes):
    path = _write(tmp_path / "t.png", png_bytes[: len(png_bytes) // 2])
    with pytest.raises(ImageError, match=r"t\.png: the file is truncated or corrupt"):
        load_image(path)


def test_truncated_jpeg(tmp_path, jpeg_bytes):
    path = _write(tmp_path / "t.jpg", jpeg_bytes[: len(jpeg_bytes) // 2])
    with pytest.raises(ImageError, match=r"t\.jpg: the file is truncated or corrupt"):
        load_image(path)


def test_empty_file(tmp_path):
    path = _write(tmp_path / "cat.png", b"")
    with pytest.raises(ImageError, match=r"cat\.png: the file is empty"):
        load_image(path)


def test_text_file_named_png(tmp_path):
    path = _write(tmp_path / "x.png", b"hello, I am not a picture\n")
    with pytest.raises(ImageError, match=r"x\.png: not an image file Pillow can read"):
        load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match=r"nope\.png: no such file"):
        load_image(tmp_path / "nope.png")


def test_directory(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_permission_denied(tmp_path, monkeypatch, png_bytes):
    path = _write(tmp_path / "p.png", png_bytes)

    import os

    real_open = os.open

    def refuse(name, *args, **kwargs):  # root reads everything, so the refusal is simulated
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ImageError, match=r"p\.png: permission denied"):
        load_image(path)


@pytest.mark.parametrize("side", [9000, 30000])  # 81 Mpx is past our limit, 900 Mpx past Pillow's
def test_huge_declared_size_is_refused_before_decoding(tmp_path, side):
    path = _write(tmp_path / "big.png", _png_declaring(side, side))
    with pytest.raises(ImageError, match=r"big\.png: declares .*limit of 64 megapixels"):
        load_image(path)


def test_max_pixels_argument(tmp_path):
    path = tmp_path / "small.png"
    Image.new("L", (10, 10)).save(path)
    with pytest.raises(ImageError, match=r"declares 10x10 pixels, more than the limit"):
        load_image(path, max_pixels=99)
    assert load_image(path, max_pixels=100).shape == (10, 10)
    assert MAX_PIXELS == 64_000_000


def test_file_is_not_modified(tmp_path, jpeg_bytes):
    path = _write(tmp_path / "keep.jpg", jpeg_bytes)
    before = os.stat(path).st_mtime_ns
    load_image(path)
    assert path.read_bytes() == jpeg_bytes
    assert os.stat(path).st_mtime_ns == before


# --- load_image: modes and formats -----------------------------------------------------------

def test_one_pixel(tmp_path):
    path = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(path)
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 3)
    assert out[0, 0].tolist() == [10, 20, 30]


def test_16_bit_gray(tmp_path):
    values = np.array([[0, 257, 65535, 1000]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (1, 4)
    assert out.tolist() == [[0, 1, 255, 4]]


def test_float_tiff_is_clipped(tmp_path):
    path = tmp_path / "f.tif"
    Image.fromarray(np.array([[-5.0, 12.4, 300.0]], dtype=np.float32), mode="F").save(path)
    assert load_image(path).tolist() == [[0, 12, 255]]


def test_a_float_tiff_in_0_to_1_is_scaled_not_read_as_black(tmp_path):
    path = tmp_path / "unit.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F").save(path)
    np.testing.assert_array_equal(load_image(path), [[0, 128, 255]])


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, quality=95)
    out = load_image(path)
    assert out.shape == (8, 8, 3)
    assert np.abs(out.astype(int) - [255, 0, 0]).max() <= 8


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (4, 1))
    im.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    im.putdata([0, 1, 0, 1])
    path = tmp_path / "pal.png"
    im.save(path, transparency=0)
    out = load_image(path, background=(10, 20, 30))
    assert out.tolist() == [[[10, 20, 30], [0, 255, 0], [10, 20, 30], [0, 255, 0]]]


def test_rgba_composited_onto_white(tmp_path):
    pixels = np.array([[[255, 0, 0, 0], [0, 0, 0, 128], [0, 0, 255, 255]]], dtype=np.uint8)
    path = tmp_path / "rgba.png"
    Image.fromarray(pixels, mode="RGBA").save(path)
    assert load_image(path).tolist() == [[[255, 255, 255], [127, 127, 127], [0, 0, 255]]]


def test_gray_alpha_composited_onto_background_luma(tmp_path):
    path = tmp_path / "la.png"
    Image.fromarray(np.array([[[200, 0], [50, 255]]], dtype=np.uint8), mode="LA").save(path)
    out = load_image(path, background=(255, 0, 0))  # luma of pure red is 76
    assert out.tolist() == [[76, 50]]


def test_animated_gif_gives_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (6, 6), colour) for colour in [(255, 0, 0), (0, 255, 0)]]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 2
    out = load_image(path)
    assert out.shape == (6, 6, 3)
    assert (out == [255, 0, 0]).all()


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_is_applied(tmp_path, orientation):
    pixels = np.zeros((10, 20, 3), dtype=np.uint8)
    pixels[:] = (0, 0, 255)
    pixels[:4, :4] = (255, 0, 0)  # red marker in the top-left corner of the stored image
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "rot.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    out = load_image(path).astype(int)
    assert out.shape == (20, 10, 3)
    # 6: rotate 90 degrees clockwise to display, the corner goes top-right; 8: bottom-left.
    corner = out[1, 8] if orientation == 6 else out[18, 1]
    assert corner[0] > 200 and corner[2] < 60
    assert out[1, 1][0] < 60 if orientation == 6 else out[1, 1][2] > 200


@pytest.mark.parametrize("fmt, suffix, options", [
    ("PNG", ".png", {}),
    ("BMP", ".bmp", {}),
    ("TIFF", ".tif", {}),
    pytest.param("WEBP", ".webp", {"lossless": True}, marks=pytest.mark.skipif(
        not features.check("webp"), reason="Pillow built without WebP")),
])
def test_lossless_formats_load_exactly(tmp_path, fmt, suffix, options):
    pixels = _noise(5, 7, seed=3)
    path = tmp_path / f"img{suffix}"
    Image.fromarray(pixels).save(path, format=fmt, **options)
    np.testing.assert_array_equal(load_image(path), pixels)


def test_gray_sources_stay_two_dimensional(tmp_path):
    path = tmp_path / "bw.png"
    Image.new("1", (3, 2), 1).save(path)
    assert load_image(path).tolist() == [[255] * 3] * 2


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(
    st.binary(max_size=600),
    st.tuples(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM",
                               b"II*\x00", b"RIFF\x00\x00\x00\x00WEBPVP8 "]),
              st.binary(max_size=400)).map(b"".join),
    st.builds(_mutate, st.sampled_from(_SEEDS), st.integers(0, 200), st.integers(0, 10_000),
              st.integers(0, 255)),
))
@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about corrupt EXIF blocks
def test_arbitrary_bytes_load_or_raise_image_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f.png"
    path.write_bytes(data)
    try:
        out = load_image(path)
    except ImageError as exc:
        assert "\n" not in str(exc)
    else:
        assert out.dtype == np.uint8


@settings(max_examples=30, deadline=None)
@given(pixels=st.one_of(
    arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6))),
    arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(3))),
))
def test_save_then_load_round_trip(tmp_path_factory, pixels):
    path = tmp_path_factory.mktemp("rt") / "img.png"
    save_png(path, pixels)
    np.testing.assert_array_equal(load_image(path), pixels)


# --- prepare_for_model -------------------------------------------------------------------------

def _square(background: int, ink: int, side: int = 20) -> np.ndarray:
    image = np.full((side, side), background, dtype=np.uint8)
    image[side // 4: 3 * side // 4, side // 4: 3 * side // 4] = ink
    return image


def test_dark_on_light_is_inverted():
    out, inverted = prepare_for_model(_square(255, 0), size=20, channels=1)
    assert inverted
    assert out.shape == (20, 20, 1)
    assert out[0, 0, 0] == 0 and out[10, 10, 0] == 255


def test_light_on_dark_is_kept():
    out, inverted = prepare_for_model(_square(0, 255), size=20, channels=1)
    assert not inverted
    assert out[0, 0, 0] == 0 and out[10, 10, 0] == 255


def test_forced_inversion():
    out, inverted = prepare_for_model(_square(0, 255), size=20, channels=1, invert=True)
    assert inverted
    assert out[0, 0, 0] == 255 and out[10, 10, 0] == 0
    _, inverted = prepare_for_model(_square(255, 0), size=20, channels=1, invert=False)
    assert not inverted


def test_aspect_ratio_kept_and_centred():
    tall = np.full((40, 10), 255, dtype=np.uint8)  # 10 wide, 40 high
    out, _ = prepare_for_model(tall, size=20, channels=1, invert=False)
    column = out[..., 0]
    assert (column[:, 7:12] >= 250).all()  # 5 pixels wide, centred
    assert (column[:, :7] == 0).all() and (column[:, 12:] == 0).all()


def test_a_file_reaches_the_model_as_the_dataset_resizes_it():
    """A training image saved at 64 px and dropped on a 32 px model gets the pixels the
    dataset gave the model (core.data.fit_images), within one level, so an emoji's white
    ground stays white: no ringing for an outlier score to read as strangeness."""
    import torch

    from genplay.core.data import fit_images

    rng = np.random.default_rng(0)
    image = np.full((64, 64, 3), 255, dtype=np.uint8)  # on white, with sharp shapes
    for _ in range(6):
        y, x, h, w = rng.integers(0, 48, 4)
        image[y:y + h // 2 + 4, x:x + w // 2 + 4] = rng.integers(0, 256, 3)
    out, _ = prepare_for_model(image, size=32, channels=3, invert=False)
    dataset = fit_images(torch.from_numpy(image).permute(2, 0, 1)[None], 32, 3)[0]
    diff = np.abs(out.astype(int) - dataset.permute(1, 2, 0).numpy().astype(int))
    assert diff.max() <= 1
    assert (out[dataset.permute(1, 2, 0).numpy() == 255] >= 254).all()


def test_margin():
    out, _ = prepare_for_model(np.full((8, 8), 200, dtype=np.uint8), size=20, channels=1,
                               invert=False, margin=0.25)
    rows, cols = np.nonzero(out[..., 0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 14, 5, 14)


def test_channels():
    rgb = _noise(12, 9)
    gray_out, _ = prepare_for_model(rgb, size=16, channels=1)
    rgb_out, _ = prepare_for_model(rgb, size=16, channels=3)
    assert gray_out.shape == (16, 16, 1) and rgb_out.shape == (16, 16, 3)
    from_gray, _ = prepare_for_model(_square(0, 255), size=16, channels=3)
    assert from_gray.shape == (16, 16, 3)
    assert (from_gray[..., 0] == from_gray[..., 1]).all()
    assert (from_gray[..., 0] == from_gray[..., 2]).all()


def test_gray_conversion_matches_pillow():
    rgb = _noise(4, 4, seed=7)
    out, _ = prepare_for_model(rgb, size=4, channels=1, invert=False)
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    np.testing.assert_array_equal(out[..., 0], expected)


def test_one_pixel_input_and_determinism():
    one = np.array([[[200, 10, 10]]], dtype=np.uint8)
    first = prepare_for_model(one, size=8, channels=3)
    second = prepare_for_model(one, size=8, channels=3)
    assert first[0].shape == (8, 8, 3)
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]


# --- tensors and grids -------------------------------------------------------------------------

def test_float_and_uint8_conversions_round_trip():
    pixels = _noise(3, 5)
    chw = to_float_chw(pixels)
    assert chw.dtype == np.float32 and chw.shape == (3, 3, 5)
    assert chw.min() >= 0.0 and chw.max() <= 1.0
    np.testing.assert_array_equal(to_uint8_hwc(chw), pixels)
    assert to_float_chw(pixels[..., 0]).shape == (1, 3, 5)
    batch = to_uint8_hwc(np.stack([chw, chw]))
    assert batch.shape == (2, 3, 5, 3)
    assert to_uint8_hwc(np.array([[[-1.0, 2.0, np.nan]]])).tolist() == [[[0], [255], [0]]]
    assert to_uint8_hwc(pixels) is pixels


def test_make_grid_shapes_and_placement():
    batch = np.random.default_rng(1).random((5, 3, 8, 8)).astype(np.float32)
    grid = make_grid(batch)
    assert grid.shape == (2 * 8 + 3 * 2, 3 * 8 + 4 * 2, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[2:10, 2:10], to_uint8_hwc(batch[0]))
    np.testing.assert_array_equal(grid[12:20, 2:10], to_uint8_hwc(batch[3]))
    assert (grid[12:20, 22:30] == 0).all()  # the empty sixth slot
    gray = make_grid(np.zeros((4, 6, 6, 1), dtype=np.uint8), nrow=4, padding=1, pad_value=9)
    assert gray.shape == (8, 29, 1)
    assert gray[0, 0, 0] == 9 and gray[1, 1, 0] == 0
    with pytest.raises(ValueError):
        make_grid(np.zeros((0, 3, 8, 8), dtype=np.float32))


# --- PNG output --------------------------------------------------------------------------------

def test_save_png_is_deterministic_with_metadata(tmp_path):
    pixels = _noise(6, 6)
    meta = {"model": "dcgan", "seed": 42, "params": {"b": 1, "a": [1, 2]}, "note": "café ✓"}
    save_png(tmp_path / "a.png", pixels, meta)
    save_png(tmp_path / "b.png", pixels, dict(reversed(list(meta.items()))))
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert read_png_metadata(tmp_path / "a.png") == {
        "model": "dcgan", "seed": "42", "params": '{"a": [1, 2], "b": 1}', "note": "café ✓"}


def test_save_png_creates_folders_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "deep" / "er" / "out.png"
    save_png(target, np.zeros((3, 3, 1), dtype=np.uint8))
    assert os.listdir(target.parent) == ["out.png"]
    assert load_image(target).shape == (3, 3)


def test_save_png_failure_keeps_old_file_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images.os, "replace", broken_replace)
    with pytest.raises(ImageError, match=r"out\.png: cannot write"):
        save_png(target, np.zeros((2, 2), dtype=np.uint8))
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.png"]


def test_read_png_metadata_of_non_png(tmp_path, jpeg_bytes):
    path = _write(tmp_path / "x.jpg", jpeg_bytes)
    with pytest.raises(ImageError, match=r"x\.jpg: not a PNG file"):
        read_png_metadata(path)


def test_a_grid_of_images_on_white_is_padded_grey_and_on_black_black():
    from genplay.core.images import LIGHT_GRID, grid_pad_value, make_grid

    dark = np.zeros((3, 6, 6, 1), np.uint8)
    dark[:, 2:4, 2:4] = 255  # a light stroke on black, as the grey datasets are
    light = np.full((3, 6, 6, 3), 255, np.uint8)
    light[:, 2:4, 2:4] = (200, 30, 30)  # a red thing on white, as emoji are
    assert grid_pad_value(dark) == 0 and grid_pad_value(light) == LIGHT_GRID
    grid = make_grid(light, nrow=2, pad_value=grid_pad_value(light))
    assert (grid[:2] == LIGHT_GRID).all()  # the padding, and the empty fourth place
    assert (grid[-7:-2, -7:-2] == LIGHT_GRID).all()
