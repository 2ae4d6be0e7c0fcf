"""Images from a sketch, and inpainting: what the Sketch panel and `genplay sketch` /
`genplay inpaint` run, for any model that can.

The method follows the model's declarations (``capabilities.sketch_method`` and
``inpaint_method``, the rules the Sketch panel's gate shares), not its family:
- Conditional models declaring ``condition_method = "sdedit"`` (diffusion) use SDEdit:
  the sketch is noised to the level `strength` and denoised, once per candidate, each
  candidate with its own seeded noise.
- Conditional models declaring ``condition_method = "sketch"`` (a sketch-conditioned
  diffusion model, trained on sketch-image pairs) draw each candidate from its own seeded
  noise with the sketch as the network's condition; `strength` does not apply, the
  option ``sketch_guidance`` trades following the lines against realism.
- Conditional models declaring ``condition_method = "langevin"`` (energy-based) mix the
  sketch with uniform noise in the proportion `strength` and run Langevin dynamics from
  there, one chain per candidate with its own seeded noise.
- Other Latent models (VAE, GAN, flow) fit a latent per candidate through their
  differentiable decoder (``decode_continuous``): starting from a seeded
  prior sample, gradient descent on
      |decode(z) - sketch|^2 / (2 sigma^2) + |z|^2 / 2,
  the most probable latent if the sketch were the image plus Gaussian noise of
  standard deviation sigma. `strength` sets sigma (0.05 at strength 0 to 0.55 at
  strength 1): a higher strength lets the image stray further from the lines
  towards what the model finds likely, as with SDEdit.

Candidate k of a request with seed S always gets the same noise, so asking for more
candidates keeps the first ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from genplay.core.errors import GenplayError
from genplay.core.events import Preview, Progress, Result, relay
from genplay.core.images import prepare_for_model, to_float_chw, to_uint8_hwc
from genplay.core.models import diffusion_pipeline as pipeline
from genplay.core.models.base import CLASS_OPTION, MIXED_CLASS
from genplay.core.models.blocks import TensorAdam, frozen_weights
from genplay.core.models.capabilities import (  # the rules, re-exported for callers of ops
    default_sampler,
    inpaint_method,
    sketch_method,
)
from genplay.core.ops.interpolation import PREVIEW_STEPS

MAX_CANDIDATES = 16
DEFAULT_STRENGTH = 0.5
FIT_STEPS = 150  # latent-fitting steps for models without SDEdit


def guide_tensor(model: Any, pixels: np.ndarray, invert: bool | None = None) -> torch.Tensor:
    """A user's drawing or image (uint8 HW or HWC, any size) as the model's input
    (1, C, H, W) in [0, 1]: letterboxed, and inverted when drawn dark on light."""
    c, size, _ = model.image_shape
    prepared, _inverted = prepare_for_model(pixels, size=size, channels=c, invert=invert)
    return torch.from_numpy(to_float_chw(prepared))[None]


def _one_input(model: Any, x: torch.Tensor, n: int, name: str, results: str) -> torch.Tensor:
    """One input image as (1, C, H, W) in [0, 1] on the model's device, with the number
    of results asked for checked."""
    if not 1 <= n <= MAX_CANDIDATES:
        raise GenplayError(f"the number of {results} must be from 1 to {MAX_CANDIDATES}")
    if x.dim() == 3:
        x = x[None]
    if tuple(x.shape[1:]) != tuple(model.image_shape):
        raise GenplayError(f"the {name} is {tuple(x.shape[1:])}, the model makes "
                           f"{tuple(model.image_shape)} images")
    return x.to(model.device, torch.float32).clamp(0, 1)


def _candidate_generator(seed: int, k: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed((seed * 0x9E3779B1 + 7919 * k) % 2**63)


def sketch_images(model: Any, guide: torch.Tensor, n: int = 4, seed: int = 0,
                  strength: float = DEFAULT_STRENGTH, **opts: Any
                  ) -> Iterator[Progress | Preview | Result]:
    """n candidates for one guide (1, C, H, W) in [0, 1]; Progress and Previews (uint8 NHWC
    of every candidate so far), then Result(float32 (n, C, H, W), summary)."""
    method = sketch_method(model)
    if method is None:
        raise GenplayError("this model cannot make images from a sketch: it needs SDEdit "
                           "(diffusion), Langevin dynamics (energy-based) or a latent space "
                           "(VAE, GAN, flow)")
    if not 0.0 <= strength <= 1.0:
        raise GenplayError(f"strength must be from 0 to 1, not {strength}")
    guide = _one_input(model, guide, n, "sketch", "candidates")
    if method in ("sdedit", "sketch"):
        events = _from_noise(model, guide, n, seed, strength, opts)
    elif method == "langevin":
        unknown = sorted(set(opts) - {"steps", "step_size", "noise"})
        if unknown:
            raise GenplayError(f"option {unknown[0]!r} is not understood by Langevin "
                               "dynamics (its options: steps, step_size, noise)")
        events = _one_at_a_time(
            n, seed, model.device, "candidate",
            lambda generator: model.condition_steps(guide, strength, generator=generator,
                                                    **opts))
    else:
        events = _fit_latents(model, guide, n, seed, strength, dict(opts))  # it pops
    result = yield from relay(events)
    yield Result(result.value, {"method": method, "seed": seed, "n": n, "strength": strength,
                                "options": dict(opts)})


def _from_noise(model, guide, n, seed, strength, opts):
    """SDEdit or a sketch-conditioned model: each candidate starts from its own seeded
    noise. With a deterministic sampler (DPM-Solver++, DDIM at eta 0) all candidates run
    as one batch, which on a CPU costs little more than one; stochastic samplers (DDPM,
    eta > 0) draw noise at every step, so they run one candidate at a time to keep each
    candidate's images its own."""
    sampler = opts.get("sampler", default_sampler(model))
    if not pipeline.is_deterministic(sampler, float(opts.get("eta", 0))):
        yield from _one_at_a_time(
            n, seed, model.device, "candidate",
            lambda generator: model.condition_steps(guide, strength, generator=generator,
                                                    **opts))
        return
    noise = torch.cat([torch.randn((1, *guide.shape[1:]), device=model.device,
                                   generator=_candidate_generator(seed, k, model.device))
                       for k in range(n)])
    for event in model.condition_steps(guide.expand(n, -1, -1, -1), strength, noise=noise,
                                       **opts):
        if isinstance(event, Progress) and event.total:
            yield Progress(event.step, event.total, message=f"{n} candidates")
        elif isinstance(event, (Preview, Result)):
            yield event


