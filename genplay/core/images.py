"""Reading user images safely and turning them into (and back from) model tensors.

Every file a user points the program at goes through :func:`load_image`, which treats it
as untrusted: it refuses decompression bombs before decoding, never accepts truncated data
silently, and reports each problem as a one-line ImageError naming the file.  The rest is
array plumbing (gray/RGB, inversion, letterboxing, grids, PNG output with metadata), free
of Qt and torch so that the CLI, the GUI and the tests share one implementation.
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from genplay.core.errors import ImageError
from genplay.core.files import read_bytes

MAX_PIXELS = 64_000_000
MAX_FILE_BYTES = 1 << 30  # an image file larger than this is refused before it is read

# File suffixes of the formats load_image reads, and the same as a file-dialog filter.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ")"

# Formats we promise to read.  Restricting Image.open to these keeps exotic plugins (EPS
# runs Ghostscript, for instance) away from files we did not create.  ("JPEG" also opens
# the MPO files many cameras write.)
_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")

_T = TypeVar("_T")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else type(exc).__name__


def _read(path: str | os.PathLike, max_pixels: int, formats: tuple[str, ...], what: str,
          action: Callable[[Image.Image], _T]) -> _T:
    """Open ``path`` with Pillow, vet it, and return ``action(image)``.

    Every way a user's file can be wrong is mapped to one ImageError here, so callers only
    see good data.  ``action`` runs while the file is open and must force decoding.
    """
    name = os.fspath(path)
    if os.path.isdir(path):
        raise ImageError(f"{name}: is a folder, not an image file")
    # Read-only, in one go: only a regular file (a FIFO would block forever), at most
    # MAX_FILE_BYTES, within files.READ_TIMEOUT_S (a stalled share), or the job's Cancel.
    data = read_bytes(path, limit=MAX_FILE_BYTES, error=ImageError)
    if not data:
        raise ImageError(f"{name}: the file is empty")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we want an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _decode(io.BytesIO(data), name, max_pixels, formats, what, action)


def _decode(fh: BinaryIO, name: str, max_pixels: int, formats: tuple[str, ...], what: str,
            action: Callable[[Image.Image], _T]) -> _T:
    try:
        with Image.open(fh, formats=formats) as im:
            width, height = im.size  # from the header: nothing decoded yet
            if width * height > max_pixels:
                raise ImageError(f"{name}: declares {width}x{height} pixels, more than "
                                 f"the limit of {max_pixels / 1e6:g} megapixels")
            return action(im)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not {what}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        raise ImageError(f"{name}: declares too many pixels, more than the limit of "
                         f"{limit / 1e6:g} megapixels") from None
    except Exception as exc:
        # Pillow's decoders signal malformed input with a zoo of exception types
        # (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError...).
        # Coming from an untrusted file, all of them mean the same thing to the user.
        raise ImageError(f"{name}: the file is truncated or corrupt ({_one_line(exc)})") from exc


def _normalise(im: Image.Image) -> Image.Image:
    """Decode fully, apply EXIF orientation, and reduce to L, LA, I, F, RGB or RGBA."""
    im.load()  # surface truncation errors now, inside _read's try
    im = ImageOps.exif_transpose(im)  # a detached copy, safe to use after the file closes
    mode = im.mode
    has_alpha = "A" in im.getbands() or "transparency" in im.info or mode in ("RGBa", "La")
    if mode in ("L", "1", "LA", "La"):
        return im.convert("LA") if has_alpha else im.convert("L")
    if mode.startswith("I;16"):
        return im.convert("I")
    if mode in ("I", "F"):
        return im
    return im.convert("RGBA") if has_alpha else im.convert("RGB")


def _composite(pixels: np.ndarray, background: np.ndarray) -> np.ndarray:
    colour, alpha = pixels[..., :-1].astype(np.uint32), pixels[..., -1:].astype(np.uint32)
    out = (colour * alpha + background.astype(np.uint32) * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def load_image(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS,
               background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Read an image file as uint8: (H, W) for grayscale sources, (H, W, 3) otherwise.

    Transparency is flattened onto ``background`` (its luma for gray+alpha) because the
    models have no alpha channel.  16-bit gray (and mode I, assumed to hold 16-bit values,
    clipped to 0..65535) is divided by 257 and rounded; float images whose values all lie
    in 0..1 are scaled by 255, other float images are clipped to 0..255.
    Only the first frame of an animation is read.  Raises ImageError for anything unusable.
    """
    im = _read(path, max_pixels, _FORMATS, "an image file Pillow can read", _normalise)
    if im.mode == "I":
        values = np.clip(np.asarray(im, dtype=np.int64), 0, 65535)
        return np.round(values / 257.0).astype(np.uint8)
    if im.mode == "F":
        values = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=255.0,
                               neginf=0.0)
        if values.size and values.min() >= 0.0 and values.max() <= 1.0:
            values = values * 255.0  # a float image in 0..1, the usual scale of float images
        return np.round(np.clip(values, 0, 255)).astype(np.uint8)
    pixels = np.asarray(im, dtype=np.uint8)
    if im.mode == "LA":
        luma = Image.new("RGB", (1, 1), tuple(background)).convert("L").getpixel((0, 0))
        return _composite(pixels, np.array([luma]))[..., 0]
    if im.mode == "RGBA":
        return _composite(pixels, np.array(background[:3]))
    return pixels.copy()


