"""The Latent panel finished: slider drags on a slow model show quick previews and a busy
cue, direction finding clears the old labels at once and shows progress you can cancel,
the filmstrip and live image use the space they have, and the layout fits a laptop."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from genplay.core import checkpoints
from genplay.core.checkpoints import read_info
from genplay.core.ops import interpolation
from genplay.gui.panels.latent import LatentPanel


@pytest.fixture
def panel(laptop_panel):
    return laptop_panel(LatentPanel)


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    """Directions are cached in a folder of this test's own, so each test finds them, from
    64 images instead of 2000 (quick for the tiny models)."""
    real = interpolation.compute_directions_steps
    monkeypatch.setattr(interpolation, "directions_path",
                        lambda folder: tmp_path / f"{Path(folder).name}-directions.npz")
    monkeypatch.setattr(interpolation, "compute_directions_steps",
                        lambda model, k=8, n=2000, seed=0: real(model, k=k, n=32, seed=seed))
    return real


def open_sliders(qtbot, panel, tiny_checkpoints, name):
    panel.tabs.setCurrentIndex(1)
    panel.set_model(read_info(tiny_checkpoints / name))
    qtbot.waitUntil(lambda: panel.live.pixels() is not None, timeout=20000)


@pytest.fixture
def slow_diffusion(monkeypatch):
    """The tiny diffusion model's decode of one image takes as long per DDIM step as a
    real one's on a laptop CPU would, so a full decode (25 steps) is slow."""
    from genplay.core.models.diffusion import Diffusion

    real = Diffusion.decode

    real_preview = Diffusion.preview_decode

    def decode(self, z):
        if z.shape[0] == 1:
            time.sleep(0.008 * self.latent_steps)
        return real(self, z)

    def preview_decode(self, z, steps):
        time.sleep(0.008 * steps)
        return real_preview(self, z, steps)

    monkeypatch.setattr(Diffusion, "decode", decode)
    monkeypatch.setattr(Diffusion, "preview_decode", preview_decode)


def drag(qtbot, panel, slider, values, pause_ms=10):
    """Holds the slider down and moves it; returns how many new images showed meanwhile,
    and (as seen at each move) whether the busy cue showed and the image was a preview."""
    slider.setSliderDown(True)
    shown, last, seen = 0, panel.live.pixels(), []
    for value in values:
        slider.setValue(value)
        qtbot.wait(pause_ms)
        if panel.live.pixels() is not last:
            shown, last = shown + 1, panel.live.pixels()
        seen.append(lambda: (panel.live_cue.isVisible(), panel.live_decoder.showing_preview))
        seen[-1] = seen[-1]() if hasattr(panel, "live_decoder") else (False, False)
    return shown, any(c for c, _ in seen), any(p for _, p in seen)


def full_decode(panel) -> np.ndarray:
    model, _ = checkpoints.load(panel.info.path)
    with torch.no_grad():
        image = model.decode(torch.from_numpy(panel.current_latent()
                                              .reshape(panel.latent_shape))[None])[0]
    return np.round(image[0].clamp(0, 1).numpy() * 255)


def test_a_drag_on_a_slow_model_shows_quick_previews_a_busy_cue_then_full_quality(
        qtbot, panel, tiny_checkpoints, slow_diffusion, fresh_cache):
    open_sliders(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    qtbot.waitUntil(lambda: panel.directions is not None, timeout=20000)
    captions = []
    panel.live_caption.setText = lambda text, real=panel.live_caption.setText: (
        captions.append(text), real(text))
    shown, _cue, preview = drag(qtbot, panel, panel.direction_sliders[0], range(0, 300, 6))
    assert shown >= 3, "the image must move while the slider is held"
    assert panel.live_decoder.slow() and preview
    assert any("let go" in text for text in captions)  # said while the previews came
    panel.direction_sliders[0].setSliderDown(False)  # let go: full quality
    # the full decode (0.2 s here) takes more than a moment: the busy cue shows meanwhile
    qtbot.waitUntil(panel.live_cue.isVisible, timeout=10000)
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=10000)
    assert not panel.live_decoder.showing_preview
    assert not panel.live_cue.isVisible() and panel.live_caption.text() == ""
    assert np.abs(panel.live.pixels()[..., 0] - full_decode(panel)).max() <= 1


