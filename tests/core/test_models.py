"""Every registered family, built tiny: capabilities, shapes, determinism, likelihood exactness."""

from __future__ import annotations

import math

import pytest
import torch

from genplay.core import checkpoints, registry
from genplay.core.models import likelihood
from genplay.core.models.base import bits_per_dim, encode
from genplay.core.models.blocks import resolution_plan
from genplay.core.models.capabilities import (
    Denoising,
    Density,
    Latent,
    Sampler,
    Upscaler,
    capabilities_of,
    has_capability,
    is_importance_weighted,
    is_normalised,
)
from tests.conftest import TINY_CONFIGS

FAMILIES = registry.families()


def tiny(family: str):
    return registry.build(family, **TINY_CONFIGS[family]).eval()


def test_every_family_has_a_tiny_config():
    assert set(FAMILIES) == set(TINY_CONFIGS)


def test_expected_capabilities():
    assert capabilities_of(registry.get("vae")) == ["sampler", "latent", "density"]
    assert capabilities_of(registry.get("gan")) == ["sampler", "latent"]
    assert capabilities_of(registry.get("classifier")) == []
    assert capabilities_of(registry.get("pixelcnn")) == ["sampler", "density"]
    assert capabilities_of(registry.get("flow")) == ["sampler", "latent", "density"]
    assert capabilities_of(registry.get("diffusion")) == [
        "sampler", "latent", "density", "conditional"]


@pytest.mark.parametrize("size,expected", [(28, (7, 2)), (32, (8, 2)), (64, (8, 3)), (8, (4, 1))])
def test_resolution_plan(size, expected):
    assert resolution_plan(size) == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_two_training_steps_change_weights(family):
    model = registry.build(family, **TINY_CONFIGS[family])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opts = model.configure_optimizers()
    x = torch.rand(8, 1, 8, 8)
    labels = torch.randint(0, 10, (8,))
    for step in range(2):
        losses = model.train_step(x, labels, opts, step)
        assert losses and all(math.isfinite(v) for v in losses.values())
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("family", [f for f in FAMILIES if has_capability(tiny(f), Sampler)])
def test_sampler_shapes_range_and_determinism(family):
    model = tiny(family)
    for option in model.sample_options():
        if option.choices:
            assert option.default in option.choices
        else:
            assert option.minimum <= option.default <= option.maximum
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, generator=torch.Generator().manual_seed(3))
    c = model.sample(5, generator=torch.Generator().manual_seed(4))
    assert a.shape == (5, 1, 8, 8)
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("family", [f for f in FAMILIES if has_capability(tiny(f), Latent)])
def test_latent_round_trip_shapes(family):
    model = tiny(family)
    z = model.prior_sample(3, torch.Generator().manual_seed(0))
    assert z.shape == (3, *model.latent_shape)
    x = model.decode(z)
    assert x.shape == (3, 1, 8, 8)
    steps = list(model.encode_steps(x, **({"steps": 5} if family == "gan" else {})))
    assert steps[-1][0] == steps[-1][1]  # the last yield is the final step
    assert encode(model, x, **({"steps": 5} if family == "gan" else {})).shape == z.shape


def test_gan_encoding_by_optimisation_reduces_the_error():
    model = tiny("gan")
    target = model.decode(model.prior_sample(2, torch.Generator().manual_seed(1)))
    errors = []
    for _step, _total, z in model.encode_steps(target, steps=60, lr=0.1,
                                               generator=torch.Generator().manual_seed(2)):
        errors.append((model.decode(z) - target).pow(2).mean().item())
    assert errors[-1] < errors[0] * 0.5
    assert all(p.requires_grad for p in model.generator.parameters())  # restored afterwards


