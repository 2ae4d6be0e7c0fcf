"""The energy-based model: contrastive-divergence training, Langevin sampling, the
unnormalised density, and how it is scored as an outlier score (never as bits/dim)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from safetensors import safe_open

from genplay.core import checkpoints, registry
from genplay.core.events import Preview, Progress, Result
from genplay.core.models.capabilities import capabilities_of, is_normalised
from genplay.core.ops import outliers
from genplay.core.ops.sampling import sample_images
from tests.conftest import TINY_CONFIGS


def tiny(**overrides):
    return registry.build("ebm", **{**TINY_CONFIGS["ebm"], **overrides})


def test_capabilities_and_unnormalised_density():
    model = tiny()
    assert capabilities_of(registry.get("ebm")) == ["sampler", "density", "conditional"]
    assert not is_normalised(model)


def test_two_training_steps_give_finite_loss_terms():
    torch.manual_seed(0)
    model = tiny()
    opts = model.configure_optimizers()
    assert opts["main"].defaults["betas"] == (0.0, 0.999)
    x = torch.rand(8, 1, 8, 8)
    for step in range(2):
        losses = model.train_step(x, None, opts, step)
        assert set(losses) == {"loss", "energy_pos", "energy_neg", "reg"}
        assert all(isinstance(v, float) and math.isfinite(v) for v in losses.values())
    assert model.replay.shape == (64, 1, 8, 8)  # buffer_size chains, allocated on first use
    assert all(p.requires_grad for p in model.parameters())  # restored after Langevin


def test_langevin_sampling_is_seeded_shaped_and_in_range():
    model = tiny().eval()
    a = model.sample(5, torch.Generator().manual_seed(1), steps=6)
    b = model.sample(5, torch.Generator().manual_seed(1), steps=6)
    c = model.sample(5, torch.Generator().manual_seed(2), steps=6)
    assert a.shape == (5, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    # keep=k moves the first k of n: the same images as the first k of all n
    steps = model.sample_steps(6, torch.Generator().manual_seed(1), keep=2, steps=6)
    kept = [e for e in steps if isinstance(e, Result)][0].value
    full = model.sample(6, torch.Generator().manual_seed(1), steps=6)
    assert kept.shape == (2, 1, 8, 8)
    assert np.allclose(kept, full[:2].numpy(), atol=1e-5)


def test_sample_steps_yield_previews_and_stop_when_closed():
    model = tiny().eval()
    events = model.sample_steps(3, torch.Generator().manual_seed(0), steps=10, preview_every=2)
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, Preview):
            assert event.images.shape == (3, 8, 8, 1) and event.images.dtype == np.uint8
        if isinstance(event, Progress) and event.step == 5:
            events.close()  # cancel mid-way: a closed generator runs no further
            break
    assert any(isinstance(e, Preview) for e in seen)
    assert not any(isinstance(e, Result) for e in seen)
    assert model.training is False
    assert all(p.requires_grad for p in model.parameters())


def test_sampling_panel_protocol_gives_previews_and_the_same_images():
    model = tiny().eval()
    events = list(sample_images(model, 3, seed=4, steps=8))
    assert any(isinstance(e, Preview) for e in events)
    images = events[-1].value
    again = list(sample_images(model, 3, seed=4, steps=8))[-1].value
    assert images.shape == (3, 1, 8, 8) and np.array_equal(images, again)


def test_refine_starts_from_the_given_images():
    model = tiny().eval()
    x = torch.full((2, 1, 8, 8), 0.3)
    same = model.refine(x, torch.Generator().manual_seed(0), steps=3, step_size=0.0, noise=0.0)
    assert torch.allclose(same, x)  # no gradient step and no noise: nothing moves
    moved = model.refine(x, torch.Generator().manual_seed(0), steps=3)
    assert moved.shape == x.shape and (moved - x).abs().max() < 0.2


def test_log_prob_is_the_negative_energy():
    model = tiny().eval()
    x = torch.rand(4, 1, 8, 8)
    logp = model.log_prob(x)
    assert logp.shape == (4,)
    assert torch.allclose(logp, -model.energy(x))
    with torch.no_grad():  # lowering the energy (here: the output bias) raises log_prob
        model.net.body[-1].bias -= 1.0
    assert torch.allclose(model.log_prob(x), logp + 1.0, atol=1e-5)


def test_scored_as_an_energy_never_as_bits_per_dim():
    model = tiny().eval()
    assert outliers.available_methods(model) == ["energy"]
    x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    scores = [e for e in outliers.score_images(model, x, "energy") if isinstance(e, Result)]
    expected = -model.log_prob(torch.round(torch.from_numpy(x) * 255) / 255)
    assert np.allclose(scores[0].value, expected.double().numpy(), atol=1e-5)
    with pytest.raises(Exception, match="cannot compute the 'bpd' score"):
        list(outliers.score_images(model, x, "bpd"))
    assert "energy" not in outliers.available_methods(registry.build(
        "flow", **TINY_CONFIGS["flow"]))


def test_replay_buffer_is_not_in_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = tiny()
    model.train_step(torch.rand(8, 1, 8, 8), None, model.configure_optimizers(), 0)
    assert model.replay.numel() > 0
    checkpoints.save(model.eval(), tmp_path / "m", dataset="tiny", recipe="test")
    with safe_open(str(tmp_path / "m" / checkpoints.WEIGHTS_FILE), "pt") as f:
        keys = set(f.keys())
    assert keys == set(model.state_dict()) and not any("replay" in k for k in keys)
    loaded, _info = checkpoints.load(tmp_path / "m")
    assert loaded.replay.numel() == 0
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(model.sample(2, g1), loaded.sample(2, g2))


def test_training_on_a_constant_image_pulls_samples_towards_it():
    """Images of constant value 0.8 plus a little noise: after 40 steps, Langevin from
    uniform noise (mean 0.5) ends nearer 0.8."""
    torch.manual_seed(0)
    model = tiny(features=8, langevin_steps=10, sample_steps=20, buffer_size=256,
                 batch_size=16, lr=1e-3)
    opts = model.configure_optimizers()
    for step in range(40):
        x = (0.8 + 0.02 * torch.randn(16, 1, 8, 8)).clamp(0, 1)
        losses = model.train_step(x, None, opts, step)
        assert math.isfinite(losses["loss"])
    model.eval()
    start = torch.rand((64, 1, 8, 8), generator=torch.Generator().manual_seed(5))
    samples = model.sample(64, torch.Generator().manual_seed(5))
    assert abs(samples.mean().item() - 0.8) < 0.5 * abs(start.mean().item() - 0.8)
    data = torch.full((4, 1, 8, 8), 0.8)
    assert torch.all(model.log_prob(data) > model.log_prob(start[:4]))


def test_eval_and_score_use_the_energy_and_report_no_bits_per_dim(tmp_path, tiny_checkpoints,
                                                                 capsys):
    import shutil

    from PIL import Image

    from genplay.cli import main as cli
    from genplay.core.evaluation import evaluate_checkpoint, store_evaluation
    from genplay.core.events import final_value

    folder = tmp_path / "ebm"
    shutil.copytree(tiny_checkpoints / "ebm-tiny", folder)
    events = list(evaluate_checkpoint(folder, n_samples=8))
    metrics, reference = events[-1].value, events[-1].summary["reference"]
    assert not {"bpd", "elbo_bpd", "iwae_bpd"} & set(metrics)
    assert set(metrics["scores"]) == {"energy"} and metrics["typical_bpd"] is None
    store_evaluation(folder, metrics, reference, merge=False)
    scores, typical = outliers.load_reference(folder, checkpoints.weights_hash(folder))
    assert set(scores) == {"energy"} and typical is None
    Image.new("L", (8, 8), 200).save(tmp_path / "x.png")
    assert cli(["score", str(folder), str(tmp_path / "x.png"), "--json"]) == 0
    assert '"method": "energy"' in capsys.readouterr().out
    assert final_value(outliers.score_files(
        checkpoints.load(folder)[0], [tmp_path / "x.png"], ["energy"]))["scored"] == 1
