"""The model contract in one place: every capability and optional hook an op or a panel may
use, and the rules that decide what a model is offered.

Three kinds of declaration:
- capabilities (CAPABILITIES): what a panel asks for (Sampler, Latent, Density, Conditional,
  Upscaler). Their names are what a checkpoint's list shows and what a panel's gate reads.
- hooks (HOOKS): optional extras an op uses when a model has them (step previews while
  sampling, a differentiable decoder, inpainting, per-pixel bits ...), each a small protocol.
- facts (Declarations): class attributes with defaults that every GenerativeModel inherits
  and a family overrides (``exact_inverse = True``), read through the functions below.

Ops and panels never probe a model with hasattr, getattr or inspect.signature: they call
the functions here (``sketch_method(model)``, ``inpaint_method(model)``, ``device_of(model)``
...). This is the only module that looks at a model's attributes, so a new family (or an
adapter for another library's models) appears everywhere it fits by implementing the
protocols below, and tests/core/test_contract.py holds every registered family to its
declarations.

This module imports no torch (its annotations are strings), so the window can ask the
same questions of capability names (``sketch_route``) without waiting for PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from genplay.core.events import Preview, Progress, Result
    from genplay.core.models.base import SampleOption

    Events = Iterator[Progress | Preview | Result]


# --- capabilities: what a panel asks for -----------------------------------------------------
@runtime_checkable
class Sampler(Protocol):
    def sample_options(self) -> list[SampleOption]: ...

    def sample(
        self, n: int, generator: torch.Generator | None = None, **opts: float
    ) -> torch.Tensor:
        """n images in [0, 1]; the same generator state gives the same images."""
        ...


@runtime_checkable
class Latent(Protocol):
    latent_shape: tuple[int, ...]

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...

    def encode_steps(self, x: torch.Tensor, **opts: Any) -> Iterator[tuple[int, int, torch.Tensor]]:
        """Yields (step, total, current z); the last yield is the final encoding.

        Exact encoders yield once; encoders by optimisation yield every step, so a
        caller can show progress and stop early.
        """
        ...


@runtime_checkable
class Density(Protocol):
    """A (log-)density of images. What kind of number log_prob is comes from the facts
    ``normalised``, ``importance_weighted`` and ``stochastic_log_prob`` (Declarations)."""

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image log-likelihood in nats (a bound for latent-variable models; up to an
        unknown constant for unnormalised models)."""
        ...


@runtime_checkable
class Conditional(Protocol):
    """Images from a guide (a sketch, a photo) by the model's own conditioning, named by
    condition_method: "sdedit" (noise the guide and denoise it; the model must also be a
    Denoising one), "sketch" (a model trained on sketch-image pairs draws from noise with
    the sketch as its condition; also Denoising) or "langevin" (Langevin dynamics from the
    guide; also Langevin)."""

    condition_method: str

    def condition(self, guide: torch.Tensor, strength: float, **opts: Any) -> torch.Tensor: ...

    def condition_steps(self, guide: torch.Tensor, strength: float,
                        generator: torch.Generator | None = None, **opts: Any) -> Events:
        """Progress, Previews, then Result(float32 (N, C, H, W) in [0, 1]); strength 0
        returns the guide, 1 ignores it ("sketch" models: strength does not apply).
        ``noise=`` replaces the starting noise of an "sdedit" or "sketch" model (ops.sketch
        runs deterministic candidates as one batch with it)."""
        ...


@runtime_checkable
class Upscaler(Protocol):
    """A super-resolution network: enlarges any image of its channel count by one of
    its scales (fully convolutional, so any height and width)."""

    scales: tuple[int, ...]

    def upscale(self, lowres: torch.Tensor, scale: int) -> torch.Tensor:
        """(N, C, h, w) in [0, 1] -> (N, C, h * scale, w * scale) in [0, 1]."""
        ...


CAPABILITIES: dict[str, type] = {
    "sampler": Sampler,
    "latent": Latent,
    "density": Density,
    "conditional": Conditional,
    "upscaler": Upscaler,
}


# --- hooks: optional extras, each used by the op named ---------------------------------------
@runtime_checkable
class StepSampler(Protocol):
    """ops.sampling: draws step by step, with Progress and Previews. partial_chunks: the
    model can draw all of a chunk's starting noise and finish only the first `keep`
    images of it (``sample_steps(n, generator, keep=k)``), so 8 samples cost 8."""

    partial_chunks: bool

    def sample_steps(self, n: int, generator: torch.Generator | None = None,
                     **opts: Any) -> Events: ...


@runtime_checkable
class ClassChoices(Protocol):
    """A class-conditional sampler: its sample_options() offer the class option
    (base.CLASS_OPTION: "mixed", "any" and these names) and "guidance", which applies
    with a class."""

    def class_choices(self) -> list[str]: ...


