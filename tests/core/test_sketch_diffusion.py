"""The sketch-conditioned diffusion model (core/models/sketch_diffusion.py): it trains on
sketches it draws of its training images, follows a sketch through the Conditional
protocol, is the unconditional model at sketch guidance 0, and starts from a trained
diffusion model with the sketch's inputs switched off."""

from __future__ import annotations

import pytest
import torch

from genplay.core import checkpoints, registry
from genplay.core.errors import GenplayError
from genplay.core.events import Result, final_value
from genplay.core.models.capabilities import condition_method_of, sketch_method
from genplay.core.ops.sketch import sketch_facts, sketch_images
from genplay.core.train import TrainSettings, train, warm_start
from tests.conftest import TINY_CONFIGS

TINY = TINY_CONFIGS["sketch-diffusion"]


def tiny(**overrides):
    torch.manual_seed(0)
    model = registry.build("sketch-diffusion", **{**TINY, **overrides}).eval()
    with torch.no_grad():  # zero-initialised branches get weights, so outputs differ
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.05)
    return model


def bar(n: int = 1) -> torch.Tensor:
    guide = torch.zeros(n, 1, 8, 8)
    guide[:, :, 1:7, 3:5] = 1.0
    return guide


def test_it_declares_the_sketch_method():
    cls = registry.get("sketch-diffusion")
    assert condition_method_of(cls) == "sketch" == sketch_method(tiny())
    assert condition_method_of(registry.get("diffusion")) == "sdedit"
    assert condition_method_of(registry.get("gan")) is None
    facts = sketch_facts(tiny())
    assert facts["method"] == "sketch" and facts["sketch_guidance"][0] > 1


def test_two_training_steps_change_the_weights_the_sketch_reaches():
    model = registry.build("sketch-diffusion", **TINY)
    stem = model.net.stem.weight.detach().clone()
    optimizers = model.configure_optimizers()
    x = torch.rand(8, 1, 8, 8)
    for step in range(2):
        losses = model.train_step(x, torch.randint(0, 10, (8,)), optimizers, step)
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert not torch.equal(stem[:, 1:], model.net.stem.weight[:, 1:])  # the sketch's input


def test_candidates_follow_the_sketch_and_guidance_zero_is_the_model_without_it():
    model = tiny()
    noise = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    guided = final_value(model.condition_steps(bar(2), 1.0, noise=noise, steps=4,
                                               sketch_guidance=2.0))
    free = final_value(model.condition_steps(bar(2), 1.0, noise=noise, steps=4,
                                             sketch_guidance=0.0))
    blank = final_value(model.condition_steps(torch.zeros(2, 1, 8, 8), 1.0, noise=noise,
                                              steps=4, sketch_guidance=0.0))
    assert abs(guided - free).max() > 1e-3  # the sketch matters
    assert abs(free - blank).max() < 1e-6  # at 0 it does not
    # ... and at 0 it is the model's own unconditional sampler, for the same noise
    from genplay.core.models import diffusion_pipeline as pipeline

    sampler = model.default_sampler
    timesteps = pipeline.timesteps_for(sampler, model.schedule, 4)
    unconditional = final_value(pipeline.denoise_steps(model, noise, timesteps, sampler, {},
                                                       None, preview=False))
    assert abs(free - unconditional).max() < 1e-5


def test_the_sketch_op_runs_it_with_candidates_of_their_own():
    model = tiny()
    events = list(sketch_images(model, bar(), n=3, seed=1, steps=3, sketch_guidance=1.5))
    result = events[-1]
    assert isinstance(result, Result) and result.value.shape == (3, 1, 8, 8)
    again = final_value(sketch_images(model, bar(), n=1, seed=1, steps=3, sketch_guidance=1.5))
    assert abs(again[0] - result.value[0]).max() < 1e-6  # candidate 0 is candidate 0
    with pytest.raises((ValueError, GenplayError)):
        final_value(sketch_images(model, bar(), n=1, seed=1, steps=3, sketch_guidance=-1))


