"""A user's colour pictures end to end in the app: models trained on a folder of colour
images at 32x32 sample, interpolate and score in colour, at their own size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY_CONFIGS, train_tiny
from tests.gui.conftest import select

SIZE = 32
FAMILIES = ("vae", "diffusion", "ebm")


def colour_folder(folder):
    """Pictures as a user has them: mixed sizes and formats, half on a light background
    (which a grayscale digit model would invert, and a colour model must not), one gray,
    one with alpha, one broken."""
    rng = np.random.default_rng(3)
    (folder / "more").mkdir(parents=True)
    for i in range(22):
        h, w = (int(v) for v in rng.integers(24, 72, 2))
        background = (230, 220, 120) if i % 2 else (20, 40, 140)
        pixels = np.zeros((h, w, 3), np.uint8) + np.array(background, np.uint8)
        top, left = h // 4, w // 4
        pixels[top : top + h // 2, left : left + w // 2] = (200, 30, 30)
        image = Image.fromarray(pixels)
        if i % 3 == 0:
            image.save(folder / "more" / f"photo{i}.jpg", quality=95)
        else:
            image.save(folder / f"picture{i}.png")
    Image.fromarray(np.full((30, 40), 90, np.uint8)).save(folder / "gray.png")
    rgba = np.dstack([np.zeros((36, 36, 3), np.uint8) + np.array((10, 160, 60), np.uint8),
                      np.full((36, 36), 200, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "alpha.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


@pytest.fixture(scope="module")
def colour_checkpoints(tmp_path_factory):
    """Tiny 3-channel 32x32 models of a few families, trained for an epoch on the folder."""
    data = colour_folder(tmp_path_factory.mktemp("colour") / "pictures")
    root = tmp_path_factory.mktemp("colour-checkpoints")
    for family in FAMILIES:
        train_tiny(root / f"{family}-colour", family, data, TINY_CONFIGS[family], size=SIZE,
                   channels=3, recipe=f"test {family} colour")
    return root, data


@pytest.fixture
def colour_window(qtbot, colour_checkpoints, settings):
    from genplay.gui.main_window import MainWindow

    root, _data = colour_checkpoints
    w = MainWindow(checkpoint_dirs=[root], settings=settings)
    qtbot.addWidget(w)
    w.resize(1100, 720)
    w.show()
    qtbot.waitUntil(lambda: len(w.infos) == len(FAMILIES), timeout=20000)
    yield w
    w.close()


def assert_colour(pixels, shape=None):
    """uint8 HWC pixels in colour: 3 channels that are not all the same."""
    assert pixels is not None and pixels.ndim == 3 and pixels.shape[2] == 3, pixels.shape
    if shape is not None:
        assert pixels.shape == shape
    assert np.abs(pixels.astype(int) - pixels[..., :1]).max() > 0  # not gray


def test_sampling_shows_colour_images_at_their_size(qtbot, colour_window):
    from genplay.core.images import make_grid, to_uint8_hwc

    panel = colour_window.sampling
    for family in FAMILIES:
        select(qtbot, colour_window, f"{family}-colour")
        if "steps" in panel._option_boxes:  # diffusion: a few steps are enough here
            panel._option_boxes["steps"].setValue(3)
        panel.count.setValue(4)
        panel.generate()
        qtbot.waitUntil(lambda: panel.images is not None, timeout=20000)
        assert panel.images.shape == (4, 3, SIZE, SIZE)
        # the grid shown is the samples themselves, 2 x 2 tiles of 32x32, in colour
        assert np.array_equal(panel.view.pixels(), make_grid(to_uint8_hwc(panel.images),
                                                             padding=2))
        assert_colour(panel.view.pixels(), (2 + 2 * (SIZE + 2), 2 + 2 * (SIZE + 2), 3))
        assert_colour(panel.sample_pixels(0), (SIZE, SIZE, 3))


def test_latent_panel_encodes_a_colour_picture_as_it_is_and_interpolates(
        qtbot, colour_window, colour_checkpoints):
    from genplay.core.images import load_image, prepare_for_model

    _root, data = colour_checkpoints
    picture = data / "picture1.png"  # a light background: must not be inverted
    latent = colour_window.latent
    for family in ("vae", "diffusion"):
        select(qtbot, colour_window, f"{family}-colour")
        colour_window.tabs.setCurrentIndex(colour_window.panels.index(latent))
        latent.encode_endpoint("A", str(picture))
        qtbot.waitUntil(lambda: latent.ends["A"].latent is not None, timeout=20000)
        end = latent.ends["A"]
        expected, _ = prepare_for_model(load_image(picture), size=SIZE, channels=3,
                                        invert=False)
        assert np.array_equal(end.seen.pixels(), expected)
        assert "inverted" not in end.image_label.text()
        assert_colour(end.reconstruction.pixels(), (SIZE, SIZE, 3))
        latent.frame_count.setValue(3)
        latent.interpolate()
        qtbot.waitUntil(lambda: latent.frames is not None, timeout=20000)
        assert latent.frames.shape == (3, SIZE, SIZE, 3)
        assert_colour(latent.frames[1])
        assert_colour(latent.strip.pixels(), (SIZE + 4, 3 * (SIZE + 2) + 2, 3))
        assert_colour(latent.animation.pixels(), (SIZE, SIZE, 3))
    select(qtbot, colour_window, "ebm-colour")  # no latent space: the panel explains
    stack, _panel, needs = colour_window._stacks[colour_window.panels.index(latent)]
    assert stack.currentWidget() is needs


@pytest.mark.parametrize("family", ["ebm", "vae"])
def test_outlier_panel_measures_then_scores_the_users_own_pictures(
        qtbot, colour_window, colour_checkpoints, family):
    _root, data = colour_checkpoints
    panel = colour_window.outliers
    colour_window.tabs.setCurrentIndex(colour_window.panels.index(panel))
    colour_window.select_model(next(i.path for i in colour_window.infos
                                    if i.name == f"{family}-colour"))
    # Freshly trained: no reference yet, and the panel offers to measure it.
    qtbot.waitUntil(lambda: panel.measure_button.isVisible()
                    and panel.measure_button.isEnabled(), timeout=20000)
    panel.measure_button.click()
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    panel.add_paths([str(data)])
    readable = 24  # 22 colour pictures, the gray one and the one with alpha
    qtbot.waitUntil(lambda: not panel._jobs and len(panel.table_model.files) == readable + 1,
                    timeout=20000)
    model = panel.table_model
    assert model.pixels.shape == (readable + 1, SIZE, SIZE, 3)
    ok = model.readable()
    assert int(ok.sum()) == readable
    for i in np.flatnonzero(ok):
        if "gray" not in model.files[i]:
            assert_colour(model.pixels[i])
    # The folder's pictures are scored as the model learnt them (the reference is this
    # same folder), so their scores are the reference scores.
    if family == "ebm":  # energies are deterministic
        np.testing.assert_allclose(np.sort(model.current_scores()[ok]),
                                   np.sort(panel.reference()), rtol=1e-4, atol=1e-6)
    assert_colour(panel.detail.view.pixels())