def test_a_fast_model_keeps_full_quality_while_dragging(qtbot, panel, tiny_checkpoints,
                                                        fresh_cache):
    open_sliders(qtbot, panel, tiny_checkpoints, "vae-tiny")
    qtbot.waitUntil(lambda: panel.directions is not None, timeout=20000)
    shown, cue, preview = drag(qtbot, panel, panel.direction_sliders[0], range(0, 300, 10), 20)
    assert shown >= 5 and not cue and not preview
    assert not panel.live_decoder.slow()
    panel.direction_sliders[0].setSliderDown(False)
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=10000)
    assert np.abs(panel.live.pixels()[..., 0] - full_decode(panel)).max() <= 1


def test_a_new_model_clears_the_direction_labels_at_once_and_the_search_can_be_cancelled(
        qtbot, panel, tiny_checkpoints, fresh_cache, monkeypatch):
    real = fresh_cache
    delay = {"s": 0.0}

    def slow_search(model, k=8, n=2000, seed=0, batch_size=256):
        for step in range(100, n + 1, 100):
            time.sleep(delay["s"])
            yield interpolation.Progress(step, n, message="finding latent directions")
        yield from real(model, k=k, n=64, seed=seed)

    monkeypatch.setattr(interpolation, "compute_directions_steps", slow_search)
    open_sliders(qtbot, panel, tiny_checkpoints, "vae-tiny")
    qtbot.waitUntil(lambda: panel.directions is not None, timeout=20000)
    assert "%" in panel.direction_labels[0].text()
    delay["s"] = 0.05
    panel.set_model(read_info(tiny_checkpoints / "gan-tiny"))  # the same latent size
    assert not any("%" in label.text() for label in panel.direction_labels)
    assert not any(slider.isEnabled() for slider in panel.direction_sliders)
    values = []
    panel.directions_progress.valueChanged.connect(values.append)
    qtbot.waitUntil(lambda: panel.directions_progress.isVisible() and len(values) >= 2,
                    timeout=10000)
    assert panel.directions_progress.maximum() == 2000  # determinate: images drawn so far
    qtbot.mouseClick(panel.directions_cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=10000)
    assert panel.directions is None and not panel.directions_progress.isVisible()
    assert panel.find_directions_button.isVisible() and "Stopped" in panel.slider_note.text()
    delay["s"] = 0.0
    qtbot.mouseClick(panel.find_directions_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.directions is not None, timeout=10000)
    assert "%" in panel.direction_labels[0].text() and panel.direction_sliders[0].isEnabled()
    assert not panel.find_directions_button.isVisible()


def test_the_first_image_of_a_model_does_not_wait_for_the_direction_search(
        qtbot, panel, tiny_checkpoints, fresh_cache, monkeypatch):
    def endless_search(model, k=8, n=2000, seed=0, batch_size=256):
        for step in range(n):
            time.sleep(0.01)
            yield interpolation.Progress(step, n)
        raise AssertionError("the test should have stopped the search")

    monkeypatch.setattr(interpolation, "compute_directions_steps", endless_search)
    panel.tabs.setCurrentIndex(1)
    panel.set_model(read_info(tiny_checkpoints / "flow-tiny"))
    qtbot.waitUntil(lambda: panel.live.pixels() is not None, timeout=3000)
    assert panel.directions_progress.isVisible() or panel.engine.is_busy()
    panel.cancel_directions()
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=10000)