def _gray(image: np.ndarray) -> np.ndarray:
    """(H, W) luma of an (H, W) or (H, W, C) uint8 array, computed exactly as Pillow's "L"."""
    if image.ndim == 2 or image.shape[2] == 1:
        return image.reshape(image.shape[:2])
    return np.asarray(Image.fromarray(np.ascontiguousarray(image[..., :3])).convert("L"))


def with_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (H, W) or (H, W, C) -> (H, W, channels): gray replicated, or colour to luma
    as _gray makes it (Pillow's "L", genplay's gray everywhere). Converted in bands of
    rows, so a huge photo never gets a full-size copy inside Pillow (RGB there takes 4
    bytes a pixel)."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] == 4:
        pixels = pixels[..., :3]  # alpha dropped
    if pixels.shape[2] == channels:
        return pixels
    if channels == 3:
        return np.repeat(pixels, 3, axis=2)
    gray = np.empty((*pixels.shape[:2], 1), dtype=np.uint8)
    for start in range(0, pixels.shape[0], 256):
        gray[start:start + 256, :, 0] = _gray(pixels[start:start + 256])
    return gray


def prepare_for_model(image: np.ndarray, *, size: int, channels: int, invert: bool | None = None,
                      margin: float = 0.0) -> tuple[np.ndarray, bool]:
    """Letterbox a loaded image into the (size, size, channels) uint8 a model expects.

    The training sets are light strokes on a dark (0) background, so a dark-on-light
    drawing must be inverted first.  ``invert=None`` decides from the border (the outer
    frame, 1 pixel or 5% of the shorter side): a mean luma above 127 means a light
    background.  Inverting before resizing makes the letterbox padding (0) match the
    background.  Returns the pixels and whether they were inverted.
    """
    if (image.dtype != np.uint8 or image.ndim not in (2, 3) or 0 in image.shape
            or (image.ndim == 3 and image.shape[2] not in (1, 3, 4))):
        raise ValueError(f"expected a non-empty uint8 (H, W[, C]) image, got {image.dtype} "
                         f"{image.shape}")
    if channels not in (1, 3) or size < 1 or not 0.0 <= margin < 0.5:
        raise ValueError(f"bad arguments: size={size}, channels={channels}, margin={margin}")
    gray = _gray(image)
    if channels == 1:
        pixels = gray
    else:
        pixels = image[..., :3] if image.ndim == 3 and image.shape[2] > 1 else np.dstack([gray] * 3)
    if invert is None:
        height, width = gray.shape
        b = max(1, int(0.05 * min(height, width)))
        frame = np.ones_like(gray, dtype=bool)
        frame[b:height - b, b:width - b] = False
        invert = bool(gray[frame].mean() > 127)
    if invert:
        pixels = 255 - pixels
    height, width = pixels.shape[:2]
    longest = max(1, round(size * (1 - 2 * margin)))
    scale = longest / max(height, width)
    new_w = min(size, max(1, round(width * scale)))
    new_h = min(size, max(1, round(height * scale)))
    # Bilinear, antialiased as Pillow does it, as core.data.fit_images resizes a dataset's
    # images (within 1 level): a file of a training image must reach the model as the
    # training image did. (Lanczos' ringing moved the white ground of a 64 px emoji by up
    # to 50 levels at 32 px, and the outlier scores read that as strangeness.)
    resized = Image.fromarray(np.ascontiguousarray(pixels)).resize(
        (new_w, new_h), Image.Resampling.BILINEAR)
    out = np.zeros((size, size, channels), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top:top + new_h, left:left + new_w] = np.asarray(resized).reshape(new_h, new_w, channels)
    return out, invert


