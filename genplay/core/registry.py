"""Family name -> model class. Families register themselves with ``@register``, which
checks their declarations (capabilities.declaration_problems) on the way in."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from genplay.core.errors import CheckpointError
from genplay.core.models.base import GenerativeModel, ModelConfig
from genplay.core.models.capabilities import declaration_problems

_FAMILIES: dict[str, type[GenerativeModel]] = {}

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
)


def register(
    family: str, config: type[ModelConfig]
) -> Callable[[type[GenerativeModel]], type[GenerativeModel]]:
    def decorate(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        if family in _FAMILIES and _FAMILIES[family] is not cls:
            raise ValueError(f"family {family!r} is registered twice")
        problems = declaration_problems(cls)
        if problems:  # a family's mistake: what the panels would offer it, it cannot do
            raise TypeError(f"family {family!r} declares what it cannot do: "
                            f"{'; '.join(problems)}")
        cls.family = family
        cls.Config = config
        _FAMILIES[family] = cls
        return cls

    return decorate


def _load_all() -> None:
    for module in _FAMILY_MODULES:
        importlib.import_module(module)


def families() -> list[str]:
    _load_all()
    return sorted(_FAMILIES)


def get(family: str) -> type[GenerativeModel]:
    _load_all()
    try:
        return _FAMILIES[family]
    except KeyError:
        raise CheckpointError(
            f"unknown model family {family!r}; known families: {', '.join(sorted(_FAMILIES))}"
        ) from None


def build(family: str, **config_fields: object) -> GenerativeModel:
    cls = get(family)
    return cls(cls.Config.from_dict(config_fields))
