"""Walking a model's latent space: interpolation, encoding, slider directions, export.

Everything here goes through the Latent protocol only (``latent_shape``, ``prior_sample``,
``decode``, ``encode_steps``), so any family with a latent space gets these tools for free.
Latent arithmetic runs on the CPU in float64: latents are small, and that keeps the maths
exact on devices without float64 (Apple's MPS) and the results identical across devices.
"""

from __future__ import annotations

import contextlib
import math
import operator
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from genplay.core.checkpoints import atomic_write
from genplay.core.errors import GenplayError
from genplay.core.events import Preview, Progress, Result, final_value
from genplay.core.images import to_uint8_hwc
from genplay.core.models.capabilities import (
    Latent,
    can_preview_decode,
    device_of,
    has_capability,
    image_shape_of,
)
from genplay.core.ops.endpoints import (  # re-exported: the endpoint types live here
    Endpoint,
    ImageEndpoint,
    LatentEndpoint,
    SampleEndpoint,
    SeedEndpoint,
)
from genplay.core.ops.sliders import MIN_PREVIEW_STEPS

MIN_FRAMES, MAX_FRAMES = 2, 64
DIRECTIONS_FILE = "latent_directions.npz"
METHOD = "pca-of-decoded-images"
_PARALLEL = 1e-4  # radians: below this angle slerp and lerp agree to ~1e-8


# --- interpolation maths ------------------------------------------------------------------------
def _prepare(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float):
    if z0.shape != z1.shape:
        raise GenplayError(f"cannot interpolate between latents of shapes {tuple(z0.shape)} "
                           f"and {tuple(z1.shape)}")
    tt = torch.as_tensor(t, dtype=torch.float64).detach().cpu()
    if tt.ndim > 1:
        raise ValueError(f"t must be a scalar or 1-d, got shape {tuple(tt.shape)}")
    a = z0.detach().reshape(-1).to("cpu", torch.float64)
    b = z1.detach().reshape(-1).to("cpu", torch.float64)
    return a, b, tt.reshape(-1, 1)


def _finish(out: torch.Tensor, a, b, t, scalar: bool, like: torch.Tensor) -> torch.Tensor:
    """Pins t=0 and t=1 to the inputs bit for bit, then restores shape, dtype and device."""
    out = torch.where(t == 0, a, torch.where(t == 1, b, out))
    out = out.to(like.device, like.dtype).reshape(-1, *like.shape)
    return out[0] if scalar else out


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Straight line: (T, *shape) for 1-d t, shape for a scalar t."""
    a, b, tt = _prepare(z0, z1, t)
    return _finish((1 - tt) * a + tt * b, a, b, tt, torch.as_tensor(t).ndim == 0, z0)


def _perpendicular(u: torch.Tensor) -> torch.Tensor:
    """A unit vector orthogonal to unit u, chosen deterministically (the axis u uses least)."""
    e = torch.zeros_like(u)
    e[int(u.abs().argmin())] = 1.0
    e = e - (e @ u) * u
    return e / e.norm()


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Great-circle interpolation, the right path for Gaussian latents.

    Samples of a high-dimensional Gaussian live near a sphere; a straight line between two
    of them cuts through the low-norm interior the decoder rarely saw, giving washed-out
    middle frames.  Nearly parallel inputs fall back to lerp (same path, no 0/0); exactly
    opposite ones have no unique great circle, so one through a fixed perpendicular is used.
    """
    a, b, tt = _prepare(z0, z1, t)
    scalar = torch.as_tensor(t).ndim == 0
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return lerp(z0, z1, t)
    ua, ub = a / na, b / nb
    omega = 2 * torch.atan2((ua - ub).norm(), (ua + ub).norm())  # stable at 0 and pi
    if omega < _PARALLEL:
        return lerp(z0, z1, t)
    if omega > math.pi - _PARALLEL:
        if a.numel() == 1:  # a line has no perpendicular: go through zero
            return lerp(z0, z1, t)
        direction = (torch.cos(math.pi * tt) * ua
                     + torch.sin(math.pi * tt) * _perpendicular(ua))
        out = ((1 - tt) * na + tt * nb) * direction
    else:
        out = (torch.sin((1 - tt) * omega) * a + torch.sin(tt * omega) * b) / torch.sin(omega)
    return _finish(out, a, b, tt, scalar, z0)


