"""A diffusers ``UNet2DModel`` with its scheduler's noise schedule, as a genplay diffusion model.

A diffusers pipeline folder of the DDPM/DDIM kind (core/formats/diffusers_folder.py reads
it) is a network, ``UNet2DModel``, and a scheduler config: the betas of the training
schedule and what the network predicts (epsilon, v or the clean sample). Here the betas
become genplay's ``TabulatedSchedule`` (alpha_bar computed in float64 as diffusers defines
each beta schedule), the network becomes a denoiser through
``diffusion_pipeline.guided_denoiser``, and ``DenoisingModel`` gives it everything
genplay's own diffusion model has: its samplers (DDPM, DDIM, DPM-Solver++ and its SDE
form) with step previews, DDIM-inversion latents, SDEdit, inpainting and the variational
bound. The pipeline's own scheduler is not run: genplay's samplers take its place, on
the same integer timesteps of the training schedule that the network was trained on.

The diffusers library builds the network (an optional extra, imported only when a model
is built, so registering this family costs nothing). On CUDA the network runs under
autocast in bfloat16 (float16 where the GPU has no bfloat16), and its output comes back
as float32 for the samplers; elsewhere it runs in float32.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass
from typing import Any

import torch

from genplay.core.errors import GenplayError
from genplay.core.models import diffusion_pipeline as pipeline
from genplay.core.models.base import ModelConfig
from genplay.core.models.denoising_model import DenoisingModel
from genplay.core.models.families import register

NEEDS_DIFFUSERS = ("opening diffusers pipelines needs the diffusers library: "
                   "pip install 'genplay[diffusers]'")

# diffusers' beta_schedule names this adapter computes (scheduling_ddpm.py defines them).
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", "laplace")
# A scheduler's prediction_type -> genplay's name for it (diffusion_pipeline.PREDICTIONS).
PREDICTION_TYPES = {"epsilon": "eps", "v_prediction": "v", "sample": "sample"}
MAX_BETA = 0.999  # diffusers' cap on the betas of the cosine and laplace schedules


def _cosine_alpha_bar(t: float) -> float:
    """Nichol & Dhariwal's cosine schedule (diffusers' "squaredcos_cap_v2"), t in [0, 1]."""
    return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2


def _laplace_alpha_bar(t: float) -> float:
    """diffusers' "laplace" schedule (its log-SNR Laplace-distributed in t), t in [0, 1]."""
    lam = -0.5 * math.copysign(1, 0.5 - t) * math.log(1 - 2 * abs(0.5 - t) + 1e-6)
    snr = math.exp(lam)
    return math.sqrt(snr / (1 + snr))


def betas_of(timesteps: int, beta_schedule: str, beta_start: float, beta_end: float,
             trained_betas: list[float] | None = None) -> torch.Tensor:
    """The per-step noise variances of a diffusers scheduler config, in float64."""
    f64 = {"dtype": torch.float64, "device": "cpu"}
    if trained_betas is not None:
        return torch.tensor(trained_betas, **f64)
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, timesteps, **f64)
    if beta_schedule == "scaled_linear":  # latent diffusion's: linear in sqrt(beta)
        return torch.linspace(beta_start**0.5, beta_end**0.5, timesteps, **f64) ** 2
    if beta_schedule == "sigmoid":  # GeoDiff's
        return (torch.sigmoid(torch.linspace(-6, 6, timesteps, **f64)) * (beta_end - beta_start)
                + beta_start)
    if beta_schedule in ("squaredcos_cap_v2", "laplace"):
        fn = _cosine_alpha_bar if beta_schedule == "squaredcos_cap_v2" else _laplace_alpha_bar
        return torch.tensor([min(1 - fn((i + 1) / timesteps) / fn(i / timesteps), MAX_BETA)
                             for i in range(timesteps)], **f64)
    raise ValueError(f"beta_schedule {beta_schedule!r} is not supported "
                     f"(genplay knows {', '.join(BETA_SCHEDULES)} and trained_betas)")


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{what} is not valid JSON ({exc})") from None


