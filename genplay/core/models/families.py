"""The table of model families, and ``@register``, with which each family's module adds
its class (after checking what it declares: capabilities.declaration_problems).

It sits inside genplay.core.models so the family modules depend on nothing above their
package; genplay.core.registry, above the models, looks families up by name.
"""

from __future__ import annotations

from collections.abc import Callable

from genplay.core.models.base import GenerativeModel, ModelConfig
from genplay.core.models.capabilities import declaration_problems

FAMILIES: dict[str, type[GenerativeModel]] = {}
# Families that adapt models of other projects (diffusers pipelines, ESRGAN-family
# upscalers; core/formats): genplay opens them but does not train them, and their config
# comes from the other project's files.
FOREIGN: set[str] = set()


def register(
    family: str, config: type[ModelConfig], *, foreign: bool = False
) -> Callable[[type[GenerativeModel]], type[GenerativeModel]]:
    def decorate(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        if family in FAMILIES and FAMILIES[family] is not cls:
            raise ValueError(f"family {family!r} is registered twice")
        problems = declaration_problems(cls)
        if problems:  # a family's mistake: what the panels would offer it, it cannot do
            raise TypeError(f"family {family!r} declares what it cannot do: "
                            f"{'; '.join(problems)}")
        cls.family = family
        cls.Config = config
        FAMILIES[family] = cls
        if foreign:
            FOREIGN.add(family)
        return cls

    return decorate
