"""Gated PixelCNN: causality (no blind spot, no leak), exact likelihood, sampling, completion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genplay.core import registry
from genplay.core.events import Preview, Progress, Result
from genplay.core.models.base import bits_per_dim
from genplay.core.models.capabilities import capabilities_of
from genplay.core.models.pixelcnn import PixelCNN, PixelCNNConfig, _Incremental

torch.set_num_threads(1)

TINY = {"image_size": 8, "hidden_channels": 4, "n_layers": 2, "n_mix": 2, "batch_size": 8}


def tiny(channels: int = 1, seed: int = 0, **overrides) -> PixelCNN:
    """A tiny model whose weights and biases are all visibly non-zero."""
    torch.manual_seed(seed)
    model = PixelCNN(PixelCNNConfig(**{**TINY, "channels": channels, **overrides})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model


def grid_images(n: int, channels: int = 1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, 8, 8), generator=g).float() / 255


@pytest.mark.parametrize("channels", [1, 3])
def test_each_pixel_sees_exactly_the_pixels_before_it(channels):
    """No leak (itself and later pixels: zero gradient) and no blind spot (every earlier
    pixel, the ones above and to the right included: non-zero gradient).

    Six layers (first kernel 5, then 3) reach 8 rows up, 7 columns to either side and 8
    to the left, so every earlier pixel of an 8x8 image is inside the receptive field.
    """
    model = tiny(channels, n_layers=6)
    n = 64  # one copy of the image per output pixel, so one backward pass does them all
    x = torch.rand(1, channels, 8, 8).repeat(n, 1, 1, 1).requires_grad_(True)
    out = model(x)
    pixel = torch.arange(n)
    out[pixel, :, pixel // 8, pixel % 8].sum().backward()
    depends = (x.grad.abs().sum(dim=1) > 0).view(n, n)  # [output pixel, input pixel]
    earlier = torch.ones(n, n).tril(diagonal=-1).bool()
    assert torch.equal(depends, earlier)
    # The blind spot of a plain masked PixelCNN: the pixel above and to the right.
    assert depends[4 * 8 + 3, 3 * 8 + 4] and depends[4 * 8 + 3, 0 * 8 + 7]


@pytest.mark.parametrize("channels", [1, 3])
def test_cached_sampling_network_matches_the_full_forward_pass(channels):
    model = tiny(channels, n_layers=3)
    x = grid_images(3, channels)
    full = model(x)
    cache = _Incremental(model, x.clone())
    step = torch.zeros_like(full)
    for i in range(8):
        for j in range(8):
            step[:, :, i, j] = cache.params_at(i, j)
        cache.finish_row(i)
    assert torch.allclose(step, full, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_conditionals_are_exact_distributions_over_256_values(channels):
    model = tiny(channels)
    base = grid_images(1, channels)
    for i, j in [(7, 7), (3, 4)]:  # the last pixel, which nothing depends on, and a middle one
        x = base.repeat(256, 1, 1, 1)
        x[:, :, i, j] = (torch.arange(256).float() / 255).view(256, 1)
        logp = model.log_prob_pixels(x)
        total = torch.logsumexp(logp[:, :, i, j].double(), dim=0)  # one sum per channel
        assert torch.allclose(total, torch.zeros(channels).double(), atol=1e-4)
        if (i, j) == (7, 7):  # no other pixel's conditional depends on the last pixel
            assert torch.allclose(logp[:, :, :7], logp[:1, :, :7].expand(256, -1, -1, -1))
    x = grid_images(4, channels)
    assert torch.allclose(model.log_prob(x), model.log_prob_pixels(x).sum(dim=(1, 2, 3)))
    assert torch.all(bits_per_dim(model.log_prob(x), model.image_shape) > 0)


def test_registered_with_sampler_and_density_capabilities():
    assert registry.get("pixelcnn") is PixelCNN
    assert capabilities_of(PixelCNN) == ["sampler", "density"]
    model = registry.build("pixelcnn", **TINY)
    assert model.config == PixelCNNConfig(**TINY)
    with pytest.raises(ValueError, match="kernel_size"):
        PixelCNNConfig(kernel_size=4)


@pytest.mark.parametrize("channels", [1, 3])
def test_sampling_is_deterministic_quantised_and_agrees_with_sample_steps(channels):
    model = tiny(channels)
    (option,) = model.sample_options()
    assert option.name == "temperature" and option.minimum <= option.default <= option.maximum
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, generator=torch.Generator().manual_seed(3))
    c = model.sample(5, generator=torch.Generator().manual_seed(4))
    assert a.shape == (5, channels, 8, 8) and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a * 255, (a * 255).round())
    assert torch.equal(a, b) and not torch.equal(a, c)

    steps = model.sample_steps(5, torch.Generator().manual_seed(3), preview_every=16)
    events = [next(steps)]
    assert torch.is_grad_enabled()  # no_grad inside the generator does not leak to the caller
    events += list(steps)
    progress = [e for e in events if isinstance(e, Progress)]
    previews = [e for e in events if isinstance(e, Preview)]
    assert isinstance(events[-1], Result) and sum(isinstance(e, Result) for e in events) == 1
    assert events[-1].value.dtype == np.float32
    assert torch.equal(torch.from_numpy(events[-1].value), a)
    assert [p.step for p in progress] == [8 * (i + 1) for i in range(8)]
    assert all(p.total == 64 for p in progress)
    assert [p.step for p in previews] == [16, 32, 48, 64]
    assert previews[0].images.dtype == np.uint8 and previews[0].images.shape == (5, 8, 8, channels)
    assert np.all(previews[0].images[:, 2:] == 0)  # rows not drawn yet are still blank
    assert np.array_equal(previews[-1].images[..., 0], np.round(events[-1].value[:, 0] * 255))

    cool = model.sample(5, generator=torch.Generator().manual_seed(3), temperature=0.5)
    assert torch.equal(cool * 255, (cool * 255).round()) and not torch.equal(cool, a)


def test_completion_keeps_given_pixels_and_fills_the_rest():
    model = tiny(1)
    x = grid_images(4)
    keep = torch.zeros(8, 8, dtype=torch.bool)
    keep[:3] = True  # the top rows: the exact case
    keep[5, 2] = True  # a given pixel after the hole is kept too
    out = model.complete(x, keep, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.equal(out[:, :, keep], x[:, :, keep])
    assert not torch.equal(out[:, :, ~keep], x[:, :, ~keep])
    assert torch.equal(out * 255, (out * 255).round())

    # The same per-image mask, sample_steps-style generator, and the same draws.
    events = list(model.complete_steps(x, keep.expand(4, 1, 8, 8),
                                       torch.Generator().manual_seed(0), preview_every=8))
    assert torch.equal(torch.from_numpy(events[-1].value), out)
    assert [e.step for e in events if isinstance(e, Preview)] == [8 * (i + 1) for i in range(8)]

    # The kept top rows are conditioned on: other top rows, other completions.
    other = x.clone()
    other[:, :, :3] = 1 - other[:, :, :3]
    out2 = model.complete(other, keep, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(out2[:, :, 3:], out[:, :, 3:])

    full = torch.ones(4, 1, 8, 8, dtype=torch.bool)
    assert torch.equal(model.complete(x, full), x)
    with pytest.raises(ValueError, match="mask"):
        model.complete(x, torch.ones(4, 8, 8, dtype=torch.bool))


def test_train_steps_and_validation_report_finite_bits_per_dim():
    model = tiny(1)
    opts = model.configure_optimizers()
    x = grid_images(8)
    for step in range(2):
        losses = model.train_step(x, None, opts, step)
        assert set(losses) == {"bpd"} and math.isfinite(losses["bpd"])
    metrics = model.validation_metrics(x, None)
    assert set(metrics) == {"bpd"} and math.isfinite(metrics["bpd"])
    expected = bits_per_dim(model.log_prob(x), model.image_shape).mean().item()
    assert metrics["bpd"] == pytest.approx(expected, rel=1e-5)


def test_training_on_one_image_lowers_its_bits_per_dim():
    torch.manual_seed(0)
    model = PixelCNN(PixelCNNConfig(**{**TINY, "hidden_channels": 8, "lr": 1e-2}))
    image = torch.zeros(1, 8, 8)
    image[:, 2:6, 3:5] = 1.0  # a bright bar on black
    x = image.expand(8, 1, 8, 8).contiguous()
    before = bits_per_dim(model.log_prob(x), model.image_shape).mean().item()
    opts = model.configure_optimizers()
    for step in range(30):
        model.train_step(x, None, opts, step)
    after = bits_per_dim(model.log_prob(x), model.image_shape).mean().item()
    assert after < 0.5 * before


def test_sample_images_shows_pixels_forming_and_draws_what_sample_draws():
    from genplay.core.ops.sampling import CHUNK, chunk_seed, sample_images

    model = tiny()
    events = list(sample_images(model, 70, seed=5, temperature=0.9))
    previews = [e for e in events if isinstance(e, Preview)]
    progress = [e.step for e in events if isinstance(e, Progress)]
    images = events[-1].value
    assert isinstance(events[-1], Result) and images.shape == (70, 1, 8, 8)
    assert progress == sorted(progress) and progress[-1] == 70 and len(progress) > 2
    # previews of the second chunk hold the first chunk's finished images too
    last = previews[-1].images
    assert last.shape == (70, 8, 8, 1) and last.dtype == np.uint8
    np.testing.assert_array_equal(last[:CHUNK], np.round(images[:CHUNK] * 255)
                                  .astype(np.uint8).transpose(0, 2, 3, 1))
    for chunk in range(2):
        generator = torch.Generator().manual_seed(chunk_seed(5, chunk))
        direct = model.sample(CHUNK, generator=generator, temperature=0.9).numpy()
        part = images[chunk * CHUNK : (chunk + 1) * CHUNK]
        np.testing.assert_array_equal(part, direct[: len(part)])
