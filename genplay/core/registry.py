"""Family name -> model class. The family modules add themselves with
``genplay.core.models.families.register`` (which checks their declarations); this looks
them up, importing the family modules on first use."""

from __future__ import annotations

import importlib

from genplay.core.errors import CheckpointError
from genplay.core.models.base import GenerativeModel
from genplay.core.models.families import FAMILIES, FOREIGN

# Modules that define families; imported on first lookup so that importing the
# registry stays cheap and there is no import cycle with the model modules.
_FAMILY_MODULES = (
    "genplay.core.models.vae",
    "genplay.core.models.gan",
    "genplay.core.models.features",
    "genplay.core.models.pixelcnn",
    "genplay.core.models.flow",
    "genplay.core.models.diffusion",
    "genplay.core.models.ebm",
    "genplay.core.models.superres",
    "genplay.core.models.sketch_diffusion",
    # other projects' models (core/formats): foreign=True
    "genplay.core.models.diffusers_unet",
    "genplay.core.models.upscaler_nets",
)


def _load_all() -> None:
    for module in _FAMILY_MODULES:
        importlib.import_module(module)


def families() -> list[str]:
    """genplay's own families: the ones it trains (a tiny config of each in the tests)."""
    _load_all()
    return sorted(set(FAMILIES) - FOREIGN)


def foreign_families() -> list[str]:
    """The families that open other projects' models (core/formats); never trained here."""
    _load_all()
    return sorted(FOREIGN)


def get(family: str) -> type[GenerativeModel]:
    _load_all()
    try:
        return FAMILIES[family]
    except KeyError:
        raise CheckpointError(
            f"unknown model family {family!r}; known families: {', '.join(sorted(FAMILIES))}"
        ) from None


def build(family: str, **config_fields: object) -> GenerativeModel:
    cls = get(family)
    return cls(cls.Config.from_dict(config_fields))
