"""What every diffusion model in genplay is, whatever its network: ``DenoisingModel``.

A subclass gives a network's denoiser (``denoiser(labels, guidance, clip)``, usually one
call of ``diffusion_pipeline.guided_denoiser``), its noise ``schedule``, and how many
classes it knows and whether one of its labels means "no class". Everything a panel asks
of a diffusion model (sampling with step previews, DDIM-inversion latents, SDEdit
sketches, inpainting, the variational bound) is then here, each member one call of the
pipeline (models/diffusion_pipeline.py), so genplay's own U-Net (models/diffusion.py)
and a diffusers UNet2DModel (models/diffusers_unet.py) serve the same panels the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from genplay.core.events import Preview, Progress, Result, final_value
from genplay.core.models import diffusion_pipeline as pipeline
from genplay.core.models.base import (
    ANY_CLASS,
    CLASS_OPTION,
    MIXED_CLASS,
    GenerativeModel,
    SampleOption,
    When,
    is_mixed,
    resolve_class,
)
from genplay.core.models.diffusion_samplers import FEW_STEPS
from genplay.core.models.sampler_names import DEFAULT_SAMPLER, GRIDS

PREVIEW_SAMPLER = "unipc"  # the slider previews' solver (preview_decode)

Events = Iterator[Progress | Preview | Result]


class DenoisingModel(GenerativeModel):
    """The Denoising protocol's loops as a model's capabilities; see the module docstring.

    Subclasses set ``schedule`` and implement ``denoiser``, ``num_classes`` and
    ``null_class`` (the label meaning "no class", the unconditional half of
    classifier-free guidance; None where the network has none, and then a class is always
    drawn and there is no guidance)."""

    schedule: pipeline.TabulatedSchedule  # set in __init__; declared for the Denoising hook

    @property
    def num_classes(self) -> int:
        return 0

    @property
    def null_class(self) -> int | None:
        return None

    def denoiser(self, labels: torch.Tensor | None = None, guidance: float = 0.0,
                 clip: bool = True) -> pipeline.Denoiser:
        raise NotImplementedError

    # --- classes ----------------------------------------------------------------------------
    def class_choices(self) -> list[str]:
        """Class names, from the checkpoint where it has them, else "0", "1", ..."""
        names = self.class_names
        if names and len(names) == self.num_classes:
            return list(names)
        return [str(i) for i in range(self.num_classes)]

    def class_labels(self, n: int, label: str | int | None,
                     generator: torch.Generator | None = None) -> torch.Tensor | None:
        """The class index for every image, or None for "no class" (unconditional); a
        label no class matches raises ValueError (see base.resolve_class). A network with
        classes but no "no class" label draws its first class where none is chosen.
        MIXED_CLASS: each image a class of its own, drawn from generator, all equally
        likely (n draws whatever the caller keeps, so a chunk's first images keep theirs)."""
        if not self.num_classes:
            return None
        names = self.class_choices()
        if is_mixed(label):
            return torch.randint(len(names), (n,), generator=generator, device=self.device)
        name = resolve_class(label, names)  # an index or a name in any case; ValueError
        if name is None:
            if self.null_class is not None:
                return None
            name = names[0]
        return torch.full((n,), names.index(name), dtype=torch.long, device=self.device)

    # --- Sampler ------------------------------------------------------------------------------
    default_sampler = DEFAULT_SAMPLER
    default_steps = 20

    def sample_options(self) -> list[SampleOption]:
        options = [
            SampleOption("sampler", self.default_sampler, 0, 0,
                         "ddpm: ancestral, needs many steps; ddim: deterministic at eta 0; "
                         "dpmpp: DPM-Solver++(2M), good images in 10-20 steps; dpmpp-sde: "
                         "its stochastic form, more realistic in 20 steps, new noise at "
                         "every step; unipc (the default): UniPC, a predictor-corrector, the "
                         "best deterministic one at 5-20 steps",
                         choices=pipeline.SAMPLERS),
            SampleOption("steps", self.default_steps, 1, self.schedule.timesteps,
                         "network evaluations per image (doubled with guidance)", integer=True),
            SampleOption("grid", "auto", 0, 0,
                         "where the steps fall between noise and image: auto, each sampler's "
                         f"best at that step count (trailing below {FEW_STEPS} steps); "
                         "trailing, even "
                         "in time from pure noise, the last a step above clean; logsnr, even "
                         "in log signal-to-noise; time, even in time down to clean",
                         choices=GRIDS),
            SampleOption("eta", 0.0, 0.0, 1.0, "DDIM only: 0 deterministic, 1 as noisy as DDPM",
                         when=When("sampler", "ddim")),
            SampleOption("temperature", 1.0, 0.5, 1.5,
                         "scales the starting noise: below 1 gives smoother, plainer images"),
        ]
        if self.num_classes and self.null_class is not None:
            options += [
                SampleOption(CLASS_OPTION, MIXED_CLASS, 0, 0,
                             "the class to draw; mixed: each image a class of its own, at "
                             "random, all equally likely; any: no class (unconditional, "
                             "the model's own mix, unguided)",
                             choices=(MIXED_CLASS, ANY_CLASS, *self.class_choices())),
                SampleOption("guidance", 1.0, 0.0, 10.0,
                             "classifier-free guidance with a class: 0 is the plain "
                             "conditional model, higher follows the class harder, less varied",
                             when=When(CLASS_OPTION, ANY_CLASS, equal=False)),
            ]
        elif self.num_classes:  # no "no class" label: always a class, no guidance
            options.append(SampleOption(CLASS_OPTION, MIXED_CLASS, 0, 0,
                                        "the class to draw; mixed: each image a class of "
                                        "its own, at random (this model has no "
                                        "unconditional mode)",
                                        choices=(MIXED_CLASS, *self.class_choices())))
        return options

    # sample_steps(n, keep=k) draws the starting noise of n images and makes the first k:
    # with a deterministic sampler they are the first k of the n. Stochastic samplers
    # (ddpm, ddim with eta > 0) draw their later noise for the k only.
    partial_chunks = True

    def sample_steps(self, n: int, generator: torch.Generator | None = None,
                     keep: int | None = None, **opts: Any) -> Events:
        return pipeline.sample_steps(self, n, generator, keep, **opts)

    def sample(self, n: int, generator: torch.Generator | None = None,
               **opts: Any) -> torch.Tensor:
        return torch.from_numpy(final_value(self.sample_steps(n, generator, **opts)))

    def preview(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        return self.sample(n, generator, steps=10)

    # --- Latent: deterministic DDIM --------------------------------------------------------------
    latent_steps = 25  # DDIM steps for decode and for inversion

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.image_shape

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return pipeline.noise(self, n, generator)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The image DDIM (eta 0, unconditional) makes from noise z: a deterministic map."""
        return pipeline.decode(self, z, self.latent_steps)

    def preview_decode(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        """decode()'s image in `steps` steps of PREVIEW_SAMPLER, which solves the same ODE:
        quicker, rougher. UniPC in 5 steps is nearer the 25-step DDIM image than DDIM in
        6 (RMS 0.081 against 0.098 on MNIST, 0.124 against 0.143 on Fashion-MNIST); the
        slider previews run 3 to 8, as many as the machine runs within the slider's
        budget (ops.sliders.preview_steps; benchmarks/preview_quality.py measures what
        each count costs)."""
        return pipeline.decode(self, z, steps, PREVIEW_SAMPLER)

    def encode_steps(self, x: torch.Tensor, **opts: Any) -> Iterator[tuple[int, int, torch.Tensor]]:
        """DDIM inversion: the noise that decode() turns (nearly) back into x."""
        return pipeline.encode_steps(self, x, int(opts.get("steps", self.latent_steps)))

    # --- Conditional: SDEdit and inpainting -----------------------------------------------------
    condition_method = "sdedit"  # how ops.sketch names what condition_steps does

    def condition_steps(self, guide: torch.Tensor, strength: float,
                        generator: torch.Generator | None = None,
                        noise: torch.Tensor | None = None, **opts: Any) -> Events:
        """SDEdit: see pipeline.condition_steps."""
        return pipeline.condition_steps(self, guide, strength, generator, noise, **opts)

    def condition(self, guide: torch.Tensor, strength: float, **opts: Any) -> torch.Tensor:
        return torch.from_numpy(final_value(self.condition_steps(guide, strength, **opts)))

    def inpaint_steps(self, image: torch.Tensor, mask: torch.Tensor,
                      generator: torch.Generator | None = None, **opts: Any) -> Events:
        """Fills the pixels where mask is True: see pipeline.inpaint_steps."""
        return pipeline.inpaint_steps(self, image, mask, generator, **opts)

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, **opts: Any) -> torch.Tensor:
        return torch.from_numpy(final_value(self.inpaint_steps(image, mask, **opts)))

    # --- Density: the variational bound --------------------------------------------------------
    bound_terms = 12  # stratified timesteps per image for the diffusion part of the bound

    pixel_bits_note = ("an upper bound: the variational bound of the diffusion model "
                       "(Kingma et al. 2021, discrete time), per pixel, estimated at "
                       f"{bound_terms} stratified timesteps with fixed noise")

    def bound_pixels(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """-log P(x) bound terms per sub-pixel in nats (N, C, H, W); see diffusion_bound."""
        return pipeline.bound_pixels(self, x, k or self.bound_terms)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """A lower bound on log P(x) of 8-bit images, in nats, shape (N,)."""
        return -self.bound_pixels(x).sum(dim=(1, 2, 3))

    def pixel_nll(self, x: torch.Tensor) -> torch.Tensor:
        """Bound bits per pixel (N, H, W); they sum to the image's bound."""
        return self.bound_pixels(x).sum(dim=1) / math.log(2)