def interpolation_path(z0: torch.Tensor, z1: torch.Tensor, frames: int,
                       spherical: bool) -> torch.Tensor:
    """(frames, *shape) latents evenly spaced in t, starting at z0 and ending at z1 exactly."""
    try:
        count = operator.index(frames)  # ints and numpy ints; not 8.0 or "8"
    except TypeError:
        count = None
    if isinstance(frames, bool) or count is None or not MIN_FRAMES <= count <= MAX_FRAMES:
        raise GenplayError(f"the number of frames must be a whole number from {MIN_FRAMES} "
                           f"to {MAX_FRAMES}, not {frames!r}")
    t = torch.linspace(0.0, 1.0, count, dtype=torch.float64)
    return (slerp if spherical else lerp)(z0, z1, t)


# --- running the model --------------------------------------------------------------------------
def _device(model: Any) -> torch.device:
    """The model's device; protocol-only objects without one are taken to live on the CPU."""
    return device_of(model)


def _require_latent(model: Any) -> None:
    if not has_capability(model, Latent):
        raise GenplayError("this model has no latent space")


# The counts and batch sizes here were set for images of up to 32x32 RGB; a model of larger
# images (a diffusers DDPM at 256x256 is 64 times that) gets them divided by how much larger.
SMALL_IMAGE = 3 * 32 * 32


def size_factor(model: Any) -> float:
    """How many times more values a model's images hold than a 32x32 RGB image (at least 1)."""
    shape = image_shape_of(model)
    return max(1.0, math.prod(shape) / SMALL_IMAGE) if shape else 1.0


def _decode_batches(model: Latent, z: torch.Tensor, batch_size: int,
                    steps: int | None = None) -> Iterator[np.ndarray]:
    """model.decode in batches (batch_size for small images, fewer for large ones); with
    steps, a quicker preview decode where the model has one."""
    device = _device(model)
    batch_size = max(1, int(batch_size / size_factor(model)))
    quick = steps is not None and can_preview_decode(model, steps)
    for start in range(0, z.shape[0], batch_size):
        part = z[start:start + batch_size].to(device)
        with torch.no_grad():
            images = model.preview_decode(part, steps) if quick else model.decode(part)
        yield images.detach().float().cpu().numpy()


def interpolate(model: Latent, z0: torch.Tensor, z1: torch.Tensor, frames: int = 8,
                spherical: bool = True, batch_size: int = 64, quick_first: bool = False
                ) -> Iterator[Progress | Preview | Result]:
    """Decodes the path from z0 to z1; Progress per batch, then Result(frames (F, C, H, W),
    {"latents", "spherical", "frames", "seconds_per_frame"}).

    quick_first: a model whose decoder runs a sampler (a diffusion model) first yields
    Preview(0, the frames in PREVIEW_STEPS steps, uint8 NHWC), an eighth of the time, so
    a window has the strip to show while the full frames are decoded.
    """
    _require_latent(model)
    if tuple(z0.shape) != tuple(model.latent_shape):
        raise GenplayError(f"latents must have shape {tuple(model.latent_shape)}, "
                           f"not {tuple(z0.shape)}")
    path = interpolation_path(z0, z1, frames, spherical)
    if quick_first and can_preview_decode(model, PREVIEW_STEPS):
        quick = np.concatenate(list(_decode_batches(model, path, batch_size, PREVIEW_STEPS)))
        yield Preview(0, to_uint8_hwc(np.clip(quick, 0.0, 1.0)))
    parts, done = [], 0
    start = time.perf_counter()
    for images in _decode_batches(model, path, batch_size):
        parts.append(np.clip(images, 0.0, 1.0))
        done += images.shape[0]
        yield Progress(done, frames, message="decoding")
    latents = path.detach().float().cpu().numpy()
    yield Result(np.concatenate(parts).astype(np.float32),
                 {"latents": latents, "spherical": bool(spherical), "frames": frames,
                  "seconds_per_frame": (time.perf_counter() - start) / frames})


