"""The model contract (core/models/capabilities.py): what every registered family declares,
that it implements what it declares with the declared signatures, and that no op offers a
family something it does not declare."""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

import pytest
import torch

from genplay.core import registry
from genplay.core.models import capabilities as caps
from genplay.core.models import families
from genplay.core.models.base import (
    ANY_CLASS,
    CLASS_OPTION,
    MIXED_CLASS,
    GenerativeModel,
    ModelConfig,
    SampleOption,
    When,
)
from genplay.core.models.sampler_names import SAMPLERS
from genplay.core.ops import interpolation, outliers, sampling, superres
from genplay.core.ops.guided_superres import guided_method
from genplay.core.ops.sketch import inpaint_method, sketch_method
from tests.conftest import FOREIGN_TINY_CONFIGS, TINY_CONFIGS

# family: (capabilities, hooks, facts that differ from the Declarations defaults)
EXPECTED = {
    "classifier": ([], [], set()),
    "diffusion": (["sampler", "latent", "density", "conditional"],
                  ["step_sampler", "class_choices", "preview_decoder", "inpainter",
                   "pixel_bits", "denoising"],
                  {"partial_chunks"}),
    "sketch-diffusion": (["sampler", "latent", "density", "conditional"],
                         ["step_sampler", "class_choices", "preview_decoder", "inpainter",
                          "pixel_bits", "denoising"],
                         {"partial_chunks"}),
    "ebm": (["sampler", "density", "conditional"], ["step_sampler", "langevin"],
            {"partial_chunks", "normalised"}),
    "flow": (["sampler", "latent", "density"], ["differentiable_decoder", "pixel_bits"],
             {"exact_inverse", "stochastic_log_prob"}),
    "gan": (["sampler", "latent"], ["differentiable_decoder"], set()),
    "pixelcnn": (["sampler", "density"], ["step_sampler", "completer", "pixel_bits"], set()),
    "superres": (["upscaler"], ["known_reach"], set()),
    "vae": (["sampler", "latent", "density"], ["differentiable_decoder", "pixel_bits"],
            {"importance_weighted", "stochastic_log_prob"}),
    # other projects' models (core/formats)
    "diffusers": (["sampler", "latent", "density", "conditional"],
                  ["step_sampler", "class_choices", "preview_decoder", "inpainter",
                   "pixel_bits", "denoising"],
                  {"partial_chunks"}),
    "rrdbnet": (["upscaler"], ["known_reach"], set()),
    "srvgg": (["upscaler"], ["known_reach"], set()),
    "spandrel": (["upscaler"], [], set()),  # no reach: attention may read a whole tile
}
FAMILIES = sorted(EXPECTED)
_BUILT: dict[str, GenerativeModel] = {}


def tiny(family: str) -> GenerativeModel:
    if family not in _BUILT:
        torch.manual_seed(0)
        config = TINY_CONFIGS.get(family) or FOREIGN_TINY_CONFIGS[family]
        _BUILT[family] = registry.build(family, **config).eval()
    return _BUILT[family]


def changed_facts(model_or_class) -> set[str]:
    return {name for name in caps.FACTS
            if caps.fact(model_or_class, name) != caps.fact(caps.Declarations, name)}


# --- the table ---------------------------------------------------------------------------------
def test_every_registered_family_is_in_the_table():
    assert sorted(registry.families() + registry.foreign_families()) == FAMILIES


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_declares_what_the_table_says(family):
    capabilities, hooks, facts = EXPECTED[family]
    cls = registry.get(family)
    # On the class (what a checkpoint's list and the panels' gates read) and on a model.
    assert caps.capabilities_of(cls) == capabilities == caps.capabilities_of(tiny(family))
    assert caps.hooks_of(cls) == hooks == caps.hooks_of(tiny(family))
    assert changed_facts(cls) == facts
    assert caps.declaration_problems(cls) == []


# --- declared means implemented, with the declared signature -------------------------------------
def _callable_as_declared(declared: inspect.Signature, actual: inspect.Signature) -> list[str]:
    """What a call made as the protocol describes could not pass to the implementation:
    required parameters go by position, the others by name (or into **opts)."""
    var = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    wanted = [p for name, p in declared.parameters.items() if name != "self" and p.kind not in var]
    given = [p for p in actual.parameters.values() if p.kind not in var]
    takes_any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD
                            for p in actual.parameters.values())
    problems = []
    for i, p in enumerate(wanted):
        if p.default is inspect.Parameter.empty:
            if i >= len(given) or given[i].kind not in positional:
                problems.append(f"cannot take {p.name!r} as argument {i + 1}")
        elif p.name not in {g.name for g in given} and not takes_any_keyword:
            problems.append(f"cannot take {p.name}=")
    required = [g for g in given if g.default is inspect.Parameter.empty]
    if len(required) > sum(p.default is inspect.Parameter.empty for p in wanted):
        problems.append(f"requires {', '.join(g.name for g in required)}")
    return problems