def _one_at_a_time(n: int, seed: int, device, noun: str,
                   run: Callable[[torch.Generator], Iterator]) -> Iterator:
    """Runs `run(generator)` for each of n results, each with its own seeded generator.
    Progress covers all n; Previews show the results so far and the one in progress;
    then Result(all n, float32 (n, C, H, W))."""
    done: list[np.ndarray] = []
    for k in range(n):
        for event in run(_candidate_generator(seed, k, device)):
            if isinstance(event, Progress) and event.total:
                yield Progress(k * event.total + event.step, n * event.total,
                               message=f"{noun} {k + 1} of {n}")
            elif isinstance(event, Preview):
                yield Preview(event.step, np.concatenate(
                    [to_uint8_hwc(d) for d in done] + [event.images]))
            elif isinstance(event, Result):
                done.append(np.asarray(event.value, dtype=np.float32))
        yield Preview(k, to_uint8_hwc(np.concatenate(done)))
    yield Result(np.concatenate(done))


def _fit_latents(model, guide, n, seed, strength, opts):
    steps = int(opts.pop("steps", FIT_STEPS))
    lr = float(opts.pop("lr", 0.05))
    if opts:
        raise GenplayError(f"option {sorted(opts)[0]!r} is not understood when fitting a "
                           "latent (its options: steps, lr)")
    z = torch.cat([model.prior_sample(1, _candidate_generator(seed, k, model.device))
                   for k in range(n)])
    yield from fit_latents(model, guide.expand(n, -1, -1, -1), z, strength, steps, lr)


