"""Super-resolution guided by a generative model: several plausible high-resolution
images for one low-resolution input, each of which shrinks back to that input.

A shrink throws detail away, so many sharp images share one low-resolution version;
a regression network (or bicubic) returns something like their blurry average, while
a generative model can propose individual members of the set. Both methods below keep
to the set exactly and let the model choose within it:

- Diffusion models ("diffusion"): DDIM from noise, and at every step the network's
  clean-image estimate x0 is projected onto the images consistent with the input y,
      x0 <- x0 + P (y - D x0 D^T) P^T,
  where D is the separable matrix of the shrink (``resize.downscale_matrix``) and P its
  pseudo-inverse: this changes only the part of x0 the shrink sees (D P = I, so
  afterwards D x0 D^T = y) and leaves the rest, the detail, to the model. DDIM's
  fresh noise (eta) makes candidates differ where the input allows (the idea of
  DDNM, Wang et al. 2023; see ``models.diffusion_pipeline``).
- Latent models with a differentiable decoder ("latent": VAE, GAN, flow): a latent per
  candidate, fitted from its own seeded prior sample as ``ops.sketch.fit_latents`` does
  for sketches, with the shrink between the decoded image and the input:
      |downscale(decode(z)) - y|^2 / (2 sigma^2) + |z|^2 / 2.
  The decoded images are then projected as above (option project=True, the default),
  so every method returns images that shrink to the input; project=False returns the
  model's own images, which match it only as closely as the fit got.

Both end (unless project=False) with the nearest image that is inside [0, 1] and
consistent at once (``Consistency.finish``), so the images shrink back to the input to
a small fraction of a grey level. "Consistent" follows downscale(), clamp included:
where the input is black and bicubic ringing would make the shrink darker still,
nothing more is asked.

Candidate k of seed S always gets the same noise (or starting latent), so asking for
more candidates keeps the first ones.

Measured on 100 MNIST test digits with diffusion-mnist at the defaults, one thread:
4x (7 -> 28 pixels) 19.2 dB PSNR per candidate, 21.4 dB for the average of 4, bicubic
14.7 dB, 1.25 s for 4 candidates; 2x 28.9 dB, 30.6 dB and 20.3 dB, 0.65 s. PSNR
rewards the blurry average: single candidates are sharp digits, not a compromise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from genplay.core.errors import GenplayError
from genplay.core.events import Preview, Progress, Result, relay
from genplay.core.models.base import is_mixed
from genplay.core.models.capabilities import guided_method  # the rule; re-exported here
from genplay.core.models.diffusion_pipeline import restore_steps
from genplay.core.ops.sketch import FIT_STEPS, MAX_CANDIDATES, _candidate_generator, fit_latents
from genplay.core.resize import downscale, downscale_matrix

# eta 1 (DDPM-like noise): on 50 test digits at 4x and 25 steps, PSNR of the candidates
# 18.3 dB, against 17.6 at eta 0.5 and 17.4 at eta 0 (fresh noise lets each step settle
# with the corrections, as DDNM found) with hardly less variety between candidates.
DEFAULT_ETA = 1.0
FINAL_ITERATIONS = 300  # at most, of the final consistent-and-in-range correction
TOLERANCE = 1e-4  # of the final residual on the [0, 1] scale: 1/40 of a grey level


def default_steps(scale: int) -> int:
    """Diffusion steps by default. On 100 MNIST test digits (diffusion-mnist, PSNR of the
    candidates): 4x gains 0.7 dB from 10 to 25 steps and 0.55 dB more at 50; 2x has
    saturated by 25 steps (+0.07 dB at 50). More missing detail, more steps."""
    return 25 if scale <= 2 else 50


class Consistency:
    """The images that shrink by `scale` to y (N, C, h, w), N = 1 or one per image:
    projection onto them, and at the end a point of them inside [0, 1]."""

    def __init__(self, y: torch.Tensor, scale: int, size: int) -> None:
        d = downscale_matrix(size, scale, torch.float64)
        # D has full row rank (its singular values are 0.35-0.71 for the sizes genplay
        # uses), so P = D^T (D D^T)^-1 is well conditioned and D P = I.
        self.d = d.to(y.device, torch.float32)
        self.p = torch.linalg.pinv(d).to(y.device, torch.float32)
        # |A|^2 for A: x -> D x D^T, the Lipschitz constant of the final correction's dual
        self.lipschitz = float(torch.linalg.matrix_norm(d, 2)) ** 4
        self.y = y

    def shrink(self, x: torch.Tensor) -> torch.Tensor:
        """downscale(x, scale) without its clamp: linear, so differentiable everywhere."""
        return self.d @ x @ self.d.T

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """y - D x D^T, except where the shrink's clamp already gives y.

        downscale() clamps, and bicubic rings: an MNIST digit shrunk 4x has 39% of its
        linear values below 0 (down to -0.09), all clamped to 0. Demanding D x D^T = 0
        there would demand a dark halo the real image does not have (and could not have
        inside [0, 1]); where y sits at 0 (or 1) and D x D^T is already beyond it, the
        clamp makes it y anyway, so nothing is owed there.
        """
        seen = self.shrink(x)
        saturated = ((self.y <= 0) & (seen < 0)) | ((self.y >= 1) & (seen > 1))
        return (self.y - seen).masked_fill(saturated, 0.0)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The least change to x after which it shrinks to y: x + P r P^T with r the
        residual (then D x D^T moves by exactly r, since D P = I)."""
        return x + self.p @ self.residual(x) @ self.p.T

    def finish(self, x: torch.Tensor, iterations: int = FINAL_ITERATIONS) -> torch.Tensor:
        """The image nearest x inside [0, 1] that shrinks to y (as nearly as one exists).

        Alternating the projection with clamping converges slowly (after 100 rounds,
        digits shrunk 2x were still off by up to 4 grey levels), so this solves the
        problem itself: minimise |x' - x|^2 over 0 <= x' <= 1 with D x' D^T = y (only
        <= 0 where y is 0 and >= 1 where it is 1: the shrink clamps). Its dual is
        smooth: x' = clamp(x + D^T l D) for one multiplier l per low-res pixel, and
        y - D x' D^T is the dual's gradient, so accelerated gradient ascent on l
        (Nesterov's, with restarts) finds it; l is kept <= 0 where y is 0 and >= 0
        where it is 1, the signs of those one-sided constraints.
        """
        step = 1.0 / self.lipschitz
        low = torch.where(self.y >= 1, 0.0, -torch.inf).expand_as(self.y)
        high = torch.where(self.y <= 0, 0.0, torch.inf).expand_as(self.y)
        lam = torch.zeros_like(self.shrink(x))
        previous = lam
        momentum = torch.zeros_like(lam[..., :1, :1])  # steps since each image's restart
        # An image that is done stops moving, so its result does not depend on how long
        # the others in the batch take (candidate k is the same whatever n is).
        done = torch.zeros_like(momentum, dtype=torch.bool)
        for _ in range(iterations):
            ahead = torch.where(done, lam, lam + momentum / (momentum + 3) * (lam - previous))
            image = (x + self.d.T @ ahead @ self.d).clamp(0, 1)
            error = self.residual(image).abs().amax(dim=(-2, -1), keepdim=True)
            done = done | (error <= TOLERANCE)
            if done.all():
                return image
            grad = self.y - self.shrink(image)
            ascended = torch.maximum(torch.minimum(ahead + step * grad, high), low)
            previous, lam = lam, torch.where(done, ahead, ascended)
            # Restart an image's momentum when it points against the gradient (O'Donoghue
            # and Candes 2015): it keeps the ascent from circling round the optimum.
            against = (grad * (lam - previous)).sum(dim=(-2, -1), keepdim=True) < 0
            momentum = torch.where(against, 0.0, momentum + 1)
        return (x + self.d.T @ lam @ self.d).clamp(0, 1)


