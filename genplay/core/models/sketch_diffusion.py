"""A diffusion model that learns p(image | sketch): the drawing becomes what was drawn.

SDEdit and latent fitting follow a sketch without having learnt what sketches mean: the
outline of a shirt on black looks like a sandal to a model that only ever saw clothes, so
SDEdit drifts to sandals. This family learns the mapping instead, as pix2pix and SR3 do:
the sketch is concatenated to the U-Net's input (``sketch_channels`` more input
channels), and training pairs are made on the fly by drawing a sketch of each training
image in a style picked at random (core/sketches.py: edges, outlines, strokes,
silhouettes ..., with a shaky hand, breaks and missing parts). One style is held out of
training so a benchmark can measure the model on drawings unlike any it saw.

The sketch is replaced by zeros for ``sketch_dropout`` of the training images (the
sketch enters on the [-1, 1] scale, so an empty canvas, all -1, is not "no sketch"). The
network so also knows p(image), and a sketch guidance w trades faithfulness for realism
at sampling time as classifier-free guidance does for classes:
    e = e(no sketch) + w (e(sketch) - e(no sketch)),
w = 0 the model without the sketch, 1 the plain conditional model, above 1 following the
lines harder. Class guidance applies on top (a class and a sketch: up to 4 network
evaluations per step).

Training starts from a shipped unconditional diffusion model (``genplay train
sketch-diffusion --init checkpoints/diffusion-fashion-mnist``): every weight is copied and
the sketch's input channels start at zero, so the untrained model is the unconditional
one and training only has to learn what sketches add.

As a Conditional model its ``condition_method`` is "sketch": ``condition_steps(sketch,
strength, ...)`` draws from noise with the sketch as the condition (strength, SDEdit's
noise level, does not apply); the option ``sketch_guidance`` sets w.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from genplay.core import sketches
from genplay.core.events import Preview, Progress, Result
from genplay.core.models import diffusion_pipeline as pipeline
from genplay.core.models.diffusion import Diffusion, DiffusionConfig
from genplay.core.models.families import register

# What the Sketch panel, `genplay sketch` and eval use: a sketch narrows the images so
# much that half a sampling run's steps do as well (benchmarks/results/sketch-quality-*),
# and 4 candidates at 28x28 come back within a second on one core (sketch guidance
# doubles a step's cost).
DEFAULT_SKETCH_GUIDANCE = 2.0
DEFAULT_SKETCH_STEPS = 10


@dataclass(frozen=True)
class SketchDiffusionConfig(DiffusionConfig):
    BOUNDS = DiffusionConfig.BOUNDS | {"sketch_channels": (1, 8),
                                       "sketch_dropout": (0.0, 1.0)}
    sketch_channels: int = 1  # the drawing's lines (5: colour hints, RGB and a mask, too)
    sketch_dropout: float = 0.1  # training images seen without their sketch
    # The drawing styles of training (core/sketches.py), comma-separated, a name repeated
    # to draw it more often; "" for sketches.TRAIN_STYLES (digits: more strokes, say).
    sketch_styles: str = ""
    lr: float = 2e-4  # training starts from a trained model (--init): a gentler rate

    def __post_init__(self) -> None:
        super().__post_init__()  # BOUNDS hold sketch_channels and sketch_dropout
        unknown = [s for s in self.styles() if s not in sketches.STYLES]
        if unknown:
            raise ValueError(f"unknown sketch style {unknown[0]!r}; known: "
                             f"{', '.join(sketches.STYLES)}")

    @property
    def condition_channels(self) -> int:
        return self.sketch_channels

    def styles(self) -> tuple[str, ...]:
        names = tuple(s.strip() for s in self.sketch_styles.split(",") if s.strip())
        return names or sketches.TRAIN_STYLES


class _WithSketch:
    """A SketchDiffusion with one sketch (and a sketch guidance) fixed: the Denoising
    protocol of diffusion_pipeline, so its samplers draw images that follow the sketch."""

    def __init__(self, model: SketchDiffusion, sketch: torch.Tensor, guidance: float) -> None:
        self.model = model
        self.sketch = sketch  # (N, S, H, W) on the [-1, 1] scale
        self.sketch_guidance = guidance
        self.schedule = model.schedule
        self.default_sampler = model.default_sampler
        self.default_steps = model.default_steps
        self.image_shape = model.image_shape
        self.device = model.device

    def class_labels(self, n: int, label: str | int | None,
                     generator: torch.Generator | None = None) -> torch.Tensor | None:
        return self.model.class_labels(n, label, generator)

    def network(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None) -> torch.Tensor:
        net, w = self.model.net, self.sketch_guidance
        sketch = self.sketch.repeat(x.shape[0] // self.sketch.shape[0], 1, 1, 1)
        if w == 1.0:
            return net(x, t, labels, sketch)
        if labels is not None:
            labels = torch.cat([labels, labels])
        both = net(torch.cat([x, x]), torch.cat([t, t]), labels,
                   torch.cat([sketch, torch.zeros_like(sketch)]))
        followed, free = both.chunk(2)
        return free + w * (followed - free)

    def denoiser(self, labels: torch.Tensor | None = None, guidance: float = 0.0,
                 clip: bool = True) -> pipeline.Denoiser:
        return pipeline.guided_denoiser(self.network, self.schedule,
                                        self.model.config.prediction, labels, guidance,
                                        self.model.null_class, clip)


@register("sketch-diffusion", SketchDiffusionConfig)
class SketchDiffusion(Diffusion):
    condition_method = "sketch"  # how ops.sketch names what condition_steps does
    default_sketch_guidance = DEFAULT_SKETCH_GUIDANCE
    condition_default_steps = DEFAULT_SKETCH_STEPS  # a sketch's steps (sampling: default_steps)

    # --- the sketch as the network sees it ------------------------------------------------
    def sketch_input(self, drawing: torch.Tensor) -> torch.Tensor:
        """A drawing (N, C, H, W) in [0, 1], light lines on dark, as the network's
        condition: its lines (the brightest channel, coloured strokes too) on the [-1, 1]
        scale; for a model with colour hints (sketch_channels 5), the hints follow as
        sketches.drawing_hints reads them from the coloured strokes (in training's
        convention: blobs of colour inside the shapes, off the lines); zero for a grey
        drawing."""
        lines = drawing.amax(dim=1, keepdim=True)
        extra = self.config.sketch_channels - 1
        parts = [lines * 2 - 1]
        if extra == 4 and drawing.shape[1] == 3:
            parts.append(sketches.drawing_hints(drawing))
        elif extra:
            parts.append(drawing.new_zeros((drawing.shape[0], extra, *drawing.shape[2:])))
        return torch.cat(parts, dim=1)

    def condition_for_training(self, x: torch.Tensor,
                               generator: torch.Generator | None) -> torch.Tensor:
        """A sketch of each training image in a random training style; zeros ("no
        sketch") for sketch_dropout of them."""
        # The extractors' many small steps run on the CPU, whatever device trains, from a
        # CPU generator (seeded from the one given, where that is another device's).
        if generator is not None and generator.device.type != "cpu":
            seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
            generator = torch.Generator().manual_seed(seed)
        images = x.cpu()
        drawn = sketches.random_sketches(images, generator, styles=self.config.styles())
        condition = self.sketch_input(drawn)
        if self.config.sketch_channels > 1:  # colour hints beside the lines (and their mask)
            hints = sketches.colour_hints(images, drawn, generator, mask=True)
            condition = torch.cat([condition[:, :1], hints], dim=1)
            if condition.shape[1] != self.config.sketch_channels:
                raise ValueError(f"sketch_channels is {self.config.sketch_channels}, but the "
                                 f"lines and colour hints make {condition.shape[1]}")
        condition = condition.to(x.device)
        keep = torch.rand(x.shape[0], generator=generator).to(x.device)
        keep = (keep >= self.config.sketch_dropout).float().view(-1, 1, 1, 1)
        return condition * keep

    # --- Conditional: images that follow a sketch ----------------------------------------------
    def condition_steps(self, guide: torch.Tensor, strength: float,
                        generator: torch.Generator | None = None,
                        noise: torch.Tensor | None = None,
                        **opts: Any) -> Iterator[Progress | Preview | Result]:
        """Images drawn from noise with the sketch `guide` (N, C, H, W in [0, 1]) as the
        condition (strength does not apply: the sketch is not noised). opts: sampler,
        steps (default condition_default_steps), eta, temperature, class, guidance, and
        sketch_guidance (default default_sketch_guidance)."""
        opts = dict(opts)
        w = float(opts.pop("sketch_guidance", self.default_sketch_guidance))
        if not 0.0 <= w <= 20.0:
            raise ValueError(f"sketch_guidance must be from 0 to 20, not {w}")
        guide = guide.to(self.device, torch.float32)
        bound = _WithSketch(self, self.sketch_input(guide), w)
        if noise is None:
            noise = pipeline.noise(self, guide.shape[0], generator)
        z = noise.to(self.device, torch.float32) * float(opts.get("temperature", 1.0))
        sampler = str(opts.get("sampler", self.default_sampler))
        steps = int(opts.get("steps", self.condition_default_steps))
        timesteps = pipeline.timesteps_for(sampler, self.schedule, steps)
        return pipeline.denoise_steps(bound, z, timesteps, sampler, opts, generator)
