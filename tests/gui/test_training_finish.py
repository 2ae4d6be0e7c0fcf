"""The Training panel finished: a calm first start without datasets, samples soon after
Start, a timeline of sample grids, smoothed curves, validation labelled as what it is, a
status a user cares about, and a panel that fits a laptop screen.

Most tests feed the panel the events a run sends (a stand-in for the training process), so
they need no child process; one trains a tiny model in this process to check when the first
grid comes."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from genplay.core.events import Preview, Progress, Result, Validation
from genplay.gui.panels.training import TrainingPanel
from genplay.gui.widgets.loss_plot import LossPlot


class FakeProcess:
    """What the panel polls: the events a run would send, handed out once."""

    def __init__(self) -> None:
        self.queue: list = []

    def events(self) -> list:
        out, self.queue = self.queue, []
        return out

    def send(self, *events) -> None:
        self.queue.extend(events)


@pytest.fixture
def panel(qtbot, tmp_path, standalone):
    p = standalone(TrainingPanel)
    p.set_output_root(tmp_path / "runs")
    p.resize(900, 560)
    p.show()
    qtbot.waitUntil(lambda: "vae" in p.families(), timeout=20000)
    yield p
    p.process = None
    p.shutdown()


def running(panel) -> FakeProcess:
    """Puts the panel in the state of a run whose process has just started."""
    from genplay.core.train_process import Started

    fake = FakeProcess()
    panel.process = fake
    panel.view.clear()
    panel._set_state("starting", "Starting…")
    fake.send(Started(4242, 1))
    panel._poll()
    return fake


def grid(value: int, n: int = 4) -> np.ndarray:
    return np.full((n, 8, 8, 1), value, np.uint8)


# --- 1. a first start without datasets ----------------------------------------------------------
def test_no_datasets_the_tab_offers_the_dataset_and_no_error_bar_shows(qtbot, no_datasets,
                                                                       standalone):
    p = standalone(TrainingPanel)
    p.show()
    qtbot.waitUntil(lambda: p.form.dataset_offer.isVisible(), timeout=20000)
    assert p.form.missing == "fashion-mnist"
    assert not p.messages.isVisible()
    assert not p.data_view.isVisible()  # no empty preview under the offer


def test_a_damaged_dataset_at_start_up_is_said_in_the_tab_not_on_the_message_bar(
        qtbot, no_datasets, standalone):
    folder = no_datasets / "fashion-mnist"
    folder.mkdir(parents=True)
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"not an idx file")
    p = standalone(TrainingPanel)
    p.show()
    qtbot.waitUntil(lambda: p.data_caption.text() not in ("", "Loading a few images…"),
                    timeout=20000)
    qtbot.wait(50)
    assert not p.messages.isVisible(), p.messages.text()
    assert "not an IDX file" in p.data_caption.text()
    assert not p.start() and "not an IDX file" in p.messages.text()  # Start says why
    assert p.process is None


# --- 2. samples soon after Start ----------------------------------------------------------------
def test_a_timed_schedule_draws_the_first_grid_after_the_first_step(tiny_data, tmp_path):
    from genplay.core.train import TrainSettings, train
    from tests.conftest import TINY_CONFIGS

    config = dict(TINY_CONFIGS["vae"])
    size = config.pop("image_size")
    settings = TrainSettings(family="vae", data=str(tiny_data), out=tmp_path / "run", epochs=1,
                             size=size, overrides=config, preview_every=1000,
                             preview_every_s=60.0)
    previews = [e.step for e in train(settings) if isinstance(e, Preview)]
    assert previews == [1]  # the first step's grid; the next is a minute (or 1000 steps) on
    # the CLI's way (by steps only) is unchanged
    settings.out, settings.preview_every_s = tmp_path / "cli", None
    assert not [e for e in train(settings) if isinstance(e, Preview)]


def test_start_asks_for_an_early_first_grid(qtbot, panel, monkeypatch):
    from genplay.core import train_process

    started = []

    class Recording:
        def __init__(self, settings, threads):
            self.settings, self.threads = settings, threads

        def start(self):
            started.append(self.settings)

        def events(self):
            return []

        def shutdown(self, timeout=0):
            pass

    monkeypatch.setattr(train_process, "TrainingProcess", Recording)
    qtbot.waitUntil(lambda: panel.form.dataset_problem() is None, timeout=20000)
    assert panel.start()
    assert started[0].preview_every_s is not None and started[0].preview_every_s <= 10
    assert "pid" not in panel.status_label.text()


def test_with_several_gpus_the_form_offers_a_process_on_each(qtbot, panel, monkeypatch):
    from genplay.core import train_process

    started = []

    class Recording:
        def __init__(self, settings, threads, nproc=1):
            self.settings, self.threads, self.nproc = settings, threads, nproc

        def start(self):
            started.append(self)

        def events(self):
            return []

        def shutdown(self, timeout=0):
            pass

    monkeypatch.setattr(train_process, "TrainingProcess", Recording)
    form = panel.form
    assert not form.processes.isVisibleTo(panel) and form.gpu_processes() == 1  # no GPU here
    form.set_gpus(4)
    assert form.processes.isVisibleTo(panel) and form.processes.maximum() == 4
    assert form.processes.value() == 4  # all of them, unless fewer are asked for
    form.processes.setValue(2)
    qtbot.waitUntil(lambda: panel.form.dataset_problem() is None, timeout=20000)
    assert panel.start()
    run = started[-1]
    assert run.nproc == 2 and run.settings.device == "cuda"
    assert "2 processes on 2 GPUs" in run.settings.recipe
    assert not form.processes.isEnabled()  # fixed while the run goes on


# --- 3. a timeline of sample grids --------------------------------------------------------------
def test_the_sample_timeline_follows_new_grids_and_keeps_a_scrubbed_one(qtbot, panel):
    fake = running(panel)
    view = panel.view
    for step, value in ((1, 10), (100, 20), (200, 30)):
        fake.send(Preview(step, grid(value)))
        panel._poll()
    assert view.timeline.maximum() == 2 and view.timeline.value() == 2  # follows the latest
    assert "200" in view.timeline_label.text()
    assert panel.samples_view.pixels().max() == 30
    view.timeline.setValue(0)  # scrub back to the first grid
    assert "step 1" in view.timeline_label.text() and panel.samples_view.pixels().max() == 10
    fake.send(Preview(300, grid(40)))
    panel._poll()
    assert view.timeline.maximum() == 3 and view.timeline.value() == 0  # stays where it was
    assert panel.samples_view.pixels().max() == 10
    view.timeline.setValue(3)
    assert panel.samples_view.pixels().max() == 40 and "300" in view.timeline_label.text()
    panel.view.clear()
    assert not view.grids and not view.timeline.isEnabled()


# --- 4. smoothed curves -------------------------------------------------------------------------
def test_curves_are_smoothed_with_the_raw_values_faint_behind(qtbot):
    plot = LossPlot(legend=False)
    qtbot.addWidget(plot)
    rng = np.random.default_rng(0)
    raw = 1.0 + rng.normal(0, 0.5, 400)  # a spiky GAN-like term
    for step, value in enumerate(raw):
        plot.add(step, {"d_loss": float(value)})
    x, smooth = plot.smoothed("d_loss")
    assert len(x) == 400 and np.isclose(smooth[0], raw[0])  # the start is not biased to 0
    assert np.std(smooth[100:]) < 0.3 * np.std(raw[100:])
    assert plot.points("d_loss")[1].tolist() == raw.tolist()  # the data keep every value
    faint = plot.curves["d_loss"].opts["pen"].color().alpha()
    assert faint < 255 and plot.smooth_curves["d_loss"].opts["pen"].color().alpha() == 255
    plot.set_smoothing(False)  # raw only, in full colour
    assert not plot.smooth_curves["d_loss"].isVisible()
    assert plot.curves["d_loss"].opts["pen"].color().alpha() == 255


# --- 5. validation labelled honestly ------------------------------------------------------------
def test_validation_says_what_it_is_and_its_lines_are_not_clipped(qtbot, panel):
    fake = running(panel)
    box = panel.view.validation_box
    assert "per epoch" not in box.title()
    assert "held-out" in panel.view.validation_caption.text()
    metrics = {"elbo_bpd": 3.2345, "psnr_x2": 26.91, "bicubic_psnr_x2": 21.1,
               "psnr_gain": 5.81, "accuracy": 0.9243}
    for epoch in (15, 30):
        fake.send(Validation(epoch, epoch * 4, metrics))
        panel._poll()
    qtbot.wait(50)
    assert panel.validation_list.horizontalScrollBar().maximum() == 0
    item = panel.validation_list.item(0)
    assert "15" in item.text() and "elbo_bpd" in item.text()


# --- 6. a status a user cares about -------------------------------------------------------------
def test_the_status_says_step_time_left_and_rate_never_a_process_id(qtbot, panel):
    fake = running(panel)
    assert "pid" not in panel.status_label.text() and "4242" not in panel.status_label.text()
    fake.send(Progress(120, 2225, 0, {"loss": 3.1}, images_per_s=156.0, eta_s=1500.0))
    panel._poll()
    status = panel.status_label.text()
    assert "step 120 of 2,225" in status and "25 min" in status and "left" in status
    assert "156 images/s" in status and "4242" not in status


def test_after_a_run_ends_no_time_left_is_shown(qtbot, panel, tmp_path):
    fake = running(panel)
    fake.send(Progress(50, 100, 0, {"loss": 3.1}, images_per_s=10.0, eta_s=40.0))
    panel._poll()
    assert "ETA" in panel.stats_label.text() or "left" in panel.status_label.text()
    fake.send(Progress(100, 100, 1, {"loss": 2.0}, images_per_s=10.0, eta_s=0.0),
              Result(tmp_path / "run", {"steps": 100, "epochs": 1, "seconds": 9.5}))
    panel._poll()
    assert panel.state == "finished"
    for text in (panel.stats_label.text(), panel.status_label.text()):
        assert "ETA" not in text and "left" not in text and "images/s" not in text
    assert "step 100" in panel.stats_label.text()


def test_a_paused_run_shows_no_rate_nor_time_left_and_a_stop_before_any_step_says_so(
        qtbot, panel):
    from genplay.core.train_process import PAUSED_MESSAGE

    fake = running(panel)
    progress = Progress(50, 100, 0, {"loss": 3.1}, images_per_s=10.0, eta_s=40.0)
    fake.send(progress)
    panel._poll()
    fake.send(Progress(50, 100, 0, {"loss": 3.1}, 0.0, 40.0, message=PAUSED_MESSAGE))
    panel._poll()
    assert panel.state == "paused" and "Paused at step 50" in panel.status_label.text()
    assert "ETA" not in panel.stats_label.text() and "images/s" not in panel.stats_label.text()
    fake = running(panel)  # a new run, stopped before its first step
    panel.last_progress = None
    fake.stop = lambda: None
    panel.stop()
    assert panel.status_label.text() == "Stopping…"


# --- 7. fits a laptop screen --------------------------------------------------------------------
def test_the_panel_fits_the_space_it_has_on_a_laptop(qtbot, panel):
    fake = running(panel)
    fake.send(Progress(5, None, 0, {"loss": 1.0, "recon_bpd": 2.0, "kl_bpd": 0.3},
                       images_per_s=1234.0, eta_s=3000.0),
              Preview(5, grid(50, 16)),
              Validation(1, 5, {"elbo_bpd": 3.2, "psnr_gain": 1.0}))
    panel._poll()
    qtbot.waitUntil(lambda: panel.data_view.pixels() is not None, timeout=20000)
    hint = panel.minimumSizeHint()
    assert hint.width() <= 900 and hint.height() <= 560, hint
    # the tab's scroll area makes a panel as tall as heightForWidth asks: no taller than
    # the window's panel area on a laptop (~950 x 600), or the buttons scroll out of sight
    assert panel.heightForWidth(950) <= 600