@dataclass(frozen=True)
class DiffusersConfig(ModelConfig):
    """What genplay reads from a diffusers pipeline folder (formats/diffusers_folder.py).

    ``unet`` is unet/config.json (without its "_" keys) as JSON text, so the frozen config
    stays hashable; the schedule fields are the scheduler config's. ``num_classes`` is the
    network's class embeddings (num_class_embeds, 0 for none) and ``null_class`` the one
    that means "no class" (-1: none): a model genplay exported has its "no class" last,
    so it draws num_classes - 1 classes and has classifier-free guidance; a model without
    one always draws a class."""

    BOUNDS = ModelConfig.BOUNDS | {
        "image_size": (8, 1024), "timesteps": (2, 100_000), "num_classes": (0, 100_000),
        "null_class": (-1, 99_999), "beta_start": (0.0, 1.0), "beta_end": (0.0, 1.0)}

    channels: int = 3
    image_size: int = 32
    unet: str = "{}"  # unet/config.json as JSON text
    timesteps: int = 1000  # num_train_timesteps
    beta_schedule: str = "linear"
    beta_start: float = 0.0001
    beta_end: float = 0.02
    trained_betas: str = ""  # a JSON list of betas, overriding the three fields above
    prediction: str = "eps"  # "eps", "v" or "sample"
    num_classes: int = 0
    null_class: int = -1

    def __post_init__(self) -> None:
        # Not ModelConfig's: a diffusers UNet may have any square size 8..1024 (BOUNDS).
        self._check_types_and_bounds()
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if self.prediction not in pipeline.PREDICTIONS:
            raise ValueError(f"prediction must be one of {', '.join(pipeline.PREDICTIONS)}, "
                             f"not {self.prediction!r}")
        if self.null_class >= 0 and self.null_class != self.num_classes - 1:
            raise ValueError(f"null_class must be the last class ({self.num_classes - 1}) "
                             f"or -1, not {self.null_class}")
        unet = self.unet_config()
        widths = unet.get("block_out_channels", [0] * 4)
        if not isinstance(widths, list) or not widths:
            raise ValueError("the UNet's block_out_channels must be a list of widths")
        factor = 2 ** (len(widths) - 1)  # every block but the last halves the size
        if self.image_size % factor:
            raise ValueError(f"image_size {self.image_size} is not a multiple of {factor}, "
                             f"which the UNet's {len(widths)} levels need")
        if unet.get("in_channels", 3) != self.channels:
            raise ValueError(f"the UNet takes {unet.get('in_channels', 3)} channels, "
                             f"not {self.channels}")
        if unet.get("out_channels", 3) not in (self.channels, 2 * self.channels):
            raise ValueError(f"the UNet makes {unet.get('out_channels', 3)} channels: neither "
                             f"its {self.channels} image channels nor twice that")
        if (unet.get("num_class_embeds") or 0) != self.num_classes:
            raise ValueError(f"num_classes {self.num_classes} disagrees with the UNet's "
                             f"num_class_embeds {unet.get('num_class_embeds')}")
        self.alpha_bar()  # the schedule must be a valid one (ValueError otherwise)

    def unet_config(self) -> dict[str, Any]:
        unet = _parse_json(self.unet, "unet")
        if not isinstance(unet, dict):
            raise ValueError("unet must be a JSON object (unet/config.json)")
        return unet

    def betas(self) -> torch.Tensor:
        trained = None
        if self.trained_betas:
            trained = _parse_json(self.trained_betas, "trained_betas")
            if not (isinstance(trained, list) and all(
                    isinstance(b, int | float) and not isinstance(b, bool) for b in trained)):
                raise ValueError("trained_betas must be a list of numbers")
            if len(trained) != self.timesteps:
                raise ValueError(f"trained_betas has {len(trained)} betas for "
                                 f"{self.timesteps} timesteps")
        return betas_of(self.timesteps, self.beta_schedule, self.beta_start, self.beta_end,
                        trained)

    def alpha_bar(self) -> torch.Tensor:
        """alpha_bar_t = prod (1 - beta), t = 0 .. T-1, float64; ValueError unless it
        decreases strictly inside (0, 1) (what genplay's samplers need)."""
        betas = self.betas()
        if not (torch.all(betas > 0) and torch.all(betas < 1)):
            raise ValueError("every beta of the schedule must be above 0 and below 1")
        return pipeline.TabulatedSchedule.from_betas(betas).alpha_bar


