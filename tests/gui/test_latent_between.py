"""The Interpolation tab's position slider: any point between the ends, drawn as it is
dragged (quick previews on a slow model, full quality on release), and a slow model's
filmstrip shown in quick frames first."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from genplay.core import checkpoints
from genplay.core.checkpoints import read_info
from genplay.core.ops.sliders import between_latent
from genplay.gui.panels.latent import LatentPanel
from genplay.gui.panels.latent_interpolation import POSITIONS


@pytest.fixture
def panel(laptop_panel):
    return laptop_panel(LatentPanel)


@pytest.fixture
def slow_diffusion(monkeypatch):
    """The tiny diffusion model decodes as slowly per image and sampler step as a real
    one on a laptop CPU (its full decode runs 25 steps, a preview 3)."""
    from genplay.core.models.diffusion import Diffusion

    real, real_preview = Diffusion.decode, Diffusion.preview_decode

    def decode(self, z):
        time.sleep(0.008 * self.latent_steps * z.shape[0])
        return real(self, z)

    def preview_decode(self, z, steps):
        time.sleep(0.008 * steps * z.shape[0])
        return real_preview(self, z, steps)

    monkeypatch.setattr(Diffusion, "decode", decode)
    monkeypatch.setattr(Diffusion, "preview_decode", preview_decode)


def interpolate(qtbot, panel, tiny_checkpoints, name, frames=4):
    panel.set_model(read_info(tiny_checkpoints / name))
    qtbot.waitUntil(lambda: panel.info is not None, timeout=20000)
    quick = []
    panel.strip_caption.setText = lambda text, real=panel.strip_caption.setText: (
        quick.append(text), real(text))
    panel.frame_count.setValue(frames)
    panel.interpolate()
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=20000)
    qtbot.waitUntil(lambda: not panel.engine.is_busy(), timeout=20000)
    return quick


def full_image(panel) -> np.ndarray:
    model, _ = checkpoints.load(panel.info.path)
    z = between_latent(panel.between_state())
    with torch.no_grad():
        image = model.decode(torch.from_numpy(z)[None])[0]
    return np.round(image[0].clamp(0, 1).numpy() * 255)


def test_dragging_between_the_ends_of_a_slow_model_shows_previews_then_full_quality(
        qtbot, panel, tiny_checkpoints, slow_diffusion):
    quick = interpolate(qtbot, panel, tiny_checkpoints, "diffusion-tiny")
    assert any("Quick frames" in text for text in quick)  # the strip came quick first
    assert panel.strip_caption.text() == ""
    assert panel.timer.isActive() and panel.position.isEnabled()
    assert panel.between_decoder.slow()  # known from the strip's frames, before any drag
    panel.position.setSliderDown(True)
    shown, previews, last = 0, 0, panel.animation.pixels()
    for value in range(40, POSITIONS, 40):
        panel.position.setValue(value)
        deadline = time.monotonic() + 0.5  # a busy machine draws the preview later
        while panel.animation.pixels() is last and time.monotonic() < deadline:
            qtbot.wait(5)
        if panel.animation.pixels() is not last:
            shown, last = shown + 1, panel.animation.pixels()
            previews += panel.between_decoder.showing_preview
    assert not panel.timer.isActive(), "a drag stops the animation"
    assert shown >= 3 and previews >= 3, "the image moves with the slider, in previews"
    panel.position.setSliderDown(False)  # let go: full quality
    qtbot.waitUntil(lambda: not panel.between_decoder.busy(), timeout=10000)
    assert not panel.between_decoder.showing_preview
    assert np.abs(panel.animation.pixels()[..., 0] - full_image(panel)).max() <= 1
    panel.play_button.click()
    assert panel.timer.isActive() and panel.play_button.text() == "Pause"


def test_a_fast_model_draws_every_position_at_full_quality(qtbot, panel, tiny_checkpoints):
    quick = interpolate(qtbot, panel, tiny_checkpoints, "vae-tiny")
    assert not any("Quick frames" in text for text in quick)
    panel.position.setSliderDown(True)
    for value in range(0, POSITIONS, 100):
        panel.position.setValue(value)
        qtbot.wait(15)
    assert not panel.between_decoder.slow() and not panel.between_decoder.showing_preview
    panel.position.setSliderDown(False)
    qtbot.waitUntil(lambda: not panel.between_decoder.busy(), timeout=10000)
    assert panel.position_label.text() == f"t = {panel.position.value() / POSITIONS:.3f}"
    assert np.abs(panel.animation.pixels()[..., 0] - full_image(panel)).max() <= 1


def test_the_slider_follows_the_animation_and_a_new_model_clears_it(qtbot, panel,
                                                                     tiny_checkpoints):
    interpolate(qtbot, panel, tiny_checkpoints, "vae-tiny", frames=5)
    positions = set()
    for _ in range(6):
        qtbot.wait(110)
        positions.add(panel.position.value())
    assert len(positions) >= 3 and positions <= {0, 250, 500, 750, 1000}
    assert not panel.between_decoder.busy()  # the animation decodes nothing
    panel.set_model(read_info(tiny_checkpoints / "flow-tiny"))
    assert not panel.position.isEnabled() and not panel.play_button.isEnabled()
    assert panel.between_state() is None and panel.position.value() == 0