def latent_from_seed(model: Latent, seed: int) -> torch.Tensor:
    """The prior latent a seed names, so a seed typed in the GUI always means the same point."""
    generator = torch.Generator(device=_device(model)).manual_seed(int(seed))
    return model.prior_sample(1, generator)[0]


def encode_image(model: Latent, pixels_chw: np.ndarray, **opts: Any
                 ) -> Iterator[Progress | Result]:
    """Encodes one (C, H, W) image in [0, 1]; Result(latent, {"reconstruction": decode}).

    Not under no_grad: encoders by optimisation (the GAN's) need gradients.
    """
    _require_latent(model)
    pixels = np.asarray(pixels_chw, dtype=np.float32)
    expected = image_shape_of(model)
    if pixels.ndim != 3 or (expected is not None and pixels.shape != tuple(expected)):
        raise GenplayError(f"the image must have shape {expected or '(C, H, W)'}, "
                           f"not {pixels.shape}")
    x = torch.from_numpy(pixels).to(_device(model))[None]
    final = None
    for step, total, z in model.encode_steps(x, **opts):
        final = z
        yield Progress(step, total, message="encoding")
    if final is None:
        raise GenplayError("the model's encoder produced no latent")
    z = final.detach()[0].reshape(model.latent_shape)
    with torch.no_grad():
        reconstruction = model.decode(z[None])[0]
    yield Result(z.float().cpu().numpy(),
                 {"reconstruction": reconstruction.float().clamp(0, 1).cpu().numpy()})


# sampler steps of a quick preview decode (a full one runs 25); a held slider may run
# more where the machine affords them (ops.sliders.preview_steps)
PREVIEW_STEPS = MIN_PREVIEW_STEPS


def decode_one(model: Latent, z: np.ndarray, preview: bool = False,
               steps: int = PREVIEW_STEPS) -> tuple[np.ndarray, bool]:
    """One latent (of ``latent_shape``) decoded to float32 (C, H, W) in [0, 1].

    preview=True asks for a quick, rougher image while a slider moves: a model whose
    decoder runs a sampler (the PreviewDecoder hook: a diffusion model's ``latent_steps``
    DDIM steps) runs `steps` steps of a faster solver instead (PREVIEW_STEPS, about an
    eighth of the time, unless the caller can afford more), a rougher picture of the same
    kind. Other decoders are one network pass, cheap already, and run as they are.
    Returns (image, whether it was a cheaper preview).
    """
    _require_latent(model)
    cheaper = bool(preview) and can_preview_decode(model, steps)
    x = torch.as_tensor(np.asarray(z, np.float32)).to(_device(model))[None]
    with torch.no_grad():
        image = (model.preview_decode(x, steps) if cheaper else model.decode(x))[0]
    return image.float().clamp(0, 1).cpu().numpy(), cheaper


# --- latent directions for sliders --------------------------------------------------------------
@dataclass(frozen=True, eq=False)  # eq=False: numpy fields make == ambiguous
class LatentDirections:
    directions: np.ndarray  # (K, D) float32, unit rows
    stds: np.ndarray  # (K,) spread of the prior along each direction
    mean: np.ndarray  # (D,) mean of the sampled latents
    explained: np.ndarray  # (K,) fraction of image variance of each component
    method: str