MEMBER_TYPES = {"condition_method": str, "partial_chunks": bool, "latent_steps": int,
                "pixel_bits_note": str, "reach": int, "default_sampler": str,
                "condition_default_steps": int, "scales": tuple, "latent_shape": tuple}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_declared_member_is_implemented_with_its_signature(family):
    model = tiny(family)
    declared = ([caps.CAPABILITIES[n] for n in caps.capabilities_of(model)]
                + [caps.HOOKS[n] for n in caps.hooks_of(model)])
    for protocol in declared:
        assert isinstance(model, protocol)
        for name in caps._members(protocol):
            value = getattr(model, name)
            if callable(value) and name in protocol.__dict__:
                problems = _callable_as_declared(
                    inspect.signature(protocol.__dict__[name]), inspect.signature(value))
                assert not problems, f"{family}.{name}: {'; '.join(problems)}"
            elif name in MEMBER_TYPES:
                assert isinstance(value, MEMBER_TYPES[name]), f"{family}.{name}: {value!r}"


@pytest.mark.parametrize("family", FAMILIES)
def test_the_declared_facts_match_log_prob(family):
    model = tiny(family)
    if not isinstance(model, caps.Density):
        return
    params = inspect.signature(model.log_prob).parameters
    assert caps.is_importance_weighted(model) == ("k" in params)
    assert caps.log_prob_takes_generator(model) == ("generator" in params)


# --- no op offers what is not declared ---------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_what_each_op_offers_follows_the_declarations(family):
    capabilities, hooks, facts = EXPECTED[family]
    model = tiny(family)
    cls = registry.get(family)

    # Sketches: the Sketch panel's gate (capability names) and the op agree.
    gate = caps.sketch_route(caps.capabilities_of(cls))
    method = sketch_method(model)
    assert (gate is None) == (method is None)
    if method in ("sdedit", "langevin"):
        assert "conditional" in capabilities and model.condition_method == method
        assert ("denoising" if method == "sdedit" else "langevin") in hooks
    elif method == "latent":
        assert "latent" in capabilities and "differentiable_decoder" in hooks

    # Inpainting, guided super-resolution, the upscaling methods.
    assert inpaint_method(model) == ("diffusion" if "inpainter" in hooks else
                                     "autoregressive" if "completer" in hooks else None)
    latent_fit = "latent" in capabilities and "differentiable_decoder" in hooks
    assert guided_method(model) == ("diffusion" if "denoising" in hooks else
                                     "latent" if latent_fit else None)
    offered = superres.methods_for(model)
    assert ("net" in offered) == ("upscaler" in capabilities)
    assert ("diffusion" in offered) == (guided_method(model) is not None)

    # Outlier scores, per-pixel bits.
    scores = outliers.available_methods(model)
    density = "density" in capabilities
    assert ("bpd" in scores) == (density and "normalised" not in facts)
    assert ("energy" in scores) == (density and "normalised" in facts)
    assert ("elbo" in scores) == ("importance_weighted" in facts)
    assert ("recon" in scores) == ("latent" in capabilities and "exact_inverse" not in facts)
    c, h, w = model.image_shape
    bits = outliers.pixel_bits(model, torch.full((1, c, h, w), 0.5))
    assert (bits is not None) == ("pixel_bits" in hooks)
    if bits is not None:
        assert bits.shape == (1, h, w)
        assert isinstance(caps.pixel_bits_note(model), str) and caps.pixel_bits_note(model)

    # A quick slider preview only where the decoder runs a sampler.
    if "latent" in capabilities:
        z = model.prior_sample(1, torch.Generator().manual_seed(0))[0].numpy()
        _image, cheaper = interpolation.decode_one(model, z, preview=True)
        assert cheaper == ("preview_decoder" in hooks)
        assert "latent_steps" not in vars(model)


@pytest.mark.parametrize("family", [f for f in FAMILIES if "step_sampler" in EXPECTED[f][1]])
def test_sampling_shows_steps_exactly_for_step_samplers(family, monkeypatch):
    model = tiny(family)
    kept = []
    real = type(model).sample_steps

    def sample_steps(self, n, generator=None, **opts):
        kept.append(opts.get("keep"))
        return real(self, n, generator, **opts)

    monkeypatch.setattr(type(model), "sample_steps", sample_steps)
    opts = {"steps": 2} if "steps" in {o.name for o in model.sample_options()} else {}
    images = [e for e in sampling.sample_images(model, 3, 0, **opts)][-1].value
    assert images.shape[0] == 3
    assert kept == [3 if caps.draws_partial_chunks(model) else None]


# --- sampler options: conditions in code, one list of sampler names -----------------------------
@pytest.mark.parametrize("family", [f for f in FAMILIES if "sampler" in EXPECTED[f][0]])
def test_option_conditions_name_options_the_model_has(family):
    options = {o.name: o for o in tiny(family).sample_options()}
    for option in options.values():
        assert option.when is None or isinstance(option.when, When)
        if option.when is not None:
            assert option.when.option in options
            values = {o.name: o.default for o in options.values()}
            assert isinstance(option.applies(values), bool)


