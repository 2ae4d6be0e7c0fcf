"""The Training panel as a user drives it: a tiny model on a folder of their own images,
watched, paused, resumed, stopped, continued from its checkpoint and used.

Spawning the training child costs a second or two (a fresh interpreter importing torch), so
the whole file starts five processes: the run, its continuation after Stop, one that
fails, and one killed after a save and then resumed as if in a later session.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genplay.gui.panels.training import TrainingPanel
from tests.conftest import TINY_CONFIGS

SLOW = 90_000  # ms: the child imports torch on 2 busy cores


def image_folder(folder: Path, n: int = 40) -> Path:
    """n random 16x16 colour PNGs and one file that only looks like a PNG."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
            folder / f"img{i:03d}.png")
    (folder / "000_broken.png").write_bytes(b"not a png at all")
    return folder


@pytest.fixture
def panel(qtbot, tmp_path, standalone):
    """The panel on its own, with its own engine."""
    p = standalone(TrainingPanel)
    p.set_output_root(tmp_path / "runs")
    p.show()
    qtbot.waitUntil(lambda: "vae" in p.families(), timeout=20000)
    yield p
    p.shutdown()


def test_families_exclude_helper_nets_and_datasets_end_with_a_folder_choice(panel):
    assert "vae" in panel.families() and "diffusion" in panel.families()
    assert "classifier" not in panel.families()
    items = [panel.dataset_combo.itemText(i) for i in range(panel.dataset_combo.count())]
    assert "mnist" in items and items[-1] == "Folder…"


def test_a_folder_preview_shows_images_at_the_chosen_size_and_reports_unreadable_files(
        qtbot, panel, tmp_path):
    folder = image_folder(tmp_path / "mine", n=20)
    panel.size_combo.setCurrentIndex(panel.size_combo.findData(32))
    panel.channels_combo.setCurrentIndex(panel.channels_combo.findData(3))
    panel.set_folder(folder)
    qtbot.waitUntil(lambda: "unreadable" in panel.data_caption.text(), timeout=20000)
    caption = panel.data_caption.text()
    assert "000_broken.png" in caption and "21 image files" in caption and "32×32" in caption
    grid = panel.data_view.pixels()
    assert grid is not None and grid.shape[2] == 3
    assert panel.out_name.text() == "vae-mine-32px"


def test_a_bad_folder_gives_a_message_and_starts_nothing(qtbot, panel, tmp_path):
    (tmp_path / "empty").mkdir()
    panel.set_folder(tmp_path / "empty")
    qtbot.waitUntil(lambda: "no image files" in panel.messages.text(), timeout=20000)
    assert panel.data_view.pixels() is None
    panel.set_folder(tmp_path / "missing")
    assert not panel.start()
    assert "not a folder" in panel.messages.text()
    assert panel.process is None and panel.state == "idle"


@pytest.mark.slow  # starts processes that import torch: run by .ci/run
def test_train_pause_resume_stop_continue_and_use_the_model(qtbot, window, tmp_path):
    panel = window.training
    assert window.tabs.tabText(window.tabs.count() - 1) == "Training"
    window.tabs.setCurrentIndex(window.tabs.count() - 1)
    runs = tmp_path / "runs"
    panel.set_output_root(runs)
    panel.config_overrides = dict(TINY_CONFIGS["vae"])  # 8x8 images, a few channels
    panel.preview_every = 2
    qtbot.waitUntil(lambda: "vae" in panel.families(), timeout=20000)
    panel.family_combo.setCurrentText("vae")
    panel.set_folder(image_folder(tmp_path / "mine"))
    qtbot.waitUntil(lambda: panel.data_view.pixels() is not None, timeout=20000)
    panel.budget_unit.setCurrentText("minutes")
    panel.budget_spin.setValue(5)
    assert panel.start()
    assert panel.process.threads >= 1
    # the loss curves fill, samples and validation arrive
    qtbot.waitUntil(lambda: bool(panel.loss_plot.curves) and len(
        panel.loss_plot.points(next(iter(panel.loss_plot.curves)))[0]) >= 3, timeout=SLOW)
    qtbot.waitUntil(lambda: panel.last_preview is not None and panel.validation_list.count() > 0,
                    timeout=SLOW)
    assert panel.state == "running" and "images/s" in panel.stats_label.text()
    assert any("unreadable" in line and "000_broken.png" in line for line in panel.log_lines)
    if os.environ.get("GENPLAY_SCREENSHOT"):
        panel.window().resize(1200, 760)
        qtbot.wait(300)
        panel.grab().save(os.environ["GENPLAY_SCREENSHOT"])

    # pause: the step stops advancing
    panel.pause_button.click()
    qtbot.waitUntil(lambda: panel.state == "paused", timeout=SLOW)
    assert panel.resume_button.isEnabled() and not panel.pause_button.isEnabled()
    step = panel.last_progress.step
    qtbot.wait(700)
    panel._poll()
    assert panel.last_progress.step == step and panel.state == "paused"
    panel.resume_button.click()
    qtbot.waitUntil(lambda: panel.state == "running" and panel.last_progress.step > step,
                    timeout=SLOW)

    # stop: the checkpoint is saved and the picker lists it
    panel.stop_button.click()
    qtbot.waitUntil(lambda: panel.state == "stopped", timeout=SLOW)
    out = runs / panel.out_name.text()
    assert panel.checkpoint == out and (out / "model.safetensors").is_file()
    assert str(out) in panel.checkpoint_label.text() and not panel.use_button.isHidden()
    qtbot.waitUntil(lambda: any(i.path.resolve() == out.resolve() for i in window.infos),
                    timeout=20000)
    stopped_at = panel.last_progress.step
    points = len(panel.loss_plot.points("loss")[0])

    # Resume after Stop continues the run from its checkpoint, here to a budget of epochs
    panel.budget_unit.setCurrentText("epochs")
    panel.budget_spin.setValue(panel.last_progress.epoch + 10)  # ~40 steps more
    assert panel.resume_button.isEnabled()
    panel.resume_button.click()
    assert panel.state == "starting" and panel.process.settings.resume
    qtbot.waitUntil(lambda: panel.state in ("finished", "failed"), timeout=SLOW)
    assert panel.state == "finished", panel.status_label.text()
    assert panel.checkpoint == out
    steps = panel.loss_plot.points("loss")[0]
    assert len(steps) > points and steps[-1] > stopped_at  # the curve goes on

    # Use this model: selected in the picker
    panel.use_button.click()
    qtbot.waitUntil(lambda: window.current is not None
                    and window.current.path.resolve() == out.resolve(), timeout=20000)
    assert window.current.family == "vae"