def fit_latents(model: Any, guides: torch.Tensor, z: torch.Tensor, strength: float,
                steps: int = FIT_STEPS, lr: float = 0.05,
                forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
                message: str = "fitting latents to the sketch",
                ) -> Iterator[Progress | Preview | Result]:
    """Gradient descent from latents z (one per guide) on
    |A(decode(z)) - guide|^2 / (2 sigma^2) + |z|^2 / 2, sigma = 0.05 + 0.5 strength,
    where A is `forward` (differentiable; e.g. a shrink, for super-resolution) or the
    identity; Progress per step, a Preview every 10, then Result(the images of the final z)."""
    if steps < 1:
        raise GenplayError("steps must be at least 1")
    sigma = 0.05 + 0.5 * strength
    z = z.detach().clone().requires_grad_(True)
    adam = TensorAdam(z, lr)
    with frozen_weights(model):
        for step in range(1, steps + 1):
            image = model.decode_continuous(z)
            seen = image if forward is None else forward(image)
            fit = (seen - guides).pow(2).flatten(1).sum(1) / (2 * sigma**2)
            loss = fit + 0.5 * z.pow(2).flatten(1).sum(1)
            (grad,) = torch.autograd.grad(loss.sum(), z)
            adam.step(z, grad)
            yield Progress(step, steps, message=message)
            if step % 10 == 0 and step < steps:
                yield Preview(step, to_uint8_hwc(image.detach().clamp(0, 1).cpu().numpy()))
    with torch.no_grad():
        yield Result(model.decode(z.detach()).clamp(0, 1).float().cpu().numpy())


def inpaint_images(model: Any, image: torch.Tensor, hole: torch.Tensor, n: int = 1,
                   seed: int = 0, **opts: Any) -> Iterator[Progress | Preview | Result]:
    """n fillings of the pixels where `hole` (H, W bool) is True in image (1, C, H, W);
    the other pixels come back unchanged. Result(float32 (n, C, H, W), summary)."""
    method = inpaint_method(model)
    if method is None:
        raise GenplayError("this model cannot inpaint: it needs a diffusion model or a "
                           "PixelCNN")
    image = _one_input(model, image, n, "image", "images")
    hole = torch.as_tensor(hole).bool()
    if hole.shape != image.shape[-2:]:
        raise GenplayError(f"the mask is {tuple(hole.shape)} pixels, the image "
                           f"{tuple(image.shape[-2:])}")
    if not hole.any():
        raise GenplayError("the mask marks nothing to fill (white marks the pixels to fill)")
    # Both methods return the given pixels exactly as given (their tests hold them to it).
    if method == "diffusion":
        def run(generator):
            return model.inpaint_steps(image, hole, generator=generator, **opts)
    else:
        def run(generator):
            return model.complete_steps(image, ~hole, generator=generator, **opts)
    result = yield from relay(_one_at_a_time(n, seed, model.device, "image", run))
    yield Result(result.value, {"method": method, "seed": seed, "n": n, "options": dict(opts)})


# --- what the Sketch panel runs (in the engine's thread) -----------------------------------
FILL_STEPS = 50  # what `genplay inpaint` and the diffusion model's inpaint_steps default to


