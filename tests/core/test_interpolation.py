"""Latent-space operations: interpolation maths, decoding paths, encoding, directions, export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from genplay.core import registry
from genplay.core.errors import GenplayError
from genplay.core.events import Progress, Result, final_value
from genplay.core.models.capabilities import Latent, has_capability
from genplay.core.ops import interpolation
from genplay.core.ops.interpolation import (
    LatentDirections,
    compute_directions,
    directions_path,
    encode_image,
    interpolate,
    interpolation_path,
    latent_from_seed,
    lerp,
    load_or_compute_directions,
    move_along,
    save_gif,
    save_latents_npz,
    slerp,
)
from tests.conftest import TINY_CONFIGS

torch.set_num_threads(1)


def tiny(family: str):
    torch.manual_seed(0)
    return registry.build(family, **TINY_CONFIGS[family]).eval()


LATENT_FAMILIES = [f for f in registry.families() if has_capability(tiny(f), Latent)]
# Encoders by optimisation take options to stay fast; exact encoders ignore them.
FAST_ENCODE = {"gan": {"steps": 5}}


class LinearModel:
    """A Latent-protocol model whose decoder is linear with one planted dominant direction."""

    def __init__(self, d: int = 6, side: int = 4, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.latent_shape = (d,)
        self.side = side
        v = torch.randn(d, generator=g)
        self.planted = v / v.norm()
        pixel = torch.randn(side * side, generator=g)
        self.weights = 10 * torch.outer(pixel, self.planted) \
            + 0.3 * torch.randn(side * side, d, generator=g)

    def prior_sample(self, n, generator=None):
        return torch.randn((n, *self.latent_shape), generator=generator)

    def decode(self, z):
        return (0.5 + 0.01 * z @ self.weights.T).reshape(-1, 1, self.side, self.side)

    def encode_steps(self, x, **opts):
        target = (x.reshape(x.shape[0], -1) - 0.5) / 0.01
        yield 1, 1, torch.linalg.lstsq(self.weights, target.T).solution.T


# --- lerp / slerp --------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [lerp, slerp])
def test_endpoints_are_exact_and_shapes_follow_t(fn):
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g)
    path = fn(z0, z1, torch.tensor([0.0, 0.25, 1.0]))
    assert path.shape == (3, 3, 2) and path.dtype == z0.dtype
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    assert fn(z0, z1, 0.5).shape == (3, 2)
    assert torch.equal(fn(z0, z1, 0.0), z0) and torch.equal(fn(z0, z1, 1), z1)


def test_lerp_midpoint_is_the_average():
    z0, z1 = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    assert torch.allclose(lerp(z0, z1, 0.5), torch.tensor([2.0, 0.0]))


def test_slerp_keeps_the_norm_of_equal_norm_vectors():
    g = torch.Generator().manual_seed(1)
    z0, z1 = torch.randn(16, generator=g), torch.randn(16, generator=g)
    z1 = z1 / z1.norm() * z0.norm()
    norms = slerp(z0, z1, torch.linspace(0, 1, 9)).norm(dim=1)
    assert torch.allclose(norms, z0.norm().expand(9), rtol=1e-5)
    assert lerp(z0, z1, 0.5).norm() < 0.95 * z0.norm()  # what slerp avoids


@pytest.mark.parametrize("other", [lambda z: z * 2.0, lambda z: z.clone(), lambda z: -z,
                                   lambda z: -3.0 * z])
def test_slerp_has_no_nan_for_parallel_or_opposite_inputs(other):
    z0 = torch.tensor([1.0, 2.0, -0.5, 0.25])
    z1 = other(z0)
    path = slerp(z0, z1, torch.linspace(0, 1, 7))
    assert torch.isfinite(path).all()
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)


def test_slerp_between_opposite_vectors_stays_off_zero():
    z0 = torch.tensor([1.0, 2.0, -0.5, 0.25])
    path = slerp(z0, -z0, torch.linspace(0, 1, 9))
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(9), rtol=1e-5)
    assert torch.isfinite(slerp(torch.tensor([2.0]), torch.tensor([-1.0]), 0.5)).all()


def test_slerp_of_a_zero_vector_is_finite():
    assert torch.isfinite(slerp(torch.zeros(3), torch.ones(3), torch.linspace(0, 1, 4))).all()


@pytest.mark.parametrize("frames", [0, 1, 65, 2.5, True])
def test_interpolation_path_rejects_bad_frame_counts(frames):
    with pytest.raises(GenplayError, match="frames"):
        interpolation_path(torch.zeros(2), torch.ones(2), frames, spherical=True)


@pytest.mark.parametrize("spherical", [True, False])
def test_interpolation_path_endpoints(spherical):
    z0, z1 = torch.randn(4), torch.randn(4)
    path = interpolation_path(z0, z1, np.int64(5), spherical)
    assert path.shape == (5, 4)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)


# --- decoding and encoding with real tiny models ------------------------------------------------
@pytest.mark.parametrize("family", LATENT_FAMILIES)
def test_interpolate_yields_progress_then_frames(family):
    model = tiny(family)
    z0, z1 = latent_from_seed(model, 1), latent_from_seed(model, 2)
    assert z0.shape == model.latent_shape
    assert torch.equal(z0, latent_from_seed(model, 1)) and not torch.equal(z0, z1)
    events = list(interpolate(model, z0, z1, frames=8, spherical=True, batch_size=3))
    progress, result = events[:-1], events[-1]
    assert [p.step for p in progress] == [3, 6, 8]
    assert all(isinstance(p, Progress) and p.total == 8 for p in progress)
    assert isinstance(result, Result)
    frames = result.value
    assert frames.shape == (8, *model.image_shape) and frames.dtype == np.float32
    assert frames.min() >= 0 and frames.max() <= 1
    assert result.summary["latents"].shape == (8, *model.latent_shape)
    assert result.summary["frames"] == 8 and result.summary["spherical"] is True
    ends = model.decode(torch.stack([z0, z1])).numpy()
    np.testing.assert_allclose(frames[[0, -1]], ends, atol=1e-5)


@pytest.mark.parametrize("family", LATENT_FAMILIES)
def test_a_quick_strip_comes_first_only_from_a_model_that_decodes_with_a_sampler(family):
    from genplay.core.events import Preview
    from genplay.core.models.capabilities import can_preview_decode

    model = tiny(family)
    z0, z1 = latent_from_seed(model, 1), latent_from_seed(model, 2)
    events = list(interpolate(model, z0, z1, frames=5, quick_first=True))
    previews = [e for e in events if isinstance(e, Preview)]
    frames = events[-1].value
    if not can_preview_decode(model, interpolation.PREVIEW_STEPS):
        assert not previews  # one network pass a frame: the full strip is quick already
        return
    assert len(previews) == 1 and events.index(previews[0]) == 0  # before any full frame
    quick = previews[0].images
    assert quick.shape == (5, *model.image_shape[1:], model.image_shape[0])
    assert quick.dtype == np.uint8
    with torch.no_grad():  # the quick frames are the preview decoder's, not the full ones
        expected = model.preview_decode(interpolation_path(z0, z1, 5, True),
                                        interpolation.PREVIEW_STEPS)
    np.testing.assert_allclose(quick, np.round(expected.clamp(0, 1).numpy() * 255)
                               .transpose(0, 2, 3, 1), atol=1)
    assert np.abs(quick.astype(float) / 255 - frames.transpose(0, 2, 3, 1)).max() > 0
    assert events[-1].summary["seconds_per_frame"] > 0
    assert not any(isinstance(e, Preview) for e in interpolate(model, z0, z1, frames=5))


@pytest.mark.parametrize("spherical", [True, False])
def test_a_point_between_the_ends_is_the_strip_frame_at_that_point(spherical):
    from genplay.core.ops.sliders import Between, render_between

    model = tiny("vae")
    z0, z1 = latent_from_seed(model, 3), latent_from_seed(model, 4)
    frames = final_value(interpolate(model, z0, z1, frames=5, spherical=spherical))
    for k in range(5):
        image, facts = render_between(model, Between(z0.numpy(), z1.numpy(), k / 4,
                                                     spherical))
        assert not facts["preview"]
        expected = np.round(frames[k].transpose(1, 2, 0) * 255)
        assert np.abs(image.astype(float) - expected).max() <= 1
    middle = render_between(model, Between(z0.numpy(), z1.numpy(), 0.5, spherical))[0]
    other = render_between(model, Between(z0.numpy(), z1.numpy(), 0.5, not spherical))[0]
    assert np.abs(middle.astype(float) - other).max() > 1  # the path matters


def test_interpolate_rejects_a_model_without_latents():
    with pytest.raises(GenplayError, match="latent"):
        next(interpolate(tiny("classifier"), torch.zeros(4), torch.ones(4)))


@pytest.mark.parametrize("family", LATENT_FAMILIES)
def test_encode_image_gives_a_latent_and_reconstruction(family):
    model = tiny(family)
    pixels = model.decode(latent_from_seed(model, 3)[None])[0].numpy()
    events = list(encode_image(model, pixels, **FAST_ENCODE.get(family, {})))
    assert all(isinstance(e, Progress) and e.message == "encoding" for e in events[:-1])
    assert events[-2].step == events[-2].total
    result = events[-1]
    assert isinstance(result, Result)
    assert result.value.shape == model.latent_shape and result.value.dtype == np.float32
    recon = result.summary["reconstruction"]
    assert recon.shape == model.image_shape and recon.dtype == np.float32
    assert recon.min() >= 0 and recon.max() <= 1


def test_encode_image_rejects_the_wrong_shape():
    with pytest.raises(GenplayError, match="shape"):
        list(encode_image(tiny("vae"), np.zeros((1, 4, 4), np.float32)))


# --- directions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("family", LATENT_FAMILIES)
def test_compute_directions_shapes_and_determinism(family):
    model = tiny(family)
    d = math.prod(model.latent_shape)
    dirs = compute_directions(model, k=3, n=64, seed=5, batch_size=25)
    assert dirs.method == "pca-of-decoded-images"
    assert dirs.directions.shape == (3, d) and dirs.directions.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(dirs.directions, axis=1), 1.0, rtol=1e-5)
    assert dirs.stds.shape == (3,) and (dirs.stds > 0).all()
    assert dirs.mean.shape == (d,)
    assert dirs.explained.shape == (3,) and (np.diff(dirs.explained) <= 1e-7).all()
    assert 0 < dirs.explained.sum() <= 1 + 1e-6
    again = compute_directions(model, k=3, n=64, seed=5, batch_size=25)
    np.testing.assert_array_equal(dirs.directions, again.directions)
    np.testing.assert_array_equal(dirs.stds, again.stds)
    other = compute_directions(model, k=3, n=64, seed=6)
    assert not np.array_equal(dirs.directions, other.directions)
    # k is clipped to the latent size and to n - 1 (PCA of n samples has n - 1 components)
    assert compute_directions(model, k=99, n=32).directions.shape == (min(d, 31), d)


def test_first_direction_recovers_a_planted_direction():
    model = LinearModel()
    dirs = compute_directions(model, k=3, n=400, seed=0)
    cos = abs(float(dirs.directions[0] @ model.planted.numpy()))
    assert cos > 0.9
    assert dirs.explained[0] > 0.8
    assert dirs.stds[0] == pytest.approx(1.0, abs=0.2)  # the prior is a standard normal


def test_move_along_moves_by_standard_deviations():
    dirs = LatentDirections(directions=np.eye(3, dtype=np.float32)[:2],
                            stds=np.array([2.0, 0.5], np.float32), mean=np.zeros(3, np.float32),
                            explained=np.array([0.6, 0.3], np.float32), method="test")
    base = torch.tensor([1.0, 1.0, 1.0])
    assert torch.allclose(move_along(base, dirs, [1.5, -2.0]), torch.tensor([4.0, 0.0, 1.0]))
    assert torch.equal(move_along(base, dirs, [0.0]), base)
    with pytest.raises(GenplayError):
        move_along(base, dirs, [1.0, 1.0, 1.0])


def test_directions_are_cached_and_reused(tmp_path, monkeypatch):
    model = LinearModel()
    first = load_or_compute_directions(model, tmp_path, "abc", k=2, n=64, seed=1)
    assert directions_path(tmp_path) == tmp_path / "latent_directions.npz"
    assert directions_path(tmp_path).is_file()
    assert not list(tmp_path.glob("*.tmp"))

    def fail(*args, **kwargs):
        raise AssertionError("recomputed despite a valid cache")

    real = interpolation.compute_directions_steps
    monkeypatch.setattr(interpolation, "compute_directions_steps", fail)
    cached = load_or_compute_directions(model, tmp_path, "abc", k=2, n=64, seed=1)
    np.testing.assert_array_equal(cached.directions, first.directions)
    np.testing.assert_array_equal(cached.stds, first.stds)
    assert cached.method == first.method

    calls = []
    monkeypatch.setattr(interpolation, "compute_directions_steps",
                        lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    load_or_compute_directions(model, tmp_path, "other-hash", k=2, n=64, seed=1)
    load_or_compute_directions(model, tmp_path, "other-hash", k=2, n=64, seed=2)
    load_or_compute_directions(model, tmp_path, "other-hash", k=2, n=64, seed=2)
    assert len(calls) == 2


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04truncated"])
def test_a_corrupt_cache_is_recomputed(tmp_path, content):
    model = LinearModel()
    directions_path(tmp_path).write_bytes(content)
    dirs = load_or_compute_directions(model, tmp_path, "abc", k=2, n=64)
    assert dirs.directions.shape == (2, 6)
    with np.load(directions_path(tmp_path), allow_pickle=False) as data:
        assert str(data["weights_hash"]) == "abc"


def test_an_unwritable_folder_still_gives_directions(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    dirs = load_or_compute_directions(LinearModel(), blocker / "checkpoint", "abc", k=2, n=64)
    assert dirs.directions.shape == (2, 6)


# --- export --------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("bounce,expected", [(False, 5), (True, 8)])
def test_save_gif(tmp_path, channels, bounce, expected):
    frames = np.zeros((5, 6, 7, channels), np.uint8)
    for i in range(5):
        frames[i, i, :] = 50 * (i + 1)  # every frame distinct, so none are merged
    path = tmp_path / "out.gif"
    save_gif(path, frames, fps=10, scale=3, bounce=bounce)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.size == (21, 18)
        assert im.n_frames == expected
        assert im.info.get("loop") == 0 and im.info.get("duration") == 100
    assert not list(tmp_path.glob("*.tmp"))


def test_save_gif_rejects_floats(tmp_path):
    with pytest.raises(ValueError):
        save_gif(tmp_path / "x.gif", np.zeros((2, 4, 4, 1), np.float32))


def test_save_latents_npz_round_trips(tmp_path):
    latents = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    path = tmp_path / "path.npz"
    save_latents_npz(path, latents, seeds=np.array([1, 2]), spherical=True)
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["latents"], latents)
        np.testing.assert_array_equal(data["seeds"], [1, 2])
        assert bool(data["spherical"]) is True


def test_endpoints_from_seed_sample_latent_and_image(tmp_path):
    from PIL import Image

    from genplay.core.errors import ImageError
    from genplay.core.ops.interpolation import endpoint_latent, interpolate_endpoints
    from genplay.core.ops.sampling import sample_images

    model = registry.build("vae", **TINY_CONFIGS["vae"]).eval()

    def resolve(spec):
        return list(endpoint_latent(model, spec))[-1]

    seeded = resolve(3).value
    assert np.array_equal(seeded, resolve(3).value) and seeded.shape == (4,)
    grid = list(sample_images(model, 5, seed=2, temperature=0.5))[-1].value
    from genplay.core.ops.interpolation import SampleEndpoint

    z = resolve(SampleEndpoint(2, 4, 0.5)).value
    assert np.allclose(model.decode(torch.from_numpy(z)[None])[0].numpy(), grid[4], atol=1e-5)
    Image.new("L", (30, 20), 255).save(tmp_path / "light.png")  # dark-on-light: inverted
    encoded = resolve(str(tmp_path / "light.png"))
    assert encoded.summary["seen"].shape == (8, 8, 1) and encoded.summary["inverted"]
    # a model of a folder of pictures takes them as they are (data.invert_policy)
    as_is = list(endpoint_latent(model, str(tmp_path / "light.png"), invert=False))[-1]
    assert not as_is.summary["inverted"] and as_is.summary["seen"].max() == 255
    frames = list(interpolate_endpoints(model, str(tmp_path / "light.png"), 3, frames=2,
                                        invert=False))[-1]
    np.testing.assert_allclose(frames.summary["latents"][0], as_is.value, atol=1e-6)
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ImageError, match="bad.png"):
        resolve(str(tmp_path / "bad.png"))
    frames = list(interpolate_endpoints(model, 3, z, frames=4))[-1]
    assert frames.value.shape == (4, 1, 8, 8)
    assert np.allclose(frames.summary["latents"][0], seeded)


class _LargeLatent:
    """A Latent of 3x128x128 images (16 times a 32x32 RGB one) that counts its decodes:
    decode is linear in z, so directions exist; preview_decode is the quick one."""

    latent_shape = (8,)
    image_shape = (3, 128, 128)
    latent_steps = 25

    def __init__(self) -> None:
        self.mix = torch.randn(8, 3 * 128 * 128, generator=torch.Generator().manual_seed(0))
        self.batches: list[tuple[str, int]] = []

    def prior_sample(self, n, generator=None):
        return torch.randn(n, 8, generator=generator)

    def _images(self, z):
        return (z @ self.mix).reshape(-1, 3, 128, 128)

    def decode(self, z):
        self.batches.append(("decode", z.shape[0]))
        return self._images(z)

    def preview_decode(self, z, steps):
        self.batches.append((f"preview {steps}", z.shape[0]))
        return self._images(z)

    def encode_steps(self, x, **opts):
        yield 1, 1, torch.zeros(x.shape[0], 8)


def test_large_images_get_fewer_samples_smaller_batches_and_quick_decodes():
    from genplay.core.ops import interpolation

    model = _LargeLatent()
    dirs = final_value(interpolation.compute_directions_steps(model, k=3, n=2000))
    assert dirs.directions.shape == (3, 8)
    kinds = {kind for kind, _ in model.batches}
    assert kinds == {f"preview {interpolation.LARGE_MODEL_STEPS}"}
    decoded = sum(n for _, n in model.batches)
    assert decoded == 2000 // 16  # 16 times the values of a small image: 1/16 of the samples
    assert max(n for _, n in model.batches) == 256 // 16


def test_a_preview_runs_the_steps_asked_and_says_how_many_it_ran():
    """A held slider's preview decodes in the steps the Latent panel can afford; the facts
    count the network evaluations, from which the panel learns the machine's speed."""
    from genplay.core.ops.sliders import SliderState, render_sliders

    model = tiny("diffusion")
    z = latent_from_seed(model, 5).numpy()
    full, facts = render_sliders(model, SliderState(z))
    assert not facts["preview"] and facts["evaluations"] == model.latent_steps
    images = {}
    for steps in (3, 5):
        images[steps], facts = render_sliders(model, SliderState(z), preview=True, steps=steps)
        assert facts["preview"] and facts["evaluations"] == steps
        with torch.no_grad():
            expected = model.preview_decode(torch.from_numpy(z)[None], steps)[0]
        np.testing.assert_allclose(images[steps].astype(float),
                                   np.round(expected.clamp(0, 1).numpy() * 255)
                                   .transpose(1, 2, 0), atol=1)
    assert np.abs(images[3].astype(float) - images[5]).max() > 0
    # no quicker than the full decode: the full decode runs instead
    _image, facts = render_sliders(model, SliderState(z), preview=True,
                                   steps=model.latent_steps)
    assert not facts["preview"] and facts["evaluations"] == model.latent_steps
    _image, facts = render_sliders(tiny("vae"), SliderState(1), preview=True, steps=5)
    assert not facts["preview"] and facts["evaluations"] == 1  # one pass: no preview