def test_class_choices_are_the_class_option():
    model = registry.build("diffusion", **{**TINY_CONFIGS["diffusion"], "num_classes": 3})
    options = {o.name: o for o in model.sample_options()}
    assert options[CLASS_OPTION].choices == (MIXED_CLASS, ANY_CLASS, *model.class_choices())
    assert options[CLASS_OPTION].default == MIXED_CLASS
    assert options["guidance"].when == When(CLASS_OPTION, ANY_CLASS, equal=False)
    assert not options["guidance"].applies({CLASS_OPTION: ANY_CLASS})
    assert options["guidance"].applies({CLASS_OPTION: "2"})
    assert options["guidance"].applies({CLASS_OPTION: MIXED_CLASS})
    plain = registry.build("diffusion", **{**TINY_CONFIGS["diffusion"], "num_classes": 0})
    assert plain.class_choices() == []
    assert CLASS_OPTION not in {o.name for o in plain.sample_options()}


def test_when_compares_as_text():
    eta = SampleOption("eta", 0.0, 0.0, 1.0, "", when=When("sampler", "ddim"))
    assert eta.applies({"sampler": "ddim"}) and not eta.applies({"sampler": "dpmpp"})
    assert not eta.applies({})
    steps = SampleOption("steps", 2, 1, 9, "", integer=True, when=When("n", "3", equal=False))
    assert steps.applies({"n": 4}) and not steps.applies({"n": 3})
    assert SampleOption("t", 1.0, 0.5, 1.5, "").applies({})


def test_one_list_of_sampler_names():
    from genplay.cli import build_parser
    from genplay.core.models import diffusion_samplers

    assert diffusion_samplers.SAMPLERS is SAMPLERS
    options = {o.name: o for o in tiny("diffusion").sample_options()}
    assert options["sampler"].choices == SAMPLERS
    assert tiny("diffusion").default_sampler in SAMPLERS

    def sampler_choices(parser: argparse.ArgumentParser) -> list:
        found = []
        for action in parser._actions:
            if "--sampler" in action.option_strings:
                found.append(tuple(action.choices))
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    found += sampler_choices(sub)
        return found

    found = sampler_choices(build_parser())
    assert found and set(found) == {SAMPLERS}


# --- the rules refuse a family that declares what it cannot do ---------------------------------
def _latent_members(cls):
    cls.latent_shape = (2,)
    cls.prior_sample = lambda self, n, generator=None: torch.zeros(n, 2)
    cls.decode = lambda self, z: torch.zeros(z.shape[0], 1, 8, 8)
    cls.encode_steps = lambda self, x, **opts: iter([(1, 1, torch.zeros(x.shape[0], 2))])
    return cls


def test_register_refuses_inconsistent_declarations():
    class LatentOnly(GenerativeModel):  # offered latent fitting, without decode_continuous
        pass

    with pytest.raises(TypeError, match="decode_continuous"):
        families.register("latent-only", ModelConfig)(_latent_members(LatentOnly))

    class NoisySketcher(GenerativeModel):  # SDEdit without a denoiser
        condition_method = "sdedit"

        def condition(self, guide, strength, **opts):
            return guide

        def condition_steps(self, guide, strength, generator=None, **opts):
            return iter(())

    with pytest.raises(TypeError, match="Denoising"):
        families.register("noisy-sketcher", ModelConfig)(NoisySketcher)

    class Chunky(GenerativeModel):
        partial_chunks = True

    with pytest.raises(TypeError, match="partial_chunks"):
        families.register("chunky", ModelConfig)(Chunky)
    assert sorted(registry.families() + registry.foreign_families()) == FAMILIES


def test_an_adapter_outside_the_hierarchy_gets_the_defaults():
    class Adapter:  # e.g. a model from another library, wrapped
        def log_prob(self, x):
            return torch.zeros(x.shape[0])

    adapter = Adapter()
    assert caps.capabilities_of(adapter) == ["density"] and caps.hooks_of(adapter) == []
    assert caps.is_normalised(adapter) and not caps.is_importance_weighted(adapter)
    assert caps.device_of(adapter) == torch.device("cpu")
    assert caps.image_shape_of(adapter) is None and caps.reach_of(adapter) == 0
    assert sketch_method(adapter) is None and inpaint_method(adapter) is None
    assert outliers.available_methods(adapter) == ["bpd", "complexity", "typicality"]


# --- ops dispatch only through the declarations -------------------------------------------------
def test_ops_never_probe_a_model():
    ops = Path(interpolation.__file__).parent
    probing = re.compile(r"hasattr\(|getattr\(|inspect\.signature")
    found = [f"{path.name}:{i}" for path in sorted(ops.glob("*.py"))
             for i, line in enumerate(path.read_text().splitlines(), 1) if probing.search(line)]
    assert found == []