def guided_upscale_steps(model: Any, lowres: torch.Tensor, scale: int, n: int = 4,
                         seed: int = 0, steps: int | None = None, **opts: Any
                         ) -> Iterator[Progress | Preview | Result]:
    """n candidates (n, C, size, size) in [0, 1] for lowres (1, C, size // scale, same),
    size being the model's image size; each shrinks back to lowres.

    Options: diffusion: eta (0-1, default 1), class and guidance (class-conditional
    models); latent models: lr, project (default True). steps defaults to
    default_steps(scale) (diffusion: 25 at 2x, 50 at 4x) or ops.sketch.FIT_STEPS (latent fitting).
    Progress per step, Previews now and then, then Result(tensor, summary).
    Closing the generator stops the work.
    """
    method = guided_method(model)
    if method is None:
        raise GenplayError("this model cannot guide super-resolution: it needs a diffusion "
                           "model or a latent space with a differentiable decoder (VAE, GAN, "
                           "flow)")
    y = _check_lowres(model, lowres, scale, n)
    scale = int(scale)
    if steps is not None and (int(steps) != steps or steps < 1):
        raise GenplayError(f"steps must be a whole number of at least 1, not {steps}")
    consistency = Consistency(y, scale, model.image_shape[1])
    options = dict(opts)
    if method == "diffusion":
        steps = int(steps or default_steps(scale))
        events = _diffusion(model, consistency, n, seed, steps, dict(opts))
    else:
        steps = int(steps or FIT_STEPS)
        events = _latent(model, consistency, n, seed, scale, steps, dict(opts))
    result = yield from relay(events)
    yield Result(result.value, {"method": method, "scale": scale, "seed": seed, "n": n,
                                "steps": steps, "options": options})


