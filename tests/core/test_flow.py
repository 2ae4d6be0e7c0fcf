"""The normalizing flow: exact inverse, exact log-determinant, the likelihood bound, sampling."""

from __future__ import annotations

import math

import pytest
import torch

from genplay.core import checkpoints
from genplay.core.models.base import bits_per_dim, encode
from genplay.core.models.capabilities import capabilities_of
from genplay.core.models.flow import Flow, FlowConfig, scale_count, squeeze, unsqueeze

torch.set_num_threads(1)

TINY = {"image_size": 8, "hidden_channels": 4, "n_scales": 2, "steps_per_scale": 2,
        "n_blocks": 1, "batch_size": 8}


def tiny(**overrides) -> Flow:
    torch.manual_seed(0)
    return Flow(FlowConfig(**{**TINY, **overrides}))


def scrambled(model: Flow, seed: int = 0) -> Flow:
    """Random weights everywhere (the zero-initialised couplings would be nearly linear)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model.eval()


def images8(n: int, shape=(1, 8, 8), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), generator=g).float() / 255


def test_capabilities_and_scale_plan():
    assert capabilities_of(Flow) == ["sampler", "latent", "density"]
    assert [scale_count(s, 9) for s in (8, 16, 28, 32, 64)] == [3, 4, 2, 5, 6]
    assert scale_count(28, 2) == 2 and scale_count(28, 1) == 1
    with pytest.raises(ValueError):
        FlowConfig(n_scales=0)
    x = torch.randn(2, 3, 8, 8)
    assert squeeze(x).shape == (2, 12, 4, 4) and torch.equal(unsqueeze(squeeze(x)), x)


def test_encode_decode_round_trip():
    model = scrambled(tiny())
    x = images8(6)
    z = encode(model, x)
    assert z.shape == (6, *model.latent_shape) and torch.all(torch.isfinite(z))
    assert (model.decode(z) - x).abs().max() < 1e-6  # well inside half a grey level
    h = torch.randn(3, 1, 8, 8)
    assert torch.allclose(model._inverse(model._forward(h)[0]), h, atol=1e-4)
    samples = model.sample(4, torch.Generator().manual_seed(1), temperature=1.0)
    assert torch.equal(model.decode(encode(model, samples)), samples)


def test_flow_log_determinant_matches_the_jacobian():
    model = scrambled(tiny().double())
    with torch.no_grad():  # a data-dependent actnorm init, as training would do
        model._forward(torch.randn(8, 1, 8, 8, dtype=torch.float64), init=True)
    h = torch.randn(1, 1, 8, 8, dtype=torch.float64)

    def flat(v: torch.Tensor) -> torch.Tensor:
        return model._forward(v.view(1, 1, 8, 8))[0].flatten()

    jac = torch.autograd.functional.jacobian(flat, h.flatten())
    assert jac.shape == (64, 64)
    expected = torch.linalg.slogdet(jac)[1]
    assert model._forward(h)[1].item() == pytest.approx(expected.item(), abs=1e-3)
    # The logit's Jacobian is diagonal: compare its log|det| with autograd's derivatives.
    y = torch.rand(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    out, logdet = model._logit(y)
    (grad,) = torch.autograd.grad(out.sum(), y)
    assert logdet.item() == pytest.approx(grad.log().sum().item(), abs=1e-6)


def test_log_prob_is_a_seeded_change_of_variables_sum():
    model = scrambled(tiny())
    x = images8(4)
    a = model.log_prob(x, generator=torch.Generator().manual_seed(5))
    b = model.log_prob(x, generator=torch.Generator().manual_seed(5))
    c = model.log_prob(x, generator=torch.Generator().manual_seed(6))
    assert a.shape == (4,) and torch.equal(a, b) and not torch.equal(a, c)
    bpd = bits_per_dim(a, model.image_shape)
    assert torch.all(torch.isfinite(bpd)) and torch.all(bpd > 0)
    # The same sum written out: prior + network + logit + bin width.
    y = model._dequantize(x, torch.Generator().manual_seed(5))
    h, ld_logit = model._logit(y)
    z, ld_flow = model._forward(h)
    prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).flatten(1).sum(1)
    manual = prior + ld_flow + ld_logit - 64 * math.log(256)
    assert torch.allclose(a, manual, rtol=1e-5, atol=1e-3)


def test_extreme_images_stay_finite():
    model = scrambled(tiny())
    x = torch.cat([torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)])
    assert torch.all(torch.isfinite(model.log_prob(x)))
    assert torch.all(torch.isfinite(encode(model, x)))
    assert torch.equal(model.decode(encode(model, x)), x)
    huge = model.decode(torch.full((1, 1, 8, 8), 1e4))
    assert torch.all(torch.isfinite(huge)) and huge.min() >= 0 and huge.max() <= 1


def test_sampling_contract_grid_and_determinism():
    model = scrambled(tiny())
    for option in model.sample_options():
        assert option.minimum <= option.default <= option.maximum
    a = model.sample(5, torch.Generator().manual_seed(3), temperature=0.7)
    b = model.sample(5, torch.Generator().manual_seed(3), temperature=0.7)
    c = model.sample(5, torch.Generator().manual_seed(4), temperature=0.7)
    assert a.shape == (5, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a * 255, torch.round(a * 255))  # on the 8-bit grid
    z = model.prior_sample(5, torch.Generator().manual_seed(3)) * 0.7
    assert torch.equal(a, torch.round(model.decode(z) * 255) / 255)


@pytest.mark.parametrize("size,channels", [(8, 1), (16, 1), (28, 1), (32, 3), (64, 3)])
def test_every_image_shape(size, channels):
    model = tiny(image_size=size, channels=channels, steps_per_scale=1).eval()
    shape = (channels, size, size)
    assert model.latent_shape == shape
    x = images8(2, shape)
    assert encode(model, x).shape == (2, *shape)
    assert model.sample(2, torch.Generator().manual_seed(0)).shape == (2, *shape)
    assert model.log_prob(x).shape == (2,)
    assert sum(c * h * w for c, h, w in model._part_shapes) == channels * size * size


def test_training_reduces_bits_per_dim():
    model = tiny(hidden_channels=8, lr=3e-3)
    opts = model.configure_optimizers()
    x = torch.zeros(8, 1, 8, 8)
    x[:, :, 2:6, 3:5] = 200 / 255
    losses = [model.train_step(x, None, opts, step)["bpd"] for step in range(60)]
    assert all(math.isfinite(v) for v in losses)
    assert model.initialized.item() == 1
    assert sum(losses[-5:]) / 5 < losses[0] - 1.0, losses
    model.eval()
    assert model.validation_metrics(x, None)["bpd"] < losses[0] - 1.0


def test_save_load_keeps_the_initialised_actnorm(tmp_path):
    model = tiny()
    model.train_step(images8(8), None, model.configure_optimizers(), 0)
    model.eval()
    checkpoints.save(model, tmp_path / "m", dataset="tiny", recipe="test")
    loaded, info = checkpoints.load(tmp_path / "m")
    assert info.family == "flow" and loaded.initialized.item() == 1
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(model.sample(3, g1), loaded.sample(3, g2))


@pytest.mark.parametrize("size,channels", [(8, 1), (28, 1), (32, 3)])
def test_pixel_bits_share_out_the_exact_bits_at_the_bin_centres(size, channels):
    model = scrambled(tiny(image_size=size, channels=channels)).eval()
    with torch.no_grad():
        model._forward(torch.randn(8, channels, size, size), init=True)
    x = images8(3, (channels, size, size))
    bits = model.pixel_nll(x)
    assert bits.shape == (3, size, size) and torch.all(torch.isfinite(bits))
    y = (255 * x + 0.5) / 256  # the bin centres
    h, ld_logit = model._logit(y)
    z, ld_flow = model._forward(h)
    prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).flatten(1).sum(1)
    exact = -(prior + ld_flow + ld_logit - x[0].numel() * math.log(256)) / math.log(2)
    assert torch.allclose(bits.sum(dim=(1, 2)), exact, rtol=1e-4)
    # a pixel's bits move with that pixel's neighbourhood, not with far away pixels
    changed = x.clone()
    changed[:, :, :4, :4] = 1 - changed[:, :, :4, :4]
    delta = (model.pixel_nll(changed) - bits).abs()
    far = delta[:, size // 2 + 2 :, size // 2 + 2 :] if size >= 16 else None
    near = delta[:, :4, :4]
    assert near.mean() > 0
    if far is not None:
        assert far.mean() < near.mean()
