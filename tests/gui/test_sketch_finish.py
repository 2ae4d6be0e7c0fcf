"""The Sketch panel finished: the chosen candidate is marked, replacing candidates shows,
a region of a picture can be filled (inpainting), a model that fails to load says so, and
the layout gives the images room at laptop sizes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtTest import QTest

from genplay.core.checkpoints import read_info
from genplay.core.images import load_image, read_png_metadata
from genplay.gui.panels.sketch import SketchPanel
from tests.gui.test_sketch_canvas import draw_stroke


@pytest.fixture
def panel(laptop_panel):
    return laptop_panel(SketchPanel)


def open_model(qtbot, panel, tiny_checkpoints, name):
    panel.set_model(read_info(tiny_checkpoints / name))
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)


def a_bar(panel):
    panel.canvas.load_image(np.pad(np.full((20, 6), 220, np.uint8), 10))


def generate(qtbot, panel):
    panel.images = None
    panel.generate()
    qtbot.waitUntil(lambda: panel.images is not None, timeout=20000)


def highlight_pixels(view, index) -> int:
    """How many pixels of the highlight colour lie in a band around tile `index`."""
    shot = view.grab().toImage()
    want = view.palette().color(QPalette.ColorRole.Highlight)
    rect = view.tile_rect(index).adjusted(-6, -6, 6, 6).toRect()
    count = 0
    for x in range(max(0, rect.left()), min(shot.width(), rect.right() + 1)):
        for y in (rect.top() + 2, rect.top() + 3, rect.top() + 4):
            c = shot.pixelColor(x, y)
            count += abs(c.red() - want.red()) + abs(c.green() - want.green()) + abs(
                c.blue() - want.blue()) < 40
    return count


def test_the_chosen_candidate_is_framed_and_is_what_save_writes(qtbot, panel, tiny_checkpoints,
                                                               tmp_path):
    open_model(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    panel.live.setChecked(False)
    panel.count.setValue(3)
    a_bar(panel)
    generate(qtbot, panel)
    view = panel.view
    assert view.selected() == 0 and highlight_pixels(view, 0) > 20
    assert highlight_pixels(view, 2) == 0
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.tile_rect(2).center().toPoint())
    assert panel.selected == 2 and view.selected() == 2
    assert highlight_pixels(view, 2) > 20 and highlight_pixels(view, 0) == 0
    panel.save(tmp_path / "pick.png")
    assert read_png_metadata(tmp_path / "pick.png")["index"] == "2"
    saved = load_image(tmp_path / "pick.png")
    assert np.array_equal(saved.reshape(8, 8, -1)[..., 0], panel.candidate_pixels(2)[..., 0])
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Left)  # arrow keys choose too
    assert panel.selected == 1 and view.selected() == 1
    panel.count.setValue(1)
    generate(qtbot, panel)  # fewer candidates: the choice and its frame follow
    assert panel.selected == 0 and view.selected() == 0


def test_the_strip_shows_updating_while_candidates_are_replaced(qtbot, panel,
                                                               tiny_checkpoints):
    open_model(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    panel.live.setChecked(False)
    a_bar(panel)
    generate(qtbot, panel)
    assert panel.view.busy_text() == ""
    quiet = panel.view.grab().toImage()
    panel.steps.setValue(200)  # slow enough to be caught running
    panel.generate()
    assert panel.view.busy_text().startswith("updating")
    assert panel.view.grab().toImage() != quiet  # the old candidates are washed out
    panel.generate()  # superseded: the first is cancelled, the cue stays for the second
    assert panel.view.busy_text().startswith("updating")
    qtbot.waitUntil(lambda: panel.view.busy_text() == "", timeout=30000)
    assert "candidates in" in panel.caption.text()
    panel.generate()
    panel.engine.cancel(panel._job)  # the job's Cancel button
    qtbot.waitUntil(lambda: panel.view.busy_text() == "", timeout=30000)
    assert "ancelled" in panel.caption.text() and panel.images is not None


def test_fill_a_painted_region_of_the_picture(qtbot, panel, tiny_checkpoints, tmp_path):
    open_model(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    assert panel.fill_button.isEnabled() and not panel.fill_note.isVisible()
    panel.live.setChecked(False)
    a_bar(panel)
    picture = panel.canvas.image_array()
    panel.set_mode("fill")
    assert panel.canvas.mask_mode() and not panel.strength.isEnabled()
    panel.generate()  # nothing painted yet
    assert "Paint over" in panel.caption.text() and panel.images is None
    w, h = panel.canvas.width(), panel.canvas.height()
    panel.pen_size.setValue(60)
    draw_stroke(panel.canvas, [(w * 0.2, h * 0.75), (w * 0.8, h * 0.75)], step=8)
    assert np.array_equal(panel.canvas.image_array(), picture)  # the picture is kept
    hole = panel.canvas.mask_array() > 127
    assert hole.any() and not hole.all()
    seen = panel.model_view.pixels()
    assert seen.shape == (8, 8, 3) and (seen[hole][:, 0] > seen[hole][:, 2]).all()
    panel.count.setValue(2)
    panel.steps.setValue(4)
    generate(qtbot, panel)
    assert panel.images.shape == (2, 1, 8, 8)
    kept = np.round(panel.images[:, 0] * 255)
    assert np.array_equal(kept[:, ~hole], np.broadcast_to(picture[~hole], kept[:, ~hole].shape))
    assert "filled" in panel.caption.text()
    panel.select(1)
    panel.save(tmp_path / "fill.png")
    assert read_png_metadata(tmp_path / "fill.png")["mode"] == "fill"
    panel.set_mode("sketch")
    assert not panel.canvas.mask_mode() and panel.strength.isEnabled()


def test_models_that_cannot_fill_say_so_in_one_line(qtbot, panel, tiny_checkpoints):
    open_model(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    panel.set_mode("fill")
    open_model(qtbot, panel, tiny_checkpoints, "vae-tiny")
    assert panel.mode() == "sketch" and not panel.canvas.mask_mode()
    assert not panel.fill_button.isEnabled()
    assert panel.fill_note.isVisible() and "vae-tiny cannot fill" in panel.fill_note.text()
    assert "\n" not in panel.fill_note.text()
    open_model(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    assert panel.fill_button.isEnabled() and not panel.fill_note.isVisible()


def test_a_model_that_fails_to_load_does_not_stay_loading(qtbot, panel, tiny_checkpoints,
                                                         tmp_path):
    broken = tmp_path / "broken-diffusion"
    shutil.copytree(tiny_checkpoints / "diffusion-tiny", broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    panel.set_model(read_info(broken))
    assert "loading" in panel.method_label.text()
    qtbot.waitUntil(lambda: "loading" not in panel.method_label.text(), timeout=20000)
    assert "could not be loaded" in panel.method_label.text()
    assert not panel.generate_button.isEnabled()
    open_model(qtbot, panel, tiny_checkpoints, "diffusion-tiny")  # another model still works
    assert panel.method_label.text().startswith("SDEdit")


def test_the_panel_fits_a_laptop_and_gives_the_images_room(qtbot, panel, tiny_checkpoints):
    hint = panel.minimumSizeHint()
    assert hint.width() < 900 and hint.height() < 560
    open_model(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    panel.live.setChecked(False)
    a_bar(panel)
    generate(qtbot, panel)
    qtbot.wait(10)
    assert panel.model_view.width() >= 150 and panel.model_view.height() >= 150
    assert panel.view.tile_rect(0).width() >= 100  # 4 candidates across at 950x600
    assert panel.canvas.image_rect().width() >= 280
    # A tab page gives a panel the height it prefers for its width (and scrolls past the
    # window's): at laptop sizes that must fit, or the candidates end up below the fold.
    assert panel.heightForWidth(950) <= 600


def test_earlier_results_come_back_from_the_history(qtbot, panel, tiny_checkpoints):
    open_model(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    panel.live.setChecked(True)
    panel.count.setValue(2)
    drawings, results = [], []
    for seed in (1, 2, 3):
        panel.canvas.load_image(np.pad(np.full((20, 4 * seed), 220, np.uint8), 10))
        drawings.append(panel.canvas.canvas_array())
        panel.live_timer.stop()
        panel.seed.setValue(seed)
        panel.live_timer.stop()
        generate(qtbot, panel)
        results.append(panel.images.copy())
    history = panel.history
    assert history.count() == 3
    panel.select(1)
    assert history.back()  # to the second result: its candidates, its record
    assert np.array_equal(panel.images, results[1]) and panel.request["seed"] == 2
    assert panel.selected == 0 and panel.view.selected() == 0
    assert panel.save_button.isEnabled() and "Earlier result" in panel.caption.text()
    assert np.array_equal(panel.canvas.canvas_array(), drawings[2])  # the drawing stays
    assert history.forward() and panel.selected == 1  # each result keeps its choice
    panel.restore_drawing.setChecked(True)
    panel.view.setFocus()
    QTest.keyClick(panel.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert panel.request["seed"] == 2  # Ctrl+Z on the candidates goes back a result
    assert np.array_equal(panel.canvas.canvas_array(), drawings[1])  # and its drawing
    assert not panel.live_timer.isActive()  # bringing it back is no reason to regenerate
    QTest.keyClick(panel.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert panel.request["seed"] == 3
    open_model(qtbot, panel, tiny_checkpoints, "vae-tiny")
    assert history.count() == 0  # another model's results are not this model's
