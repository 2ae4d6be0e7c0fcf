"""Diffusion: the schedule, the samplers (on analytic denoisers, where the right answer is
known), DDIM inversion, SDEdit, inpainting, guidance and the bound, on tiny models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genplay.core import registry
from genplay.core.events import Preview, Progress, Result
from genplay.core.models import diffusion_samplers as samplers
from tests.conftest import TINY_CONFIGS


def tiny(**overrides):
    torch.manual_seed(0)
    model = registry.build("diffusion", **{**TINY_CONFIGS["diffusion"], **overrides}).eval()
    # Residual branches and the output layer start at zero (v = 0 everywhere); give them
    # weights so the tests see a network whose answers depend on its inputs.
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1 and not parameter.any():
                parameter.normal_(0, 0.05)
    return model


def gaussian_denoiser(schedule: samplers.CosineSchedule, sigma: float):
    """The exact denoiser of data ~ N(0, sigma^2):
    E[x0 | x_t] = a sigma^2 x_t / (a^2 sigma^2 + s^2)."""

    def denoise(x_t, t):
        a, s = schedule.a_s(t)
        a, s = a.float()[:, None], s.float()[:, None]
        x0 = a * sigma**2 * x_t / (a**2 * sigma**2 + s**2)
        return x0, (x_t - a * x0) / s

    return denoise


def run_to_end(steps):
    return list(steps)[-1][2]


def test_cosine_schedule_runs_from_clean_to_noise():
    sched = samplers.CosineSchedule(1000)
    ab = sched.alpha_bar
    assert torch.all(ab[1:] < ab[:-1])
    assert sched.ab(-1).item() == 1.0
    assert 0.9999 < ab[0].item() < 1.0 and ab[-1].item() < 1e-4
    assert sched.spaced(5, start=3) == [3, 2, 1, 0]  # never more steps than timesteps


def gaussian_spread(name: str, steps: int) -> float:
    """The std of samples made with the exact denoiser of N(0, 0.5^2) data."""
    sched = samplers.CosineSchedule(1000)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20_000, 1, generator=g)
    x = run_to_end(samplers.run(name, gaussian_denoiser(sched, 0.5), sched, z,
                                samplers.timesteps_for(name, sched, steps), generator=g))
    assert abs(x.mean().item()) < 0.02
    return x.std().item()


@pytest.mark.parametrize("name,steps", [("ddpm", 1000), ("ddim", 200), ("dpmpp", 50),
                                        ("dpmpp-sde", 100)])
def test_samplers_converge_to_the_spread_of_gaussian_data(name, steps):
    assert gaussian_spread(name, steps) == pytest.approx(0.5, rel=0.02)


def test_dpm_solver_is_closer_than_ddim_in_few_steps():
    for steps in (10, 20):  # each on its default grid: trailing at 10, log-SNR at 20
        dpm = abs(gaussian_spread("dpmpp", steps) - 0.5)
        ddim = abs(gaussian_spread("ddim", steps) - 0.5)
        assert dpm < ddim / 2 and dpm < (0.025 if steps < samplers.FEW_STEPS else 0.02)


def test_dpm_solver_sde_is_closer_than_ancestral_sampling_in_few_steps_and_seeded():
    assert abs(gaussian_spread("dpmpp-sde", 20) - 0.5) < abs(gaussian_spread("ddpm", 20) - 0.5) / 2
    sched = samplers.CosineSchedule(1000)
    denoise = gaussian_denoiser(sched, 0.5)
    z = torch.randn(8, 1, generator=torch.Generator().manual_seed(0))
    ts = samplers.timesteps_for("dpmpp-sde", sched, 10)

    def draw(seed):
        g = torch.Generator().manual_seed(seed)
        return run_to_end(samplers.run("dpmpp-sde", denoise, sched, z, ts, generator=g))

    assert torch.equal(draw(1), draw(1)) and not torch.equal(draw(1), draw(2))
    assert not samplers.is_deterministic("dpmpp-sde") and samplers.is_deterministic("dpmpp")


def test_timesteps_are_distinct_decreasing_and_exactly_as_many_as_asked():
    sched = samplers.CosineSchedule(1000)
    for name in samplers.SAMPLERS:
        for steps, start in ((5, None), (10, None), (20, None), (7, 400), (1000, None)):
            trailing = samplers.spacing_for(name, steps) == "trailing"
            ts = samplers.timesteps_for(name, sched, steps, start)
            assert len(ts) == steps and ts[0] == (start or 999)
            assert all(a > b for a, b in zip(ts, ts[1:]))
            # trailing spacing ends a stride above the clean end, the others at 0
            stride = ((start or 999) + 1) / steps
            assert ts[-1] == (round(stride) - 1 if trailing else 0)


def exact_flow(sched, z: torch.Tensor, sigma: float) -> torch.Tensor:
    """Where the probability-flow ODE takes x_T for data ~ N(0, sigma^2): marginals are
    N(0, a^2 sigma^2 + s^2) all the way, and the flow maps them by their ratio."""
    a, s = sched.a_s(999)
    return z * sigma / float((a**2 * sigma**2 + s**2).sqrt())


def flow_error(name: str, spacing: str, steps: int) -> float:
    sched = samplers.CosineSchedule(1000)
    z = torch.randn(1000, 1, generator=torch.Generator().manual_seed(0))
    x = run_to_end(samplers.run(name, gaussian_denoiser(sched, 0.5), sched, z.clone(),
                                sched.spaced(steps, None, spacing)))
    return (x - exact_flow(sched, z, 0.5)).abs().max().item()


@pytest.mark.parametrize("name,order", [("ddim", 1), ("dpmpp", 2), ("unipc", 3)])
def test_deterministic_solvers_converge_to_the_exact_flow_at_their_order(name, order):
    """Halving the step (40 -> 80 steps, even in log-SNR) divides the error by about
    2^order: DDIM first order, DPM-Solver++(2M) second, UniPC's second-order predictor
    with its corrector third."""
    ratio = flow_error(name, "logsnr", 40) / flow_error(name, "logsnr", 80)
    assert 2 ** order * 0.7 < ratio < 2 ** order * 1.4


@pytest.mark.parametrize("variant", samplers.UNIPC_VARIANTS)
def test_both_forms_of_unipc_converge_at_third_order_and_differ_in_few_steps(variant):
    """UniPC's two B(h), h and e^h - 1, are the same method to third order (the error
    ratio at twice the steps is about 8 for each) and differ only in few steps."""
    sched = samplers.CosineSchedule(1000)
    z = torch.randn(1000, 1, generator=torch.Generator().manual_seed(0))

    def error(steps, form=variant):
        x = run_to_end(samplers.unipc(gaussian_denoiser(sched, 0.5), sched, z.clone(),
                                      sched.spaced(steps, None, "logsnr"), variant=form))
        return (x - exact_flow(sched, z, 0.5)).abs().max().item()

    assert 8 * 0.7 < error(40) / error(80) < 8 * 1.4
    assert error(5, "bh1") != error(5, "bh2")
    with pytest.raises(ValueError, match="bh1"):
        run_to_end(samplers.unipc(gaussian_denoiser(sched, 0.5), sched, z, [999, 500, 0],
                                  variant="bh3"))


def test_few_steps_take_trailing_spacing_and_more_keep_their_grids():
    sched = samplers.CosineSchedule(1000)
    assert samplers.timesteps_for("dpmpp", sched, 5) == [999, 799, 599, 399, 199]
    assert samplers.timesteps_for("ddim", sched, 5) == [999, 799, 599, 399, 199]
    assert samplers.spacing_for("dpmpp", 10) == "trailing"
    assert samplers.spacing_for("dpmpp-sde", 19) == "trailing"
    assert samplers.spacing_for("dpmpp", 20) == "logsnr"  # as the shipped figures were made
    assert samplers.spacing_for("ddim", 20) == "time"
    assert samplers.spacing_for("unipc", 50) == "trailing"
    # at 5 steps on the toy too, trailing lands nearer the exact flow than log-SNR
    assert flow_error("dpmpp", "trailing", 5) < 0.7 * flow_error("dpmpp", "logsnr", 5)


def test_unipc_is_closest_in_few_steps_and_deterministic():
    """At 5 and 20 steps, each with its own default spacing, UniPC lands nearest the
    exact flow; and it draws no noise: the same start gives the same images."""
    for steps in (5, 20):
        errors = {n: flow_error(n, samplers.spacing_for(n, steps), steps)
                  for n in ("ddim", "dpmpp", "unipc")}
        assert errors["unipc"] < min(errors["dpmpp"], errors["ddim"]), (steps, errors)
    assert samplers.is_deterministic("unipc")
    sched = samplers.CosineSchedule(1000)
    z = torch.randn(4, 1, generator=torch.Generator().manual_seed(3))
    ts = samplers.timesteps_for("unipc", sched, 5)
    one = run_to_end(samplers.run("unipc", gaussian_denoiser(sched, 0.5), sched, z, ts))
    two = run_to_end(samplers.run("unipc", gaussian_denoiser(sched, 0.5), sched, z, ts))
    assert torch.equal(one, two)


def test_a_tiny_model_samples_with_unipc():
    model = tiny()
    images = model.sample(3, generator=torch.Generator().manual_seed(0), sampler="unipc",
                          steps=4)
    assert images.shape == (3, 1, 8, 8) and torch.isfinite(images).all()


def test_ddim_inversion_round_trip_on_an_exact_denoiser():
    sched = samplers.CosineSchedule(1000)
    denoise = gaussian_denoiser(sched, 0.5)
    x0 = torch.randn(64, 1, generator=torch.Generator().manual_seed(1)) * 0.5
    timesteps = samplers.timesteps_for("ddim", sched, 25)
    z = run_to_end(samplers.invert(denoise, sched, x0, timesteps))
    assert z.std().item() == pytest.approx(1.0, rel=0.2)  # noise-like latents
    back = run_to_end(samplers.ddim(denoise, sched, z, timesteps))
    assert (back - x0).abs().max().item() < 0.01
    plain = run_to_end(samplers.invert(denoise, sched, x0, timesteps, iterations=0))
    plain_back = run_to_end(samplers.ddim(denoise, sched, plain, timesteps))
    assert (plain_back - x0).abs().max().item() > 0.1  # what the refinement is for


def test_model_ddim_inversion_round_trip_is_close():
    model = tiny()
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    z = run_to_end(model.encode_steps(x))
    error = (model.decode(z) - x).abs().mean().item()
    assert error < 0.02


def test_sampling_is_seeded_and_previews_each_step():
    model = tiny()
    events = list(model.sample_steps(2, torch.Generator().manual_seed(0), steps=5))
    assert sum(isinstance(e, Preview) for e in events) == 4
    assert [e.step for e in events if isinstance(e, Progress)] == [1, 2, 3, 4, 5]
    first = events[-1].value
    again = model.sample(2, torch.Generator().manual_seed(0), steps=5).numpy()
    assert isinstance(events[-1], Result) and np.array_equal(first, again)
    for sampler in ("ddpm", "ddim", "dpmpp"):
        a = model.sample(2, torch.Generator().manual_seed(0), sampler=sampler, steps=4)
        b = model.sample(2, torch.Generator().manual_seed(1), sampler=sampler, steps=4)
        assert a.shape == (2, 1, 8, 8) and not torch.equal(a, b)


def test_guidance_changes_samples_and_classes_are_checked():
    model = tiny()
    model.class_names = [f"c{i}" for i in range(10)]
    assert model.class_choices()[3] == "c3"
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    plain = model.sample(2, g(), steps=3)
    guided = model.sample(2, g(), steps=3, **{"class": "c3", "guidance": 3.0})
    other = model.sample(2, g(), steps=3, **{"class": "c4", "guidance": 3.0})
    assert not torch.equal(plain, guided) and not torch.equal(guided, other)
    with pytest.raises(ValueError, match="unknown class"):
        model.sample(1, g(), steps=2, **{"class": "nope"})


def test_sdedit_strength_zero_returns_the_guide_and_low_strength_stays_near_it():
    model = tiny()
    guide = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(model.condition(guide, 0.0), guide)
    near = model.condition(guide, 0.1, generator=torch.Generator().manual_seed(0), steps=20)
    far = model.condition(guide, 1.0, generator=torch.Generator().manual_seed(0), steps=20)
    assert (near - guide).abs().mean() < (far - guide).abs().mean()
    # steps count a whole schedule: strength 0.5 of 20 steps is 10 evaluations
    events = list(model.condition_steps(guide, 0.5, generator=torch.Generator(), steps=20))
    assert max(e.step for e in events if isinstance(e, Progress)) == 10
    with pytest.raises(ValueError, match="strength"):
        model.condition(guide, 1.5)


def test_inpainting_keeps_the_unmasked_pixels_exactly():
    model = tiny()
    image = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    hole = torch.zeros(8, 8, dtype=torch.bool)
    hole[2:6, 2:6] = True
    out = model.inpaint(image, hole, generator=torch.Generator().manual_seed(0), steps=6)
    assert torch.equal(out[:, :, ~hole], image[:, :, ~hole])
    assert not torch.equal(out[:, :, hole], image[:, :, hole])
    with pytest.raises(ValueError, match="mask"):
        model.inpaint(image, torch.zeros(4, 4, dtype=torch.bool))


def test_bound_is_positive_deterministic_and_sums_over_pixels():
    model = tiny()
    x = torch.randint(0, 256, (3, 1, 8, 8)).float() / 255
    logp = model.log_prob(x)
    assert torch.equal(logp, model.log_prob(x))  # fixed noise: the same image, the same bound
    # ... whatever batch it is scored in
    assert torch.allclose(model.log_prob(x[1:2]), logp[1:2], rtol=1e-5)
    assert torch.allclose(model.log_prob(torch.cat([x, x]))[3:], logp, rtol=1e-5)
    assert torch.all(torch.isfinite(logp)) and torch.all(logp < 0)
    pixels = model.pixel_nll(x)
    assert pixels.shape == (3, 8, 8)
    assert torch.allclose(pixels.sum(dim=(1, 2)), -logp / math.log(2), rtol=1e-4)


def test_v_and_eps_prediction_both_train():
    for prediction in ("v", "eps"):
        model = registry.build("diffusion", **{**TINY_CONFIGS["diffusion"],
                                               "prediction": prediction})
        opts = model.configure_optimizers()
        x = torch.rand(8, 1, 8, 8)
        losses = [model.train_step(x, torch.randint(0, 10, (8,)), opts, i)["loss"]
                  for i in range(2)]
        assert all(math.isfinite(v) for v in losses)
    with pytest.raises(ValueError, match="prediction"):
        registry.build("diffusion", **{**TINY_CONFIGS["diffusion"], "prediction": "x"})


def test_sampler_options_check_choices_whole_numbers_and_when_they_apply():
    from genplay.core.errors import GenplayError
    from genplay.core.ops.sampling import check_options

    model = tiny()
    checked = check_options(model, {"steps": "7", "class": "3", "sampler": "ddim"})
    assert checked["steps"] == 7 and isinstance(checked["steps"], int)
    assert checked["class"] == "3" and checked["guidance"] == 1.0
    for bad, message in (({"steps": 2.5}, "whole number"), ({"sampler": "euler"}, "one of"),
                         ({"steps": 0}, "between"), ({"eta": "x"}, "a number")):
        with pytest.raises(GenplayError, match=message):
            check_options(model, bad)
    options = {o.name: o for o in model.sample_options()}
    assert options["eta"].applies({"sampler": "ddim"})
    assert not options["eta"].applies({"sampler": "dpmpp"})
    assert options["guidance"].applies({"class": "3"})
    assert not options["guidance"].applies({"class": "any"})


@pytest.mark.slow  # samples the shipped model: seconds
@pytest.mark.parametrize("sampler", ["dpmpp", "dpmpp-sde", "unipc"])
def test_five_steps_on_the_shipped_mnist_model_give_clean_digits(sampler):
    """The 5-step failure (DPM-Solver++ on the log-SNR grid: speckled strokes, FID 260)
    stays gone. MNIST's test digits have 6.1% of their pixels in mid tones (0.2-0.8) and
    82% near black; the speckled samples had 13% in mid tones."""
    from pathlib import Path

    from genplay.core import checkpoints
    from genplay.core.events import final_value
    from genplay.core.ops.sampling import sample_images

    model, _ = checkpoints.load(Path(__file__).parents[2] / "checkpoints" / "diffusion-mnist")
    x = torch.from_numpy(final_value(sample_images(model, 32, 0, sampler=sampler, steps=5)))
    assert ((x > 0.2) & (x < 0.8)).float().mean() < 0.09
    assert (x < 0.1).float().mean() > 0.75


def test_the_grid_option_chooses_where_the_steps_fall():
    """Grid "auto" is each sampler's own grid at that step count; another grid is taken
    as named, in sampling and in SDEdit, and an unknown one is refused."""
    from genplay.core.errors import GenplayError
    from genplay.core.events import final_value
    from genplay.core.ops.sampling import sample_images

    model = tiny()
    sched = model.schedule
    assert samplers.timesteps_for("dpmpp", sched, 5, grid="auto") == \
        samplers.timesteps_for("dpmpp", sched, 5) == sched.spaced(5, None, "trailing")
    assert samplers.timesteps_for("dpmpp", sched, 5, grid="logsnr") == \
        sched.spaced(5, None, "logsnr")

    def draw(**opts):
        return final_value(sample_images(model, 2, 0, sampler="dpmpp", steps=5, **opts))

    assert np.array_equal(draw(), draw(grid="trailing"))  # auto at 5 steps is trailing
    assert not np.array_equal(draw(), draw(grid="logsnr"))
    with pytest.raises(GenplayError):
        draw(grid="karras")
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(1))

    def sdedit(grid):
        return model.condition(x, 0.6, generator=torch.Generator().manual_seed(2), steps=6,
                               sampler="ddim", grid=grid)

    assert not torch.equal(sdedit("time"), sdedit("trailing"))