@runtime_checkable
class DifferentiableDecoder(Protocol):
    """ops.sketch and ops.guided_superres fit latents by gradient descent through this:
    decode without the final quantisation, differentiable in z."""

    def decode_continuous(self, z: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class PreviewDecoder(Protocol):
    """A Latent whose decode runs a sampler for latent_steps steps: ops.interpolation asks
    for a quicker, rougher image with fewer while a slider moves."""

    latent_steps: int

    def preview_decode(self, z: torch.Tensor, steps: int) -> torch.Tensor: ...


@runtime_checkable
class Inpainter(Protocol):
    """ops.sketch: fills the pixels where mask (H, W bool) is True by denoising; the other
    pixels come back exactly as given."""

    def inpaint_steps(self, image: torch.Tensor, mask: torch.Tensor,
                      generator: torch.Generator | None = None, **opts: Any) -> Events: ...


@runtime_checkable
class Completer(Protocol):
    """ops.sketch: autoregressive completion, drawing the pixels where mask is False in
    raster order; given pixels come back exactly as given."""

    def complete_steps(self, x: torch.Tensor, mask: torch.Tensor,
                       generator: torch.Generator | None = None, **opts: Any) -> Events: ...


@runtime_checkable
class PixelBits(Protocol):
    """ops.outliers: bits per pixel (N, H, W), and a one-line note on what they are
    (exact, a bound, an approximation) that the Outliers panel shows."""

    pixel_bits_note: str

    def pixel_nll(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Langevin(Protocol):
    """Langevin dynamics from given images (refinement), and the steps a guide gets by
    default (what the Sketch panel starts its steps box at)."""

    condition_default_steps: int

    def refine_steps(self, x: torch.Tensor, generator: torch.Generator | None = None,
                     **opts: Any) -> Events: ...

    def refine(self, x: torch.Tensor, generator: torch.Generator | None = None,
               **opts: Any) -> torch.Tensor: ...


@runtime_checkable
class NoiseSchedule(Protocol):
    """A diffusion noise schedule over T discrete timesteps: x_t = a_t x0 + s_t eps with
    a_t = sqrt(alpha_bar_t), s_t = sqrt(1 - alpha_bar_t); timestep -1 is the clean image.
    What the samplers and the bound of diffusion_pipeline read. diffusion_samplers has two:
    CosineSchedule (genplay's) and TabulatedSchedule (alpha_bar from a table or from betas,
    as another library's scheduler config gives them)."""

    timesteps: int
    alpha_bar: torch.Tensor  # (T,) float64, decreasing, on the CPU

    def ab(self, t: int | torch.Tensor) -> torch.Tensor:
        """alpha_bar at integer timesteps (float64); -1 gives 1."""
        ...

    def a_s(self, t: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def a_s_like(self, t: torch.Tensor, like: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def snr(self, t: int | torch.Tensor) -> torch.Tensor: ...

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor: ...

    def spaced(self, steps: int, start: int | None = None, spacing: str = "time") -> list[int]:
        """`steps` distinct timesteps from `start` (default T - 1) down to 0."""
        ...


@runtime_checkable
class Denoising(Protocol):
    """A diffusion model as the loops of models.diffusion_pipeline see it (the way diffusers
    separates a network, a scheduler and a pipeline): a noise schedule, a denoiser
    x_t, t -> (x0, eps) in [-1, 1] given class labels and a guidance scale, the labels for
    a class, the shape and device of its images, and the sampler and step count it uses by
    default (default_sampler: a name of sampler_names.SAMPLERS). Sampling with previews,
    SDEdit, inpainting, DDIM inversion, the bound and guided restoration all run on these
    members only, so a second implementation (another library's network and scheduler)
    gets every one of them by implementing this."""

    schedule: NoiseSchedule
    default_sampler: str
    default_steps: int
    image_shape: tuple[int, int, int]
    device: torch.device

    def denoiser(self, labels: torch.Tensor | None = None, guidance: float = 0.0,
                 clip: bool = True) -> Callable[[torch.Tensor, torch.Tensor],
                                                tuple[torch.Tensor, torch.Tensor]]:
        """x_t, t (N,) -> (x0, eps); with labels and guidance > 0, classifier-free guidance;
        clip: x0 clamped to [-1, 1] (eps recomputed to match)."""
        ...

    def class_labels(self, n: int, label: str | int | None,
                     generator: torch.Generator | None = None) -> torch.Tensor | None:
        """The labels the denoiser takes for n images of a class (None: unconditional;
        base.MIXED_CLASS: a class per image, drawn from generator)."""
        ...


@runtime_checkable
class KnownReach(Protocol):
    """An upscaler that says how far (in input pixels) its output pixels read: tiles get at
    least that much context, so they join without seams."""

    reach: int


HOOKS: dict[str, type] = {
    "step_sampler": StepSampler,
    "class_choices": ClassChoices,
    "differentiable_decoder": DifferentiableDecoder,
    "preview_decoder": PreviewDecoder,
    "inpainter": Inpainter,
    "completer": Completer,
    "pixel_bits": PixelBits,
    "langevin": Langevin,
    "denoising": Denoising,
    "known_reach": KnownReach,
}


# --- facts: class attributes with defaults ---------------------------------------------------
class Declarations:
    """Facts a family states about itself; GenerativeModel inherits these defaults.

    A model that is not a GenerativeModel (a test double, an adapter) gets the same
    defaults through ``fact``.
    """

    # StepSampler: sample_steps(n, keep=k) finishes only the first k of n.
    partial_chunks: ClassVar[bool] = False
    # Latent: decode(encode(x)) == x for 8-bit images, so a reconstruction error means nothing.
    exact_inverse: ClassVar[bool] = False
    # Density: log_prob is a normalised log-likelihood or a bound on one (False: an energy).
    normalised: ClassVar[bool] = True
    # Density: log_prob is an importance-weighted bound taking k samples (log_prob(x, k=...)).
    importance_weighted: ClassVar[bool] = False
    # Density: log_prob draws random numbers and takes generator= (so scores can be seeded).
    stochastic_log_prob: ClassVar[bool] = False


FACTS = ("partial_chunks", "exact_inverse", "normalised", "importance_weighted",
         "stochastic_log_prob")


def fact(model: object, name: str) -> bool:
    """A declared fact of a model (or model class), the Declarations default where unset."""
    if name not in FACTS:
        raise KeyError(f"{name!r} is not a declared fact (see Declarations)")
    return bool(getattr(model, name, getattr(Declarations, name)))


# --- asking: the functions ops and panels call -----------------------------------------------
def _members(protocol: type) -> list[str]:
    names = [m for m in protocol.__dict__ if not m.startswith("_")]
    return names + [m for m in protocol.__dict__.get("__annotations__", {}) if m not in names]


def _declares(model_or_class: object, member: str) -> bool:
    """Whether a model or model class has a member, or (a class) annotates it: an attribute
    set in __init__ (a diffusion model's schedule) is declared by its annotation."""
    if hasattr(model_or_class, member):
        return True
    cls = model_or_class if isinstance(model_or_class, type) else type(model_or_class)
    return any(member in vars(c).get("__annotations__", {}) for c in cls.__mro__)


def implements(model_or_class: object, protocol: type) -> bool:
    """Whether a model instance or class has every member of a protocol (isinstance does
    the same for instances; this also answers for classes, without building a model)."""
    return all(_declares(model_or_class, m) for m in _members(protocol))


def has_capability(model: object, capability: type) -> bool:
    return isinstance(model, capability)


def capabilities_of(model_or_class: object) -> list[str]:
    """Capability names of a model instance or class, in a fixed order."""
    return [name for name, proto in CAPABILITIES.items() if implements(model_or_class, proto)]


def hooks_of(model_or_class: object) -> list[str]:
    """Hook names of a model instance or class, in a fixed order."""
    return [name for name, proto in HOOKS.items() if implements(model_or_class, proto)]


def is_normalised(model: object) -> bool:
    """Whether log_prob is a normalised log-likelihood (or a bound on one), so that
    bits/dim mean something; False for unnormalised densities such as an energy-based
    model's -E(x), whose level is arbitrary (scored as an energy, never as bits/dim)."""
    return fact(model, "normalised")


def is_importance_weighted(model: object) -> bool:
    """Whether log_prob is an importance-weighted bound taking k samples (a VAE's IWAE),
    rather than an exact likelihood or a single-sample bound."""
    return isinstance(model, Density) and fact(model, "importance_weighted")


def log_prob_takes_generator(model: object) -> bool:
    """Whether log_prob takes generator= (its estimate draws random numbers)."""
    return isinstance(model, Density) and fact(model, "stochastic_log_prob")


def has_exact_inverse(model: object) -> bool:
    """Whether decode(encode(x)) == x, so reconstruction errors are always zero."""
    return isinstance(model, Latent) and fact(model, "exact_inverse")


def draws_partial_chunks(model: object) -> bool:
    """Whether sample_steps(n, keep=k) makes only the first k of n images."""
    return isinstance(model, StepSampler) and fact(model, "partial_chunks")


def device_of(model: object) -> torch.device:
    """The model's device: its ``device``, else its parameters', else the CPU (test doubles
    and adapters that declare neither live on the CPU)."""
    import torch

    device = getattr(model, "device", None)
    if device is not None:
        return torch.device(device)
    try:
        return next(model.parameters()).device  # type: ignore[attr-defined]
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def image_shape_of(model: object) -> tuple[int, int, int] | None:
    """(C, H, W) of the images the model makes or takes, or None where it declares none."""
    shape = getattr(model, "image_shape", None)
    return tuple(int(s) for s in shape) if shape else None  # type: ignore[return-value]


def reach_of(model: object) -> int:
    """How far an upscaler's output pixels read (0 where it does not say)."""
    return int(model.reach) if isinstance(model, KnownReach) else 0


def pixel_bits_note(model: object) -> str:
    """What a model's per-pixel bits are, in one line; "" where it gives none."""
    return model.pixel_bits_note if isinstance(model, PixelBits) else ""


def default_sampler(model: object) -> str:
    """The sampler a Denoising model uses unless told otherwise."""
    from genplay.core.models.sampler_names import DEFAULT_SAMPLER

    return model.default_sampler if isinstance(model, Denoising) else DEFAULT_SAMPLER


def sketch_route(capabilities: Collection[str]) -> str | None:
    """The one rule for images from a sketch, on capability names (what the Sketch panel's
    gate has before a model is loaded): "conditional" (the model's own conditioning),
    "latent" (latents fitted to the sketch through a differentiable decoder) or None.
    A Latent family that is not Conditional must be a DifferentiableDecoder
    (declaration_problems), so every family this offers can do it."""
    if "conditional" in capabilities:
        return "conditional"
    if "latent" in capabilities:
        return "latent"
    return None


def condition_method_of(model_or_class: object) -> str | None:
    """A Conditional model's (or class's) condition_method: "sdedit", "sketch" or
    "langevin"; None for a model that is not Conditional. Takes a class, so a checkpoint's
    list can say it without building the model."""
    if not implements(model_or_class, Conditional):
        return None
    return str(model_or_class.condition_method)  # type: ignore[attr-defined]


def sketch_method(model: object) -> str | None:
    """"sdedit", "sketch", "langevin" (a Conditional model's condition_method), "latent" or
    None (the model cannot turn sketches into images). The route is sketch_route's."""
    route = sketch_route(capabilities_of(model))
    if route == "conditional":
        return model.condition_method  # type: ignore[attr-defined]
    if route == "latent" and not isinstance(model, DifferentiableDecoder):
        return None  # never for a registered family: register() refuses such a family
    return route


def inpaint_method(model: object) -> str | None:
    """"diffusion" (denoising with the known pixels held), "autoregressive" (completion in
    raster order) or None."""
    if isinstance(model, Inpainter):
        return "diffusion"
    if isinstance(model, Completer):
        return "autoregressive"
    return None


def guided_method(model: object) -> str | None:
    """How a generative model guides super-resolution: "diffusion" (a Denoising model's
    restoration loop), "latent" (latents fitted through a differentiable decoder) or None."""
    if model is None:
        return None
    if isinstance(model, Denoising):
        return "diffusion"
    if isinstance(model, Latent) and isinstance(model, DifferentiableDecoder):
        return "latent"
    return None


def can_preview_decode(model: object, steps: int) -> bool:
    """Whether decoding with `steps` sampler steps would be quicker than a full decode."""
    return isinstance(model, PreviewDecoder) and int(model.latent_steps) > steps


CONDITION_METHODS = {"sdedit": Denoising, "sketch": Denoising, "langevin": Langevin}


def declaration_problems(cls: type) -> list[str]:
    """What a model class declares inconsistently (empty when all is well): checked when a
    family registers, so the rules above never offer a family something it cannot do."""
    problems = []
    for name in FACTS:
        if not isinstance(getattr(cls, name, getattr(Declarations, name)), bool):
            problems.append(f"{name} must be True or False")
    caps = capabilities_of(cls)
    if "conditional" in caps:
        method = getattr(cls, "condition_method", None)
        needs = CONDITION_METHODS.get(method) if isinstance(method, str) else None
        if needs is None:
            problems.append(f"condition_method must be one of {', '.join(CONDITION_METHODS)}, "
                            f"not {method!r}")
        elif not implements(cls, needs):
            problems.append(f"condition_method {method!r} needs the {needs.__name__} hook")
    if sketch_route(caps) == "latent" and not implements(cls, DifferentiableDecoder):
        problems.append("a Latent model that is not Conditional needs decode_continuous "
                        "(the Sketch panel offers it latent fitting)")
    if "density" not in caps:
        for name in ("importance_weighted", "stochastic_log_prob"):
            if fact(cls, name):
                problems.append(f"{name} is declared without a log_prob")
    if fact(cls, "partial_chunks") and not implements(cls, StepSampler):
        problems.append("partial_chunks is declared without sample_steps")
    return problems