def compute_directions(model: Latent, k: int = 8, n: int = 2000, seed: int = 0,
                       batch_size: int = 256) -> LatentDirections:
    """compute_directions_steps() run to the end."""
    return final_value(compute_directions_steps(model, k, n, seed, batch_size))


LARGE_MODEL_SAMPLES = 64  # the fewest decoded samples directions are found from
LARGE_MODEL_STEPS = 10  # sampler steps of a quick decode for them, for large images


def compute_directions_steps(model: Latent, k: int = 8, n: int = 2000, seed: int = 0,
                             batch_size: int = 256) -> Iterator[Progress | Result]:
    """GANSpace-style directions: latent moves that follow the images' principal modes.

    PCA straight on z is useless for a Gaussian prior (every direction has variance 1), so
    the PCA runs on decoded images, where the model's structure shows, and each image
    component is mapped back to the latent direction that best predicts it (least squares
    of z on the component scores).  Seeded, hence the same directions on every run.
    Yields Progress per decoded batch (each a point where a caller can stop), then
    Result(LatentDirections).
    """
    _require_latent(model)
    d = math.prod(model.latent_shape)
    if n < 2 or k < 1:
        raise GenplayError(f"need at least 2 samples and 1 direction (got n={n}, k={k})")
    # Large images: fewer samples (each image holds more of the model's variation) and,
    # where the model has one, a quick decode, or a 256x256 diffusion model would take
    # hours on a CPU for its sliders.
    large = size_factor(model) > 1
    n = max(min(n, LARGE_MODEL_SAMPLES), int(n / size_factor(model))) if large else n
    generator = torch.Generator(device=_device(model)).manual_seed(int(seed))
    z = model.prior_sample(n, generator).detach()
    parts = []
    for images in _decode_batches(model, z, batch_size, LARGE_MODEL_STEPS if large else None):
        parts.append(images.reshape(images.shape[0], -1))
        yield Progress(sum(p.shape[0] for p in parts), n, message="finding latent directions")
    x = torch.from_numpy(np.concatenate(parts))
    k = min(k, d, n - 1, x.shape[1])
    x = x - x.mean(dim=0)
    total = x.pow(2).sum(dtype=torch.float64)
    if not total > 0:
        raise GenplayError("the model's images do not change with the latent; "
                           "there are no directions to find")
    left, singular, _ = torch.linalg.svd(x, full_matrices=False)
    scores = (left[:, :k] * singular[:k]).double()  # (n, k) coordinates on the top components
    zc = z.reshape(n, d).to("cpu", torch.float64)
    mean = zc.mean(dim=0)
    zc = zc - mean
    u = torch.linalg.lstsq(scores, zc).solution  # (k, d): z - mean ~ scores @ u
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    # SVD signs are arbitrary; make each row's largest entry positive so a slider's
    # "+" end is stable across machines and library versions.
    signs = torch.sign(u.gather(1, u.abs().argmax(dim=1, keepdim=True)))
    u = u * torch.where(signs == 0, 1.0, signs)
    yield Result(LatentDirections(
        directions=u.float().numpy(), stds=(zc @ u.T).std(dim=0).float().numpy(),
        mean=mean.float().numpy(),
        explained=(singular[:k].double().pow(2) / total).float().numpy(), method=METHOD))


def directions_path(checkpoint_folder: str | Path) -> Path:
    return Path(checkpoint_folder) / DIRECTIONS_FILE


