"""The Sampling panel finished: result history, captions that wrap, cancel, the enlarge
dialog, comparing samplers on one seed, and reproducing a saved PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from genplay.gui.widgets.result_history import THUMB_HEIGHT, ResultHistory


# --- the result history strip -----------------------------------------------------------------
@pytest.fixture
def history(qtbot):
    strip = ResultHistory(limit=3)
    qtbot.addWidget(strip)
    strip.resize(400, strip.sizeHint().height())
    strip.show()
    return strip


def test_history_keeps_the_newest_results_and_steps_through_them(qtbot, history):
    chosen = []
    history.chosen.connect(chosen.append)
    assert history.count() == 0 and history.current_payload() is None
    assert not history.back() and not history.forward()
    for i in range(5):
        history.add(np.full((28, 28), i * 50, np.uint8), f"result {i}", {"i": i})
    assert history.count() == 3  # limit 3: the two oldest are gone
    assert history.current_payload() == {"i": 4}  # the newest is current
    assert chosen == []  # adding is not choosing
    assert history.back() and chosen == [{"i": 3}]
    assert history.back() and chosen[-1] == {"i": 2}
    assert not history.back()  # the oldest kept
    assert not history.back_button.isEnabled() and history.forward_button.isEnabled()
    assert history.forward() and history.current_payload() == {"i": 3}
    history.add(np.zeros((4, 12, 3), np.uint8), "wide colour", "new")
    assert history.current_payload() == "new" and history.count() == 3
    history.clear()
    assert history.count() == 0 and history.current_payload() is None


def test_history_thumbnails_are_smooth_at_the_strip_height_and_clickable(qtbot, history):
    chosen = []
    history.chosen.connect(chosen.append)
    history.add(np.eye(28, dtype=np.uint8) * 255, "first", "a")
    history.add(np.zeros((10, 20, 3), np.uint8), "second", "b")
    first, second = history._entries
    dpr = history.devicePixelRatioF()
    assert first.image.height() == round(THUMB_HEIGHT * dpr)
    assert second.image.width() == 2 * second.image.height()  # aspect kept
    # smooth, not blocky: the scaled diagonal has grey values between 0 and 255
    values = {first.image.pixelColor(x, 10).value() for x in range(first.image.width())}
    assert any(0 < v < 255 for v in values)
    rect = history.strip.rects()[0]
    qtbot.mouseClick(history.strip, Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen == ["a"] and history.current_index() == 0
    # a strip of many results never asks for their width: it scrolls
    for i in range(20):
        history.add(np.zeros((28, 28), np.uint8), str(i), i)
    assert history.minimumSizeHint().width() < 200
    assert history.sizeHint().height() < 2 * THUMB_HEIGHT


def test_history_refuses_what_is_not_an_image(history):
    with pytest.raises(ValueError):
        history.add(np.zeros((3, 3), np.float32), "float", None)
    assert history.count() == 0




# --- the panel on its own, on tiny checkpoints --------------------------------------------------
@pytest.fixture
def panel_on(qtbot, standalone, tiny_checkpoints):
    """panel_on(name) -> a Sampling panel with that tiny model loaded, shown at laptop size."""
    from genplay.core.checkpoints import read_info
    from genplay.gui.panels.sampling import SamplingPanel

    panel = standalone(SamplingPanel)
    panel.resize(950, 600)
    panel.show()

    def use(name):
        panel.set_model(read_info(tiny_checkpoints / name))
        qtbot.waitUntil(panel.generate_button.isEnabled, timeout=20000)
        return panel
    return use


def draw(qtbot, panel, seed, n=4):
    panel.seed.setValue(seed)
    panel.count.setValue(n)
    panel.generate()
    qtbot.waitUntil(lambda: panel._job is None, timeout=20000)
    return panel.images


def test_a_long_caption_wraps_instead_of_widening_the_panel(qtbot, panel_on):
    panel = panel_on("gan-tiny")
    draw(qtbot, panel, 1)
    before = panel.minimumSizeHint().width()
    assert before < 900
    panel.caption.setText("a caption far longer than the panel is wide, " * 12)
    qtbot.wait(10)  # the layout takes the new text in
    assert panel.minimumSizeHint().width() <= before  # it wraps: the window can stay narrow
    panel.model_label.setText("a-model-name-without-spaces" * 6)
    qtbot.wait(10)
    assert panel.minimumSizeHint().width() <= before


def test_a_cancelled_sample_restores_the_previous_result(qtbot, panel_on):
    panel = panel_on("diffusion-tiny")
    panel._option_boxes["steps"].setValue(50)
    first = draw(qtbot, panel, 1, n=2).copy()
    grid = panel.view.pixels().copy()
    previews = []

    def cancel_at_the_first_preview(images):
        previews.append(images)
        panel.jobs.cancel()  # the panel's own Cancel button
    panel._show_preview = cancel_at_the_first_preview
    panel.seed.setValue(2)
    panel.generate()
    qtbot.waitUntil(lambda: panel._job is None, timeout=20000)
    assert previews
    assert panel.caption.text().startswith("Cancelled")
    assert "seed 1" in panel.caption.text() and "sampling…" not in panel.caption.text()
    assert np.array_equal(panel.images, first) and np.array_equal(panel.view.pixels(), grid)
    assert panel.history.count() == 1  # a cancelled request is not a result
    assert panel.generate_button.isEnabled()


def test_a_job_ending_after_a_change_of_model_leaves_generate_off_until_it_has_loaded(
        qtbot, panel_on, tiny_checkpoints):
    """The last model's job may end after the user picked another one, before the new one's
    options arrive: Generate must stay off until they do (it would send the old options)."""
    from genplay.core.checkpoints import read_info

    panel = panel_on("vae-tiny")
    panel.count.setValue(2)
    panel.generate()
    job = panel._job
    panel.set_model(read_info(tiny_checkpoints / "diffusion-tiny"))
    panel._sampling_done(job, False)  # the vae's job ends now
    assert not panel.generate_button.isEnabled()
    qtbot.waitUntil(panel.generate_button.isEnabled, timeout=20000)
    assert "steps" in panel._option_boxes  # the diffusion model's own options


def test_a_cancelled_first_sample_leaves_an_empty_view(qtbot, panel_on):
    panel = panel_on("diffusion-tiny")
    panel._option_boxes["steps"].setValue(50)
    panel._show_preview = lambda images: panel.jobs.cancel()
    panel.generate()
    qtbot.waitUntil(lambda: panel._job is None, timeout=20000)
    assert panel.caption.text() == "Cancelled"
    assert panel.view.pixels() is None and panel.images is None
    assert not panel.save_button.isEnabled()


def test_the_panel_keeps_its_results_and_ctrl_z_goes_back(qtbot, panel_on, tmp_path):
    from genplay.core.images import read_png_metadata

    panel = panel_on("gan-tiny")
    assert not panel.history.isVisible()  # nothing to go back to yet
    first = draw(qtbot, panel, 1).copy()
    second = draw(qtbot, panel, 2).copy()
    assert panel.history.isVisible() and panel.history.count() == 2
    panel.activateWindow()
    qtbot.waitActive(panel)
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(panel.images, first) and panel.request["seed"] == 1
    assert "seed 1" in panel.caption.text()
    panel.save(tmp_path / "back.png")  # Save saves the result shown
    assert read_png_metadata(tmp_path / "back.png")["seed"] == "1"
    qtbot.keyClick(panel, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(panel.images, second)
    rect = panel.history.strip.rects()[0]  # a click on the first thumbnail
    qtbot.mouseClick(panel.history.strip, Qt.MouseButton.LeftButton, pos=rect.center())
    assert np.array_equal(panel.images, first)
    for seed in range(3, 25):
        draw(qtbot, panel, seed, n=1)
    assert panel.history.count() == 20  # the last 20 results
    assert panel.history._entries[0].payload["request"]["seed"] == 5


def test_the_enlarge_dialog_zooms_fits_and_saves(qtbot, tmp_path):
    from genplay.core.images import read_png_metadata
    from genplay.gui.widgets.image_dialog import ImageDialog

    pixels = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)
    dialog = ImageDialog(None, pixels, "A sample", metadata={"seed": 3})
    qtbot.addWidget(dialog)
    dialog.resize(500, 480)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.smooth.setChecked(False)  # crisp pixels: whole zooms, even blocks
    dialog.fit()
    room = dialog.scroll.viewport().size()
    assert dialog.zoom == int(dialog.zoom) and dialog.zoom * 28 <= min(room.width(),
                                                                       room.height())
    assert (dialog.zoom + 1) * 28 > min(room.width(), room.height())  # the largest that fits
    fitted = dialog.zoom
    dialog.zoom_in()
    assert dialog.zoom == fitted + 1 and dialog.canvas.width() == 28 * (fitted + 1)
    dialog.actual_size()
    assert dialog.zoom == 1 and dialog.canvas.width() == 28 and dialog.zoom_label.text() == "100%"
    dialog.zoom_out()
    assert dialog.zoom == 0.5
    dialog.smooth.setChecked(True)
    dialog.fit()  # smooth: the exact fit, not a whole zoom
    assert abs(dialog.zoom * 28 - min(room.width(), room.height())) < 1
    assert dialog.save_to(tmp_path / "big.png")
    assert read_png_metadata(tmp_path / "big.png") == {"seed": "3"}
    assert "Saved" in dialog.status.text()
    dialog.copy()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().image().width() == 28


def test_enlarging_a_sample_opens_the_dialog_and_saves_with_its_record(qtbot, panel_on,
                                                                       tmp_path):
    import json

    from genplay.gui.widgets.image_dialog import ImageDialog

    panel = panel_on("gan-tiny")
    draw(qtbot, panel, 7)
    panel.enlarge(2)
    assert isinstance(panel.dialog, ImageDialog) and panel.dialog.isVisible()
    assert np.array_equal(panel.dialog.pixels, panel.sample_pixels(2))
    assert panel.dialog.save_to(tmp_path / "one.png")
    assert json.loads((tmp_path / "one.json").read_text())["index"] == 2
    panel.dialog.close()
    assert panel.dialog is None


# --- compare on one seed ------------------------------------------------------------------------
def test_compare_draws_one_seed_with_each_sampler_and_step_count(qtbot, panel_on):
    panel = panel_on("diffusion-tiny")
    assert panel.compare_button.isEnabled()
    panel.compare_button.click()
    compare = panel.compare
    assert panel.pages.currentWidget() is compare
    assert [b.text() for b in compare.choice_boxes if b.isChecked()] == ["ddpm", "ddim", "dpmpp"]
    assert compare.number.currentData() == "steps"
    compare.values.setText("2, 3")
    compare.count.setValue(2)
    panel.seed.setValue(4)
    compare.run_button.click()
    assert compare.run_button.isEnabled() is False and panel.jobs.busy()
    qtbot.waitUntil(lambda: not panel.jobs.busy(), timeout=20000)
    assert compare.titles == ["ddpm · 2 steps", "ddpm · 3 steps", "ddim · 2 steps",
                              "ddim · 3 steps", "dpmpp · 2 steps", "dpmpp · 3 steps"]
    assert sorted(compare.images) == list(range(6))
    for cell in compare.cells:
        assert cell.view.pixels() is not None
        assert cell.label.text().endswith(" s")  # the time it took
    # a cell holds what the panel draws with the same seed and options
    dpmpp_3 = compare.images[5]
    panel._option_boxes["sampler"].setCurrentText("dpmpp")
    draw(qtbot, panel, 4, n=2)  # the panel's options: dpmpp, its default steps...
    panel._option_boxes["steps"].setValue(3)
    draw(qtbot, panel, 4, n=2)
    assert np.array_equal(panel.sample_pixels(0), dpmpp_3[0])
    assert panel.pages.currentWidget() is not compare  # results go back to the grid


def test_compare_can_be_cancelled_and_refuses_bad_values(qtbot, panel_on):
    panel = panel_on("diffusion-tiny")
    panel.show_compare()
    compare = panel.compare
    compare.values.setText("0, 3")
    panel.run_compare()
    assert "Cannot compare" in compare.note.text() and "not 0" in compare.note.text()
    assert not panel.jobs.busy()
    compare.values.setText("50")
    compare.count.setValue(2)
    original = compare.run_finished

    def cancel_after_the_first(index, images, seconds):
        original(index, images, seconds)
        panel.jobs.cancel()
    compare.run_finished = cancel_after_the_first
    panel.run_compare()
    qtbot.waitUntil(lambda: not panel.jobs.busy(), timeout=20000)
    assert list(compare.images) == [0]
    assert [c.label.text().split(" · ")[-1] for c in compare.cells[1:]] == ["cancelled"] * 2
    assert "cancelled" in compare.note.text()
    assert compare.run_button.isEnabled()


def test_models_without_a_sampler_choice_compare_a_number_option(qtbot, panel_on):
    panel = panel_on("gan-tiny")
    compare = panel.compare
    assert compare.choice_boxes == [] and compare.number.currentData() == "temperature"
    assert compare.values.text() == "0.5, 1, 1.5"
    compare.count.setValue(1)
    panel.run_compare()
    qtbot.waitUntil(lambda: not panel.jobs.busy(), timeout=20000)
    assert compare.titles == ["temperature 0.5", "temperature 1", "temperature 1.5"]
    assert len(compare.images) == 3


# --- reproduce a saved image ----------------------------------------------------------------------
def drop(qtbot, panel, path):
    """Drops a file on the panel as the desktop does."""
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    panel.dropEvent(event)


def test_a_dropped_png_is_drawn_again_and_checked(qtbot, panel_on, tmp_path):
    from genplay.core.images import load_image, read_png_metadata, save_png

    panel = panel_on("diffusion-tiny")
    panel._option_boxes["sampler"].setCurrentText("ddim")
    panel._option_boxes["steps"].setValue(3)
    draw(qtbot, panel, 12, n=5)
    panel.save(tmp_path / "grid.png")
    panel.save(tmp_path / "one.png", index=3)
    # the user moves on: another seed, other options
    panel._option_boxes["sampler"].setCurrentText("dpmpp")
    draw(qtbot, panel, 99, n=2)
    drop(qtbot, panel, tmp_path / "one.png")
    qtbot.waitUntil(lambda: panel.reproducer.verdict != "", timeout=20000)
    assert panel.reproducer.verdict == "Reproduced exactly: one.png"
    assert panel.seed.value() == 12 and panel.count.value() == 5
    assert panel.options()["sampler"] == "ddim" and panel.options()["steps"] == 3
    assert "Reproduced exactly" in panel.caption.text()
    # a file whose pixels were touched up after saving
    pixels = load_image(tmp_path / "grid.png")
    pixels[5, 5] = min(255, int(pixels[5, 5]) + 7) if pixels[5, 5] < 200 else pixels[5, 5] - 7
    save_png(tmp_path / "edited.png", pixels, read_png_metadata(tmp_path / "grid.png"))
    panel.reproducer.verdict = ""
    drop(qtbot, panel, tmp_path / "edited.png")
    qtbot.waitUntil(lambda: panel.reproducer.verdict != "", timeout=20000)
    assert panel.reproducer.verdict == "edited.png: differs: max pixel difference 7"
    assert "max pixel difference 7" in panel.messages.text()


def test_a_png_without_a_record_gets_a_one_line_explanation(qtbot, panel_on, tmp_path):
    from PIL import Image

    panel = panel_on("gan-tiny")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "plain.png")
    drop(qtbot, panel, tmp_path / "plain.png")
    qtbot.waitUntil(lambda: panel.messages.text() != "", timeout=5000)
    assert "plain.png holds no genplay record" in panel.messages.text()
    assert "\n" not in panel.messages.text()
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    drop(qtbot, panel, tmp_path / "broken.png")
    qtbot.waitUntil(lambda: "broken.png" in panel.messages.text(), timeout=5000)


def test_a_png_from_another_model_asks_for_it_and_draws_once_it_arrives(
        qtbot, panel_on, tiny_checkpoints, tmp_path):
    from genplay.core.checkpoints import read_info

    panel = panel_on("gan-tiny")
    draw(qtbot, panel, 3, n=4)
    panel.save(tmp_path / "gan.png")
    panel_on("vae-tiny")
    asked = []
    # what the main window does with the request: select the model of that name
    panel.model_requested.connect(lambda name: (asked.append(name), panel.set_model(
        read_info(tiny_checkpoints / name))))
    drop(qtbot, panel, tmp_path / "gan.png")
    qtbot.waitUntil(lambda: panel.reproducer.verdict != "", timeout=20000)
    assert asked == ["gan-tiny"] and panel.info.name == "gan-tiny"
    assert panel.reproducer.verdict == "Reproduced exactly: gan.png"


def test_a_dropped_folder_is_left_to_the_window(qtbot, panel_on, tmp_path):
    from PySide6.QtCore import QMimeData, QPoint, QUrl
    from PySide6.QtGui import QDragEnterEvent

    panel = panel_on("gan-tiny")
    (tmp_path / "a.png").write_bytes(b"")

    def entered(path):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        panel.dragEnterEvent(event)
        return event.isAccepted()
    assert entered(tmp_path / "a.png")
    assert not entered(tmp_path)  # a checkpoint folder: the window opens it


def test_the_window_selects_the_model_a_dropped_png_names(qtbot, window, tmp_path):
    from tests.gui.conftest import select

    select(qtbot, window, "gan-tiny")
    panel = window.sampling
    draw(qtbot, panel, 5)
    panel.save(tmp_path / "gan.png")
    select(qtbot, window, "vae-tiny")
    window.tabs.setCurrentIndex(window.panels.index(window.latent))
    drop(qtbot, panel, tmp_path / "gan.png")
    qtbot.waitUntil(lambda: panel.reproducer.verdict != "", timeout=20000)
    assert window.current.name == "gan-tiny"
    assert window.tabs.currentIndex() == window.panels.index(panel)
    assert panel.reproducer.verdict == "Reproduced exactly: gan.png"


def test_the_model_line_speaks_plainly_and_explains_on_hover(qtbot, panel_on, tiny_checkpoints,
                                                            tmp_path):
    import json
    import shutil

    from genplay.core.checkpoints import read_info

    panel = panel_on("gan-tiny")
    folder = tmp_path / "gan-measured"
    shutil.copytree(tiny_checkpoints / "gan-tiny", folder)
    (folder / "metrics.json").write_text(json.dumps({"fid": 10.58, "kid": 0.3733}))
    panel.set_model(read_info(folder))
    qtbot.waitUntil(lambda: "sample quality" in panel.model_label.text(), timeout=20000)
    assert "sample quality 10.6 (FID, lower is better)" in panel.model_label.text()
    assert "KID" not in panel.model_label.text()  # jargon is a hover away
    assert "Fréchet" in panel.model_label.toolTip() and "KID 0.373" in panel.model_label.toolTip()


# --- is it new or copied? -----------------------------------------------------------------
def test_a_sample_shows_its_nearest_training_images_with_a_verdict(qtbot, standalone,
                                                                  model_with_classifier):
    from genplay.core.checkpoints import read_info
    from genplay.gui.panels.sampling import SamplingPanel
    from genplay.gui.widgets.nearest_dialog import NearestDialog

    panel = standalone(SamplingPanel)
    panel.resize(950, 600)
    panel.show()
    panel.set_model(read_info(model_with_classifier))
    qtbot.waitUntil(panel.generate_button.isEnabled, timeout=20000)
    draw(qtbot, panel, seed=2, n=4)
    panel.show_nearest(1)
    dialog = panel.dialog
    assert isinstance(dialog, NearestDialog) and dialog.isVisible()
    assert "Finding" in dialog.status.text() or "training images" in dialog.status.text()
    qtbot.waitUntil(lambda: "near-copy" in dialog.status.text(), timeout=20000)
    assert [len(dialog.views[s]) for s in ("features", "pixels")] == [4, 4]
    assert "closer than" in dialog.status.text()
    # each tile is a training image of the model's size, shown large
    tile = dialog.views["pixels"][0]
    assert tile._pixels.shape[:2] == (8, 8) and tile.width() >= 100
    assert "training image" in tile.toolTip()


def test_a_cascade_enlarges_the_samples_and_a_saved_one_is_drawn_again(
        qtbot, standalone, model_with_upscaler, tmp_path):
    from genplay.core.checkpoints import read_info
    from genplay.core.images import load_image
    from genplay.gui.panels.sampling import SamplingPanel

    panel = standalone(SamplingPanel)
    panel.resize(950, 600)
    panel.show()
    panel.set_model(read_info(model_with_upscaler))
    qtbot.waitUntil(panel.generate_button.isEnabled, timeout=20000)
    box = panel.upscale_box
    assert box.isVisible() and box.isChecked() and box.text() == "Enlarge x2 to 16 px"
    assert "superres-mnist" in box.toolTip()
    images = draw(qtbot, panel, seed=4, n=3)
    assert images.shape == (3, 1, 16, 16) and panel.base_images.shape == (3, 1, 8, 8)
    assert "enlarged x2 by superres-mnist" in panel.caption.text()
    panel.save(tmp_path / "big.png", index=1)
    assert load_image(tmp_path / "big.png").shape == (16, 16)
    box.setChecked(False)
    assert draw(qtbot, panel, seed=4, n=3).shape == (3, 1, 8, 8)
    drop(qtbot, panel, tmp_path / "big.png")  # drawn enlarged: enlarged again
    qtbot.waitUntil(lambda: panel.reproducer.verdict != "", timeout=20000)
    assert panel.reproducer.verdict == "Reproduced exactly: big.png" and box.isChecked()