def _check_lowres(model: Any, lowres: torch.Tensor, scale: int, n: int) -> torch.Tensor:
    """The input as (1, C, h, w) float32 in [0, 1] on the model's device, after checking
    it, the scale and n against the model."""
    if not 1 <= n <= MAX_CANDIDATES:
        raise GenplayError(f"the number of candidates must be from 1 to {MAX_CANDIDATES}")
    if isinstance(scale, bool) or int(scale) != scale or scale < 2:
        raise GenplayError(f"the scale must be a whole number of at least 2, not {scale}")
    scale = int(scale)
    c, size, _ = model.image_shape
    if size % scale:
        raise GenplayError(f"this model makes {size}x{size} images, which do not shrink "
                           f"{scale}x evenly")
    small = size // scale
    lowres = torch.as_tensor(lowres)
    if lowres.dim() == 3:
        lowres = lowres[None]
    if lowres.dim() != 4 or tuple(lowres.shape) != (1, c, small, small):
        raise GenplayError(
            f"the low-resolution image is {tuple(lowres.shape)}; for {scale}x with this "
            f"model it must be (1, {c}, {small}, {small}): one {small}x{small} image with "
            f"{c} channel{'s' if c > 1 else ''}, which the model enlarges to {size}x{size}")
    if not torch.isfinite(lowres).all():
        raise GenplayError("the low-resolution image has values that are not numbers")
    return lowres.to(model.device, torch.float32).clamp(0, 1)


def _unknown(opts: dict[str, Any], method: str, known: str) -> None:
    if opts:
        raise GenplayError(f"option {sorted(opts)[0]!r} is not understood by {method} "
                           f"super-resolution (its options: {known})")


def _diffusion(model, consistency, n, seed, steps, opts):
    eta = float(opts.pop("eta", DEFAULT_ETA))
    label = opts.pop("class", None)
    guidance = float(opts.pop("guidance", 1.0))
    _unknown(opts, "diffusion", "eta, class, guidance")
    if not 0.0 <= eta <= 1.0:
        raise GenplayError(f"eta must be from 0 to 1, not {eta}")
    if guidance < 0:
        raise GenplayError(f"guidance must be at least 0, not {guidance}")
    if is_mixed(label):
        raise GenplayError("class mixed draws a class per sample; super-resolution restores "
                           "one picture: give one class, or none")
    try:
        model.class_labels(1, label)  # checked now, not at the first step
    except ValueError as error:
        raise GenplayError(str(error)) from None
    generators = [_candidate_generator(seed, k, model.device) for k in range(n)]
    events = restore_steps(model, consistency.project, generators, steps, eta, label, guidance,
                           message=f"{n} candidate{'s' if n > 1 else ''}, guided by the input")
    result = yield from relay(events)
    yield Result(consistency.finish(torch.from_numpy(result.value).to(model.device)).cpu())


def _latent(model, consistency, n, seed, scale, steps, opts):
    lr = float(opts.pop("lr", 0.05))
    project = bool(opts.pop("project", True))
    _unknown(opts, "latent-fitting", "lr, project")
    z = torch.cat([model.prior_sample(1, _candidate_generator(seed, k, model.device))
                   for k in range(n)])
    # The forward operator is the degradation itself, clamp included (a fit to the
    # unclamped shrink would pull towards the dark halo of bicubic ringing; see
    # Consistency.residual). strength 0: the tightest fit fit_latents offers (sigma 0.05
    # per low-res pixel).
    result = yield from relay(fit_latents(
        model, consistency.y.expand(n, -1, -1, -1), z, 0.0, steps, lr,
        forward=lambda image: downscale(image, scale),
        message="fitting latents to the low-resolution image"))
    images = torch.from_numpy(result.value).to(model.device)
    if project:
        images = consistency.finish(images)
    yield Result(images.cpu())