def _load_cached(path: Path, key: dict[str, Any], d: int) -> LatentDirections | None:
    """The cached directions if the file is readable, consistent and made for ``key``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if any(data[name].item() != value for name, value in key.items()):
                return None
            dirs = LatentDirections(
                directions=data["directions"].astype(np.float32),
                stds=data["stds"].astype(np.float32), mean=data["mean"].astype(np.float32),
                explained=data["explained"].astype(np.float32), method=str(data["method"]))
    except Exception:  # a cache is disposable: anything unreadable is simply recomputed
        return None
    rows = dirs.directions.shape[0]
    if (dirs.directions.shape != (rows, d) or dirs.stds.shape != (rows,)
            or dirs.mean.shape != (d,) or dirs.explained.shape != (rows,)
            or not all(np.isfinite(a).all() for a in (dirs.directions, dirs.stds, dirs.mean))):
        return None
    return dirs


def load_or_compute_directions(model: Latent, checkpoint_folder: str | Path,
                               weights_hash: str, k: int = 8, n: int = 2000,
                               seed: int = 0) -> LatentDirections:
    """load_or_compute_directions_steps() run to the end."""
    return final_value(load_or_compute_directions_steps(model, checkpoint_folder, weights_hash,
                                                   k, n, seed))


def load_or_compute_directions_steps(
    model: Latent, checkpoint_folder: str | Path, weights_hash: str, k: int = 8,
    n: int = 2000, seed: int = 0,
) -> Iterator[Progress | Result]:
    """Directions cached beside the checkpoint, recomputed when the weights or settings change.

    A read-only folder only costs the cache: the directions are still returned.
    """
    path = directions_path(checkpoint_folder)
    key = {"weights_hash": str(weights_hash), "k": int(k), "n": int(n), "seed": int(seed),
           "method": METHOD}
    cached = _load_cached(path, key, math.prod(model.latent_shape)) if path.is_file() else None
    if cached is not None:
        yield Result(cached)
        return
    dirs = None
    for event in compute_directions_steps(model, k=k, n=n, seed=seed):
        if isinstance(event, Result):
            dirs = event.value
        else:
            yield event

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, directions=dirs.directions, stds=dirs.stds, mean=dirs.mean,
                     explained=dirs.explained, **{name: np.array(v) for name, v in key.items()})

    with contextlib.suppress(OSError):  # read-only folder: go without the cache
        atomic_write(path, write)
    yield Result(dirs)


def move_along(base_z: torch.Tensor, dirs: LatentDirections,
               amounts_in_std: Sequence[float]) -> torch.Tensor:
    """base_z moved by amounts[i] prior standard deviations along direction i."""
    amounts = np.asarray(amounts_in_std, dtype=np.float64).reshape(-1)
    if amounts.size > dirs.directions.shape[0]:
        raise GenplayError(f"{amounts.size} amounts given for only "
                           f"{dirs.directions.shape[0]} directions")
    if base_z.numel() != dirs.directions.shape[1]:
        raise GenplayError(f"a latent of {base_z.numel()} values does not match directions "
                           f"of {dirs.directions.shape[1]}")
    count = amounts.size
    offset = (amounts * dirs.stds[:count]) @ dirs.directions[:count].astype(np.float64)
    offset_t = torch.from_numpy(np.asarray(offset)).reshape(base_z.shape)
    return base_z + offset_t.to(base_z.device, base_z.dtype)


# --- export -------------------------------------------------------------------------------------
def save_gif(path: str | Path, frames_uint8_nhwc: np.ndarray, fps: float = 12,
             loop: bool = True, scale: int = 4, bounce: bool = True) -> None:
    """Animated GIF of uint8 (N, H, W, C) frames, C 1 or 3, written atomically.

    Model images are tiny (28x28), so frames are enlarged by ``scale`` with nearest
    neighbour, keeping pixels crisp.  ``bounce`` plays the frames back in reverse without
    repeating the ends, so a loop goes z0 -> z1 -> z0 with no jump or stutter.
    """
    frames = np.asarray(frames_uint8_nhwc)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] not in (1, 3) \
            or frames.shape[0] < 1:
        raise ValueError(f"expected uint8 (N, H, W, 1|3) frames, got {frames.dtype} "
                         f"{frames.shape}")
    if not fps > 0 or scale < 1:
        raise ValueError(f"fps must be positive and scale at least 1 (got {fps}, {scale})")
    if bounce and frames.shape[0] > 2:
        frames = np.concatenate([frames, frames[-2:0:-1]])
    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    if frames.shape[3] == 1:
        frames = frames[..., 0]
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    options: dict[str, Any] = {"duration": max(10, round(1000 / fps))}
    if loop:
        options["loop"] = 0  # 0 = forever; without the key the GIF plays once

    def write(tmp: Path) -> None:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], **options)

    atomic_write(Path(path), write)


def save_latents_npz(path: str | Path, latents: np.ndarray, **extra: Any) -> None:
    """Latents (and any extra arrays or values) as an .npz, written atomically."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, latents=np.asarray(latents), **extra)

    atomic_write(Path(path), write)


