"""Training panel: train a new model of any family on a built-in dataset or a folder of
one's own images, watch it learn, pause, stop, resume, and use the result.

The panel is three pieces: what to train (``training_form.TrainingForm``: family, dataset
and its preview, size, channels, budget, seed, where to save), how the run is going
(``training_view.RunView``: curves, images/s and ETA, samples, validation), and, here,
the run itself: the buttons, its state, and the child process that trains.

The run goes on in a child process (``core.train_process.TrainingProcess``), never in the
engine's thread: training takes seconds to hours, and the engine must stay free for the
other panels. A QTimer polls the child's events every 100 ms without waiting, so the UI
never blocks on it.

Threads: PyTorch slows down many times over when its threads outnumber the free cores
(design notes), so training and the app's own inference must not both claim every core.
With 2 or more cores the child gets all of them but one (fewer when other processes keep
cores busy, as ``runtime.choose_threads`` measures), and the engine is told to use the
rest; with a single core both get one thread and share it. When the run ends the engine
goes back to its usual budget.

Resume continues the run in the "Save as" folder from its last save: a run stopped or
finished here, one that crashed, or one from an earlier session. It trains the family on
the dataset and seed the folder records; only the budget comes from the form.

The panel does not need the selected model; it only offers the new one to the picker.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from genplay.core.events import Preview, Progress, Result, Saved, Validation
from genplay.gui.panels.base import Panel, op
from genplay.gui.panels.training_form import TrainingForm
from genplay.gui.panels.training_view import RunView, format_seconds

if TYPE_CHECKING:
    import numpy as np

    from genplay.core.checkpoints import CheckpointInfo

POLL_MS = 100
# A run's first grid of samples comes after its first step, then one every "Samples every"
# steps or this many seconds, whichever is sooner (drawing them takes a fifth of the time at
# most: core.train). A slow step (a second or more on a laptop CPU) would otherwise leave
# the samples empty for minutes.
PREVIEW_EVERY_S = 8.0
STATES = ("idle", "starting", "running", "paused", "stopping", "stopped", "finished", "failed")
ACTIVE = ("starting", "running", "paused", "stopping")  # a child process is there
ENDED = ("idle", "stopped", "finished", "failed")  # none is: a run may start


# --- jobs (run in the engine's thread) ------------------------------------------------------
SET_THREADS = op("runtime:set_threads")  # the engine thread's own torch threads


def _thread_budget() -> tuple[int, int]:
    """(threads for the training child, threads left to the engine)."""
    from genplay.core import runtime

    cores = runtime.available_cores()
    if cores < 2:
        return 1, 1
    child = max(1, min(runtime.choose_threads(), cores - 1))
    return child, max(1, cores - child)


def _threads(n: int) -> str:
    return f"{n} thread{'s' if n > 1 else ''}"


def running_text(p: Progress) -> str:
    """One line for the status: where the run is, how long it has left, how fast it goes."""
    step = f"step {p.step:,}" + (f" of {p.total:,}" if p.total else "")
    left = "" if p.eta_s is None else f"{format_seconds(p.eta_s)} left · "
    return (f"Running: {step}, epoch {p.epoch + 1}\n"
            f"{left}{p.images_per_s:,.0f} images/s")


class TrainingPanel(Panel):
    title = "Training"
    capability = ""
    needs_model = False  # it trains a new model; the selected one plays no part

    # A checkpoint folder to show in the model picker; select: also select it there.
    model_ready = Signal(str, bool)

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        # Config fields passed to the family's Config (tests use tiny models; an expert
        # can set e.g. {"lr": 1e-4}).
        self.config_overrides: dict[str, Any] = {}
        self.process: Any = None
        self.state = "idle"
        self.checkpoint: Path | None = None  # of the last run that ended with one
        self.run_out: Path | None = None  # the folder of the run now (or last) going
        self.last_progress: Progress | None = None
        self.last_preview: np.ndarray | None = None
        self.log_lines: list[str] = []
        self._engine_threads_lowered = False
        self._details = ""
        self._timer = QTimer(self, interval=POLL_MS, timeout=self._poll)

        self.form = TrainingForm(engine, settings, self.show_error)
        self.view = RunView()
        # The pieces' widgets under the panel's own names, as tests and scripts use them.
        f, v = self.form, self.view
        self.family_combo, self.dataset_combo = f.family_combo, f.dataset_combo
        self.size_combo, self.channels_combo = f.size_combo, f.channels_combo
        self.budget_spin, self.budget_unit, self.seed = f.budget_spin, f.budget_unit, f.seed
        self.out_name, self.out_root_label = f.out_name, f.out_root_label
        self.data_view, self.data_caption = f.data_view, f.data_caption
        self.families, self.dataset_spec, self.set_folder = f.families, f.dataset_spec, f.set_folder
        self.image_size, self.channels = f.image_size, f.channels
        self.stats_label, self.log_scale, self.loss_plot = v.stats_label, v.log_scale, v.loss_plot
        self.samples_view, self.validation_list = v.samples_view, v.validation_list

        self.start_button = QPushButton("Start", clicked=self.start)
        self.pause_button = QPushButton("Pause", clicked=self.pause)
        self.resume_button = QPushButton(
            "Resume", clicked=self.resume,
            toolTip="Go on after a pause; or continue the run in the \"Save as\" folder from "
                    "its last save (stopped, crashed, or finished: give it a larger budget)")
        self.stop_button = QPushButton("Stop", clicked=self.stop,
                                       toolTip="Save the last completed step and stop")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(b)
        self.status_label = QLabel("Not running", wordWrap=True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details", clicked=self.show_details)
        self.details_button.hide()
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_label, 1)
        status_row.addWidget(self.details_button)
        self.checkpoint_label = QLabel(wordWrap=True)
        self.checkpoint_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_button = QPushButton("Use this model", clicked=self.use_model)
        self.use_button.hide()

        controls = QWidget()
        controls.setFixedWidth(300)
        left = QVBoxLayout(controls)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.form, 1)
        left.addLayout(buttons)
        left.addLayout(status_row)
        left.addWidget(self.checkpoint_label)
        left.addWidget(self.use_button)

        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addWidget(self.view, 1)

        self.form.folder_changed.connect(self._update_buttons)
        self._update_buttons()

    # --- the form's settings --------------------------------------------------------------------
    @property
    def output_root(self) -> Path:
        """Where new runs go by default (set by the main window: a folder it scans)."""
        return self.form.output_root

    @output_root.setter
    def output_root(self, folder: Path) -> None:
        self.form.set_output_root(folder)

    def set_output_root(self, folder: Path) -> None:
        self.form.set_output_root(folder)

    @property
    def preview_every(self) -> int:
        """Steps between sample grids."""
        return self.form.preview_spin.value()

    @preview_every.setter
    def preview_every(self, steps: int) -> None:
        self.form.preview_spin.setValue(steps)

    def resumable(self) -> Path | None:
        """The folder Resume would continue (when no run is paused): the "Save as" folder,
        if a run saved a step there that it can go on from."""
        folder = self.form.out_folder()
        # Nothing starts before the engine has read the families; by then torch (which
        # core.checkpoints imports) is loaded, so asking never stalls the window.
        if folder is None or self.form.family() is None:
            return None
        from genplay.core.checkpoints import TRAINER_STATE_FILE

        return folder if (folder / TRAINER_STATE_FILE).is_file() else None

    # --- control ------------------------------------------------------------------------------
    def start(self, resume: bool = False) -> bool:
        """Starts a run with the settings shown (resume: continues the run in the "Save as"
        folder, see resumable()). False, with a message, if it cannot."""
        if self.state in ACTIVE:
            return False
        if resume:
            run = self._resumed_run()
            if run is None:
                return False
            family, spec, seed, out = run
        else:
            problem = self.form.dataset_problem()
            if problem is not None:
                self.show_error(problem)
                return False
            family, spec, seed = self.form.family(), self.form.dataset_spec(), self.seed.value()
            out = self.form.out_folder()
            if out is None:
                self.show_error("Give the new model a folder name (no slashes).")
                return False
            if (out / "config.json").exists():
                self.show_error(f"{out} already holds a model; choose another name (or "
                                "Resume, to continue a stopped run).")
                return False
        from genplay.core.train import TrainSettings
        from genplay.core.train_process import TrainingProcess

        epochs, minutes = self.form.budget()
        gpus = self.form.gpu_processes()
        settings = TrainSettings(
            family=family, data=spec, out=out, epochs=epochs, minutes=minutes,
            size=self.image_size(), channels=self.channels(), seed=seed, resume=resume,
            overrides=dict(self.config_overrides), preview_every=self.preview_every,
            preview_every_s=PREVIEW_EVERY_S, device="cuda" if gpus > 1 else "cpu",
            recipe=f"genplay GUI: {family} on {Path(spec).name}"
                   + (f", {gpus} processes on {gpus} GPUs" if gpus > 1 else ""),
        )
        child_threads, engine_threads = _thread_budget()
        if gpus > 1:
            self.process = TrainingProcess(settings, 1, nproc=gpus)  # the GPUs do the work
        else:
            self.process = TrainingProcess(settings, child_threads)
        try:
            self.process.start()
        except OSError as exc:
            self.process = None
            self.show_error(f"Could not start the training process: {exc}")
            return False
        self.engine.submit(SET_THREADS, engine_threads, label="")
        self._engine_threads_lowered = True
        if not (resume and out == self.run_out):  # a run resumed here goes on the same curves
            self.view.clear()
            self.last_preview = None
            self.log_lines = []
        self.run_out = out
        self.checkpoint = None
        if not resume:
            self.settings.setValue("training-family", family)
            self.settings.setValue("training-seed", seed)
        self.last_progress = None
        self._details = ""
        self.details_button.hide()
        self.use_button.hide()
        self.checkpoint_label.setText("")
        self.view.show_stats(None)
        self.view.describe_validation(f"{settings.val_fraction:.0%} of the training images",
                                      settings.validate_every_s)
        self._set_state("starting", f"{'Resuming ' + out.name if resume else 'Starting'}: "
                                    "loading PyTorch…")
        self.status_label.setToolTip(
            f"Training uses {_threads(child_threads)} in a process of its own; the other "
            "tabs keep the rest of the computer's cores")
        self._timer.start()
        return True

    def _resumed_run(self) -> tuple[str, str, int, Path] | None:
        """(family, dataset, seed, folder) of the run to resume, as its folder records them;
        None, with a message, if there is none."""
        from genplay.core.checkpoints import read_info
        from genplay.core.errors import GenplayError

        out = self.resumable()
        if out is None:
            self.show_error("Nothing to resume: the \"Save as\" folder holds no saved run.")
            return None
        try:
            info = read_info(out)
        except GenplayError as exc:
            self.show_error(f"Cannot resume {out.name}: {exc}")
            return None
        return info.family, info.dataset, int(info.training.get("seed", self.seed.value())), out

    def pause(self) -> None:
        if self.process is not None and self.state == "running":
            self.process.pause()
            self._set_state("running", "Pausing after this step…")
            self.pause_button.setEnabled(False)

    def resume(self) -> None:
        """Goes on after a pause; else continues the run in the "Save as" folder from its
        last save."""
        if self.process is not None and self.state == "paused":
            self.process.resume()
            self._set_state("paused", "Resuming…")
            self.resume_button.setEnabled(False)
        elif self.state in ENDED and self.resumable() is not None:
            self.start(resume=True)

    def stop(self) -> None:
        if self.process is not None and self.state in ("starting", "running", "paused"):
            self.process.stop()
            self._set_state("stopping", "Stopping…" if self.last_progress is None else
                            "Stopping: saving the last completed step…")

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stops the run, waiting for its save (the window is closing)."""
        self._timer.stop()
        if self.process is not None:
            self.process.shutdown(timeout)
            self.process = None
        if self.state in ACTIVE:
            self.state = "stopped"

    def use_model(self) -> None:
        if self.checkpoint is not None:
            self.model_ready.emit(str(self.checkpoint), True)

    def show_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Training failed", self.status_label.text(),
                          QMessageBox.StandardButton.Close, self)
        box.setDetailedText(self._details)
        box.open()

    def is_running(self) -> bool:
        return self.state in ACTIVE

    def _set_state(self, state: str, text: str) -> None:
        assert state in STATES
        self.state = state
        self.status_label.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        s = self.state
        self.start_button.setEnabled(s in ENDED)
        self.pause_button.setEnabled(s == "running")
        self.resume_button.setEnabled(s == "paused" or (s in ENDED
                                                        and self.resumable() is not None))
        self.stop_button.setEnabled(s in ("starting", "running", "paused"))
        self.form.set_editable(not self.is_running())

    # --- events from the child ----------------------------------------------------------------
    def _poll(self) -> None:
        if self.process is None:
            self._timer.stop()
            return
        from genplay.core.train_process import (
            FINAL_EVENTS,
            PAUSED_MESSAGE,
            RESUMED_MESSAGE,
            Started,
        )

        events = self.process.events()
        progress = [e for e in events if isinstance(e, Progress) and not e.message]
        if progress:
            self.last_progress = progress[-1]
        for event in events:
            if isinstance(event, Progress):
                if event.message == PAUSED_MESSAGE:
                    self._set_state("paused", f"Paused at step {event.step:,}")
                    self.view.show_stats(self.last_progress, ended=True)
                elif event.message == RESUMED_MESSAGE:
                    self._set_state("running", "Running")
                elif event.message:
                    self._log(event.message)
                    self.messages.show_message(f"Training: {event.message}", "info", 8000)
                else:
                    self.view.add_losses(event)
            elif isinstance(event, Preview):
                self.last_preview = event.images
                self.view.show_samples(event.images, event.step)
            elif isinstance(event, Validation):
                self.view.add_validation(event)
            elif isinstance(event, Saved):
                self._log(f"saved step {event.step} to {event.path}")
            elif isinstance(event, FINAL_EVENTS):
                self._finish(event)
                return
            elif isinstance(event, Started):
                self._set_state("running", "Reading the dataset and building the model…")
        if progress:
            self.view.show_stats(progress[-1])
            if self.state == "running" and self.pause_button.isEnabled():
                self.status_label.setText(running_text(progress[-1]))

    def _log(self, text: str) -> None:
        self.log_lines.append(text)

    def _finish(self, event: Any) -> None:
        from genplay.core.train_process import Failed, Stopped

        self._timer.stop()
        self.process = None
        self.view.show_stats(self.last_progress, ended=True)  # no rate, no time left
        if self._engine_threads_lowered:  # the cores are free again
            self.engine.submit(SET_THREADS, None, label="")
            self._engine_threads_lowered = False
        if isinstance(event, Result):
            self.checkpoint = Path(event.value)
            s = event.summary
            self._set_state("finished", f"Finished: {s.get('steps', 0):,} steps, "
                                        f"{s.get('epochs', 0):,} epochs in "
                                        f"{format_seconds(s.get('seconds'))}")
        elif isinstance(event, Stopped):
            self.checkpoint = event.path
            self._set_state("stopped", f"Stopped at step {event.step}" if event.path else
                            "Stopped before any step was saved")
        elif isinstance(event, Failed):
            self.checkpoint = None
            self._details = event.details or event.message
            self._set_state("failed", f"Failed: {event.message}" + (
                "; Resume goes on from its last save" if self.resumable() else ""))
            self.details_button.show()
            self.details_button.setToolTip(self._details[-2000:])
            self.show_error(f"Training failed: {event.message}")
        if self.checkpoint is not None:
            self.checkpoint_label.setText(f"Checkpoint: {self.checkpoint}")
            self.use_button.show()
            self.model_ready.emit(str(self.checkpoint), False)  # into the picker
        self._update_buttons()

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        """The least height that shows everything at this width. The tab's scroll area takes
        this as the panel's height when it is taller than the window (Qt's default, the
        preferred height, would make the panel scroll on a laptop screen)."""
        return self.layout().totalMinimumHeightForWidth(width)

    # --- Panel ------------------------------------------------------------------------------
    def accepts(self, capabilities: list[str]) -> bool:
        return True  # any model, or none: the panel makes its own

    def set_model(self, info: CheckpointInfo | None) -> None:
        self.info = info

    def current_image(self) -> tuple[np.ndarray, dict[str, Any] | None] | None:
        pixels = self.samples_view.pixels()
        return None if pixels is None else (pixels, None)

    def save_settings(self) -> None:
        self.settings.setValue("training-seed", self.seed.value())
