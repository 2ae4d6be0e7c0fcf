"""Live mode while the pen moves: a model that samples in steps shows quick candidates of
the drawing as it is (a few sampler steps, the same seed and count), and the full
candidates replace them when the pen rests."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from genplay.core.ops import sketch as sketch_ops
from genplay.gui.panels.sketch_live import PREVIEW_NOTE
from tests.gui.test_sketch_panel import open_sketch

LEFT, NO_MOD = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


@pytest.fixture
def steps_asked(monkeypatch):
    """The sampler steps of each candidates job, in order; each step takes 4 ms, as a
    laptop CPU takes for a small model, so the jobs overlap the pen's moves."""
    asked = []
    real = sketch_ops.sketch_images

    def slow_images(model, guide, **opts):
        asked.append(opts.get("steps"))
        time.sleep(0.004 * (opts.get("steps") or 0))
        yield from real(model, guide, **opts)

    monkeypatch.setattr(sketch_ops, "sketch_images", slow_images)
    return asked


def slow_stroke(qtbot, panel, moves=12, pause_ms=45, release=True):
    """A stroke drawn at a hand's pace (a move every pause_ms), holding the pen between."""
    w, h = panel.canvas.width(), panel.canvas.height()
    points = [QPoint(int(w * (0.3 + 0.4 * i / moves)), int(h * (0.2 + 0.6 * i / moves)))
              for i in range(moves + 1)]
    seen = []
    QTest.mousePress(panel.canvas, LEFT, NO_MOD, points[0])
    for point in points[1:]:
        QTest.mouseMove(panel.canvas, point)
        qtbot.wait(pause_ms)
        seen.append((panel.previews.showing, panel.view.busy_text(), panel.view.pixels()))
    if release:
        QTest.mouseRelease(panel.canvas, LEFT, NO_MOD, points[-1])
    return seen


def test_a_stroke_shows_quick_candidates_then_full_ones_when_the_pen_rests(
        qtbot, window, steps_asked):
    panel = open_sketch(qtbot, window, "diffusion-tiny")
    assert panel.facts["method"] == "sdedit" and panel.facts["preview_steps"]
    panel.live.setChecked(True)
    panel.count.setValue(3)
    panel.steps.setValue(40)
    panel.strength.setValue(50)
    seen = slow_stroke(qtbot, panel)
    previews = [s for s in seen if s[0]]
    assert previews, "candidates must show while the pen moves"
    assert all(busy == PREVIEW_NOTE for _, busy, _ in previews)
    assert len({id(pixels) for _, _, pixels in previews}) >= 2, "and follow the drawing"
    assert panel.images is None  # nothing to Save yet: previews are not a result
    quick = panel.facts["preview_steps"] * 2  # SDEdit at strength 0.5 runs half of them
    assert steps_asked[0] == quick and set(steps_asked) == {quick}
    qtbot.waitUntil(lambda: panel.images is not None, timeout=20000)
    assert steps_asked[-1] == 40  # the full request, when the pen rested
    assert not panel.previews.showing and panel.view.busy_text() == ""
    assert panel.view.count() == 3 and "3 candidates" in panel.caption.text()


def test_a_stroke_drops_the_full_request_of_the_drawing_before_it(qtbot, window,
                                                                   steps_asked):
    panel = open_sketch(qtbot, window, "diffusion-tiny")
    panel.live.setChecked(False)
    panel.steps.setValue(200)
    slow_stroke(qtbot, panel, moves=2)
    panel.generate()  # slow: still running when the next stroke starts
    running = panel._job
    finished = []
    window.engine.job_finished.connect(lambda job, cancelled, error: finished.append(
        (job, cancelled)))
    panel.live.setChecked(True)
    slow_stroke(qtbot, panel, moves=6)
    qtbot.waitUntil(lambda: (running, True) in finished, timeout=10000)
    assert "Cancelled" not in panel.caption.text()  # quietly: the pen moved on
    qtbot.waitUntil(lambda: panel.images is not None, timeout=30000)
    assert not panel.previews.showing


def test_no_previews_with_live_off_in_fill_mode_or_for_latent_fitting(qtbot, window,
                                                                       steps_asked):
    panel = open_sketch(qtbot, window, "diffusion-tiny")
    panel.live.setChecked(False)
    slow_stroke(qtbot, panel, moves=4)
    assert panel.previews.steps() is None and not steps_asked
    panel.live.setChecked(True)
    panel.steps.setValue(4)  # no quicker than the full request: no previews
    assert panel.previews.steps() is None
    vae = open_sketch(qtbot, window, "vae-tiny")
    vae.live.setChecked(True)
    assert vae.facts["preview_steps"] is None and vae.previews.steps() is None


def test_cancelling_the_full_request_brings_back_the_last_result(qtbot, window,
                                                                  steps_asked):
    panel = open_sketch(qtbot, window, "diffusion-tiny")
    panel.live.setChecked(False)
    panel.steps.setValue(20)
    slow_stroke(qtbot, panel, moves=2)
    panel.generate()
    qtbot.waitUntil(lambda: panel.images is not None, timeout=20000)
    result = panel.view.pixels().copy()
    panel.live.setChecked(True)
    panel.steps.setValue(200)
    slow_stroke(qtbot, panel, moves=8, release=False)
    qtbot.waitUntil(lambda: panel.previews.showing, timeout=10000)
    QTest.mouseRelease(panel.canvas, LEFT, NO_MOD, QPoint(10, 10))
    qtbot.waitUntil(lambda: panel._job is not None, timeout=5000)  # the pause passed
    window.engine.cancel(panel._job)
    qtbot.waitUntil(lambda: "Cancelled" in panel.caption.text(), timeout=10000)
    assert not panel.previews.showing
    assert np.array_equal(panel.view.pixels(), result)