@pytest.mark.parametrize("family", [f for f in FAMILIES if has_capability(tiny(f), Density)])
def test_density_is_finite_and_positive_bits(family):
    model = tiny(family)
    x = torch.randint(0, 256, (4, 1, 8, 8)).float() / 255
    logp = model.log_prob(x)
    assert logp.shape == (4,)
    bpd = bits_per_dim(logp, model.image_shape)
    assert torch.all(torch.isfinite(bpd))
    if is_normalised(model):  # an unnormalised -E(x) may have either sign
        assert torch.all(bpd > 0)


def test_discretized_logistic_mixture_sums_to_one_over_all_256_values():
    torch.manual_seed(0)
    params = torch.randn(1, 3 * 3, 1, 1) * 2  # one pixel, 3 components, varied scales
    values = torch.arange(256).float().view(256, 1, 1, 1) / 255
    logp = likelihood.log_prob(values, params.expand(256, -1, -1, -1), n_mix=3)
    assert torch.logsumexp(logp.flatten(), 0).exp().item() == pytest.approx(1.0, abs=1e-4)


def test_vae_iwae_bound_is_at_least_the_elbo_on_average():
    model = tiny("vae")
    x = torch.randint(0, 256, (6, 1, 8, 8)).float() / 255
    g = torch.Generator().manual_seed(0)
    elbo = torch.stack([model.log_prob(x, k=1, generator=g) for _ in range(64)]).mean(0)
    iwae = model.log_prob(x, k=64, generator=g)
    assert torch.all(iwae >= elbo - 1e-3)


def test_vae_beta_zero_is_a_plain_autoencoder():
    model = registry.build("vae", **{**TINY_CONFIGS["vae"], "beta": 0.0})
    opts = model.configure_optimizers()
    x = torch.rand(8, 1, 8, 8)
    losses = model.train_step(x, None, opts, 0)
    assert losses["loss"] == pytest.approx(losses["recon_bpd"] * math.log(2), rel=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_save_load_gives_identical_outputs(family, tmp_path):
    model = tiny(family)
    checkpoints.save(model, tmp_path / "m", dataset="tiny", recipe="test")
    loaded, info = checkpoints.load(tmp_path / "m")
    assert info.family == family and info.capabilities == capabilities_of(model)
    x = torch.rand(2, 1, 8, 8)
    if has_capability(model, Sampler):
        g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
        assert torch.equal(model.sample(2, generator=g1), loaded.sample(2, generator=g2))
    elif has_capability(model, Upscaler):
        assert torch.equal(model.upscale(x, 2), loaded.upscale(x, 2))
    else:
        assert torch.equal(model.features(x), loaded.features(x))


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3)])
@pytest.mark.parametrize("family", FAMILIES)
def test_families_build_for_every_image_shape(family, size, channels):
    config = {**TINY_CONFIGS[family], "image_size": size, "channels": channels}
    model = registry.build(family, **config).eval()
    x = torch.rand(2, channels, size, size)
    # A PixelCNN draws pixel by pixel: 64x64 would take 4,096 network passes, so it draws
    # its colour samples at 32 px only; at 64 px it builds and scores.
    draws = family != "pixelcnn" or size * size * channels <= 32 * 32 * 3
    if has_capability(model, Sampler) and draws:
        assert model.sample(2).shape == (2, channels, size, size)
    if has_capability(model, Density):
        weighted = is_importance_weighted(model)
        assert model.log_prob(x, **({"k": 2} if weighted else {})).shape == (2,)
    if family == "classifier":
        assert model(x).shape == (2, 10)


@pytest.mark.parametrize("family", [f for f in FAMILIES if has_capability(tiny(f), Latent)])
def test_latent_samplers_draw_their_latents_first(family):
    """sample() == decode(temperature * prior_sample(...)) for the same generator state."""
    from genplay.core.ops.sampling import CHUNK, chunk_seed, sample_images, sample_latent

    model = tiny(family)
    # Diffusion models decode by deterministic DDIM; their default sampler is DPM-Solver++.
    deterministic = ({"sampler": "ddim", "steps": model.latent_steps}
                     if isinstance(model, Denoising) else {})
    images = list(sample_images(model, 70, seed=9, temperature=0.5, **deterministic))[-1].value
    for index in (3, 66):
        z = sample_latent(model, 9, index) * 0.5
        assert torch.allclose(model.decode(z[None])[0], torch.from_numpy(images[index]), atol=1e-5)
    assert CHUNK == 64 and chunk_seed(9, 1) != chunk_seed(10, 0)