def find_images(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The files named, and the images below each folder named (recursively, sorted).

    Files are kept whatever their suffix, so a missing or unreadable one can be
    reported by whoever loads it; in folders only image suffixes are picked up.
    """
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():  # is_file(): regular files only, never a FIFO named like one
            files += sorted(p for p in path.rglob("*")
                            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        else:
            files.append(path)
    return files


def to_float_chw(pixels: np.ndarray) -> np.ndarray:
    """uint8 (H, W) or (H, W, C) -> float32 (C, H, W) in [0, 1], the layout models use."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return np.transpose(pixels, (2, 0, 1)).astype(np.float32) / 255.0


def to_uint8_hwc(images: np.ndarray) -> np.ndarray:
    """Float (N, C, H, W) or (C, H, W) in [0, 1] -> uint8 (N, H, W, C) or (H, W, C).

    Values outside [0, 1] are clipped and NaN becomes 0, since a diverging model should
    still produce a viewable picture.  uint8 input is taken to be HWC already.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if images.ndim not in (3, 4):
        raise ValueError(f"expected (C, H, W) or (N, C, H, W), got shape {images.shape}")
    values = np.clip(np.nan_to_num(images.astype(np.float32), nan=0.0), 0.0, 1.0)
    return np.moveaxis(np.round(values * 255), -3, -1).astype(np.uint8)


def make_grid(images: np.ndarray, *, nrow: int | None = None, padding: int = 2,
              pad_value: int = 0) -> np.ndarray:
    """Tile a batch into one uint8 (H', W', C) picture, ``nrow`` images per row.

    Accepts float (N, C, H, W) in [0, 1] or uint8 (N, H, W, C); C must be 1 or 3 and is
    kept.  ``nrow`` defaults to ceil(sqrt(N)); ``padding`` pixels of ``pad_value`` go
    around and between tiles.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected a 4-d batch, got shape {images.shape}")
    batch = to_uint8_hwc(images)
    count, height, width, channels = batch.shape
    if count == 0:
        raise ValueError("cannot make a grid of zero images")
    cols = nrow if nrow is not None else math.ceil(math.sqrt(count))
    if channels not in (1, 3) or cols < 1 or padding < 0 or not 0 <= pad_value <= 255:
        raise ValueError(f"bad grid: {channels} channels, nrow={nrow}, padding={padding}, "
                         f"pad_value={pad_value}")
    rows = math.ceil(count / cols)
    grid = np.full((rows * (height + padding) + padding, cols * (width + padding) + padding,
                    channels), pad_value, dtype=np.uint8)
    for i, tile in enumerate(batch):
        y = padding + (i // cols) * (height + padding)
        x = padding + (i % cols) * (width + padding)
        grid[y:y + height, x:x + width] = tile
    return grid


LIGHT_GRID = 160  # the grid's grey between tiles of images on a light background


def grid_pad_value(images: np.ndarray) -> int:
    """What a grid of these images (uint8 (N, H, W, C)) is padded with: black for images
    on a dark background (genplay's grey datasets, as they always were), a mid grey for
    images on a light one (emoji on white), so tiles and the empty places stay apart."""
    images = np.asarray(images)
    frame = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]],
                           axis=1)
    return LIGHT_GRID if frame.size and float(frame.mean()) > 127 else 0


def save_png(path: str | os.PathLike, image: np.ndarray,
             metadata: Mapping[str, object] | None = None) -> None:
    """Write a PNG atomically and reproducibly, with ``metadata`` as text chunks.

    The file appears complete or not at all (temporary file + os.replace), so a crash
    never leaves a half-written result.  Keys are written sorted and non-str values as
    sorted-key JSON, with no timestamp, so equal inputs give byte-identical files.
    Write failures raise ImageError.
    """
    if image.dtype != np.uint8 or image.shape[2:] not in ((), (1,), (3,)) or image.ndim < 2:
        raise ValueError(f"expected uint8 (H, W), (H, W, 1) or (H, W, 3), got {image.dtype} "
                         f"{image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    info = PngImagePlugin.PngInfo()
    for key in sorted(metadata or {}):
        value = metadata[key]
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        info.add_text(key, text)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                Image.fromarray(np.ascontiguousarray(image)).save(fh, "PNG", pnginfo=info)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ImageError(f"{os.fspath(path)}: cannot write the file ({_one_line(exc)})") from exc


def read_png_metadata(path: str | os.PathLike) -> dict[str, str]:
    """Return the text chunks (tEXt, zTXt, iTXt) of a PNG file as plain strings."""
    def text(im: Image.Image) -> dict[str, str]:
        im.load()  # chunks after the image data are only read by a full decode
        return {str(k): str(v) for k, v in getattr(im, "text", {}).items()}
    return _read(path, MAX_PIXELS, ("PNG",), "a PNG file", text)
