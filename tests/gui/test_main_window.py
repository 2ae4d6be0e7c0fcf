"""The app as a user drives it: models, panels, sampling, sliders, cancel, errors, closing."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from genplay.core.events import Progress
from tests.conftest import TINY_CONFIGS
from tests.gui.conftest import select


def test_window_lists_models_and_gates_panels_by_capability(qtbot, window):
    names = [item.text().split("\n")[0] for item in window.model_list.model_items()]
    assert sorted(names) == sorted(f"{family}-tiny" for family in TINY_CONFIGS)
    select(qtbot, window, "vae-tiny")
    for stack, panel, _needs in window._stacks:
        assert stack.currentWidget() is panel
    select(qtbot, window, "classifier-tiny")
    for stack, panel, needs in window._stacks:
        if panel is window.superres:  # bicubic upscaling needs no model: it takes any
            assert stack.currentWidget() is panel
            continue
        assert stack.currentWidget() is needs
        assert "cannot" in needs.label.text()
        assert needs.buttons.count() > 0  # suggests models that can
    # a second model lacking the same capabilities: the suggestions are rebuilt, not stacked
    count = window._stacks[-1][2].buttons.count()
    select(qtbot, window, "gan-tiny")
    select(qtbot, window, "pixelcnn-tiny")  # no latent: the Latent panel explains again
    stack, _panel, needs = window._stacks[window.panels.index(window.latent)]
    assert stack.currentWidget() is needs and "pixelcnn-tiny" in needs.label.text()
    assert window._stacks[-1][2].buttons.count() <= count


def test_switching_models_changes_the_sampler_options(qtbot, window):
    select(qtbot, window, "vae-tiny")
    assert set(window.sampling.options()) == {"temperature", "pixel_noise"}
    select(qtbot, window, "gan-tiny")
    assert set(window.sampling.options()) == {"temperature"}
    assert window.settings.value("model").endswith("gan-tiny")


def test_sampling_gives_the_same_png_as_the_cli(qtbot, window, tiny_checkpoints, tmp_path):
    from genplay.cli import main

    select(qtbot, window, "vae-tiny")
    window.sampling.seed.setValue(11)
    window.sampling.count.setValue(20)
    window.sampling.generate()
    qtbot.waitUntil(lambda: window.sampling.images is not None, timeout=20000)
    window.sampling.save(tmp_path / "gui.png")
    assert main(["sample", str(tiny_checkpoints / "vae-tiny"), "-n", "20", "--seed", "11",
                 "-o", str(tmp_path / "cli.png")]) == 0
    assert (tmp_path / "gui.png").read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert main(["sample", "--replay", str(tmp_path / "gui.json"), "-o",
                 str(tmp_path / "replay.png")]) == 0
    assert (tmp_path / "replay.png").read_bytes() == (tmp_path / "gui.png").read_bytes()


def test_hover_text_and_endpoint_from_a_sample(qtbot, window):
    select(qtbot, window, "gan-tiny")
    window.sampling.generate()
    qtbot.waitUntil(lambda: window.sampling.images is not None, timeout=20000)
    view = window.sampling.view
    rect = view.image_rect()
    scale = rect.width() / view.pixels().shape[1]
    # centre of the second tile: padding 2, tiles 8 wide
    point = QPointF(rect.x() + (2 + 8 + 2 + 4) * scale, rect.y() + (2 + 4) * scale)
    assert view.tile_at(point) == 1
    assert view._tooltips[1].startswith(f"seed {window.sampling.seed.value()}")
    window.sampling._endpoint("B", 1)
    from genplay.core.ops.endpoints import SampleEndpoint

    assert window.latent.ends["B"].spec() == SampleEndpoint(window.sampling.seed.value(), 1, 1.0)
    assert window.tabs.currentIndex() == 1


def test_slider_drags_update_the_image_and_end_on_the_last_value(qtbot, window):
    import torch

    from genplay.core import checkpoints

    select(qtbot, window, "vae-tiny")
    latent = window.latent
    latent.tabs.setCurrentIndex(1)  # Sliders, but the Latent panel is not shown yet
    qtbot.wait(300)
    assert latent.directions is None and not window.engine.is_busy()
    window.tabs.setCurrentIndex(window.panels.index(latent))
    assert window.engine.is_busy()  # finding the directions
    window.tabs.setCurrentIndex(0)  # leaving the panel gives the engine back
    qtbot.waitUntil(lambda: not window.engine.is_busy(), timeout=5000)
    assert latent.directions is None
    window.tabs.setCurrentIndex(window.panels.index(latent))
    qtbot.waitUntil(lambda: latent.directions is not None and latent.live.pixels() is not None,
                    timeout=30000)
    before = latent.live.pixels().copy()
    for value in range(0, 301, 10):  # a drag: many value changes, latest wins
        latent.direction_sliders[0].setValue(value)
    qtbot.waitUntil(lambda: not window.engine.is_busy(), timeout=10000)
    after = latent.live.pixels()
    assert not np.array_equal(before, after)
    model, _ = checkpoints.load(window.current.path)
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(latent.current_latent())[None])[0]
    assert np.abs(after[..., 0] / 255.0 - expected[0].numpy()).max() <= 1 / 255 + 1e-6
    assert latent._value_labels[latent.direction_sliders[0]].text() == "+3.00 sd"


def test_interpolation_and_exports(qtbot, window, tmp_path, monkeypatch):
    from PIL import Image

    select(qtbot, window, "vae-tiny")
    latent = window.latent
    latent.frame_count.setValue(5)
    latent.interpolate()
    qtbot.waitUntil(lambda: latent.frames is not None, timeout=20000)
    assert latent.frames.shape == (5, 8, 8, 1)
    monkeypatch.setattr("genplay.gui.panels.latent.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "a.gif"), ""))
    latent.export_gif()
    assert Image.open(tmp_path / "a.gif").n_frames == 8  # 5 frames there and back
    monkeypatch.setattr("genplay.gui.panels.latent.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "z.npz"), ""))
    latent.export_latents()
    assert np.load(tmp_path / "z.npz")["latents"].shape == (5, 4)


def test_a_bad_image_dropped_on_the_latent_panel_gives_a_message(qtbot, window, tmp_path):
    select(qtbot, window, "vae-tiny")
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"\xff\xd8\xff this is not really a jpeg")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bad))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.latent.dropEvent(event)
    qtbot.waitUntil(lambda: "holiday.jpg" in window.messages.text(), timeout=10000)
    assert window.messages.kind == "error"
    window.latent.drop_image(str(tmp_path / "missing.png"))
    qtbot.waitUntil(lambda: "no such file" in window.messages.text(), timeout=10000)


def test_an_engine_error_is_shown_and_the_app_keeps_working(qtbot, window):
    def broken():
        raise RuntimeError("boom")

    window.engine.submit(broken, label="a job that fails")
    qtbot.waitUntil(lambda: "boom" in window.messages.text(), timeout=10000)
    select(qtbot, window, "gan-tiny")
    window.sampling.generate()
    qtbot.waitUntil(lambda: window.sampling.images is not None, timeout=20000)


def test_cancel_stops_a_long_job(qtbot, window):
    def long_job():
        for i in range(100_000):
            time.sleep(0.01)
            yield Progress(i, 100_000, "a long job")

    # The window's own start-up jobs (loading the selected model) finish first.
    qtbot.waitUntil(lambda: not window.engine.is_busy(), timeout=20000)
    finished = []
    window.engine.submit(long_job, label="a long job", on_done=finished.append)
    qtbot.waitUntil(window.cancel_button.isVisible, timeout=5000)
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: finished == [True], timeout=3000)
    assert not window.cancel_button.isVisible()


def test_closing_during_a_job_ends_the_thread(qtbot, tiny_checkpoints, settings):
    from genplay.gui.main_window import MainWindow

    w = MainWindow(checkpoint_dirs=[tiny_checkpoints], settings=settings)
    w.show()

    def long_job():
        while True:
            time.sleep(0.01)
            yield Progress(0, None, "forever")

    w.engine.submit(long_job, label="forever")
    qtbot.wait(100)
    start = time.monotonic()
    w.close()
    assert w.engine._worker.isFinished()
    assert time.monotonic() - start < 2.0


@pytest.mark.slow  # starts a process that imports torch and stays open 3 s: run by .ci/run
def test_the_app_starts_and_quits_cleanly_as_a_process(tmp_path):
    """python -m genplay opens the window; no 'QThread destroyed while running' on quit."""
    script = (
        "import sys; from PySide6.QtCore import QTimer; from genplay.gui.app import create_app\n"
        "app = create_app(); QTimer.singleShot(3000, app.closeAllWindows)\n"
        "from genplay.__main__ import main; sys.exit(main([]))"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "QThread" not in done.stderr and "Traceback" not in done.stderr


def test_pixel_by_pixel_sampling_shows_previews(qtbot, window):
    select(qtbot, window, "pixelcnn-tiny")
    panel = window.sampling
    shown = []
    original = panel._show_preview
    panel._show_preview = lambda images: (shown.append(images.shape), original(images))
    panel.count.setValue(3)
    panel.generate()
    qtbot.waitUntil(lambda: panel.images is not None, timeout=20000)
    assert shown and all(shape[0] == 3 for shape in shown)
    assert panel.images.shape[0] == 3


def test_first_start_shows_the_sampler_with_the_best_fid(qtbot, tiny_checkpoints, settings,
                                                         tmp_path):
    import json
    import shutil

    from genplay.gui.main_window import MainWindow

    for name, fid in (("vae-tiny", 50.0), ("gan-tiny", 10.0), ("flow-tiny", 90.0)):
        shutil.copytree(tiny_checkpoints / name, tmp_path / name)
        (tmp_path / name / "metrics.json").write_text(json.dumps({"fid": fid}))
    w = MainWindow(checkpoint_dirs=[tmp_path], settings=settings)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.current is not None, timeout=20000)
    assert w.current.name == "gan-tiny"
    w.close()


def test_diffusion_options_in_the_sampling_panel(qtbot, window):
    from PySide6.QtWidgets import QComboBox, QSpinBox

    select(qtbot, window, "diffusion-tiny")
    boxes = window.sampling._option_boxes
    assert isinstance(boxes["sampler"], QComboBox) and boxes["sampler"].currentText() == "unipc"
    assert isinstance(boxes["steps"], QSpinBox)
    # a class per image by default, guided; no class, no guidance
    assert boxes["class"].currentText() == "mixed" and boxes["guidance"].isEnabled()
    assert not boxes["eta"].isEnabled()
    boxes["class"].setCurrentText("any")
    assert not boxes["guidance"].isEnabled()
    boxes["sampler"].setCurrentText("ddim")
    boxes["class"].setCurrentText("3")
    assert boxes["eta"].isEnabled() and boxes["guidance"].isEnabled()
    boxes["steps"].setValue(4)
    window.sampling.count.setValue(3)
    previews = []
    show = window.sampling._show_preview
    window.sampling._show_preview = lambda images: (previews.append(images.shape), show(images))
    window.sampling.generate()
    qtbot.waitUntil(lambda: window.sampling.images is not None, timeout=20000)
    assert window.sampling.images.shape == (3, 1, 8, 8)
    assert previews and previews[0][0] == 3  # the x0 estimates of each step, 3 images
    assert "sampler ddim" in window.sampling.caption.text()
