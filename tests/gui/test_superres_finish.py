"""The Super-resolution panel finished: a user's own image is enlarged (not simulated), no
figure outlives the inputs it measured, a model out of its depth says so and offers a
better method, every method on one input side by side, and a panel that fits a laptop."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from genplay.core.checkpoints import read_info
from genplay.gui.panels.superres import SuperresPanel
from genplay.gui.panels.superres_methods import PHOTO_CHECKPOINT
from genplay.gui.widgets.image_input import SAMPLES


def colour_picture(h=24, w=32, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], axis=2)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def digit_like(size=16) -> np.ndarray:
    """A light stroke on a black ground, as MNIST digits are."""
    image = np.zeros((size, size), np.uint8)
    image[size // 4:-size // 4, size // 2 - 1:size // 2 + 1] = 255
    return image


def write_png(path, pixels) -> str:
    Image.fromarray(pixels).save(path)
    return str(path)


def drop(panel, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    panel.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                               Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))


def wait_for_result(qtbot, panel, **request):
    qtbot.waitUntil(lambda: not panel.engine.is_busy() and panel.result is not None and all(
        panel.request.get(k) == v for k, v in request.items()), timeout=20000)


@pytest.fixture
def make_panel(qtbot, standalone, settings):
    def make(old_settings: dict | None = None):
        for key, value in (old_settings or {}).items():
            settings.setValue(key, value)
        p = standalone(SuperresPanel)
        p.resize(900, 600)
        p.show()
        p.set_model(None)
        qtbot.waitUntil(lambda: p.method_names is not None, timeout=20000)
        return p
    return make


@pytest.fixture
def panel(make_panel):
    return make_panel()


@pytest.fixture
def sr_checkpoint(tmp_path):
    """A tiny untrained SR network saved as a checkpoint (it enlarges as bicubic does)."""
    from genplay.core import checkpoints, registry

    def make(name: str, channels: int = 3, dataset: str = "tiny", scales=(2, 4)):
        model = registry.build("superres", image_size=16, features=4, blocks=1,
                               channels=channels, scales=list(scales))
        checkpoints.save(model, tmp_path / name, dataset=dataset, recipe="test")
        return read_info(tmp_path / name)
    return make


# --- 1. a user's own image is enlarged ----------------------------------------------------------
def test_a_dropped_photo_is_enlarged_even_after_a_session_that_simulated(qtbot, make_panel,
                                                                         tmp_path):
    panel = make_panel({"superres-simulate": "true"})  # as an older version left it
    assert not panel.simulate.isChecked()
    drop(panel, write_png(tmp_path / "holiday.png", colour_picture(48, 64)))
    wait_for_result(qtbot, panel, method="bicubic", scale=2)
    assert not panel.simulate.isChecked() and panel.request["simulate"] is False
    assert panel.result_pixels().shape == (96, 128, 3)  # 64x48 became 128x96
    assert "64×48 → 128×96" in panel.caption.text()
    assert "simulated" not in panel.caption.text()


def test_a_dataset_sample_is_simulated_but_the_users_own_image_is_not(qtbot, panel, tmp_path):
    sample = next(iter(sorted((SAMPLES / "mnist").glob("*.png"))))
    panel.load_file(str(sample))
    qtbot.waitUntil(lambda: panel.source_name == sample.name, timeout=20000)
    # a 28x28 digit is the model's own size: the useful test is to shrink it and compare
    assert panel.simulate.isChecked()
    wait_for_result(qtbot, panel, simulate=True)
    panel.load_file(write_png(tmp_path / "mine.png", colour_picture()))
    qtbot.waitUntil(lambda: panel.source_name == "mine.png", timeout=20000)
    assert not panel.simulate.isChecked()  # switched on by the app, so off again
    wait_for_result(qtbot, panel, simulate=False)
    # the user's own choice is kept for the next image, and the caption says so
    panel.simulate.setChecked(True)
    panel.load_file(write_png(tmp_path / "other.png", colour_picture(seed=1)))
    qtbot.waitUntil(lambda: panel.source_name == "other.png", timeout=20000)
    assert panel.simulate.isChecked()
    wait_for_result(qtbot, panel, simulate=True)
    assert "untick Simulate" in panel.caption.text()


# --- 2. no stale figures ------------------------------------------------------------------------
def has_figures(panel) -> bool:
    return "dB" in panel.metrics_label.text()


def test_figures_go_the_moment_the_inputs_change(qtbot, panel, tmp_path):
    panel.simulate.setChecked(True)
    panel.set_source(colour_picture(), "picture")
    wait_for_result(qtbot, panel, simulate=True, scale=2)
    assert has_figures(panel)
    panel.scale.setCurrentIndex(panel.scale.findData(4))
    assert not has_figures(panel)  # at once, before the x4 result is there
    wait_for_result(qtbot, panel, simulate=True, scale=4)
    assert has_figures(panel)
    panel.simulate.setChecked(False)  # now there is no reference
    assert not has_figures(panel)
    wait_for_result(qtbot, panel, simulate=False, scale=4)
    assert not has_figures(panel) and "No reference" in panel.metrics_label.text()
    panel.load_reference(write_png(tmp_path / "ref.png", colour_picture(96, 128)))
    qtbot.waitUntil(lambda: has_figures(panel), timeout=20000)
    # a new image: the old reference belongs to the old image, and goes with it
    panel.set_source(colour_picture(24, 32, seed=3), "another")
    assert not has_figures(panel)
    wait_for_result(qtbot, panel, simulate=False)
    assert panel.image.reference is None and not has_figures(panel)


def test_a_slow_result_for_an_earlier_image_never_lands(qtbot, panel, tiny_checkpoints):
    panel.set_model(read_info(tiny_checkpoints / "diffusion-tiny"))
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    assert panel.set_method("diffusion")
    panel.set_source(digit_like(8), "first")
    panel.upscale()
    panel.set_source(digit_like(8)[::-1].copy(), "second")  # while the first is generated
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=20000)
    qtbot.wait(50)
    assert panel.result is None
    assert not has_figures(panel)
    assert "Press Upscale" in panel.caption.text()


# --- 3. out of the model's depth ----------------------------------------------------------------
def test_a_grey_digit_upscaler_on_a_colour_photo_warns_and_offers_the_photo_upscaler(
        qtbot, panel, sr_checkpoint):
    panel.set_checkpoints([sr_checkpoint(PHOTO_CHECKPOINT)])
    panel.set_model(sr_checkpoint("superres-digits", channels=1, dataset="mnist"))
    qtbot.waitUntil(lambda: panel.method_key() == "net", timeout=20000)
    panel.set_source(digit_like(), "digit")
    assert not panel.domain_bar.isVisible()  # its own kind of image: nothing to say
    panel.set_source(colour_picture(48, 64), "photo")
    assert panel.domain_bar.isVisible()
    text = panel.domain_label.text()
    assert "colour" in text and "superres-digits" in text and "\n" not in text
    assert "photo upscaler" in panel.domain_button.text().lower()
    panel.domain_button.click()
    assert panel.method_key() == "photo" and not panel.domain_bar.isVisible()
    wait_for_result(qtbot, panel, checkpoint=PHOTO_CHECKPOINT)


def test_the_domain_check_knows_size_content_and_the_guided_frame(sr_checkpoint):
    from genplay.gui.panels.superres_methods import domain_warning

    digits = sr_checkpoint("digits", channels=1, dataset="mnist")
    assert domain_warning(digit_like(), digits, "net", 2) is None
    grey_photo = colour_picture(240, 320)[..., 1]
    assert "320×240" in domain_warning(grey_photo, digits, "net", 2)
    light = np.full((16, 16), 200, np.uint8)  # the right size, but not light-on-dark
    assert "dark" in domain_warning(light, digits, "net", 2)
    # a colour image whose channels are equal is grey
    assert domain_warning(np.repeat(digit_like()[..., None], 3, 2), digits, "net", 2) is None
    # guided generation fits the image into the model's size / scale: it says so
    assert "8×8" in domain_warning(digit_like(64), digits, "diffusion", 2)
    photo = sr_checkpoint("photos", channels=3, dataset="photos")
    assert domain_warning(colour_picture(480, 640), photo, "net", 4) is None
    assert domain_warning(colour_picture(), None, "bicubic", 2) is None


def test_without_a_photo_upscaler_the_warning_offers_bicubic(qtbot, panel, sr_checkpoint):
    panel.set_model(sr_checkpoint("superres-digits", channels=1, dataset="mnist"))
    qtbot.waitUntil(lambda: panel.method_key() == "net", timeout=20000)
    panel.set_source(colour_picture(), "photo")
    assert panel.domain_bar.isVisible() and "bicubic" in panel.domain_button.text().lower()
    panel.domain_button.click()
    assert panel.method_key() == "bicubic" and not panel.domain_bar.isVisible()


# --- 4. every method on one input -------------------------------------------------------------
def test_compare_runs_each_method_on_one_input_side_by_side(qtbot, panel, sr_checkpoint):
    panel.set_checkpoints([sr_checkpoint(PHOTO_CHECKPOINT)])
    panel.set_model(sr_checkpoint("sr-model"))
    qtbot.waitUntil(lambda: panel.method_key() == "net", timeout=20000)
    panel.simulate.setChecked(True)
    panel.set_source(colour_picture(), "picture")
    wait_for_result(qtbot, panel)
    panel.compare_button.click()
    assert panel.comparison.showing_methods() and panel.progress.isVisible()
    qtbot.waitUntil(lambda: panel.compare_runner.done(), timeout=20000)
    grid = panel.comparison.grid
    tiles = grid.tiles()
    assert [t.entry for t in tiles] == ["input", "net", "photo", "bicubic", "reference"]
    assert tiles[0].pixels.shape == (12, 16, 3) and tiles[-1].pixels.shape == (24, 32, 3)
    for tile in tiles[1:-1]:
        assert tile.image is not None and "dB" in tile.caption
        assert " s" in tile.caption or " ms" in tile.caption
    assert "SR network" in tiles[1].caption and "Photo upscaler" in tiles[2].caption
    assert not panel.progress.isVisible()
    # the wheel zooms every tile around the same place
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    centre = grid.image_rect(1).center()
    grid.wheelEvent(QWheelEvent(centre, grid.mapToGlobal(centre), QPoint(), QPoint(0, 240),
                                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                Qt.ScrollPhase.NoScrollPhase, False))
    assert grid.zoom() == pytest.approx(1.5625)
    grid.grab()  # the zoomed tiles are drawn without error
    grid.choose(0)  # the input is not a result to choose
    assert panel.comparison.showing_methods()
    # choosing a tile makes it the result to save, shown in the before/after view
    grid.choose(2)
    assert not panel.comparison.showing_methods()
    assert panel.request["checkpoint"] == PHOTO_CHECKPOINT
    assert panel.method_key() == "photo"  # the list says which method made what is shown
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=20000)
    assert panel.result_pixels() is tiles[2].pixels  # and nothing was run again for it
    assert np.array_equal(panel.result_pixels(), tiles[2].pixels)
    assert has_figures(panel)


def test_compare_can_be_cancelled_and_goes_stale_with_the_inputs(qtbot, panel, sr_checkpoint):
    panel.set_model(sr_checkpoint("sr-model"))
    qtbot.waitUntil(lambda: panel.method_key() == "net", timeout=20000)
    panel.set_source(colour_picture(64, 64), "picture")
    wait_for_result(qtbot, panel)
    panel.engine.submit(time.sleep, 0.3)  # holds the engine: the comparison waits in line
    panel.compare_button.click()
    assert "waiting" in panel.comparison.grid.tiles()[1].caption
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=20000)
    assert not panel.progress.isVisible() and "cancelled" in panel.caption.text()
    assert not panel.compare_runner.running()
    assert all("cancelled" in t.caption for t in panel.comparison.grid.tiles()[1:])
    panel.compare_button.click()
    qtbot.waitUntil(lambda: panel.compare_runner.done(), timeout=20000)
    assert [t.entry for t in panel.comparison.grid.tiles()] == ["input", "net", "bicubic"]
    panel.scale.setCurrentIndex(panel.scale.findData(4))  # the tiles were made at x2
    assert panel.comparison.grid.tiles() == [] and not panel.comparison.showing_methods()


# --- 5. a laptop screen -------------------------------------------------------------------------
def test_the_panel_fits_a_laptop_and_fit_fills_the_view(qtbot, panel):
    hint = panel.minimumSizeHint()
    assert hint.width() < 900 and hint.height() < 560
    panel.resize(950, 600)
    panel.simulate.setChecked(False)
    panel.set_source(colour_picture(60, 80), "picture")
    wait_for_result(qtbot, panel)
    view = panel.view
    qtbot.wait(20)
    rect, pane = view.image_rect(), view.panes()[0]
    # the 160x120 result fills the view's width or height, not an integer fraction of it
    assert max(rect.width() / pane.width(), rect.height() / pane.height()) > 0.98
    assert view.smooth()  # a photo-sized result is scaled smoothly
    panel.set_source(digit_like(7), "digit")
    wait_for_result(qtbot, panel)
    assert not view.smooth()  # a 14x14 result shows its pixels


def test_a_reference_is_not_taken_as_the_users_choice_to_stop_simulating(qtbot, panel, tmp_path):
    first, second = sorted((SAMPLES / "mnist").glob("*.png"))[:2]
    panel.load_file(str(first))
    qtbot.waitUntil(lambda: panel.source_name == first.name, timeout=20000)
    assert panel.simulate.isChecked()  # a dataset sample: simulated by the app
    reference = np.asarray(Image.open(first).resize((56, 56)))
    panel.load_reference(write_png(tmp_path / "big.png", reference))
    qtbot.waitUntil(lambda: panel.image.reference is not None, timeout=20000)
    assert not panel.simulate.isChecked() and panel.image.reference_button.isEnabled()
    panel.load_file(str(second))
    qtbot.waitUntil(lambda: panel.source_name == second.name, timeout=20000)
    assert panel.simulate.isChecked()  # the next dataset sample is simulated again