def test_class_balance_weighs_a_rare_class_up_as_its_share_goes_down():
    """With class_balance, a class that is 1 in 10 of the labels seen weighs more than one
    that is 9 in 10, by (9/1)^balance (counts smoothed by one); the weights average about 1 over
    the images seen."""
    from genplay.core.models.features import Classifier, ClassifierConfig

    labels = torch.tensor([0] * 90 + [1] * 10)
    for balance in (0.5, 1.0):
        ratio = (91 / 11) ** balance
        net = Classifier(ClassifierConfig(num_classes=2, base_channels=2, feature_dim=4,
                                          channels=1, image_size=8, class_balance=balance))
        weight = net._class_weights(labels)
        assert weight[1] / weight[0] == pytest.approx(ratio, rel=0.02)
        assert weight[labels].mean() == pytest.approx(1.0, rel=0.05)
        net.train_step(torch.rand(100, 1, 8, 8), labels, net.configure_optimizers(), 0)
        assert net.seen.tolist() == [180, 20]  # counted again by the training step
    plain = Classifier(ClassifierConfig(num_classes=2, base_channels=2, feature_dim=4,
                                        channels=1, image_size=8))
    assert plain._class_weights(labels) is None


def test_classifier_stages_set_how_far_it_looks_and_keep_the_two_stage_layout():
    """stages=2 is the layout every shipped classifier was saved with (same parameter names,
    same shapes); more stages halve the image more times before the last block, so a point
    of the last block sees all of a 32 px image; too many stages for the size are refused;
    hflip mirrors some images of a batch and never changes a mirror-symmetric one."""
    from genplay.core.models.features import Classifier, ClassifierConfig

    small = dict(num_classes=3, base_channels=2, feature_dim=4, channels=3, image_size=32)
    two = Classifier(ClassifierConfig(**small))
    legacy = {"body.0.weight": (2, 3, 3, 3), "body.10.weight": (4, 4, 3, 3),
              "body.14.weight": (8, 4, 3, 3), "body.19.weight": (4, 8)}
    state = two.state_dict()
    assert {k: tuple(state[k].shape) for k in legacy} == legacy
    four = Classifier(ClassifierConfig(**small, stages=4)).eval()
    assert four.features(torch.rand(2, 3, 32, 32)).shape == (2, 4)
    # how far a last-block point sees: does changing the far quarter of the image move the
    # last block's top-left point?
    x = torch.rand(1, 3, 32, 32)
    far = x.clone()
    far[:, :, 16:, 16:] = torch.rand(1, 3, 16, 16)

    def corner(net, images):
        with torch.no_grad():
            return net.body[:-4](images * 2 - 1)[0, :, 0, 0]  # before the pooling

    assert not torch.allclose(corner(four, x), corner(four, far))
    assert torch.equal(corner(two.eval(), x), corner(two, far))
    with pytest.raises(ValueError, match="at most 5"):
        ClassifierConfig(**small, stages=6)
    flip = Classifier(ClassifierConfig(**small, hflip=True, max_shift=0))
    torch.manual_seed(0)
    batch = torch.rand(64, 3, 32, 32)
    out = flip._augment(batch)
    mirrored = (out == batch.flip(3)).flatten(1).all(1)
    assert 10 < mirrored.sum() < 54 and ((out == batch).flatten(1).all(1) | mirrored).all()
    symmetric = (batch + batch.flip(3)) / 2
    assert torch.equal(flip._augment(symmetric), symmetric)
