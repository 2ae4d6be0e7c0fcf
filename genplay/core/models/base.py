"""The common interface of every genplay model: the config, the base class, sampler options.

A model is an ``nn.Module`` built from a frozen config dataclass. Panels and
commands never ask "is this a VAE?"; they ask whether the model has a
capability (``has_capability(model, Latent)``) or a hook, all declared in
``capabilities.py`` (re-exported here), so a new family only has to implement
those protocols to appear everywhere it fits.

Images crossing this interface are float tensors in [0, 1], shape (N, C, H, W).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from genplay.core.models.capabilities import Declarations, Latent, Sampler

__all__ = [
    "ANY_CLASS", "CLASS_OPTION", "MIXED_CLASS", "GenerativeModel", "ModelConfig",
    "SampleOption", "When", "bits_per_dim", "encode", "is_mixed", "resolve_class",
]


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class ModelConfig:
    """Fields every family's config has; families subclass and add their own.

    BOUNDS is the one place a family says what its config may ask for: the inclusive
    (lowest, highest) of each number field, checked with the fields' types before anything
    is built, so a config.json written by hand or damaged can neither crash nor allocate
    without limit. A family extends it (``BOUNDS = ModelConfig.BOUNDS | {...}``, no
    annotation, so it stays a class attribute); every int field must have bounds, a float
    field without them need only be finite. Checks that tie fields together (a width that
    attention heads must divide) are in the family's __post_init__.
    """

    BOUNDS: ClassVar[Mapping[str, tuple[float, float]]] = {
        "channels": (1, 3), "image_size": (8, 64), "batch_size": (1, 65_536),
        "lr": (0.0, 10.0), "ema_decay": (0.0, 1.0),
    }

    channels: int = 1
    image_size: int = 28
    lr: float = 2e-4
    batch_size: int = 64
    ema_decay: float = 0.0  # 0 disables the EMA copy kept by the training loop
    cosine_lr: bool = False  # decay the learning rate to 5% along a cosine over an epoch budget

    def __post_init__(self) -> None:
        self._check_types_and_bounds()
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if self.image_size not in (8, 16, 28, 32, 64):
            raise ValueError(f"image_size must be 8, 16, 28, 32 or 64, not {self.image_size}")

    def _check_types_and_bounds(self) -> None:
        """Every field of the type its annotation says (a whole number is not a bool, a
        float or a string), floats finite, numbers within BOUNDS."""
        bounds = type(self).BOUNDS
        for f in dataclasses.fields(self):
            value, kind = getattr(self, f.name), str(f.type)
            if kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{f.name} must be a whole number, not {value!r}")
                if f.name not in bounds:  # a family's mistake, found by the tests
                    raise TypeError(f"{type(self).__name__}.BOUNDS lacks {f.name}")
            elif kind == "float":
                if isinstance(value, bool) or not isinstance(value, int | float) or (
                        not math.isfinite(value)):
                    raise ValueError(f"{f.name} must be a finite number, not {value!r}")
            elif kind == "bool" and not isinstance(value, bool):
                raise ValueError(f"{f.name} must be true or false, not {value!r}")
            elif kind == "str" and not isinstance(value, str):
                raise ValueError(f"{f.name} must be a string, not {value!r}")
            if kind in ("int", "float") and f.name in bounds:
                low, high = bounds[f.name]
                if not low <= value <= high:
                    raise ValueError(f"{f.name} must be from {_number(low)} to "
                                     f"{_number(high)}, not {_number(value)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def upgrade(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """A saved config's fields as this version reads them: a family that adds a field
        whose default differs from what older checkpoints were built with fills in the old
        value here (checkpoints.read_info calls it on every config.json)."""
        return dict(values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config fields for {cls.__name__}: {', '.join(unknown)}")
        return cls(**values)


@dataclass(frozen=True)
class When:
    """When a sampler option matters: while another option has a value (equal=True) or has
    any other value (equal=False). ``When("sampler", "ddim")``: eta is DDIM's;
    ``When(CLASS_OPTION, ANY_CLASS, equal=False)``: guidance needs a class."""

    option: str
    value: str
    equal: bool = True

    def holds(self, values: Mapping[str, Any]) -> bool:
        """values: the options as a panel or the command line has them (any type: a
        spin box's number, a combo box's text), compared as text."""
        return (str(values.get(self.option)) == self.value) == self.equal


@dataclass(frozen=True)
class SampleOption:
    """An option a sampler accepts, described so a panel or the CLI can offer it."""

    name: str
    default: float | str
    minimum: float
    maximum: float
    help: str
    choices: tuple[str, ...] = ()  # a choice among names (minimum, maximum unused)
    integer: bool = False  # a whole number (e.g. a number of steps)
    # When the option matters (None: always), so a panel can grey it out otherwise.
    when: When | None = None

    def applies(self, values: Mapping[str, Any]) -> bool:
        return self.when is None or self.when.holds(values)

    def choose(self, raw: Any) -> str:
        """The choice a user means by raw (a choice option only), else ValueError.

        Choices match exactly, except the class option's, which go through
        resolve_class: an index or a name in any case ("any" for no class)."""
        if self.name == CLASS_OPTION:
            if MIXED_CLASS in self.choices and is_mixed(raw):
                return MIXED_CLASS
            names = [c for c in self.choices if c not in (ANY_CLASS, MIXED_CLASS)]
            also = (MIXED_CLASS,) if MIXED_CLASS in self.choices else ()
            return resolve_class(raw, names, also) or ANY_CLASS
        if str(raw) not in self.choices:
            raise ValueError(f"{self.name} must be one of: {', '.join(self.choices)} "
                             f"(not {raw!r})")
        return str(raw)


CLASS_OPTION = "class"  # the sampler option that names a class to draw
ANY_CLASS = "any"  # its value for no class (unconditional)
# its value for a class of its own for each image, drawn at random, all equally likely
MIXED_CLASS = "mixed"


def is_mixed(value: Any) -> bool:
    """Whether a class value asks for MIXED_CLASS (in any case, as class names are)."""
    return isinstance(value, str) and value.strip().casefold() == MIXED_CLASS


def resolve_class(value: Any, names: Sequence[str], also: Sequence[str] = ()) -> str | None:
    """The canonical class name a user means by value, or None for no class.

    value is a class name in any case ("ankle boot" is "Ankle boot"), an index
    0..N-1 (an int or a string of digits: Fashion-MNIST's "3" is "Dress"; MNIST's names
    are "0".."9", so there name and index agree), or None, "" or "any" for no class.
    Every path that takes a class (sampler options, a model's labels) goes through here,
    so the app's canonical names and the command line's looser spellings meet. Anything
    else raises ValueError with a one-line message naming the valid classes (and the
    words in also that the caller accepts besides, such as MIXED_CLASS).
    """
    if value is None or isinstance(value, str) and value.strip().casefold() in ("", ANY_CLASS):
        return None
    names = [str(n) for n in names]
    if isinstance(value, str):
        text = value.strip()
        if text in names:
            return text
        folded = [n.casefold() for n in names]
        if text.casefold() in folded:
            return names[folded.index(text.casefold())]
        index = int(text) if text.isascii() and text.isdigit() else None
    elif (isinstance(value, numbers.Integral) and not isinstance(value, bool)
          or isinstance(value, float) and value.is_integer()):  # 3 or 3.0 (from JSON)
        index = int(value)
    else:
        index = None
    if index is not None and 0 <= index < len(names):
        return names[index]
    if not names:
        raise ValueError(f"unknown class {value!r}: this model draws no classes "
                         f"(only {ANY_CLASS})")
    raise ValueError(f"unknown class {value!r}: class must be one of: "
                     f"{', '.join((*also, ANY_CLASS, *names))}, or an index "
                     f"0..{len(names) - 1}")


class GenerativeModel(nn.Module, Declarations):
    """Base of every registered family (including helper nets like the classifier).

    Subclasses set ``family`` and ``Config`` (done by ``@register``) and implement
    the training hooks; capabilities and hooks are the protocols of capabilities.py, and
    the facts a family states about itself (``exact_inverse``, ``normalised`` ...) are the
    Declarations' class attributes, inherited here with their defaults.
    """

    family: ClassVar[str] = ""
    Config: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.class_names: list[str] | None = None  # set by checkpoints.load where known

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.config.channels, self.config.image_size, self.config.image_size)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # --- training hooks, used by core.train -------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": torch.optim.Adam(self.parameters(), lr=self.config.lr)}

    def train_step(
        self, x: torch.Tensor, labels: torch.Tensor | None,
        optimizers: Mapping[str, torch.optim.Optimizer], step: int,
    ) -> dict[str, float]:
        """One optimisation step on a batch; returns the loss terms as floats."""
        raise NotImplementedError

    @torch.no_grad()
    def validation_metrics(self, x: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Per-batch validation figures (averaged over batches by the loop)."""
        return {}

    @torch.no_grad()
    def preview(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """Images to show while training; None for models that make none."""
        if isinstance(self, Sampler):
            return self.sample(n, generator=generator)
        return None


def encode(model: Latent, x: torch.Tensor, **opts: Any) -> torch.Tensor:
    """Runs an encoder to the end and returns the final latent."""
    final = None
    for _step, _total, z in model.encode_steps(x, **opts):
        final = z
    assert final is not None, "encode_steps must yield at least once"
    return final


def bits_per_dim(log_prob_nats: torch.Tensor, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """Converts per-image log-likelihood in nats into bits per sub-pixel."""
    dims = image_shape[0] * image_shape[1] * image_shape[2]
    return -log_prob_nats / (dims * torch.log(torch.tensor(2.0)))
