"""ops.sketch: images from a sketch by capability (SDEdit, Langevin dynamics or latent
fitting) and inpainting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.core import registry
from genplay.core.errors import GenplayError
from genplay.core.events import Preview, Result
from genplay.core.ops.sketch import (
    guide_tensor,
    inpaint_images,
    inpaint_method,
    sketch_images,
    sketch_method,
)
from tests.conftest import TINY_CONFIGS


def tiny(family: str):
    torch.manual_seed(0)
    return registry.build(family, **TINY_CONFIGS[family]).eval()


def result(events) -> Result:
    return [e for e in events if isinstance(e, Result)][-1]


def bar_guide() -> torch.Tensor:
    guide = torch.zeros(1, 1, 8, 8)
    guide[0, 0, 2:6, 3:5] = 1.0
    return guide


def test_the_method_follows_capabilities():
    assert sketch_method(tiny("diffusion")) == "sdedit"
    assert sketch_method(tiny("ebm")) == "langevin"
    for family in ("vae", "gan", "flow"):
        assert sketch_method(tiny(family)) == "latent"
    assert sketch_method(tiny("pixelcnn")) is None
    assert inpaint_method(tiny("diffusion")) == "diffusion"
    assert inpaint_method(tiny("pixelcnn")) == "autoregressive"
    assert inpaint_method(tiny("vae")) is None
    with pytest.raises(GenplayError, match="cannot make images from a sketch"):
        list(sketch_images(tiny("pixelcnn"), bar_guide()))


def test_sdedit_candidates_are_seeded_per_candidate():
    model = tiny("diffusion")
    events = list(sketch_images(model, bar_guide(), n=3, seed=5, steps=4))
    three = result(events)
    assert three.value.shape == (3, 1, 8, 8) and three.summary["method"] == "sdedit"
    assert any(isinstance(e, Preview) for e in events)
    two = result(sketch_images(model, bar_guide(), n=2, seed=5, steps=4)).value
    # more candidates keep the first (one batch or another: equal to float rounding)
    np.testing.assert_allclose(two, three.value[:2], atol=1e-5)
    assert not np.array_equal(three.value[0], three.value[1])
    # a stochastic sampler runs candidate by candidate, and keeps them too
    ddpm3 = result(sketch_images(model, bar_guide(), n=3, seed=5, steps=4, sampler="ddpm"))
    ddpm2 = result(sketch_images(model, bar_guide(), n=2, seed=5, steps=4, sampler="ddpm"))
    np.testing.assert_array_equal(ddpm2.value, ddpm3.value[:2])
    same = result(sketch_images(model, bar_guide(), n=1, seed=5, strength=0.0)).value
    np.testing.assert_array_equal(same[0], bar_guide()[0].numpy())


def test_energy_models_run_langevin_chains_from_the_sketch_seeded_per_candidate():
    model = tiny("ebm")
    guide = bar_guide()
    events = list(sketch_images(model, guide, n=3, seed=2, strength=0.3, steps=5))
    three = result(events)
    assert three.value.shape == (3, 1, 8, 8) and three.summary["method"] == "langevin"
    assert any(isinstance(e, Preview) for e in events)
    two = result(sketch_images(model, guide, n=2, seed=2, strength=0.3, steps=5)).value
    np.testing.assert_array_equal(two, three.value[:2])  # more candidates keep the first
    assert not np.array_equal(three.value[0], three.value[1])
    # a weak strength keeps the drawing's shape: nearer the sketch than a chain from noise
    from_noise = model.sample(1, torch.Generator().manual_seed(2), steps=5)
    near = float(((torch.from_numpy(three.value) - guide) ** 2).mean())
    assert near < float(((from_noise - guide) ** 2).mean())
    same = result(sketch_images(model, guide, n=1, strength=0.0)).value
    np.testing.assert_array_equal(same[0], guide[0].numpy())
    with pytest.raises(GenplayError, match="not understood by Langevin"):
        list(sketch_images(model, guide, sampler="ddim"))


@pytest.mark.parametrize("family", ["vae", "gan", "flow"])
def test_latent_fitting_moves_images_towards_the_sketch(family):
    model = tiny(family)
    guide = bar_guide()
    start = model.decode(torch.cat([
        model.prior_sample(1, torch.Generator().manual_seed(1)) for _ in range(2)]))
    fitted_result = result(sketch_images(model, guide, n=2, seed=0, strength=0.0, steps=60))
    assert fitted_result.summary["options"] == {"steps": 60}  # recorded as asked
    fitted = fitted_result.value
    before = (start - guide).pow(2).mean().item()
    after = float(((torch.from_numpy(fitted) - guide) ** 2).mean())
    assert after < before


def test_bad_requests_are_explained():
    model = tiny("diffusion")
    with pytest.raises(GenplayError, match="candidates"):
        list(sketch_images(model, bar_guide(), n=17))
    with pytest.raises(GenplayError, match="strength"):
        list(sketch_images(model, bar_guide(), strength=1.5))
    with pytest.raises(GenplayError, match="sketch is"):
        list(sketch_images(model, torch.zeros(1, 1, 16, 16)))
    with pytest.raises(GenplayError, match="not understood"):
        list(sketch_images(tiny("vae"), bar_guide(), sampler="ddim"))


@pytest.mark.parametrize("family", ["diffusion", "pixelcnn"])
def test_inpainting_keeps_known_pixels(family):
    model = tiny(family)
    image = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    hole = torch.zeros(8, 8, dtype=torch.bool)
    hole[4:, :] = True
    out = result(inpaint_images(model, image, hole, n=2, seed=1)).value
    assert out.shape == (2, 1, 8, 8)
    known = ~hole.numpy()
    for k in range(2):
        np.testing.assert_array_equal(out[k, 0][known], image.numpy()[0, 0][known])
    assert not np.array_equal(out[0], out[1])  # each filling has its own noise
    with pytest.raises(GenplayError, match="nothing to fill"):
        list(inpaint_images(model, image, torch.zeros(8, 8, dtype=torch.bool)))


def test_guide_tensor_inverts_dark_on_light_drawings():
    model = tiny("diffusion")
    drawing = np.full((40, 40), 255, np.uint8)
    drawing[10:30, 14:26] = 0  # a dark stroke on white paper
    guide = guide_tensor(model, drawing)
    assert guide.shape == (1, 1, 8, 8)
    assert guide[0, 0, 0, 0] == 0 and guide.max() > 0.5