def _unet_class() -> Any:
    try:
        from diffusers import UNet2DModel
    except ImportError:
        raise GenplayError(NEEDS_DIFFUSERS) from None
    return UNet2DModel


def half_precision(device: torch.device) -> torch.dtype | None:
    """The autocast type the network runs in on a device: bfloat16 on a GPU that computes
    in it (CUDA compute capability 8 and later, ROCm), float16 on older CUDA GPUs (where
    bfloat16 is only emulated, slowly); None (float32) anywhere else. bfloat16 cannot
    overflow where float16 can; on a test UNet its 20-step samples were within 0.007 of
    float32's (float16: 0.0009), on the [0, 1] scale."""
    if device.type != "cuda":
        return None
    if torch.version.hip:
        return torch.bfloat16
    major, _minor = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


@register("diffusers", DiffusersConfig, foreign=True)
class DiffusersUNet(DenoisingModel):
    """A diffusers UNet2DModel and its training schedule; see the module docstring."""

    config: DiffusersConfig

    def __init__(self, config: DiffusersConfig) -> None:
        super().__init__(config)
        unet_cls = _unet_class()
        unet = config.unet_config()
        # Keys an older or newer diffusers wrote that this one does not take are left out
        # (diffusers itself ignores them, with a warning per model).
        known = set(inspect.signature(unet_cls.__init__).parameters) - {"self"}
        self.net = unet_cls.from_config({k: v for k, v in unet.items() if k in known})
        self.schedule = pipeline.TabulatedSchedule(config.alpha_bar())

    @property
    def num_classes(self) -> int:
        """The classes it draws: its class embeddings, less the "no class" one."""
        return self.config.num_classes - (1 if self.config.null_class >= 0 else 0)

    @property
    def null_class(self) -> int | None:
        return self.config.null_class if self.config.null_class >= 0 else None

    def network(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None) -> torch.Tensor:
        """The UNet's prediction for images x at integer timesteps t, float32. A UNet with
        twice the image's channels (a learned variance) gives its first half. Without
        labels a class-conditional UNet gets its "no class" label, or where it has none
        its first class (as class_labels draws where no class is chosen)."""
        if labels is None and self.config.num_classes:
            null = self.null_class
            labels = torch.full((x.shape[0],), 0 if null is None else null, dtype=torch.long,
                                device=x.device)
        dtype = half_precision(x.device)
        if dtype is None:
            out = self.net(x, t, class_labels=labels).sample
        else:
            with torch.autocast(device_type=x.device.type, dtype=dtype):
                out = self.net(x, t, class_labels=labels).sample
        return out[:, : self.config.channels].float()

    def denoiser(self, labels: torch.Tensor | None = None, guidance: float = 0.0,
                 clip: bool = True) -> pipeline.Denoiser:
        """x_t, t -> (x0, eps) in [-1, 1]; classifier-free guidance only where the network
        has a "no class" label (see pipeline.guided_denoiser)."""
        null = self.null_class
        return pipeline.guided_denoiser(self.network, self.schedule, self.config.prediction,
                                        labels, guidance if null is not None else 0.0,
                                        null if null is not None else 0, clip)
