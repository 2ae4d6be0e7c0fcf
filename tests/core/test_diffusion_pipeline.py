"""Diffusion as a pipeline: the loops of diffusion_pipeline run on any Denoising model and
any NoiseSchedule; moving them out of the Diffusion class changed no image.

GOLDEN holds hashes of a tiny model's outputs computed before the loops moved (the same
seeds, every sampler, both prediction types, SDEdit, inpainting, inversion, decode, the
bound and guided restoration): the refactor must be bit-identical.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.core import registry
from genplay.core.events import Progress, Result, final_value
from tests.conftest import TINY_CONFIGS

GOLDEN = {  # mean, std, first two and last two values: recorded before the loops moved
    "v-sample-ddpm": (0.489037, 0.308949, 0.431425, 0.38531, 0.995604, 0.646363),
    "v-sample-ddim": (0.470768, 0.339863, 0.0, 0.294977, 0.827118, 1.0),
    "v-sample-dpmpp": (0.476423, 0.359503, 0.0, 0.236251, 0.850075, 1.0),
    "v-sample-dpmpp-sde": (0.493161, 0.334288, 0.685923, 0.282853, 0.675601, 0.468865),
    "v-sample-ddim-eta": (0.501546, 0.271799, 0.05069, 0.124801, 1.0, 0.913748),
    "v-sample-keep": (0.486756, 0.149943, 0.338633, 0.39584, 0.71072, 0.505834),
    "v-condition": (0.461573, 0.328174, 0.0, 0.099127, 0.490329, 0.85248),
    "v-inpaint": (0.511502, 0.28835, 0.614695, 0.381013, 0.321714, 0.840315),
    "v-encode": (0.057361, 0.64136, 0.183684, -0.28096, 0.00173, 0.744373),
    "v-decode": (0.504076, 0.285775, 0.612684, 0.381832, 0.300329, 0.861542),
    "v-preview": (0.495223, 0.171305, 0.538831, 0.408401, 0.36621, 0.696136),
    "v-bound": (6.736575, 2.371106, 6.489182, 4.250407, 7.248215, 6.245776),
    "v-restore": (0.338402, 0.224146, 0.278282, 0.322455, 0.434941, 0.000645),
    "eps-sample-ddpm": (0.493571, 0.403802, 0.001154, 0.011761, 1.0, 0.924649),
    "eps-sample-ddim": (0.480106, 0.487928, 0.0, 0.0, 1.0, 1.0),
    "eps-sample-dpmpp": (0.489786, 0.486402, 0.0, 0.0, 1.0, 1.0),
    "eps-sample-dpmpp-sde": (0.490885, 0.455357, 0.0, 0.016445, 1.0, 0.665046),
    "eps-sample-ddim-eta": (0.513245, 0.457879, 0.0, 0.0, 1.0, 1.0),
    "eps-sample-keep": (0.518168, 0.49738, 0.0, 0.0, 1.0, 0.0),
    "eps-condition": (0.451281, 0.394778, 0.0, 0.0, 0.483728, 1.0),
    "eps-inpaint": (0.517094, 0.317561, 0.614695, 0.381013, 0.321714, 0.840315),
    "eps-encode": (0.028382, 0.199038, 0.026577, -0.055374, 0.020759, -0.024399),
    "eps-decode": (0.46217, 0.467821, 0.906301, 0.0, 1.0, 0.0),
    "eps-preview": (0.477406, 0.482073, 0.983994, 0.0, 1.0, 0.0),
    "eps-bound": (7.162942, 2.508989, 7.145109, 4.495725, 7.684858, 6.40238),
    "eps-restore": (0.309576, 0.313632, 0.142062, 0.786233, 0.481997, 0.00185),
}


def tiny(**overrides):
    torch.manual_seed(0)
    model = registry.build("diffusion", **{**TINY_CONFIGS["diffusion"], **overrides}).eval()
    with torch.no_grad():  # zero-initialised branches get weights (as in test_diffusion)
        for parameter in model.parameters():
            if parameter.dim() > 1 and not parameter.any():
                parameter.normal_(0, 0.05)
    return model


def digest(a) -> tuple[float, ...]:
    """A fingerprint that tolerates another CPU's last-bit rounding: mean, std, and the
    first two and last two values."""
    a = np.asarray(a, dtype=np.float64).ravel()
    return tuple(round(float(v), 6) for v in (a.mean(), a.std(), *a[:2], *a[-2:]))


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def outputs(model, prefix: str) -> dict[str, tuple[float, ...]]:
    from genplay.core.models.diffusion_pipeline import restore_steps

    out = {}
    for s in ("ddpm", "ddim", "dpmpp", "dpmpp-sde"):
        out[f"{prefix}-sample-{s}"] = digest(model.sample(
            2, seeded(0), sampler=s, steps=4, **{"class": "3", "guidance": 2.0}))
    out[f"{prefix}-sample-ddim-eta"] = digest(model.sample(
        2, seeded(0), sampler="ddim", eta=0.5, steps=4, temperature=0.9))
    out[f"{prefix}-sample-keep"] = digest(model.sample(3, seeded(0), keep=1, steps=3))
    x = torch.rand(2, 1, 8, 8, generator=seeded(2))
    out[f"{prefix}-condition"] = digest(model.condition(x, 0.6, generator=seeded(1), steps=6))
    hole = torch.zeros(8, 8, dtype=torch.bool)
    hole[2:6, 2:6] = True
    out[f"{prefix}-inpaint"] = digest(model.inpaint(x, hole, generator=seeded(1), steps=5))
    z = list(model.encode_steps(x, steps=5))[-1][2]
    out[f"{prefix}-encode"] = digest(z)
    out[f"{prefix}-decode"] = digest(model.decode(z))
    out[f"{prefix}-preview"] = digest(model.preview_decode(z, 3))
    xq = torch.randint(0, 256, (2, 1, 8, 8), generator=seeded(5)).float() / 255
    out[f"{prefix}-bound"] = digest(model.bound_pixels(xq))
    out[f"{prefix}-restore"] = digest(final_value(restore_steps(
        model, lambda im: im * 0.9, [seeded(7), seeded(8)], 4, 1.0, "2", 1.5)))
    return out


@pytest.mark.parametrize("prediction", ["v", "eps"])
def test_outputs_are_bit_identical_to_before_the_loops_moved(prediction, monkeypatch):
    # The golden figures were taken with the first U-Net layout (the loops are the same for
    # every layout; v2's network is checked against diffusers' in test_export.py), and
    # with every step count on the grids of 10 steps and more (they run 3-6 steps, which
    # now take trailing spacing): this test guards the loops, not the grids.
    # The preview decode was DDIM's then; it is UniPC's now. The default sampler (of
    # "sample-keep" and "condition") was DPM-Solver++'s then; it is UniPC's now.
    from genplay.core.models import denoising_model, diffusion_samplers

    monkeypatch.setattr(diffusion_samplers, "FEW_STEPS", 0)
    monkeypatch.setattr(denoising_model, "PREVIEW_SAMPLER", "ddim")
    monkeypatch.setattr(denoising_model.DenoisingModel, "default_sampler", "dpmpp")
    got = outputs(tiny(prediction=prediction, layout="v1"), prediction)
    want = {k: v for k, v in GOLDEN.items() if k.startswith(prediction + "-")}
    assert got.keys() == want.keys()
    for key, values in want.items():
        assert got[key] == pytest.approx(values, abs=2e-5), key


def test_a_tabulated_schedule_of_the_cosine_alphas_gives_the_same_images():
    from genplay.core.models.diffusion_pipeline import TabulatedSchedule

    model = tiny()
    x = torch.rand(2, 1, 8, 8, generator=seeded(2))

    def run() -> list[torch.Tensor]:
        images = [model.sample(2, seeded(0), sampler=s, steps=4, **{"class": "1"})
                  for s in ("ddpm", "ddim", "dpmpp", "dpmpp-sde")]
        return images + [model.condition(x, 0.5, generator=seeded(1), steps=4),
                         list(model.encode_steps(x, steps=3))[-1][2], model.bound_pixels(x)]

    cosine = run()
    model.schedule = TabulatedSchedule(model.schedule.alpha_bar.clone())
    tabulated = run()
    assert all(torch.equal(a, b) for a, b in zip(cosine, tabulated))


def test_a_schedule_from_betas_and_its_checks():
    from genplay.core.models.diffusion_pipeline import CosineSchedule, TabulatedSchedule

    cosine = CosineSchedule(50)
    ab = cosine.alpha_bar
    betas = torch.cat([1 - ab[:1], 1 - ab[1:] / ab[:-1]])
    again = TabulatedSchedule.from_betas(betas)
    assert again.timesteps == 50 and torch.allclose(again.alpha_bar, ab, rtol=1e-12)
    linear = TabulatedSchedule.from_betas(torch.linspace(1e-4, 0.02, 1000))  # DDPM's
    assert linear.timesteps == 1000 and 0 < linear.ab(999).item() < 1e-4
    assert linear.spaced(4) == [999, 666, 333, 0]
    for bad in ([0.5], [0.9, 0.95], [1.0, 0.5], [0.9, 0.0]):
        with pytest.raises(ValueError):
            TabulatedSchedule(bad)


class GaussianDenoiser:
    """A second Denoising implementation, nothing like the Diffusion class: no nn.Module,
    a linear-betas schedule, and an analytic "network" (the exact denoiser of
    N(0, 0.3^2) pixels) whose output is the prediction type asked for."""

    default_sampler = "dpmpp"
    default_steps = 8
    image_shape = (1, 4, 4)
    device = torch.device("cpu")

    def __init__(self, prediction: str) -> None:
        from genplay.core.models.diffusion_pipeline import TabulatedSchedule

        self.prediction = prediction
        self.schedule = TabulatedSchedule.from_betas(torch.linspace(1e-4, 0.02, 200))

    def network(self, x_t, t, labels):
        a, s = self.schedule.a_s_like(t, x_t)
        x0 = a * 0.09 * x_t / (a**2 * 0.09 + s**2)
        eps = (x_t - a * x0) / s
        if labels is not None:
            x0 = x0 + 0.1 * labels.float().view(-1, 1, 1, 1)
        return {"sample": x0, "eps": eps, "v": a * eps - s * x0}[self.prediction]

    def denoiser(self, labels=None, guidance=0.0, clip=True):
        from genplay.core.models.diffusion_pipeline import guided_denoiser

        return guided_denoiser(self.network, self.schedule, self.prediction, labels,
                               guidance, null_label=0, clip=clip)

    def class_labels(self, n, label, generator=None):
        return None if label in (None, "any") else torch.full((n,), int(label))


def test_any_denoising_model_gets_every_loop_of_the_pipeline():
    from genplay.core.models import capabilities as caps
    from genplay.core.models import diffusion_pipeline as pipeline

    model = GaussianDenoiser("v")
    assert isinstance(model, caps.Denoising) and caps.hooks_of(model) == ["denoising"]
    assert isinstance(model.schedule, caps.NoiseSchedule)
    assert isinstance(tiny().schedule, caps.NoiseSchedule)
    assert caps.guided_method(model) == "diffusion" and caps.default_sampler(model) == "dpmpp"
    events = list(pipeline.sample_steps(model, 3, seeded(0), **{"class": "2", "guidance": 1.0}))
    assert [e.step for e in events if isinstance(e, Progress)] == list(range(1, 9))
    images = events[-1].value
    assert isinstance(events[-1], Result) and images.shape == (3, 1, 4, 4)
    x = torch.rand(2, 1, 4, 4, generator=seeded(1))
    z = list(pipeline.encode_steps(model, x, 10))[-1][2]
    assert (pipeline.decode(model, z, 10) - x).abs().max() < 0.05
    sketch = final_value(pipeline.condition_steps(model, x, 0.5, seeded(2), steps=6))
    hole = torch.zeros(4, 4, dtype=torch.bool)
    hole[1:3, 1:3] = True
    filled = torch.from_numpy(final_value(pipeline.inpaint_steps(model, x, hole, seeded(3),
                                                                 steps=5)))
    assert sketch.shape == (2, 1, 4, 4) and torch.equal(filled[:, :, ~hole], x[:, :, ~hole])
    bound = pipeline.bound_pixels(model, (x * 255).round() / 255, 6)
    assert bound.shape == (2, 1, 4, 4) and torch.isfinite(bound).all()
    restored = final_value(pipeline.restore_steps(model, lambda im: im, [seeded(4)], 5))
    assert restored.shape == (1, 1, 4, 4)


def test_the_three_prediction_types_give_the_same_estimates():
    from genplay.core.models import diffusion_pipeline as pipeline

    x_t = torch.randn(4, 1, 4, 4, generator=seeded(0))
    t = torch.tensor([0, 50, 120, 199])
    got = [GaussianDenoiser(p).denoiser(clip=False)(x_t, t) for p in ("eps", "v", "sample")]
    for x0, eps in got[1:]:
        assert torch.allclose(x0, got[0][0], atol=1e-4) and torch.allclose(eps, got[0][1],
                                                                           atol=1e-4)
    with pytest.raises(ValueError, match="prediction"):
        pipeline.estimates("x", GaussianDenoiser("v").schedule, x_t, t, x_t)
