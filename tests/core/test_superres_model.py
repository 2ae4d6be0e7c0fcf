"""The super-resolution family, the "photos" dataset and training an upscaler on patches."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch
from PIL import Image

from genplay.core import checkpoints, data, registry, resize
from genplay.core.errors import DatasetError, GenplayError
from genplay.core.events import Progress, Validation
from genplay.core.models.capabilities import Upscaler, capabilities_of, has_capability
from genplay.core.train import TrainSettings, train

TINY = {"image_size": 16, "features": 4, "blocks": 1, "batch_size": 8}
HAS_SKIMAGE = importlib.util.find_spec("skimage") is not None
needs_skimage = pytest.mark.skipif(not HAS_SKIMAGE, reason="scikit-image is not installed")


def tiny(**overrides):
    return registry.build("superres", **{**TINY, **overrides})


def scramble_tails(model, seed=0):
    """Random weights in the (zero-initialised) last layers, so the net is not bicubic."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tail in model.tails.values():
            tail.to_pixels.weight.copy_(torch.randn(tail.to_pixels.weight.shape, generator=g))


def smooth_images(n, channels, size, seed=0):
    """Blurry random images: something a tiny net can learn to enlarge better than bicubic."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, channels, size // 4, size // 4, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear",
                                           align_corners=False)


# --- the network ----------------------------------------------------------------------------
def test_is_an_upscaler_and_nothing_else():
    assert capabilities_of(registry.get("superres")) == ["upscaler"]
    model = tiny()
    assert has_capability(model, Upscaler) and model.scales == (2, 4)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_any_size_comes_out_scale_times_larger_and_in_range(scale, channels):
    model = tiny(scales=[2, 3, 4], channels=channels).eval()
    scramble_tails(model)  # large random residuals: the output must still be clamped
    lowres = torch.rand(2, channels, 9, 13)
    out = model.upscale(lowres, scale)
    assert out.shape == (2, channels, 9 * scale, 13 * scale)
    assert out.min() >= 0.0 and out.max() <= 1.0
    raw = model.enlarge(lowres, scale)
    assert raw.min() < 0.0 or raw.max() > 1.0  # so the clamp above was really needed


def test_untrained_net_is_bicubic():
    model = registry.build("superres", channels=3).eval()  # the default size, untrained
    lowres = torch.rand(3, 3, 11, 7)
    for scale in model.scales:
        expected = resize.upscale_bicubic(lowres, scale)
        assert torch.allclose(model.upscale(lowres, scale), expected, atol=1e-6)


def test_wrong_scale_and_wrong_input_are_explained():
    model = tiny().eval()
    with pytest.raises(GenplayError, match=r"enlarges by 2x, 4x only, not 3x"):
        model.upscale(torch.rand(1, 1, 8, 8), 3)
    with pytest.raises(GenplayError, match=r"1-channel images"):
        model.upscale(torch.rand(1, 3, 8, 8), 2)
    with pytest.raises(GenplayError, match=r"1-channel images"):
        model.upscale(torch.rand(8, 8), 2)


@pytest.mark.parametrize("bad", [{"scales": [2, 5]}, {"scales": []}, {"scales": "x"},
                                 {"loss": "l2"}, {"features": 0}])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        tiny(**bad)


def test_scales_from_json_become_a_sorted_tuple():
    config = registry.get("superres").Config.from_dict({"scales": [4, 2, 4]})
    assert config.scales == (2, 4) and isinstance(config.scales, tuple)


def test_two_training_steps_change_weights_and_report_each_scale():
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opts = model.configure_optimizers()
    x = smooth_images(8, 1, 16)
    for step in range(2):
        losses = model.train_step(x, None, opts, step)
        assert set(losses) == {"loss", "x2", "x4"}
        assert all(math.isfinite(v) for v in losses.values())
        assert losses["loss"] == pytest.approx((losses["x2"] + losses["x4"]) / 2, rel=1e-5)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("loss", ["charbonnier", "l1"])
def test_loss_falls_on_a_fixed_batch(loss):
    torch.manual_seed(0)
    model = tiny(loss=loss, lr=3e-3)
    opts = model.configure_optimizers()
    x = smooth_images(8, 1, 16)
    losses = [model.train_step(x, None, opts, step)["loss"] for step in range(30)]
    assert losses[-1] < 0.9 * losses[0]


def test_validation_reports_net_and_bicubic_psnr_per_scale():
    model = tiny().eval()
    x = smooth_images(4, 1, 16)
    metrics = model.validation_metrics(x, None)
    assert set(metrics) == {"psnr_x2", "bicubic_psnr_x2", "psnr_x4", "bicubic_psnr_x4",
                            "psnr_gain"}
    # Untrained, the net is bicubic; and shrinking less loses less.
    assert metrics["psnr_x2"] == pytest.approx(metrics["bicubic_psnr_x2"], abs=1e-4)
    assert metrics["psnr_gain"] == pytest.approx(0.0, abs=1e-4)
    assert metrics["psnr_x2"] > metrics["psnr_x4"] > 10


def test_preview_shows_bicubic_net_and_original_for_each_scale():
    model = tiny(image_size=28, scales=[2, 3, 4]).eval()
    images = model.preview(16, torch.Generator())
    assert images.shape == (9, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(images[1], images[0])  # untrained: the net's column is bicubic's
    assert not torch.equal(images[0], images[2])


def test_save_load_round_trip_keeps_the_config_and_outputs(tmp_path):
    model = tiny(channels=3, scales=[4, 2]).eval()
    scramble_tails(model)
    checkpoints.save(model, tmp_path / "m", dataset="photos", recipe="test")
    loaded, info = checkpoints.load(tmp_path / "m")
    assert loaded.config == model.config and loaded.scales == (2, 4)
    assert isinstance(loaded.config.scales, tuple) and info.capabilities == ["upscaler"]
    lowres = torch.rand(1, 3, 5, 6)
    for scale in (2, 4):
        assert torch.equal(loaded.upscale(lowres, scale), model.upscale(lowres, scale))


# --- the photos dataset ---------------------------------------------------------------------
def test_missing_scikit_image_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "skimage" else real(name, *a))
    with pytest.raises(DatasetError, match=r"pip install scikit-image"):
        data.load_dataset("photos", "train", size=32, channels=3)
    with pytest.raises(DatasetError, match=r"pip install scikit-image"):
        data.load_photos("test")


def test_photo_lists_are_disjoint_and_licensed():
    assert not set(data.PHOTOS_TRAIN) & set(data.PHOTOS_TEST)
    assert set(data.PHOTOS_TRAIN) | set(data.PHOTOS_TEST) == set(data.PHOTO_LICENCES)
    assert len(data.PHOTOS_TEST) >= 2 and all(data.PHOTO_LICENCES.values())
    assert "photos" in data.dataset_names()


@needs_skimage
@pytest.mark.parametrize("channels", [1, 3])
def test_photos_give_uint8_patches_and_whole_test_photos(channels):
    train_set = data.load_dataset("photos", "train", size=32, channels=channels)
    assert train_set.images.dtype == torch.uint8 and train_set.labels is None
    assert train_set.images.shape == (data.PATCHES_PER_EPOCH, channels, 32, 32)
    assert train_set.images.float().std() > 10  # photo content, not an empty buffer
    fresh = train_set.redraw(3, 100)
    assert fresh.shape == (100, channels, 32, 32) and torch.equal(fresh, train_set.redraw(3, 100))
    assert not torch.equal(fresh, train_set.redraw(4, 100))
    test_set = data.load_dataset("photos", "test", size=64, channels=channels)
    assert test_set.images.shape[1:] == (channels, 64, 64)
    whole = data.load_photos("test")
    assert list(whole) == [name.rsplit(".", 1)[0] for name in data.PHOTOS_TEST]
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in whole.values())
    # The test tiles are cut from the held-out photos, every whole tile once.
    assert len(test_set) == sum((h // 64) * (w // 64) for h, w, _ in
                                (p.shape for p in whole.values()))


def test_patches_are_crops_of_the_photo_turned_or_flipped():
    photo = np.arange(10 * 12, dtype=np.uint8).reshape(10, 12, 1)  # every pixel distinct
    patches = data.sample_patches([photo], 64, 4, seed=0)
    views = {}
    for k in range(4):
        for flip in (False, True):
            view = np.rot90(photo[..., 0], k)
            views[(k, flip)] = view[:, ::-1] if flip else view
    seen = set()
    for patch in patches[:, 0].numpy():
        found = [key for key, view in views.items()
                 if any(np.array_equal(patch, view[r : r + 4, c : c + 4])
                        for r in range(view.shape[0] - 3) for c in range(view.shape[1] - 3))]
        assert found, "a patch that is no crop of any flip/turn of the photo"
        seen.update(found)
    assert len(seen) >= 6  # the augmentations are really used


def test_a_folder_becomes_patches_for_an_upscaler(tmp_path):
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 50), (30, 64), (10, 10)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    patches = data.load_dataset(tmp_path, "train", size=16, channels=1, patches=True)
    assert patches.images.shape == (data.PATCHES_PER_EPOCH, 1, 16, 16)
    reasons = dict(patches.skipped)
    assert len(reasons) == 2 and "smaller than the 16x16" in reasons[str(tmp_path / "2.png")]
    whole = data.load_dataset(tmp_path, "train", size=16, channels=1)
    assert len(whole) == 3  # without patches: each readable image fitted whole


# --- through the training loop --------------------------------------------------------------
def patch_folder(folder, n=3):
    rng = np.random.default_rng(1)
    folder.mkdir()
    for i in range(n):
        img = smooth_images(1, 3, 48, seed=i)[0].permute(1, 2, 0).numpy()
        noise = rng.normal(0, 4, img.shape)
        pixels = np.clip(img * 255 + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return folder


def superres_settings(data_spec, out, **kw):
    config = {k: v for k, v in TINY.items() if k != "image_size"}
    return TrainSettings(family="superres", data=str(data_spec), out=out, size=16, channels=3,
                         overrides=config, preview_every=2, recipe="test", **kw)


def test_trains_on_idx_data_without_labels(tiny_data, tmp_path):
    events = list(train(TrainSettings(family="superres", data=str(tiny_data), out=tmp_path / "m",
                                      epochs=1, size=28, overrides={"features": 4, "blocks": 1},
                                      preview_every=0, recipe="test")))
    metrics = next(e for e in events if isinstance(e, Validation)).metrics
    assert {"psnr_x2", "bicubic_psnr_x4", "psnr_gain"} <= set(metrics)
    model, info = checkpoints.load(tmp_path / "m")
    assert info.image_shape == (1, 28, 28)
    assert model.upscale(torch.rand(1, 1, 5, 5), 4).shape == (1, 1, 20, 20)


def test_patch_training_redraws_each_epoch_and_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "PATCHES_PER_EPOCH", 34)  # 32 training patches: 4 steps an epoch
    folder = patch_folder(tmp_path / "photos")
    drawn = []
    real_redraw_source = data.sample_patches

    def recording(photos, n, size, seed, augment=True):
        drawn.append(tuple(seed) if not isinstance(seed, int) else seed)
        return real_redraw_source(photos, n, size, seed, augment)

    monkeypatch.setattr(data, "sample_patches", recording)
    list(train(superres_settings(folder, tmp_path / "whole", epochs=2)))
    assert drawn == [(0, 0), (0, 1), (1, 1)]  # the first draw, then one per epoch
    info = checkpoints.read_info(tmp_path / "whole")
    assert info.dataset == str(folder.resolve()) and info.training["train_images"] == 32

    run = train(superres_settings(folder, tmp_path / "split", epochs=2))
    for event in run:
        if isinstance(event, Progress) and event.step == 6:  # in the middle of epoch 2
            run.close()
            break
    list(train(superres_settings(folder, tmp_path / "split", epochs=2, resume=True)))
    a, _ = checkpoints.load(tmp_path / "whole")
    b, _ = checkpoints.load(tmp_path / "split")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(va, vb, atol=1e-6), k


@needs_skimage
def test_trains_on_photos_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "PATCHES_PER_EPOCH", 20)
    list(train(superres_settings("photos", tmp_path / "m", epochs=1)))
    info = checkpoints.read_info(tmp_path / "m")
    assert info.dataset == "photos" and info.image_shape == (3, 16, 16)
    assert "psnr_x2" in info.training["val"]