def test_the_filmstrip_and_live_image_use_the_space_they_have(qtbot, panel, tiny_checkpoints):
    panel.set_model(read_info(tiny_checkpoints / "vae-tiny"))
    panel.frame_count.setValue(10)
    panel.interpolate()
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=20000)
    qtbot.wait(50)
    strip = panel.strip
    rows = -(-10 // getattr(strip, "columns", 10))  # one row before the filmstrip wrapped
    shown = strip.image_rect().height() * 8 / (rows * 10 + 2)  # on-screen size of a frame
    assert shown >= 60
    assert strip.pixels().shape == (12, 10 * 10 + 2, 1)  # Save still writes one strip
    panel.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.live.pixels() is not None, timeout=20000)
    assert min(panel.live.width(), panel.live.height()) >= 400


@pytest.mark.parametrize("size", [(950, 600), (870, 540)])
def test_the_panel_fits_a_laptop_and_the_slider_list_uses_its_height(
        qtbot, panel, tiny_checkpoints, fresh_cache, size):
    panel.resize(*size)
    open_sliders(qtbot, panel, tiny_checkpoints, "vae-tiny")
    qtbot.waitUntil(lambda: panel.directions is not None, timeout=20000)
    qtbot.wait(50)
    hint = panel.minimumSizeHint()
    assert hint.width() < 900 and hint.height() < 560
    box = panel.direction_box
    last = panel.direction_sliders[-1]
    assert last.mapTo(box, last.rect().bottomLeft()).y() > 0.7 * box.height()
    long_name = "a-photo-with-a-very-long-name-" * 6 + ".png"
    panel.ends["A"].set_encoded(long_name, np.zeros(4, np.float32), np.zeros((8, 8, 1), np.uint8),
                                np.zeros((8, 8, 1), np.uint8), False)
    assert panel.minimumSizeHint().width() == hint.width()
    for tab in (0, 1):
        panel.tabs.setCurrentIndex(tab)
        qtbot.wait(20)
        for label in panel.findChildren(QLabel):
            if label.isVisible() and label.text() and not label.wordWrap():
                assert label.width() >= label.sizeHint().width() - 1, label.text()


def test_reset_goes_back_to_the_picture_the_sliders_started_from(qtbot, panel, tiny_checkpoints,
                                                                 tmp_path, fresh_cache):
    from PIL import Image

    picture = tmp_path / "bar.png"
    Image.fromarray(np.pad(np.full((6, 2), 220, np.uint8), 1)).save(picture)
    open_sliders(qtbot, panel, tiny_checkpoints, "vae-tiny")
    seed_image = panel.live.pixels().copy()
    panel.set_base_from_image(str(picture))
    qtbot.waitUntil(lambda: not np.array_equal(panel.live.pixels(), seed_image), timeout=20000)
    start = panel.current_latent().copy()
    qtbot.waitUntil(lambda: panel.directions is not None, timeout=20000)
    panel.direction_sliders[0].setValue(200)
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=10000)
    reset = next(b for b in panel.findChildren(QPushButton) if b.text() == "Reset")
    qtbot.mouseClick(reset, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=10000)
    assert np.array_equal(panel.current_latent(), start)
    assert not np.array_equal(panel.live.pixels(), seed_image)
    assert "bar.png" in panel.base_label.text()  # the starting point is named


def test_a_quick_decode_runs_fewer_sampler_steps_and_leaves_the_model_as_it_was(
        tiny_checkpoints):
    for name, cheaper in (("diffusion-tiny", True), ("vae-tiny", False)):
        model, _ = checkpoints.load(tiny_checkpoints / name)
        z = model.prior_sample(1, torch.Generator().manual_seed(0))[0].numpy()
        full, full_cheaper = interpolation.decode_one(model, z)
        quick, quick_cheaper = interpolation.decode_one(model, z, preview=True)
        assert not full_cheaper and quick_cheaper == cheaper
        assert full.shape == quick.shape == tuple(model.image_shape)
        assert "latent_steps" not in vars(model)  # the class's own step count again
        again, _ = interpolation.decode_one(model, z)
        assert np.array_equal(full, again)


