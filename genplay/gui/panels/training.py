"""Training panel: train a new model of any family on a built-in dataset or a folder of
one's own images, watch it learn, pause, stop, resume, and use the result.

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

The panel does not need the selected model; it only offers the new one to the picker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from genplay.core.events import Preview, Progress, Result, Saved, Validation
from genplay.core.images import make_grid
from genplay.gui.panels.base import Panel, seed_editor
from genplay.gui.widgets.loss_plot import LossPlot
from genplay.gui.widgets.pixel_view import PixelView

if TYPE_CHECKING:
    from genplay.core.checkpoints import CheckpointInfo

# Helper networks that are not generative models of their own: "classifier" is the feature
# net behind FID/KID and needs labelled data (a folder of one's own images has none).
HELPER_FAMILIES = {"classifier"}
FOLDER_ITEM = "Folder…"
SIZES = (28, 32, 64)
POLL_MS = 100
PREVIEW_COUNT = 16
PREVIEW_TRIES = 64  # files read at most for the dataset preview (unreadable ones skipped)
PADDING = 2
STATES = ("idle", "starting", "running", "paused", "stopping", "stopped", "finished", "failed")


# --- jobs (run in the engine's thread) ------------------------------------------------------
def _choices() -> tuple[list[str], list[str]]:
    """The families and named datasets; asked of the engine thread, which has torch loaded."""
    from genplay.core.data import dataset_names
    from genplay.core.registry import families

    return [f for f in families() if f not in HELPER_FAMILIES], dataset_names()


def _dataset_preview(spec: str, size: int, channels: int) -> dict[str, Any]:
    """A few images of a dataset as the model will see them: uint8 (N, size, size, C).

    Cheap on purpose: a named dataset gives its first images (fitted alone, not all 60,000
    of them), a folder its first readable files."""
    from genplay.core import data
    from genplay.core.errors import DatasetError, ImageError
    from genplay.core.images import IMAGE_SUFFIXES, load_image, prepare_for_model, with_channels

    skipped: list[tuple[str, str]] = []
    if spec == data.PHOTOS:
        photos = [with_channels(p, channels) for p in data.load_photos("train").values()]
        images = data.sample_patches(photos, PREVIEW_COUNT, size, seed=[0, 0]).numpy()
        return {"images": images.transpose(0, 2, 3, 1), "files": None, "skipped": skipped}
    if spec in data.dataset_names():
        folder = data.find_dataset(spec, None, "train")
        raw = data.load_idx(folder, "train", spec).images[:PREVIEW_COUNT]
        images = data.fit_images(raw, size, channels).numpy()
        return {"images": images.transpose(0, 2, 3, 1), "files": None, "skipped": skipped}
    folder = Path(spec)
    if not folder.is_dir():
        raise DatasetError(f"{spec}: not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"{folder}: no image files in it (looked for "
                           f"{', '.join(IMAGE_SUFFIXES)})")
    pictures = []
    for path in files[:PREVIEW_TRIES]:
        try:
            pixels, _ = prepare_for_model(load_image(path), size=size, channels=channels,
                                          invert=False)
        except ImageError as exc:
            skipped.append((str(path), str(exc)))
            continue
        pictures.append(pixels)
        if len(pictures) == PREVIEW_COUNT:
            break
    if not pictures:
        raise DatasetError(f"{folder}: none of the first {min(len(files), PREVIEW_TRIES)} "
                           "image files could be read")
    return {"images": np.stack(pictures), "files": len(files), "skipped": skipped}


def _set_engine_threads(threads: int | None) -> int:
    from genplay.core import runtime

    return runtime.set_threads(threads)


def _thread_budget() -> tuple[int, int]:
    """(threads for the training child, threads left to the engine)."""
    from genplay.core import runtime

    cores = runtime.available_cores()
    if cores < 2:
        return 1, 1
    child = max(1, min(runtime.choose_threads(), cores - 1))
    return child, max(1, cores - child)


def _format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "run"


class TrainingPanel(Panel):
    title = "Training"
    capability = ""
    needs_model = False  # it trains a new model; the selected one plays no part

    # A checkpoint folder to show in the model picker; select: also select it there.
    model_ready = Signal(str, bool)

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        # Set by the main window: where new runs go by default (a folder it scans).
        self.output_root: Path = Path.home() / "genplay-runs"
        # Config fields passed to the family's Config (tests use tiny models; an expert
        # can set e.g. {"lr": 1e-4}); preview_every: steps between sample grids.
        self.config_overrides: dict[str, Any] = {}
        self.preview_every = 100
        self.process: Any = None
        self.state = "idle"
        self.checkpoint: Path | None = None  # of the last run that ended with one
        self.run_out: Path | None = None  # the folder of the run now (or last) going
        self.last_progress: Progress | None = None
        self.last_preview: np.ndarray | None = None
        self.log_lines: list[str] = []
        self._folder: Path | None = None
        self._name_edited = False
        self._preview_job: int | None = None
        self._engine_threads_lowered = False
        self._details = ""
        self._timer = QTimer(self, interval=POLL_MS, timeout=self._poll)

        # --- what to train --------------------------------------------------------------
        self.family_combo = QComboBox(toolTip="The kind of model to train")
        self.family_combo.addItem("…")
        self.dataset_combo = QComboBox(toolTip="A built-in dataset, or a folder of your own "
                                               "images (any size and format)")
        self.dataset_combo.addItem("…")
        self.size_combo = QComboBox(toolTip="Images are fitted into a square of this side")
        for size in SIZES:
            self.size_combo.addItem(f"{size} × {size}", size)
        self.channels_combo = QComboBox()
        self.channels_combo.addItem("Gray (1 channel)", 1)
        self.channels_combo.addItem("Colour (3 channels)", 3)
        self.budget_spin = QSpinBox(minimum=1, maximum=100_000, value=5)
        self.budget_unit = QComboBox()
        self.budget_unit.addItems(["epochs", "minutes"])
        budget_row = QHBoxLayout()
        budget_row.addWidget(self.budget_spin, 1)
        budget_row.addWidget(self.budget_unit)
        self.seed, seed_row = seed_editor(int(self.settings.value("training-seed", 0)))
        self.out_name = QLineEdit(toolTip="The new model's folder name")
        self.out_name.textEdited.connect(self._name_was_edited)
        self.out_root_label = QLabel()
        self.out_root_label.setStyleSheet("color: palette(mid);")

        form = QFormLayout()
        form.addRow("Family", self.family_combo)
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Size", self.size_combo)
        form.addRow("Channels", self.channels_combo)
        form.addRow("Budget", budget_row)
        form.addRow("Seed", seed_row)
        form.addRow("Save as", self.out_name)
        form.addRow("", self.out_root_label)
        setup = QGroupBox("New run")
        setup.setLayout(form)

        self.data_view = PixelView(placeholder="Choose a dataset")
        self.data_view.setMinimumHeight(120)
        self.data_caption = QLabel(wordWrap=True)
        data_box = QGroupBox("What the model will see")
        data_layout = QVBoxLayout(data_box)
        data_layout.addWidget(self.data_view, 1)
        data_layout.addWidget(self.data_caption)

        # --- control ----------------------------------------------------------------------
        self.start_button = QPushButton("Start", clicked=self.start)
        self.pause_button = QPushButton("Pause", clicked=self.pause)
        self.resume_button = QPushButton("Resume", clicked=self.resume,
                                         toolTip="Go on after a pause, or continue a stopped "
                                                 "run from its checkpoint")
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
        left.addWidget(setup)
        left.addWidget(data_box, 1)
        left.addLayout(buttons)
        left.addLayout(status_row)
        left.addWidget(self.checkpoint_label)
        left.addWidget(self.use_button)

        # --- watching it learn --------------------------------------------------------------
        self.stats_label = QLabel("")
        self.log_scale = QCheckBox("Log scale", toolTip="A log y axis shows the slow late "
                                                        "decrease; values ≤ 0 are left out")
        self.loss_plot = LossPlot()
        self.log_scale.toggled.connect(self.loss_plot.set_log)
        top_row = QHBoxLayout()
        top_row.addWidget(self.stats_label, 1)
        top_row.addWidget(self.log_scale)
        self.samples_view = PixelView(placeholder="Samples appear as it learns")
        self.validation_list = QListWidget(toolTip="Measured on held-out images after "
                                                   "each epoch")
        samples_box = QGroupBox("Samples")
        QVBoxLayout(samples_box).addWidget(self.samples_view)
        validation_box = QGroupBox("Validation (per epoch)")
        QVBoxLayout(validation_box).addWidget(self.validation_list)
        bottom = QSplitter()
        bottom.addWidget(samples_box)
        bottom.addWidget(validation_box)
        bottom.setSizes([300, 200])
        plot_box = QWidget()
        plot_layout = QVBoxLayout(plot_box)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addLayout(top_row)
        plot_layout.addWidget(self.loss_plot, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plot_box)
        right.addWidget(bottom)
        right.setSizes([300, 250])

        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addWidget(right, 1)

        for combo in (self.dataset_combo, self.size_combo, self.channels_combo):
            combo.currentIndexChanged.connect(self._data_changed)
        self.family_combo.currentIndexChanged.connect(self._suggest_name)
        self.dataset_combo.activated.connect(self._dataset_activated)
        self._update_buttons()
        self.engine.submit(_choices, label="", on_result=self._set_choices,
                           on_error=self.show_error)

    # --- choices ------------------------------------------------------------------------------
    def _set_choices(self, result: tuple[list[str], list[str]], _summary: dict) -> None:
        families, datasets = result
        for combo, items in ((self.family_combo, families),
                             (self.dataset_combo, [*datasets, FOLDER_ITEM])):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)
        family = str(self.settings.value("training-family", "vae"))
        self.family_combo.setCurrentIndex(max(0, self.family_combo.findText(family)))
        self._data_changed()

    def families(self) -> list[str]:
        return [self.family_combo.itemText(i) for i in range(self.family_combo.count())]

    def dataset_spec(self) -> str | None:
        """A dataset name or a folder path; None while "Folder…" has no folder yet."""
        text = self.dataset_combo.currentText()
        if text == FOLDER_ITEM or text.startswith("Folder: "):
            return str(self._folder) if self._folder is not None else None
        return text if text != "…" else None

    def _dataset_activated(self, index: int) -> None:
        if self.dataset_combo.itemText(index) == FOLDER_ITEM:
            folder = QFileDialog.getExistingDirectory(self, "A folder of training images")
            if folder:
                self.set_folder(folder)

    def set_folder(self, folder: str | Path) -> None:
        """Trains on a folder of images (what "Folder…" does after its dialog)."""
        self._folder = Path(folder)
        index = self.dataset_combo.count() - 1  # the "Folder…" item, shown with its name
        self.dataset_combo.setItemText(index, f"Folder: {self._folder.name}")
        self.dataset_combo.setItemData(index, str(self._folder), Qt.ItemDataRole.ToolTipRole)
        if self.dataset_combo.currentIndex() != index:
            self.dataset_combo.setCurrentIndex(index)  # emits _data_changed
        else:
            self._data_changed()

    def size(self) -> int:
        return int(self.size_combo.currentData())

    def channels(self) -> int:
        return int(self.channels_combo.currentData())

    def _data_changed(self, *_: Any) -> None:
        self._suggest_name()
        spec = self.dataset_spec()
        if spec is None:
            self.data_view.clear()
            self.data_caption.setText("Choose a folder of images.")
            return
        self.data_caption.setText("Loading a few images…")
        job: list[int] = []

        def shown(result: dict[str, Any], _summary: dict) -> None:
            if job and job[0] == self._preview_job:
                self._show_dataset_preview(spec, result)

        def failed(message: str) -> None:
            if job and job[0] == self._preview_job:
                self.data_view.clear()
                self.data_caption.setText(message)
                self.show_error(message)

        job.append(self.engine.submit(_dataset_preview, spec, self.size(), self.channels(),
                                      key="training-data-preview", label="",
                                      on_result=shown, on_error=failed))
        self._preview_job = job[0]

    def _show_dataset_preview(self, spec: str, result: dict[str, Any]) -> None:
        images = result["images"]
        n, h, w = images.shape[:3]
        self.data_view.set_grid(make_grid(images, nrow=8, padding=PADDING, pad_value=128),
                                h, w, PADDING, n)
        text = f"{n} images as the model sees them ({w}×{h}, " \
               f"{'colour' if images.shape[3] == 3 else 'gray'})"
        if result["files"] is not None:
            text += f" of {result['files']} image files"
        skipped = result["skipped"]
        if skipped:  # training leaves them out too; the tooltip says why
            names = ", ".join(Path(p).name for p, _ in skipped[:3])
            text += f"; {len(skipped)} unreadable, left out: {names}" + (
                "…" if len(skipped) > 3 else "")
        self.data_caption.setText(text + ".")
        self.data_caption.setToolTip("\n".join(why for _, why in skipped))

    def _name_was_edited(self, _text: str) -> None:
        self._name_edited = True

    def _suggest_name(self, *_: Any) -> None:
        root = self.output_root
        self.out_root_label.setText(f"in …/{root.name}" if len(str(root)) > 36
                                    else f"in {root}")
        self.out_root_label.setToolTip(str(root))
        if self._name_edited:
            return
        family = self.family_combo.currentText()
        spec = self.dataset_spec()
        if family == "…" or spec is None:
            return
        base = _slug(f"{family}-{Path(spec).name}-{self.size()}px")
        name, i = base, 2
        while (self.output_root / name).exists():
            name, i = f"{base}-{i}", i + 1
        self.out_name.setText(name)

    def set_output_root(self, folder: Path) -> None:
        self.output_root = Path(folder)
        self._suggest_name()

    # --- control ------------------------------------------------------------------------------
    def start(self, resume: bool = False) -> bool:
        """Starts a run with the settings shown (resume: continues the stopped one in
        self.run_out). False, with a message, if it cannot."""
        if self.state in ("starting", "running", "paused", "stopping"):
            return False
        family, spec = self.family_combo.currentText(), self.dataset_spec()
        if family == "…" or family not in self.families():
            self.show_error("The families are still being read; try again in a moment.")
            return False
        if spec is None:
            self.show_error("Choose a folder of images to train on.")
            return False
        if spec not in [self.dataset_combo.itemText(i) for i in
                        range(self.dataset_combo.count())] and not Path(spec).is_dir():
            self.show_error(f"{spec} is not a folder.")
            return False
        if resume:
            out = self.run_out
        else:
            name = self.out_name.text().strip()
            if not name or Path(name).name != name:
                self.show_error("Give the new model a folder name (no slashes).")
                return False
            out = self.output_root / name
            if (out / "config.json").exists():
                self.show_error(f"{out} already holds a model; choose another name (or "
                                "Resume, to continue a stopped run).")
                return False
        from genplay.core.train import TrainSettings
        from genplay.core.train_process import TrainingProcess

        minutes = self.budget_unit.currentText() == "minutes"
        settings = TrainSettings(
            family=family, data=spec, out=out,
            epochs=None if minutes else self.budget_spin.value(),
            minutes=float(self.budget_spin.value()) if minutes else None,
            size=self.size(), channels=self.channels(), seed=self.seed.value(), resume=resume,
            overrides=dict(self.config_overrides), preview_every=self.preview_every,
            recipe=f"genplay GUI: {family} on {Path(spec).name}",
        )
        child_threads, engine_threads = _thread_budget()
        self.process = TrainingProcess(settings, child_threads)
        try:
            self.process.start()
        except OSError as exc:
            self.process = None
            self.show_error(f"Could not start the training process: {exc}")
            return False
        self.engine.submit(_set_engine_threads, engine_threads, label="")
        self._engine_threads_lowered = True
        self.run_out = out
        self.checkpoint = None
        self.settings.setValue("training-family", family)
        self.settings.setValue("training-seed", self.seed.value())
        if not resume:
            self.loss_plot.clear_curves()
            self.validation_list.clear()
            self.samples_view.clear()
            self.last_preview = None
            self.log_lines = []
        self.last_progress = None
        self._details = ""
        self.details_button.hide()
        self.use_button.hide()
        self.checkpoint_label.setText("")
        self.stats_label.setText("")
        self._set_state("starting", f"Starting ({child_threads} thread"
                                    f"{'s' if child_threads > 1 else ''})…")
        self._timer.start()
        return True

    def pause(self) -> None:
        if self.process is not None and self.state == "running":
            self.process.pause()
            self._set_state("running", "Pausing after this step…")
            self.pause_button.setEnabled(False)

    def resume(self) -> None:
        """Goes on after a pause; after a stop, continues the run from its checkpoint."""
        if self.process is not None and self.state == "paused":
            self.process.resume()
            self._set_state("paused", "Resuming…")
            self.resume_button.setEnabled(False)
        elif self.state == "stopped" and self.checkpoint is not None:
            self.start(resume=True)

    def stop(self) -> None:
        if self.process is not None and self.state in ("starting", "running", "paused"):
            self.process.stop()
            self._set_state("stopping", "Stopping: saving the last completed step…")

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stops the run, waiting for its save (the window is closing)."""
        self._timer.stop()
        if self.process is not None:
            self.process.shutdown(timeout)
            self.process = None
        if self.state in ("starting", "running", "paused", "stopping"):
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
        return self.state in ("starting", "running", "paused", "stopping")

    def _set_state(self, state: str, text: str) -> None:
        assert state in STATES
        self.state = state
        self.status_label.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        s = self.state
        self.start_button.setEnabled(s in ("idle", "stopped", "finished", "failed"))
        self.pause_button.setEnabled(s == "running")
        self.resume_button.setEnabled(s == "paused" or (s == "stopped"
                                                        and self.checkpoint is not None))
        self.stop_button.setEnabled(s in ("starting", "running", "paused"))
        for w in (self.family_combo, self.dataset_combo, self.size_combo, self.channels_combo,
                  self.seed, self.out_name):
            w.setEnabled(not self.is_running())

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
        for event in events:
            if isinstance(event, Progress):
                if event.message == PAUSED_MESSAGE:
                    self._set_state("paused", f"Paused at step {event.step}")
                elif event.message == RESUMED_MESSAGE:
                    self._set_state("running", "Running")
                elif event.message:
                    self._log(event.message)
                    self.messages.show_message(f"Training: {event.message}", "info", 8000)
                else:
                    self.loss_plot.add(event.step, event.losses)
            elif isinstance(event, Preview):
                self._show_samples(event.images)
            elif isinstance(event, Validation):
                metrics = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
                self.validation_list.addItem(f"epoch {event.epoch} · step {event.step}: "
                                             f"{metrics}")
                self.validation_list.scrollToBottom()
            elif isinstance(event, Saved):
                self._log(f"saved step {event.step} to {event.path}")
            elif isinstance(event, FINAL_EVENTS):
                self._finish(event)
                return
            elif isinstance(event, Started):
                self._set_state("running", f"Running ({event.threads} thread"
                                           f"{'s' if event.threads > 1 else ''}, "
                                           f"pid {event.pid})")
        if progress:
            self.last_progress = progress[-1]
            self._show_stats(progress[-1])

    def _show_stats(self, p: Progress) -> None:
        step = f"step {p.step}" + (f" / {p.total}" if p.total else "")
        losses = "  ".join(f"{k} {v:.4g}" for k, v in p.losses.items())
        self.stats_label.setText(f"{step} · epoch {p.epoch} · {p.images_per_s:.0f} images/s"
                                 f" · ETA {_format_seconds(p.eta_s)}   {losses}")

    def _show_samples(self, images: np.ndarray) -> None:
        self.last_preview = images
        n, h, w = images.shape[:3]
        self.samples_view.set_grid(make_grid(images, padding=PADDING), h, w, PADDING, n)

    def _log(self, text: str) -> None:
        self.log_lines.append(text)

    def _finish(self, event: Any) -> None:
        from genplay.core.train_process import Failed, Stopped

        self._timer.stop()
        self.process = None
        if self._engine_threads_lowered:  # the cores are free again
            self.engine.submit(_set_engine_threads, None, label="")
            self._engine_threads_lowered = False
        if isinstance(event, Result):
            self.checkpoint = Path(event.value)
            s = event.summary
            self._set_state("finished", f"Finished: {s.get('steps')} steps, "
                                        f"{s.get('epochs')} epochs in "
                                        f"{_format_seconds(s.get('seconds'))}")
        elif isinstance(event, Stopped):
            self.checkpoint = event.path
            self._set_state("stopped", f"Stopped at step {event.step}" if event.path else
                            "Stopped before any step was saved")
        elif isinstance(event, Failed):
            self.checkpoint = None
            self._details = event.details or event.message
            self._set_state("failed", f"Failed: {event.message}")
            self.details_button.show()
            self.details_button.setToolTip(self._details[-2000:])
            self.show_error(f"Training failed: {event.message}")
        if self.checkpoint is not None:
            self.checkpoint_label.setText(f"Checkpoint: {self.checkpoint}")
            self.use_button.show()
            self.model_ready.emit(str(self.checkpoint), False)  # into the picker
        self._update_buttons()

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