# --- endpoints: a seed, a sample seen in a grid, or the user's own image ----------------------
def encode_file(model: Latent, path: str | Path, *, invert: bool | None = None,
                **opts: Any) -> Iterator[Progress | Result]:
    """Loads a user's image safely, fits it to the model, and encodes it.

    invert: as prepare_for_model() takes it; data.invert_policy() says which a model
    needs (None, decide from the border, suits only light-on-dark training data).
    The Result's summary adds "seen" (uint8 HWC: what the model was given) and
    "inverted" (whether a dark-on-light picture was inverted to match the data).
    """
    from genplay.core.images import load_image, prepare_for_model, to_float_chw

    channels, size = model.image_shape[0], model.image_shape[1]
    seen, inverted = prepare_for_model(load_image(path), size=size, channels=channels,
                                       invert=invert)
    for event in encode_image(model, to_float_chw(seen), **opts):
        if isinstance(event, Result):
            yield Result(event.value, {**event.summary, "seen": seen, "inverted": inverted})
        else:
            yield event


def endpoint_latent(model: Latent, spec: Endpoint | int | str | Path | np.ndarray, *,
                    invert: bool | None = None) -> Iterator[Progress | Result]:
    """Resolves an endpoint to a latent: a SeedEndpoint (or an int seed), an ImageEndpoint
    (or a path; encoded with encode_file(invert=invert)), a SampleEndpoint for a sample
    seen in a grid, or a LatentEndpoint (or a latent array) already computed."""
    if isinstance(spec, bool):
        raise GenplayError(f"not an endpoint: {spec!r}")
    if isinstance(spec, int | np.integer):
        spec = SeedEndpoint(int(spec))
    elif isinstance(spec, str | Path):
        spec = ImageEndpoint(spec)
    elif isinstance(spec, np.ndarray):
        spec = LatentEndpoint(spec)
    if isinstance(spec, SeedEndpoint):
        yield Result(latent_from_seed(model, spec.seed).float().cpu().numpy(), {})
    elif isinstance(spec, ImageEndpoint):
        yield from encode_file(model, spec.path, invert=invert)
    elif isinstance(spec, SampleEndpoint):
        from genplay.core.ops.sampling import sample_latent

        z = sample_latent(model, int(spec.seed), int(spec.index)) * float(spec.temperature)
        yield Result(z.float().cpu().numpy(), {})
    elif isinstance(spec, LatentEndpoint):
        yield Result(np.asarray(spec.latent).astype(np.float32), {})
    else:
        raise GenplayError(f"not an endpoint: {spec!r}")


def interpolate_endpoints(model: Latent, start: Endpoint, end: Endpoint, frames: int = 8,
                          spherical: bool = True, quick_first: bool = False, *,
                          invert: bool | None = None) -> Iterator[Progress | Preview | Result]:
    """interpolate() between two endpoints given as endpoint_latent() understands them."""
    latents = []
    for spec in (start, end):
        for event in endpoint_latent(model, spec, invert=invert):
            if isinstance(event, Result):
                latents.append(torch.from_numpy(np.asarray(event.value)))
            else:
                yield event
    yield from interpolate(model, latents[0], latents[1], frames=frames, spherical=spherical,
                           quick_first=quick_first)