@pytest.fixture
def fake_decoder(qtbot):
    """A LiveDecoder on an engine that only records what is submitted to it: (the
    decoder, a list of (args, callbacks) per job)."""
    from types import SimpleNamespace

    from PySide6.QtWidgets import QProgressBar

    from genplay.gui.panels.latent_live import LiveDecoder
    from genplay.gui.widgets.pixel_view import PixelView

    submitted = []

    class Engine:
        def submit(self, fn, *args, **callbacks):
            submitted.append((args, callbacks))
            return len(submitted)

    panel = SimpleNamespace(engine=Engine(), info=SimpleNamespace(path="m"),
                            show_error=lambda message: None)
    view, cue, caption = PixelView(), QProgressBar(), QLabel()
    for widget in (view, cue, caption):
        qtbot.addWidget(widget)
    return LiveDecoder(panel, view, cue, caption), submitted


def test_the_next_slider_position_goes_as_soon_as_an_image_arrives(fake_decoder):
    """The live decoder runs one job at a time; the next position is submitted when the
    image arrives, not after the job's done signal, which can come an event later."""
    from genplay.core.ops.sliders import SliderState

    decoder, submitted = fake_decoder
    decoder.request(SliderState(0), dragging=False)
    decoder.request(SliderState(1), dragging=False)  # waits: one job at a time
    assert len(submitted) == 1
    image = np.zeros((4, 4), np.uint8)
    facts = {"preview": False, "seconds": 0.01, "evaluations": 1}
    submitted[0][1]["on_result"]((image, facts), {})
    assert len(submitted) == 2  # the waiting position went with the image
    submitted[0][1]["on_done"](False)  # the first job's late done changes nothing
    assert len(submitted) == 2 and decoder.busy()
    submitted[1][1]["on_result"]((image, facts), {})
    assert not decoder.busy()


def test_previews_take_the_steps_this_machine_affords(fake_decoder):
    """A held slider's preview runs as many sampler steps as fit the preview budget at the
    speed the decodes so far measured: more on a fast machine, the fewest on a slow one."""
    from genplay.core.ops.sliders import (
        MAX_PREVIEW_STEPS,
        MIN_PREVIEW_STEPS,
        SliderState,
        preview_steps,
    )

    decoder, submitted = fake_decoder
    image = np.zeros((4, 4), np.uint8)

    def answer(facts):
        _args, callbacks = submitted[-1]
        callbacks["on_result"]((image, facts), {})
        callbacks["on_done"](False)

    decoder.request(SliderState(0), dragging=False)
    assert submitted[-1][0][1:] == (False, MIN_PREVIEW_STEPS)  # speed unknown yet
    answer({"preview": False, "seconds": 0.25, "evaluations": 25})  # 10 ms a step: slow
    decoder.request(SliderState(1), dragging=True)
    steps = submitted[-1][0][2]
    assert submitted[-1][0][1] is True and steps == preview_steps(0.010) > MIN_PREVIEW_STEPS
    answer({"preview": True, "seconds": 0.1 * steps, "evaluations": steps})  # 100 ms a step
    assert decoder.showing_preview and decoder.shown_steps == steps
    decoder.request(SliderState(2), dragging=True)
    assert submitted[-1][0][2] == MIN_PREVIEW_STEPS  # the machine got busy: fewer steps
    assert preview_steps(None) == MIN_PREVIEW_STEPS
    assert preview_steps(1e-6) == MAX_PREVIEW_STEPS and preview_steps(10.0) == MIN_PREVIEW_STEPS


def test_a_slider_value_label_never_changes_size(panel):
    """A label whose size follows its text makes every slider move relayout the whole
    panel (7 ms a move, measured); the value labels are as wide as their widest text."""
    from PySide6.QtWidgets import QSlider

    slider = QSlider()
    label = panel._value_label(slider)
    assert label.minimumSize() == label.maximumSize()
    for text in ("-3.00 sd", "+3.00 sd", "+0.00 sd"):
        label.setText(text)
        assert label.fontMetrics().horizontalAdvance(text) <= label.width()
