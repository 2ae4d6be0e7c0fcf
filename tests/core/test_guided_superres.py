"""ops.guided_superres: candidates from a generative model that shrink back to the input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.core import registry
from genplay.core.errors import GenplayError
from genplay.core.events import Preview, Progress, Result
from genplay.core.ops.guided_superres import Consistency, guided_method, guided_upscale_steps
from genplay.core.ops.sketch import _candidate_generator
from genplay.core.resize import downscale
from tests.conftest import TINY_CONFIGS


def tiny(family: str):
    torch.manual_seed(0)
    return registry.build(family, **TINY_CONFIGS[family]).eval()


def result(events) -> Result:
    return [e for e in events if isinstance(e, Result)][-1]


def digit_like(size: int = 8) -> torch.Tensor:
    """A bright bar with a soft edge on black: saturated pixels at both ends, as in MNIST."""
    image = torch.zeros(1, 1, size, size)
    image[0, 0, 2:6, 3:5] = 1.0
    image[0, 0, 2:6, 5] = 0.5
    return image


def lowres_of(scale: int, size: int = 8) -> torch.Tensor:
    return downscale(digit_like(size), scale)


def worst_error(images: torch.Tensor, lowres: torch.Tensor, scale: int) -> float:
    """Largest difference between the shrunk candidates and the input, in grey levels."""
    return float((downscale(images, scale) - lowres).abs().amax()) * 255


def test_the_method_follows_capabilities():
    assert guided_method(tiny("diffusion")) == "diffusion"
    for family in ("vae", "gan", "flow"):
        assert guided_method(tiny(family)) == "latent"
    for family in ("pixelcnn", "classifier"):
        assert guided_method(tiny(family)) is None
    assert guided_method(None) is None
    with pytest.raises(GenplayError, match="cannot guide super-resolution"):
        list(guided_upscale_steps(tiny("pixelcnn"), lowres_of(2), 2))


@pytest.mark.parametrize("scale", [2, 4])
def test_diffusion_candidates_shrink_back_to_the_input(scale):
    model = tiny("diffusion")
    lowres = lowres_of(scale)
    events = list(guided_upscale_steps(model, lowres, scale, n=3, seed=1, steps=6))
    done = result(events)
    images = done.value
    assert isinstance(images, torch.Tensor) and images.shape == (3, 1, 8, 8)
    assert images.dtype == torch.float32 and images.min() >= 0 and images.max() <= 1
    # The untrained network's own images have nothing to do with the input; the
    # projections alone make them agree with it, to far below one grey level.
    assert worst_error(images, lowres, scale) < 0.1
    assert not torch.equal(images[0], images[1])  # the candidates are alternatives
    assert done.summary["method"] == "diffusion" and done.summary["steps"] == 6
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, 7)) and progress[-1].total == 6
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and previews[0].images.shape == (3, 8, 8, 1)
    assert previews[0].images.dtype == np.uint8


def test_diffusion_candidates_are_seeded_per_candidate():
    model = tiny("diffusion")
    lowres = lowres_of(2)
    three = result(guided_upscale_steps(model, lowres, 2, n=3, seed=5, steps=3)).value
    again = result(guided_upscale_steps(model, lowres, 2, n=3, seed=5, steps=3)).value
    torch.testing.assert_close(again, three, rtol=0, atol=0)
    # more candidates keep the first (one batch or another: equal to float rounding)
    two = result(guided_upscale_steps(model, lowres, 2, n=2, seed=5, steps=3)).value
    torch.testing.assert_close(two, three[:2], rtol=0, atol=1e-4)
    other = result(guided_upscale_steps(model, lowres, 2, n=1, seed=6, steps=3)).value
    assert (other[0] - three[0]).abs().max() > 1e-2


def test_diffusion_takes_a_class_and_checks_its_options():
    model = tiny("diffusion")
    lowres = lowres_of(2)
    with torch.no_grad():  # untrained, the network's last layers are zero: wake them up
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    plain = result(guided_upscale_steps(model, lowres, 2, n=1, steps=2, eta=0.0)).value
    three = result(guided_upscale_steps(model, lowres, 2, n=1, steps=2, eta=0.0,
                                        guidance=2.0, **{"class": "3"})).value
    assert (three - plain).abs().max() > 1e-3
    assert worst_error(three, lowres, 2) < 0.1
    with pytest.raises(GenplayError, match="unknown class"):
        list(guided_upscale_steps(model, lowres, 2, **{"class": "cat"}))
    with pytest.raises(GenplayError, match="eta must be from 0 to 1"):
        list(guided_upscale_steps(model, lowres, 2, eta=2.0))
    with pytest.raises(GenplayError, match="'lr' is not understood by diffusion"):
        list(guided_upscale_steps(model, lowres, 2, lr=0.1))


@pytest.mark.parametrize("family", ["vae", "gan", "flow"])
def test_latent_fitting_candidates(family):
    model = tiny(family)
    lowres = lowres_of(2)
    done = result(guided_upscale_steps(model, lowres, 2, n=3, seed=2, steps=40))
    images = done.value
    assert images.shape == (3, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    assert done.summary["method"] == "latent"
    assert worst_error(images, lowres, 2) < 0.5  # with the final projection (the default)
    # Without it, the model's own images: fitting brought them nearer the input than the
    # images of the latents it started from.
    own = result(guided_upscale_steps(model, lowres, 2, n=3, seed=2, steps=40,
                                      project=False)).value
    start = model.decode(torch.cat([
        model.prior_sample(1, _candidate_generator(2, k, model.device)) for k in range(3)]))
    before = float((downscale(start.clamp(0, 1), 2) - lowres).pow(2).mean())
    after = float((downscale(own, 2) - lowres).pow(2).mean())
    assert after < before
    # candidate k is the same whatever n is
    two = result(guided_upscale_steps(model, lowres, 2, n=2, seed=2, steps=40)).value
    torch.testing.assert_close(two, images[:2], rtol=0, atol=1e-4)


def test_closing_the_generator_stops_and_restores_the_model():
    model = tiny("vae")
    events = guided_upscale_steps(model, lowres_of(2), 2, n=2, steps=50)
    for _ in range(3):
        assert isinstance(next(events), Progress)
    events.close()
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(StopIteration):
        next(events)
    diffusion = guided_upscale_steps(tiny("diffusion"), lowres_of(2), 2, steps=5)
    next(diffusion)
    diffusion.close()
    with pytest.raises(StopIteration):
        next(diffusion)


@pytest.mark.parametrize("lowres, scale, match", [
    (torch.zeros(1, 1, 3, 3), 2, r"must be \(1, 1, 4, 4\)"),
    (torch.zeros(1, 3, 4, 4), 2, r"must be \(1, 1, 4, 4\)"),
    (torch.zeros(2, 1, 4, 4), 2, r"must be \(1, 1, 4, 4\)"),
    (torch.zeros(1, 1, 4, 4), 3, "do not shrink 3x evenly"),
    (torch.zeros(1, 1, 4, 4), 1, "whole number of at least 2"),
    (torch.full((1, 1, 4, 4), float("nan")), 2, "not numbers"),
])
def test_bad_inputs_are_explained(lowres, scale, match):
    for family in ("diffusion", "vae"):
        with pytest.raises(GenplayError, match=match):
            list(guided_upscale_steps(tiny(family), lowres, scale))
    with pytest.raises(GenplayError, match="number of candidates"):
        list(guided_upscale_steps(tiny("diffusion"), lowres_of(2), 2, n=0))
    with pytest.raises(GenplayError, match="steps must be"):
        list(guided_upscale_steps(tiny("diffusion"), lowres_of(2), 2, steps=0))


def test_the_projection_respects_the_shrinks_clamp():
    torch.manual_seed(0)
    image = digit_like(16)
    lowres = downscale(image, 4)
    consistency = Consistency(lowres, 4, 16)
    seen = consistency.shrink(image)
    assert (seen < 0).any()  # bicubic rings below black; downscale clamps it to 0
    # The residual owes nothing where the clamp already gives the input.
    assert consistency.residual(image).abs().max() < 1e-6
    guess = torch.rand(3, 1, 16, 16)
    projected = consistency.project(guess)
    kept = consistency.residual(guess) != 0
    torch.testing.assert_close(consistency.shrink(projected)[kept],
                               lowres.expand(3, -1, -1, -1)[kept], rtol=0, atol=1e-5)
    # In range and consistent at once: the final correction, from far away.
    final = consistency.finish(guess)
    assert final.min() >= 0 and final.max() <= 1
    assert worst_error(final, lowres, 4) < 0.1
    assert worst_error(guess.clamp(0, 1), lowres, 4) > 10
