"""The Sketch panel as a user drives it: draw, Live regeneration, candidates, hand-offs."""

from __future__ import annotations

import numpy as np

from genplay.core.images import read_png_metadata
from tests.gui.conftest import select
from tests.gui.test_sketch_canvas import draw_stroke


def open_sketch(qtbot, window, name):
    select(qtbot, window, name)
    panel = window.sketch
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    panel.choose_own_way()  # not the sketch model of its dataset (test_sketch_model_panel)
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    window.tabs.setCurrentIndex(window.panels.index(panel))
    return panel


def draw_a_bar(panel):
    w, h = panel.canvas.width(), panel.canvas.height()
    draw_stroke(panel.canvas, [(w * 0.5, h * 0.2), (w * 0.5, h * 0.8)], step=8)


def test_drawing_with_live_on_gives_candidates_after_a_pause(qtbot, window):
    panel = open_sketch(qtbot, window, "diffusion-tiny")
    assert panel.method_label.text().startswith("SDEdit")
    assert panel.label.isVisible() and panel.label.currentText() == "any"
    assert not panel.guidance.isEnabled()  # guidance does nothing without a class
    panel.live.setChecked(True)
    panel.count.setValue(3)
    draw_a_bar(panel)
    seen = panel.model_view.pixels()
    assert seen.shape[:2] == (8, 8) and seen[..., 0].max() > 40  # the model view follows
    assert panel.live_timer.isActive()  # waiting for the pause
    qtbot.waitUntil(lambda: panel.images is not None, timeout=20000)
    assert panel.images.shape == (3, 1, 8, 8)
    assert "3 candidates" in panel.caption.text()
    assert panel.save_button.isEnabled() and panel.latent_button.isEnabled()


def test_a_new_stroke_supersedes_the_request_in_flight(qtbot, window):
    panel = open_sketch(qtbot, window, "diffusion-tiny")
    panel.live.setChecked(False)
    draw_a_bar(panel)
    finished = []
    window.engine.job_finished.connect(lambda job, cancelled, error: finished.append(
        (job, cancelled)))
    panel.steps.setValue(200)  # slow enough to be caught running
    panel.generate()
    first = panel._job
    panel.generate()  # the user drew again: the same key, latest wins
    second = panel._job
    qtbot.waitUntil(lambda: any(job == second for job, _ in finished), timeout=30000)
    assert (first, True) in finished and (second, False) in finished


def test_latent_models_fit_their_latents_and_pixelcnn_is_refused(qtbot, window):
    panel = open_sketch(qtbot, window, "vae-tiny")
    assert panel.method_label.text().startswith("Latent fitting")
    assert not panel.label.isVisible()  # no classes
    panel.live.setChecked(False)
    panel.steps.setValue(5)
    draw_a_bar(panel)
    panel.generate()
    qtbot.waitUntil(lambda: panel.images is not None, timeout=20000)
    assert panel.images.shape[0] == panel.count.value()
    select(qtbot, window, "pixelcnn-tiny")
    stack, _, needs = window._stacks[window.panels.index(panel)]
    assert stack.currentWidget() is needs and "drawing" in needs.label.text()


def test_choose_save_and_send_a_candidate_to_the_latent_panel(qtbot, window, tmp_path):
    panel = open_sketch(qtbot, window, "diffusion-tiny")
    panel.live.setChecked(False)
    panel.canvas.load_image(np.full((40, 40), 200, np.uint8))
    panel.generate()
    qtbot.waitUntil(lambda: panel.images is not None, timeout=20000)
    panel.select(2)
    panel.save(tmp_path / "pick.png")
    meta = read_png_metadata(tmp_path / "pick.png")
    assert meta["method"] == "sdedit" and meta["index"] == "2"
    (tmp_path / "a-file").write_text("not a folder")
    panel.save(tmp_path / "a-file" / "pick.png")  # cannot be written: a message, no crash
    assert "Could not save" in window.messages.text()
    panel._to_latent()
    assert window.tabs.currentIndex() == window.panels.index(window.latent)
    qtbot.waitUntil(lambda: window.latent.ends["A"].source.currentText() == "Your image",
                    timeout=20000)


def test_an_empty_canvas_asks_for_a_drawing(qtbot, window):
    panel = open_sketch(qtbot, window, "diffusion-tiny")
    panel.canvas.clear()
    panel.generate()
    assert "Draw something first" in panel.caption.text()
    assert panel.images is None


def test_loading_a_picture_starts_the_drawing_and_bad_files_are_explained(qtbot, window,
                                                                         tmp_path):
    from PIL import Image

    panel = open_sketch(qtbot, window, "diffusion-tiny")
    panel.live.setChecked(False)
    paper = np.full((100, 60), 255, np.uint8)
    paper[20:80, 25:35] = 0  # a dark stroke on white paper
    Image.fromarray(paper).save(tmp_path / "drawing.png")
    panel.load_file(str(tmp_path / "drawing.png"))
    qtbot.waitUntil(lambda: not panel.canvas.is_empty(), timeout=20000)
    canvas = panel.canvas.canvas_array()
    assert canvas[0, 0] == 0 and canvas[140, 140] > 200  # inverted: light stroke on black
    assert panel.canvas.can_undo()
    (tmp_path / "broken.png").write_bytes(b"not an image")
    panel.load_file(str(tmp_path / "broken.png"))
    qtbot.waitUntil(lambda: window.messages.isVisible(), timeout=20000)
    assert "broken.png" in window.messages.text()