@pytest.mark.slow  # starts a process that imports torch: run by .ci/run
def test_a_run_that_fails_in_its_process_says_why_and_keeps_the_details(qtbot, panel, tmp_path):
    panel.config_overrides = {**TINY_CONFIGS["vae"], "no_such_field": 1}  # refused in the child
    panel.family_combo.setCurrentText("vae")
    panel.set_folder(image_folder(tmp_path / "mine", n=4))
    qtbot.waitUntil(lambda: panel.data_view.pixels() is not None, timeout=20000)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.state == "failed", timeout=SLOW)
    assert "no_such_field" in panel.status_label.text()
    assert not panel.details_button.isHidden() and "no_such_field" in panel._details
    assert panel.start_button.isEnabled() and not panel.is_running()  # ready for another go


@pytest.mark.slow  # starts processes that import torch: run by .ci/run
def test_a_crashed_run_and_one_from_an_earlier_session_resume_from_their_last_save(
        qtbot, panel, tmp_path):
    panel.config_overrides = dict(TINY_CONFIGS["vae"])
    panel.family_combo.setCurrentText("vae")
    folder = image_folder(tmp_path / "mine")
    panel.set_folder(folder)
    qtbot.waitUntil(lambda: panel.data_view.pixels() is not None, timeout=20000)
    name = panel.out_name.text()
    assert not panel.resume_button.isEnabled()  # nothing saved under that name yet
    panel.budget_unit.setCurrentText("epochs")
    panel.budget_spin.setValue(1000)
    assert panel.start()
    assert not panel.budget_spin.isEnabled() and not panel.seed.isEnabled()  # fixed now

    # a crash after a save: the run failed, and Resume goes on from the save
    qtbot.waitUntil(lambda: any(line.startswith("saved step") for line in panel.log_lines),
                    timeout=SLOW)
    panel.process.kill()
    qtbot.waitUntil(lambda: panel.state == "failed", timeout=SLOW)
    assert panel.checkpoint is None and "Resume goes on" in panel.status_label.text()
    assert panel.resume_button.isEnabled() and panel.budget_spin.isEnabled()

    # as if in a later session: another family is shown, and the name is typed back in
    panel.family_combo.setCurrentText("gan")
    assert panel.out_name.text() != name and not panel.resume_button.isEnabled()
    panel.out_name.setText(name)
    assert panel.resume_button.isEnabled()
    panel.budget_spin.setValue(2)
    panel.resume_button.click()
    assert panel.state == "starting"
    run = panel.process.settings
    assert run.resume and run.family == "vae" and Path(run.data) == folder.resolve()
    assert run.out == panel.output_root / name
    qtbot.waitUntil(lambda: panel.state in ("finished", "failed"), timeout=SLOW)
    assert panel.state == "finished", panel.status_label.text()
    assert panel.checkpoint == panel.output_root / name


def test_the_loss_plot_names_its_curves_only_once_it_has_some_and_logs_positive_values(qtbot):
    from genplay.gui.widgets.loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    assert not plot.legend.isVisible() and not plot.curves
    plot.add(1, {"loss": 2.0, "d_loss": -0.5})
    plot.add(2, {"loss": 1.0, "d_loss": 0.25})
    assert set(plot.curves) == {"loss", "d_loss"} and plot.legend.isVisible()
    plot.set_log(True)
    y = plot.curves["d_loss"].getData()[1]  # as drawn: log10, and no place for -0.5
    assert np.isnan(y[0]) and np.isclose(y[1], np.log10(0.25))
    assert plot.points("d_loss")[1].tolist() == [-0.5, 0.25]  # the data keep the value
    assert plot.colour("loss") != plot.colour("d_loss") and plot.colour("kl") is None
    plot.clear_curves()
    assert not plot.curves and not plot.legend.isVisible() and plot.colour("loss") is None
    outside = LossPlot(legend=False)  # the caller names the curves in their colours
    qtbot.addWidget(outside)
    outside.add(1, {"loss": 1.0})
    assert outside.legend is None and outside.colour("loss") is not None


def test_a_preview_of_large_images_shows_as_many_rows_as_fit_the_column(qtbot, panel, tmp_path):
    folder = image_folder(tmp_path / "mine", n=20)
    panel.size_combo.setCurrentIndex(panel.size_combo.findData(64))
    panel.set_folder(folder)
    qtbot.waitUntil(lambda: "64×64" in panel.data_caption.text(), timeout=20000)
    assert panel.data_caption.text().startswith("12 images")  # 3 rows of 4
    assert panel.data_view.pixels().shape[:2] == (3 * 65 + 1, 4 * 65 + 1)
    assert panel.preview_every == 100 and panel.form.preview_spin.value() == 100