def sketch_facts(model: Any) -> dict[str, Any]:
    """What the Sketch panel needs to know of a model: how it follows a sketch, whether it
    can fill a region (decided as `genplay inpaint` decides), its size, classes and steps."""
    from genplay.core.models.capabilities import Sampler

    options = {o.name: o for o in model.sample_options()} if isinstance(model, Sampler) else {}
    method = sketch_method(model)
    if method == "sdedit":
        steps = (int(options["steps"].default), 200)  # a whole schedule's
    elif method == "sketch":
        steps = (model.condition_default_steps, 200)
    elif method == "langevin":
        steps = (model.condition_default_steps, 1000)
    else:
        steps = (FIT_STEPS, 1000)
    fill = inpaint_method(model)
    most = int(options["steps"].maximum) if "steps" in options else 1000
    return {
        "method": method,
        "fill": fill,  # "diffusion", "autoregressive" or None
        "fill_steps": (min(FILL_STEPS, most), most) if fill == "diffusion" else None,
        "shape": tuple(model.image_shape),
        # a drawing is one class or none: the per-image mix is the Sampling panel's
        "classes": ([c for c in options[CLASS_OPTION].choices if c != MIXED_CLASS]
                    if CLASS_OPTION in options else []),
        "steps": steps,
        # a sketch-conditioned model's sketch guidance: (default, highest)
        "sketch_guidance": ((model.default_sketch_guidance, 10.0) if method == "sketch"
                            else None),
        # sampler steps of the quick candidates Live mode shows while the pen moves (a
        # diffusion sampler's, run from the noise: SDEdit runs its share of a schedule)
        "preview_steps": PREVIEW_STEPS if method in ("sketch", "sdedit") else None,
    }


def canvas_tensor(model: Any, pixels: np.ndarray) -> torch.Tensor:
    """A canvas's uint8 (H, W) grey or (H, W, 3) colour drawing at the model's size ->
    (1, C, H, W) in [0, 1]: grey for a grey model (the colours' luma, as pictures are
    read), repeated into three channels for a colour one."""
    c = model.image_shape[0]
    if pixels.ndim == 3 and c == 1:
        pixels = prepare_for_model(pixels, size=pixels.shape[0], channels=1, invert=False)[0]
    x = torch.from_numpy(to_float_chw(pixels))[None]
    return x if x.shape[1] == c else x[:, :1].repeat(1, c, 1, 1)


def sketch_canvas(model: Any, drawing: np.ndarray, n: int, seed: int, strength: float,
                  options: dict[str, Any]) -> Iterator[Progress | Preview | Result]:
    """A canvas's uint8 (H, W[, 3]) drawing at the model's size -> n candidates
    (sketch_images)."""
    yield from sketch_images(model, canvas_tensor(model, drawing), n=n, seed=seed,
                             strength=strength, **options)


def fill_canvas(model: Any, picture: np.ndarray, hole: np.ndarray, n: int, seed: int,
                options: dict[str, Any]) -> Iterator[Progress | Preview | Result]:
    """A uint8 (H, W[, 3]) picture and a bool (H, W) hole at the model's size -> n fillings
    (the op `genplay inpaint` runs: the pixels outside the hole come back as given)."""
    yield from inpaint_images(model, canvas_tensor(model, picture), torch.from_numpy(hole),
                              n=n, seed=seed, **options)


def canvas_pixels(path: str, colour: bool = False) -> np.ndarray:
    """A user's image file for the canvas, 280 px: grey, light on dark (inverted when
    drawn dark on light) for a grey canvas; its colours as they are for a colour one."""
    from genplay.core.images import load_image

    if colour:
        return prepare_for_model(load_image(path), size=280, channels=3, invert=False)[0]
    prepared, _ = prepare_for_model(load_image(path), size=280, channels=1)
    return prepared[..., 0]


def picture_sketch(path: str, canvas_size: int, model_size: int,
                   style: str = "lines") -> np.ndarray:
    """Any picture as a drawing for the Sketch canvas (ControlNet's "fake scribble"): its
    lines found at the model's resolution, as the sketch models' training drawings were
    (core/sketches.py), drawn light on dark as uint8 (canvas_size, canvas_size). A file
    that is not a readable image is a one-line error."""
    from genplay.core import sketches
    from genplay.core.images import load_image

    return sketches.from_picture(load_image(path), canvas_size, style, work_size=model_size)
