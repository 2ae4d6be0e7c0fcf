"""Sampling any Sampler model in seeded chunks, with progress.

Chunk k of a request with seed S always uses the same generator state, so the
first 64 images of a 256-image grid are the 64 images of a 64-image grid, and a
seed reproduces its images exactly on the same machine.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genplay.core.errors import GenplayError
from genplay.core.events import Preview, Progress, Result, relay
from genplay.core.images import grid_pad_value, to_uint8_hwc
from genplay.core.models.base import ANY_CLASS, CLASS_OPTION
from genplay.core.models.capabilities import (
    Sampler,
    StepSampler,
    device_of,
    draws_partial_chunks,
)

CHUNK = 64


def chunk_seed(seed: int, chunk: int) -> int:
    return (seed * 0x9E3779B1 + chunk) % (2**63)


def sample_latent(model, seed: int, index: int) -> torch.Tensor:
    """The latent (before temperature) behind sample `index` of a request with `seed`.

    Latent samplers draw their latents first, with prior_sample(n, generator), and
    scale them by the temperature (tests/core/test_models.py holds every family to it),
    so a sample seen in a grid can become an interpolation endpoint.
    """
    generator = torch.Generator(device=device_of(model)).manual_seed(
        chunk_seed(seed, index // CHUNK))
    return model.prior_sample(CHUNK, generator)[index % CHUNK]


def check_options(model: Sampler, opts: dict[str, float | str]) -> dict[str, float | str]:
    """Validates sampler options against what the model declares; fills defaults.

    Choice options (a sampler's name, a class) stay strings, a class by its canonical
    name (given as a name in any case or an index: see base.resolve_class); whole-number
    options become ints; the rest floats. Values may arrive as text (from the command line).
    """
    declared = {o.name: o for o in model.sample_options()}
    unknown = sorted(set(opts) - set(declared))
    if unknown:
        names = ", ".join(declared) or "none"
        raise GenplayError(f"option {unknown[0]!r} is not understood by this model "
                           f"(its options: {names})")
    checked: dict[str, float | str] = {}
    for name, option in declared.items():
        raw = opts.get(name, option.default)
        if option.choices:
            try:  # a class may come as an index or in any case: kept by its canonical name
                checked[name] = option.choose(raw)
            except ValueError as exc:
                raise GenplayError(str(exc)) from None
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise GenplayError(f"{name} must be a number, not {raw!r}") from None
        if option.integer:
            if value != int(value):
                raise GenplayError(f"{name} must be a whole number, not {raw!r}")
            value = int(value)
        if not option.minimum <= value <= option.maximum:
            raise GenplayError(f"{name} must be between {option.minimum:g} and "
                               f"{option.maximum:g}")
        checked[name] = value
    return checked


def unconditional(model: Sampler) -> dict[str, str]:
    """The options that draw without a class where a model offers that ("any"): what
    `genplay eval` measures a class-conditional model's FID and near-copies on, whatever
    the class a panel picks by default."""
    option = next((o for o in model.sample_options() if o.name == CLASS_OPTION), None)
    return {CLASS_OPTION: ANY_CLASS} if option and ANY_CLASS in option.choices else {}


def sample_images(
    model: Sampler, n: int, seed: int, **opts: float | str
) -> Iterator[Progress | Preview | Result]:
    """Yields Progress per chunk, then Result(float32 array (n, C, H, W) in [0, 1]).

    Models that draw step by step (the StepSampler hook, e.g. pixel by pixel) report
    progress within a chunk and Previews of every image so far (uint8 NHWC), so a long
    request shows its images forming and can be cancelled mid-chunk. The images are
    those of ``sample()`` with the same generator: previews change nothing drawn.
    """
    if not isinstance(model, Sampler):
        raise GenplayError("this model cannot sample images")
    if n < 1:
        raise GenplayError("the number of samples must be at least 1")
    checked = check_options(model, opts)
    parts = []
    done = 0
    for chunk in range((n + CHUNK - 1) // CHUNK):
        count = min(CHUNK, n - chunk * CHUNK)
        generator = torch.Generator(device=device_of(model)).manual_seed(chunk_seed(seed, chunk))
        if isinstance(model, StepSampler):
            images = None
            # Models that draw all their starting noise first can stop after `count`
            # images of the chunk: 8 diffusion samples cost 8, not 64, network passes.
            keep = {"keep": count} if draws_partial_chunks(model) else {}
            for event in model.sample_steps(CHUNK, generator, **checked, **keep):
                if isinstance(event, Progress) and event.total:
                    yield Progress(done + count * event.step // event.total, n,
                                   message="sampling")
                elif isinstance(event, Preview):
                    yield Preview(event.step, np.concatenate(
                        [to_uint8_hwc(p) for p in parts] + [event.images[:count]]))
                elif isinstance(event, Result):
                    images = torch.as_tensor(event.value)[:count]
        else:
            with torch.no_grad():
                images = model.sample(CHUNK, generator=generator, **checked)[:count]
        parts.append(images.float().clamp(0, 1).cpu().numpy())
        done += count
        yield Progress(done, n, message="sampling")
    yield Result(np.concatenate(parts), {"seed": seed, "n": n, "options": checked})


# --- records that make a saved image reproducible --------------------------------------------
def render(images: np.ndarray, index: int | None = None, nrow: int | None = None) -> np.ndarray:
    """What gets saved: the grid of all samples, or the one sample at index (uint8 HWC)."""
    from genplay.core.images import make_grid

    pixels = to_uint8_hwc(images)
    if index is not None:
        return pixels[index]
    return make_grid(pixels, nrow=nrow, pad_value=grid_pad_value(pixels))


def sample_record(
    *, checkpoint: str, model: str, family: str, checkpoint_hash: str, seed: int, n: int,
    options: dict[str, float | str], index: int | None = None, nrow: int | None = None,
    upscale: dict | None = None,
) -> dict:
    """Everything needed to draw the same pixels again; saved in the PNG and its sidecar
    (with a cascade's upscaler: its name, weights' hash and scale)."""
    from genplay import __version__

    record = {"genplay_version": __version__, "checkpoint": checkpoint, "model": model,
              "family": family, "checkpoint_hash": checkpoint_hash, "seed": seed, "n": n,
              "options": dict(sorted(options.items()))}
    if index is not None:
        record["index"] = index
    if nrow is not None:
        record["nrow"] = nrow
    if upscale:
        record["upscale"] = {k: upscale[k] for k in ("name", "checkpoint_hash", "scale")}
    return record


def png_metadata(record: dict) -> dict:
    """PNG text chunks: the record, minus the local path of the checkpoint."""
    return {k: v for k, v in record.items() if k != "checkpoint"}


# --- what the Sampling panel runs (in the engine's thread) ---------------------------------
def sampling_facts(model: Sampler, folder: str) -> dict:
    """What the Sampling panel needs of a model: its options, its weights' hash and the
    upscaler that can enlarge its samples (cascade_upscaler; None if there is none)."""
    from genplay.core import checkpoints

    return {"options": model.sample_options(), "hash": checkpoints.weights_hash(folder),
            "upscale": cascade_upscaler(folder)}


def cascade_upscaler(folder: str | Path) -> dict | None:
    """The upscaler that takes a model's samples to the size it was trained at, for a
    cascade (sample at 32, enlarge to 64): superres-DATASET beside the model or shipped,
    of the model's channels, trained at a size that is one of its scales times the
    model's. {"path", "name", "scale", "size", "checkpoint_hash"}, or None."""
    from genplay.core import checkpoints

    info = checkpoints.read_info(folder)
    path = checkpoints.find_companion("superres", info.dataset, info.path.parent) \
        if info.dataset and info.family != "superres" else None
    if path is None:
        return None
    upscaler = checkpoints.read_info(path)
    c, size = info.image_shape[0], info.image_shape[1]
    big = upscaler.image_shape[1]
    scale = big // size
    if (upscaler.image_shape[0] != c or big % size or scale < 2
            or scale not in tuple(upscaler.config.get("scales", ()))):
        return None
    return {"path": str(path), "name": upscaler.name, "scale": scale, "size": big,
            "checkpoint_hash": checkpoints.weights_hash(path)}


@functools.lru_cache(maxsize=2)
def _upscaler(path: str, checkpoint_hash: str) -> Any:
    """The upscaler at path, loaded once per weights (the hash: retrained weights in the
    same folder are loaded again, not served from the cache)."""
    from genplay.core import checkpoints

    return checkpoints.load(path)[0]


@torch.no_grad()
def upscale_samples(images: np.ndarray, upscale: dict, batch: int = 64) -> np.ndarray:
    """Samples (float (N, C, H, W) in [0, 1]) enlarged by a cascade's upscaler."""
    net = _upscaler(upscale["path"], upscale["checkpoint_hash"])
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    parts = [net.upscale(x[i:i + batch].to(device_of(net)), upscale["scale"]).cpu()
             for i in range(0, len(x), batch)]
    return torch.cat(parts).clamp(0.0, 1.0).numpy()


def sample_with(model: Sampler, n: int, seed: int, options: dict[str, float | str],
                upscale: dict | None = None) -> Iterator[Progress | Preview | Result]:
    """sample_images() with the options as one dict (as the panel and --replay hold them);
    with upscale (cascade_upscaler's), the samples enlarged by it, and the samples at the
    model's own size in the summary ("base")."""
    if not upscale:
        yield from sample_images(model, n, seed, **options)
        return
    drawn = yield from relay(sample_images(model, n, seed, **options))
    yield Progress(0, None, message=f"enlarging x{upscale['scale']} with {upscale['name']}")
    yield Result(upscale_samples(drawn.value, upscale), {**drawn.summary, "base": drawn.value})


def compare_settings(model: Sampler, n: int, seed: int, runs: list[dict]) -> Iterator:
    """Draws n images with seed under each options dict in turn. Yields
    Partial({"index", "state": "running"}), Previews of the running one, and
    Partial({"index", "images": uint8 NHWC, "seconds"}) as each finishes, then
    Result(the number of settings)."""
    import time

    from genplay.core.events import Partial

    total = len(runs) * n
    for i, options in enumerate(runs):
        yield Partial({"index": i, "state": "running"})
        message = f"comparing: setting {i + 1} of {len(runs)}"
        yield Progress(i * n, total, message=message)
        start, images = time.perf_counter(), None
        for event in sample_images(model, n, seed, **options):
            if isinstance(event, Progress):
                yield Progress(i * n + event.step, total, message=message)
            elif isinstance(event, Preview):
                yield event
            elif isinstance(event, Result):
                images = to_uint8_hwc(event.value)
        yield Partial({"index": i, "images": images, "seconds": time.perf_counter() - start})
    yield Result(len(runs))