def test_training_starts_from_a_diffusion_checkpoint(tmp_path, tiny_checkpoints, tiny_data):
    base_path = tiny_checkpoints / "diffusion-tiny"
    base, info = checkpoints.load(base_path)
    model = registry.build("sketch-diffusion", **{**info.config})
    warm_start(model, base_path)
    # the sketch's inputs start switched off: any sketch gives the base model's output
    x = torch.randn(2, 1, 8, 8)
    t = torch.tensor([3, 30])
    with torch.no_grad():
        want = base.net(x, t)
        got = model.net(x, t, None, bar(2) * 2 - 1)
    assert torch.allclose(want, got, atol=1e-6)
    # and genplay train --init does the same, with the base's config as the defaults
    out = tmp_path / "sketch"
    for _ in train(TrainSettings(family="sketch-diffusion", data=str(tiny_data), out=out,
                                 epochs=1, size=8, init=base_path, preview_every=0,
                                 recipe="test")):
        pass
    trained = checkpoints.read_info(out)
    assert trained.config["base_channels"] == info.config["base_channels"]
    assert trained.condition_method == "sketch"


def test_a_checkpoint_of_another_shape_cannot_start_it(tmp_path, tiny_checkpoints):
    model = registry.build("sketch-diffusion", **{**TINY, "base_channels": 16})
    with pytest.raises(GenplayError, match="cannot start this model"):
        warm_start(model, tiny_checkpoints / "diffusion-tiny")


def test_training_styles_are_chosen_by_name():
    model = registry.build("sketch-diffusion", **TINY, sketch_styles="strokes,strokes,lines")
    assert model.config.styles() == ("strokes", "strokes", "lines")
    with pytest.raises(ValueError, match="unknown sketch style 'crayon'"):
        registry.build("sketch-diffusion", **TINY, sketch_styles="strokes,crayon")


def test_a_colour_model_trains_on_lines_and_colour_hints():
    model = registry.build("sketch-diffusion", **{**TINY, "channels": 3, "sketch_channels": 5})
    x = torch.rand(4, 3, 8, 8)
    condition = model.condition_for_training(x, torch.Generator().manual_seed(0))
    assert condition.shape == (4, 5, 8, 8)  # lines, the hints' RGB, the hints' mask
    losses = model.train_step(x, None, model.configure_optimizers(), 0)
    assert torch.isfinite(torch.tensor(losses["loss"]))
    images = final_value(model.condition_steps(torch.rand(1, 3, 8, 8), 1.0, steps=2,
                                               generator=torch.Generator().manual_seed(1)))
    assert images.shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match="sketch_channels is 4"):
        bad = registry.build("sketch-diffusion", **{**TINY, "channels": 3, "sketch_channels": 4})
        bad.condition_for_training(x, None)


def test_coloured_strokes_of_a_drawing_are_colour_hints_and_grey_ones_only_lines():
    model = registry.build("sketch-diffusion", **{**TINY, "channels": 3, "sketch_channels": 5})
    drawing = torch.zeros(1, 3, 8, 8)
    drawing[:, :, 1, :] = 1.0  # a white line
    drawing[:, :, 4:7, 2:6] = torch.tensor([1.0, 0.85, 0.0]).view(1, 3, 1, 1)  # a yellow dab
    drawing[:, :, 7, 2:6] = 0.5  # a grey stroke
    condition = model.sketch_input(drawing)
    lines, hint, mask = condition[:, :1], condition[:, 1:4], condition[:, 4:]
    assert torch.equal(lines, drawing.amax(1, keepdim=True) * 2 - 1)
    assert mask.sum() > 0 and mask[..., 4:7, 2:6].sum() == mask.sum()
    assert torch.allclose(hint[0, :, 5, 3], torch.tensor([1.0, 0.85, 0.0]))
    assert hint[0, :, 1].abs().sum() == 0 and hint[0, :, 7].abs().sum() == 0
    # a grey drawing of a colour model: lines, no hints
    grey = model.sketch_input(drawing.mean(1, keepdim=True).expand(1, 3, 8, 8))
    assert grey[:, 1:].abs().sum() == 0
