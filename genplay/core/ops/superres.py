"""Upscaling images x2 or x4: what the Super-resolution panel and `genplay upscale` run.

Three methods, offered by what the model can do (methods_for):
- "net": an SR network (the Upscaler capability), on images of any size;
- "diffusion": a generative model guided to images that shrink back to the input
  (ops.guided_superres), several plausible candidates, at the model's own image size;
- "bicubic": plain bicubic enlargement, the baseline, with or without a model.

Networks and bicubic run tile by tile: each tile of the input is processed with
`overlap` pixels of its neighbours around it and only its centre is kept. Both are
local (a bicubic output pixel depends on 2 input pixels each side, a convolutional
network's on its receptive field), so when the overlap covers that reach the tiles
join without seams and the result is the whole-image result. Memory stays bounded: the
output is one preallocated uint8 array and only one tile is ever in floating point.

Channels: the result has the input's channels. A 1-channel network given colour
works on the luminance and enlarges the colour difference bicubically (the usual
trade: the eye sees detail in brightness much more than in colour); a 3-channel
network given gray sees it replicated and its result becomes gray again.
"""

from __future__ import annotations

import importlib
import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genplay import __version__
from genplay.core.errors import GenplayError, ImageError
from genplay.core.events import Partial, Preview, Progress, Result, relay
from genplay.core.images import (
    IMAGE_SUFFIXES,
    find_images,
    load_image,
    prepare_for_model,
    save_png,
    to_float_chw,
    to_uint8_hwc,
    with_channels,
)
from genplay.core.metrics import psnr, ssim
from genplay.core.models.capabilities import Upscaler, device_of, image_shape_of, reach_of
from genplay.core.ops.sketch import MAX_CANDIDATES
from genplay.core.resize import downscale, modcrop, upscale_bicubic

SCALES = (2, 4)  # what every method offers
# What a network's weights may say it does (ESRGAN-family models come in x1, x2, x3, x4
# and x8); such a network runs at its own scales, and bicubic at any of them above 1.
NET_SCALES = (1, 2, 3, 4, 8)
# Tiles overlap by as much as the network reads, up to this many input pixels: an ESRGAN
# (RRDBNet) output pixel reads 349 of them in principle, which would make a 256-pixel tile
# 954 pixels wide, and what lies past a few dozen pixels changes its 8-bit output by
# nothing (Real-ESRGAN's own tiler pads 10).
MAX_NET_OVERLAP = 32
METHODS = {"net": "SR network", "diffusion": "Diffusion-guided", "bicubic": "Bicubic"}
MAX_OUTPUT_PIXELS = 100_000_000  # 300 MB as RGB uint8: larger outputs are refused

# ITU-R BT.601 full-range luma weights: what Pillow's "L" and JPEG's YCbCr use.
_LUMA = (0.299, 0.587, 0.114)

Run = Callable[[torch.Tensor], torch.Tensor]


def _guided_module():
    """ops.guided_superres, imported only when asked for (it pulls in the diffusion code),
    or None where it is not installed. Through importlib so tests can put a fake in
    sys.modules."""
    name = "genplay.core.ops.guided_superres"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module is there but something it needs is not: a bug
            raise
        return None


def methods_for(model: Any) -> list[str]:
    """The methods this model (or None) offers, in order of preference."""
    methods = []
    if model is not None and isinstance(model, Upscaler):
        methods.append("net")
    guided = _guided_module() if model is not None else None
    if guided is not None and guided.guided_method(model) is not None:
        methods.append("diffusion")
    return methods + ["bicubic"]


# --- arrays -------------------------------------------------------------------------------
def _as_hwc(pixels: np.ndarray, what: str = "image") -> np.ndarray:
    """uint8 HW / HWC (1, 3 or 4 channels; alpha dropped) as an HWC view, never a copy:
    the input may be huge, and is only ever read a tile at a time."""
    pixels = np.asarray(pixels)
    if (pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or 0 in pixels.shape
            or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4))):
        raise GenplayError(f"the {what} must be a uint8 (H, W) or (H, W, C) array, not "
                           f"{pixels.dtype} {pixels.shape}")
    if pixels.ndim == 2:
        return pixels[..., None]
    return pixels[..., :3] if pixels.shape[2] == 4 else pixels


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> uint8 (H, W, C), rounded as to_uint8_hwc rounds."""
    return to_uint8_hwc(x.detach().float().cpu().numpy())


def _luma(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H, W)."""
    r, g, b = _LUMA
    return r * x[:, 0:1] + g * x[:, 1:2] + b * x[:, 2:3]


def _rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    y = _luma(x)
    return torch.cat([y, 0.5 + 0.564 * (x[:, 2:3] - y), 0.5 + 0.713 * (x[:, 0:1] - y)], 1)


def _ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    y, cb, cr = x[:, 0:1], x[:, 1:2] - 0.5, x[:, 2:3] - 0.5
    rgb = torch.cat([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1)
    return rgb.clamp(0.0, 1.0)


# --- the one degradation, for trying methods on an image whose original is known ----------
def simulate(pixels: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(lowres, reference), both uint8 HWC: the image cropped to a multiple of scale (the
    reference) and that shrunk by scale with core.resize.downscale (the input to try)."""
    _check_scale(scale)
    image = _as_hwc(pixels)
    h, w = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    if h == 0 or w == 0:  # modcrop's own message
        modcrop(torch.zeros(1, 1, image.shape[0], image.shape[1]), scale)
    reference = np.ascontiguousarray(image[:h, :w])
    lowres = np.empty((h // scale, w // scale, image.shape[2]), dtype=np.uint8)
    # Tiled like upscaling (2 scale pixels reach of the antialiased kernel, 4 kept), so a
    # big photo never becomes one big float tensor.
    for _ in _tiled(reference, lowres, lambda x: downscale(x, scale), 1, scale,
                    tile=512, overlap=4 * scale):
        pass
    return lowres, reference


# --- upscaling one image ------------------------------------------------------------------
def _check_scale(scale: int, model: Any = None, method: str = "") -> None:
    """A network runs at the scales it was trained for (say so in _net_run), bicubic at
    any of NET_SCALES above 1, the rest at SCALES."""
    if method == "net" and isinstance(model, Upscaler) and scale in NET_SCALES:
        return
    if method == "bicubic" and scale in NET_SCALES and scale > 1:
        return
    if scale not in SCALES:
        raise GenplayError(f"the scale must be {' or '.join(map(str, SCALES))}, not {scale}")


def check_output_size(height: int, width: int, scale: int) -> None:
    """Refuses, before anything is allocated, a result over MAX_OUTPUT_PIXELS."""
    pixels = height * scale * width * scale
    if pixels > MAX_OUTPUT_PIXELS:
        smaller = [s for s in SCALES if s < scale and height * s * width * s <= MAX_OUTPUT_PIXELS]
        advice = f"upscale x{smaller[-1]} instead, or crop it" if smaller else "crop it first"
        raise GenplayError(
            f"a {width}x{height} image upscaled x{scale} would be {width * scale}x"
            f"{height * scale} pixels ({pixels / 1e6:.0f} megapixels), more than the limit of "
            f"{MAX_OUTPUT_PIXELS / 1e6:.0f} megapixels; {advice}")


def _model_channels(model: Any) -> int | None:
    shape = image_shape_of(model)
    return int(shape[0]) if shape else None


def _net_run(model: Any, scale: int, channels: int) -> Run:
    """The network as a function of one float (1, C, h, w) tile on the CPU, with the
    input's channels C in and out (see the module's note on channels)."""
    if scale not in tuple(model.scales):
        raise GenplayError(f"this network upscales x{' or x'.join(map(str, model.scales))}, "
                           f"not x{scale}")
    device = device_of(model)

    def net(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.upscale(x.to(device), scale).float().cpu().clamp(0.0, 1.0)

    wanted = _model_channels(model) or channels
    if wanted == channels:
        return net
    if wanted == 1:
        def on_luma(x: torch.Tensor) -> torch.Tensor:
            ycc = _rgb_to_ycbcr(x)
            return _ycbcr_to_rgb(torch.cat([net(ycc[:, :1]), upscale_bicubic(ycc[:, 1:], scale)],
                                           1))
        return on_luma
    return lambda x: _luma(net(x.expand(-1, 3, -1, -1))).clamp(0.0, 1.0)


def _tile_count(height: int, width: int, tile: int) -> int:
    return math.ceil(height / tile) * math.ceil(width / tile)


def _tiled(pixels: np.ndarray, out: np.ndarray, run: Run, num: int, den: int, *, tile: int,
           overlap: int, step: int = 0, total: int | None = None,
           message: str = "") -> Iterator[Progress]:
    """Fills out (uint8 HWC, num/den times the size of pixels) with run(tile) tile by tile.

    Each tile of `tile` input pixels a side is handed to run with up to `overlap` pixels
    of context on every side (less only at the image's own edges); of its result only the
    part that belongs to the tile is kept. Tile corners fall on multiples of den so the
    output grid lines up. Progress after each tile: the place to cancel.
    """
    height, width = pixels.shape[:2]
    tile, overlap = -(-tile // den) * den, -(-overlap // den) * den
    count = _tile_count(height, width, tile)
    total = count if total is None else total
    corners = itertools.product(range(0, height, tile), range(0, width, tile))
    for k, (y0, x0) in enumerate(corners, 1):
        y1, x1 = min(height, y0 + tile), min(width, x0 + tile)
        cy0, cx0 = max(0, y0 - overlap), max(0, x0 - overlap)
        cy1, cx1 = min(height, y1 + overlap), min(width, x1 + overlap)
        x = torch.from_numpy(to_float_chw(np.ascontiguousarray(pixels[cy0:cy1, cx0:cx1])))[None]
        y = run(x)
        expected = (out.shape[2], (cy1 - cy0) * num // den, (cx1 - cx0) * num // den)
        if tuple(y.shape[1:]) != expected:
            raise RuntimeError(f"a {cx1 - cx0}x{cy1 - cy0} tile came back {tuple(y.shape)}, "
                               f"expected {expected}")
        top, left = (y0 - cy0) * num // den, (x0 - cx0) * num // den
        rows, cols = (y1 - y0) * num // den, (x1 - x0) * num // den
        out[y0 * num // den:y1 * num // den, x0 * num // den:x1 * num // den] = _to_uint8(
            y[0, :, top:top + rows, left:left + cols])
        yield Progress(step + k, total, message=f"{message}tile {k} of {count}")


def _reference(reference: np.ndarray, shape: tuple[int, int, int], *, fit_from=None
               ) -> np.ndarray:
    """The reference as uint8 HWC of the result's shape, or a message saying why not.
    fit_from=(source (h, w), scale, size): for diffusion, whose result is the model's
    size, a reference of the source's size times scale gets the source's letterbox."""
    ref = _as_hwc(reference, "reference")
    height, width, channels = shape
    if ref.shape[:2] != (height, width) and fit_from is not None:
        (h, w), scale, size = fit_from
        if ref.shape[:2] == (h * scale, w * scale):
            ref, _ = prepare_for_model(ref, size=size, channels=channels, invert=False)
    if ref.shape[:2] != (height, width):
        raise GenplayError(
            f"the reference is {ref.shape[1]}x{ref.shape[0]} pixels but the upscaled image is "
            f"{width}x{height}: give the high-resolution original of this very image (or "
            "simulate one from it)")
    return with_channels(ref, channels)


def _figures(images: list[np.ndarray], reference: np.ndarray | None) -> list[dict] | None:
    if reference is None:
        return None
    return [{"psnr": psnr(image, reference), "ssim": ssim(image, reference)}
            for image in images]


def upscale_steps(model: Any, pixels: np.ndarray, scale: int, method: str, *,
                  candidates: int = 4, seed: int = 0, steps: int | None = None,
                  tile: int = 256, overlap: int = 16, reference: np.ndarray | None = None
                  ) -> Iterator[Progress | Preview | Result]:
    """Upscales one uint8 HW/HWC image by scale with a method of methods_for(model).

    Result.value: {"images": [uint8 HWC], "method", "scale", "metrics": [{"psnr",
    "ssim"}] per image or None, "baseline": {"psnr", "ssim"} of bicubic in the same frame
    or None}; summary: input and output sizes, and for diffusion the size the input was
    fitted to. With a reference (the high-resolution original, of the result's size)
    the figures say how close each image comes to it, and the baseline what bicubic gets.
    """
    _check_scale(scale, model, method)
    if method not in METHODS:
        raise GenplayError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    offered = methods_for(model)
    if method not in offered and model is None:
        raise GenplayError(f"the {method!r} method needs a model (without one: bicubic)")
    if method not in offered:
        raise GenplayError(f"this model offers no {method!r} method (it offers: "
                           f"{', '.join(offered)})")
    image = _as_hwc(pixels)
    if method == "diffusion":
        yield from _diffusion(model, image, scale, candidates, seed, steps, reference)
        return
    if tile < 1 or overlap < 0:
        raise GenplayError(f"tiles must be at least 1 pixel and the overlap at least 0 (got "
                           f"{tile} and {overlap})")
    height, width, channels = image.shape
    check_output_size(height, width, scale)
    shape = (height * scale, width * scale, channels)
    ref = None if reference is None else _reference(reference, shape)
    run = _net_run(model, scale, channels) if method == "net" else (
        lambda x: upscale_bicubic(x, scale))
    if method == "net":  # as much context as the network reads (up to a limit): no seams
        overlap = max(overlap, min(reach_of(model), MAX_NET_OVERLAP))
    tiles = _tile_count(height, width, tile)
    total = tiles * (2 if ref is not None and method != "bicubic" else 1)
    out = np.empty(shape, dtype=np.uint8)
    yield from _tiled(image, out, run, scale, 1, tile=tile, overlap=overlap, total=total)
    metrics = _figures([out], ref)
    baseline = metrics[0] if metrics else None
    if ref is not None and method != "bicubic":
        bicubic = np.empty(shape, dtype=np.uint8)
        yield from _tiled(image, bicubic, lambda x: upscale_bicubic(x, scale), scale, 1,
                          tile=tile, overlap=overlap, step=tiles, total=total,
                          message="bicubic baseline: ")
        baseline = _figures([bicubic], ref)[0]
        del bicubic
    yield Result({"images": [out], "method": method, "scale": scale, "metrics": metrics,
                  "baseline": baseline},
                 {"input_size": (width, height), "output_size": (width * scale, height * scale),
                  "tiles": tiles})


def _diffusion(model, image, scale, candidates, seed, steps, reference):
    """Fits the image into the model's image_size // scale (letterboxed, never inverted),
    hands it to ops.guided_superres and turns its candidates into uint8 images."""
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise GenplayError(f"the number of candidates must be from 1 to {MAX_CANDIDATES}")
    channels, size = model.image_shape[0], model.image_shape[1]
    small = size // scale
    ref = None if reference is None else _reference(
        reference, (size, size, channels), fit_from=(image.shape[:2], scale, size))
    fitted, _ = prepare_for_model(image, size=small, channels=channels, invert=False)
    lowres = torch.from_numpy(to_float_chw(fitted))[None].to(device_of(model))
    guided = _guided_module()
    result = yield from relay(guided.guided_upscale_steps(model, lowres, scale, n=candidates,
                                                          seed=seed, steps=steps))
    value = result.value
    if isinstance(value, torch.Tensor):
        value = value.detach().float().cpu().numpy()
    images = list(to_uint8_hwc(np.asarray(value)))
    baseline = None
    if ref is not None:
        bicubic = _to_uint8(upscale_bicubic(lowres.float().cpu(), scale)[0])
        baseline = _figures([bicubic], ref)[0]
    yield Result({"images": images, "method": "diffusion", "scale": scale,
                  "metrics": _figures(images, ref), "baseline": baseline},
                 {"input_size": (image.shape[1], image.shape[0]), "fitted_to": (small, small),
                  "output_size": (size, size), "seed": seed, "candidates": candidates})


# --- a folder of images -----------------------------------------------------------------------
def _output_names(files: list[Path], folder: Path, scale: int) -> list[Path]:
    """<stem>_x<scale>.png beside where each file sits below folder; files sharing a stem
    (a.png, a.jpg) keep their suffix in the name so neither overwrites the other."""
    rel = [f.relative_to(folder) if f.is_relative_to(folder) else Path(f.name) for f in files]
    stems = [r.parent / r.stem for r in rel]
    shared = {s for s in stems if stems.count(s) > 1}
    return [s.parent / (f"{s.name}_{r.suffix.lstrip('.')}" if s in shared else s.name)
            for s, r in zip(stems, rel)]


def upscale_folder_steps(model: Any, folder, out_dir, scale: int, method: str, *,
                         overwrite: bool = False, **options: Any
                         ) -> Iterator[Progress | Preview | Partial | Result]:
    """Every image file below folder -> out_dir/<name>_x<scale>.png (diffusion with several
    candidates: <name>_x<scale>-<k>.png), the subfolders kept.

    Partial({"file", "output"}) per file written, Partial({"file", "output", "existing":
    True}) for one whose output was there already (kept unless overwrite, so an
    interrupted run can go on), Partial({"file", "error"}) for one that could not be read
    or upscaled. Result({"written": n, "failed": [(file, why)], "existing": n}).
    Each file is written whole or not at all: stopping between tiles writes nothing of it.
    options: those of upscale_steps, except reference.
    """
    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise GenplayError(f"{folder}: no such folder")
    if "reference" in options:
        raise GenplayError("a reference belongs to one image, not to a folder")
    _check_scale(scale, model, method)
    inside = out_dir.resolve()
    files = [f for f in find_images([folder]) if inside not in f.resolve().parents]
    if not files:
        raise GenplayError(f"{folder}: no images found (files ending "
                           f"{', '.join(IMAGE_SUFFIXES)})")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenplayError(f"{out_dir}: cannot create the folder ({exc.strerror})") from None
    counts = {"written": 0, "failed": [], "existing": 0}
    names = _output_names(files, folder, scale)
    for i, (file, name) in enumerate(zip(files, names)):
        target = out_dir / name.parent / f"{name.name}_x{scale}.png"
        several = method == "diffusion" and options.get("candidates", 4) > 1
        first = target.with_name(f"{target.stem}-00.png") if several else target
        if first.exists() and not overwrite:
            counts["existing"] += 1
            yield Partial({"file": str(file), "output": str(first), "existing": True})
            continue
        yield Progress(i, len(files), message=f"{file.name}")
        try:
            pixels = load_image(file)
            result = None
            for event in upscale_steps(model, pixels, scale, method, **options):
                if isinstance(event, Result):
                    result = event
                elif isinstance(event, Progress):  # per tile, within this file's step
                    yield Progress(i, len(files), message=f"{file.name}: {event.message}")
                else:
                    yield event
            images = result.value["images"]
            metadata = {"source": file.name, "method": method, "scale": scale,
                        "genplay_version": __version__}
            outputs = ([target.with_name(f"{target.stem}-{k:02d}.png") for k in
                        range(len(images))] if several else [target])
            for k, (path, image) in enumerate(zip(outputs, images)):
                save_png(path, image, {**metadata, **({"index": k} if several else {})})
        except (ImageError, GenplayError) as exc:
            counts["failed"].append((str(file), str(exc)))
            yield Partial({"file": str(file), "error": str(exc)})
            continue
        counts["written"] += 1
        yield Partial({"file": str(file), "output": str(outputs[0]),
                       "outputs": [str(p) for p in outputs]})
    yield Progress(len(files), len(files), message="done")
    yield Result(counts)
