"""Super-resolution panel: enlarge an image and compare it with what it was made from.

The image comes from a file (opened or dropped), a shipped sample, or another panel.
The methods are those of ``ops.superres``: the selected model's own SR network or
its guided generation when it has one (asked of the model, never of its family), a
shipped photo upscaler when one was found among the checkpoints, and bicubic always,
so the panel works with any model and with none. "Simulate" shrinks the image first
and keeps the original as the reference; with a reference, PSNR and SSIM are shown
for the result and for bicubic, the baseline a method has to beat. Guided
generation gives several candidates: each agrees with the input, none is the truth,
and the panel says so.

A user's own image (opened, dropped, taken from another tab) is enlarged as it is:
Simulate starts off. A shipped dataset sample (a 28x28 digit) turns it on, since the
sample is at the model's own size and the useful thing is to shrink it and measure;
once the user ticks or unticks Simulate, that choice holds for the session. Every
change of the inputs (image, scale, method, model, reference, Simulate) takes the
figures away at once and drops any result still being made for the old inputs. When
the image is far from what the chosen model learnt from, a bar says so in one line
and offers the photo upscaler (or bicubic).

The panel puts together: the image box (widgets/image_input.py), the method list and
what it offers (superres_methods.py), the comparison view (widgets/upscale_comparison.py)
and the folder batch (superres_batch.py); it runs the upscaling and saves the result.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from genplay.gui.panels.base import Panel, op
from genplay.gui.panels.superres_batch import FolderBatch
from genplay.gui.panels.superres_compare import CompareRunner, MethodGrid
from genplay.gui.panels.superres_methods import DomainBar, UpscaleBox, domain_warning
from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.image_input import SAMPLES, ImageInput
from genplay.gui.widgets.job_progress import JobProgress
from genplay.gui.widgets.pixel_view import copy_image
from genplay.gui.widgets.upscale_comparison import UpscaleComparison

if TYPE_CHECKING:
    from collections.abc import Callable

    from genplay.core.checkpoints import CheckpointInfo

PHOTO_SAMPLES = SAMPLES / "photos"  # shipped small photos: enlarged, not simulated


def is_dataset_sample(path: str) -> bool:
    """Whether a file is one of the shipped dataset samples (a digit, a garment): images
    at a model's own size, whose useful test is to be shrunk and measured."""
    resolved = Path(path).resolve()
    return resolved.is_relative_to(SAMPLES.resolve()) and not resolved.is_relative_to(
        PHOTO_SAMPLES.resolve())


# --- jobs (run in the engine's thread) ------------------------------------------------------
# the engine jobs: functions of core (ops.upscale_view builds on ops.superres)
LOAD = op("images:load_image")
UPSCALE = op("ops.upscale_view:upscale_for_view")


class SuperresPanel(AcceptsFileDrops, Panel):
    title = "Super-resolution"
    capability = "upscaler"
    needs_model = False  # bicubic needs none: the panel stays usable without a model

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        self.setAcceptDrops(True)
        self.result: dict[str, Any] | None = None
        self.request: dict[str, Any] | None = None
        self.image_sources: Callable[[], list[tuple[str, Callable[[], Any]]]] | None = None
        self._started = 0.0
        self._model_path: Path | None = None
        self._generation = 0  # counts changes of the inputs: older results are dropped
        self._job: int | None = None  # the upscaling job under way, if any
        self._quiet = False  # while the panel itself adjusts several inputs at once
        self._simulate_choice: bool | None = None  # the user's own, once made
        self._next_is_sample = False  # the image being set is a shipped dataset sample
        self._sample = False  # the image shown is one

        self.caption = QLabel(wordWrap=True)
        self.jobs = JobProgress(engine, self.caption, self.show_error)
        # Simulate starts off: a user's image is to be enlarged (an older version kept a
        # "superres-simulate" setting that was on by default; it is no longer read).
        self.image = ImageInput(False, self._other_images)
        self.image.file_chosen.connect(self.load_file)
        self.image.reference_chosen.connect(self.load_reference)
        self.image.source_changed.connect(self._source_changed)
        self.image.measure_changed.connect(self._inputs_changed)
        self.image.notice.connect(lambda text: self.messages.show_message(text, "info", 4000))
        self.image.simulate.toggled.connect(self._simulate_toggled)
        self.methods = UpscaleBox(engine, self.jobs, int(self.settings.value("superres-seed", 0)),
                                  self.for_model, self.show_error)
        self.methods.changed.connect(self._inputs_changed)
        self.methods.upscale_button.clicked.connect(self.upscale)
        self.methods.compare_button.clicked.connect(self.compare_methods)
        self.batch = FolderBatch(self, self.jobs, messages, self.methods.job_settings)

        controls = QWidget()
        controls.setFixedWidth(270)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.image)
        column.addWidget(self.methods)
        column.addWidget(self.methods.method_help)
        column.addWidget(self.batch.button)
        column.addStretch()

        self.comparison = UpscaleComparison(MethodGrid())
        self.comparison.candidate_chosen.connect(lambda _index: self._update_actions())
        self.comparison.grid.chosen.connect(self._tile_chosen)
        self.compare_runner = CompareRunner(self.jobs, self.methods, self.comparison.grid,
                                            self.caption.setText)
        self.save_button = QPushButton("Save…", clicked=self.save_dialog)
        self.copy_button = QPushButton("Copy", clicked=self.copy_result)
        actions = QHBoxLayout()
        actions.addWidget(self.save_button)
        actions.addWidget(self.copy_button)
        actions.addWidget(self.caption, 1)
        actions.addWidget(self.comparison.zoom_tools)

        right = QVBoxLayout()
        self.domain_bar = DomainBar()
        self.domain_bar.button.clicked.connect(self._use_suggested)
        self.domain_label, self.domain_button = self.domain_bar.label, self.domain_bar.button
        right.addWidget(self.domain_bar)
        right.addWidget(self.comparison, 1)
        right.addLayout(actions)
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addLayout(right, 1)

        # the parts tests, the screenshots and the main window reach for
        self.simulate, self.source_label = self.image.simulate, self.image.source_label
        self.sample_button, self.from_menu = self.image.sample_button, self.image.from_menu
        self._fill_from_menu, self.set_source = self.image.fill_from_menu, self.image.set_source
        self.scale, self.method = self.methods.scale, self.methods.method
        self.count, self.seed = self.methods.count, self.methods.seed
        self.upscale_button = self.methods.upscale_button
        self.compare_button = self.methods.compare_button
        self.method_key, self.set_method = self.methods.entry, self.methods.set_method
        self.view, self.compare = self.comparison.view, self.comparison.compare
        self.candidates_box = self.comparison.candidates_box
        self.candidates_label = self.comparison.candidates_label
        self.metrics_label = self.comparison.metrics_label
        self.progress, self.cancel_button = self.jobs.progress, self.jobs.cancel_button
        self.batch_dialog, self.batch_folder = self.batch.dialog, self.batch.run

        self._update_actions()
        self.methods.read_choices()

    def _suggested_entry(self) -> str:
        return "photo" if "photo" in self.methods.enabled_entries() else "bicubic"

    def _update_domain(self) -> None:
        entry = self.method_key()
        text = None
        if self.source is not None and entry is not None and self.scale.currentData():
            method = self.methods.offer.job_target(entry)[0]
            text = domain_warning(self.source, self.methods.checkpoint_info(entry), method,
                                  int(self.scale.currentData()))
        self.domain_bar.warn(None if entry == self._suggested_entry() else text,
                             self._suggested_entry())

    def _use_suggested(self) -> None:
        self.set_method(self._suggested_entry())

    # --- models -----------------------------------------------------------------------------
    def accepts(self, capabilities: list[str]) -> bool:
        return True  # bicubic needs no model; the rest is offered when the model can

    def set_model(self, info: CheckpointInfo | None) -> None:
        path = info.path if info is not None else None
        self.info = info
        if path != self._model_path:
            self._model_path = path
            self.model_changed(info)

    def model_changed(self, info: CheckpointInfo | None) -> None:
        self.methods.set_model(info)

    def set_checkpoints(self, infos: list[CheckpointInfo]) -> None:
        """The scanned checkpoints, for the shipped photo upscaler."""
        self.methods.set_checkpoints(infos)

    @property
    def facts(self) -> dict[str, Any] | None:
        """Of the selected model: its methods and scales; None while it loads."""
        return self.methods.offer.facts

    @property
    def photo_facts(self) -> dict[str, Any] | None:
        return self.methods.offer.photo_facts

    @property
    def method_names(self) -> dict[str, str] | None:
        return self.methods.offer.names

    # --- the image --------------------------------------------------------------------------
    @property
    def source(self) -> np.ndarray | None:
        """The image the user gave, uint8 HW or HWC."""
        return self.image.source

    @property
    def source_name(self) -> str:
        return self.image.source_name

    def load_file(self, path: str) -> None:
        """Loads an image in the engine; a bad file becomes a message."""
        sample = is_dataset_sample(path)

        def loaded(pixels: np.ndarray, name: str) -> None:
            self._next_is_sample = sample
            self.image.set_source(pixels, name)
        self._read(path, "superres-load", loaded)

    def load_reference(self, path: str) -> None:
        self._read(path, "superres-reference", self.image.set_reference)

    def _read(self, path: str, key: str, then: Callable[[np.ndarray, str], None]) -> None:
        name = Path(path).name
        self.engine.submit(LOAD, path, key=key, label=f"opening {name}",
                           on_result=lambda pixels, _s: then(pixels, name),
                           on_error=self.show_error)

    def files_dropped(self, paths: list[str]) -> None:
        self.load_file(paths[0])

    def _other_images(self) -> list[tuple[str, Callable[[], Any]]]:
        return self.image_sources() if self.image_sources is not None else []

    def _source_changed(self, pixels: np.ndarray) -> None:
        """A new image: the old result and the old image's reference go, Simulate follows
        the kind of image (unless the user chose), and a quick method runs at once."""
        self._sample, self._next_is_sample = self._next_is_sample, False
        self.result = None
        self._quiet = True  # one run for all of it, below
        try:
            if self.image.reference is not None:
                self.image.clear_reference()  # it was the original of the previous image
            wanted = self._sample if self._simulate_choice is None else self._simulate_choice
            self.simulate.setChecked(wanted)  # quiet: not the user's choice
        finally:
            self._quiet = False
        self.comparison.show_source(pixels)
        self._update_actions()
        self._inputs_changed()

    def _simulate_toggled(self, on: bool) -> None:
        if not self._quiet:
            self._simulate_choice = on  # the user's: kept for the next images

    # --- upscaling --------------------------------------------------------------------------
    def _inputs_changed(self, *_args) -> None:
        """Something the result depends on changed: its figures, and any result still being
        made for the old inputs, go at once."""
        if self._quiet:
            return
        self._generation += 1
        if self._job is not None:
            self.engine.cancel(self._job)
            self._job = None
        self.compare_runner.clear()
        self.comparison.show_methods(False)  # its tiles belonged to the old inputs
        self.comparison.mark_stale()
        self._update_domain()
        self.upscale_button.setEnabled(self.source is not None and self.method_key() is not None)
        self.compare_button.setEnabled(self.source is not None)
        # Quick methods follow the settings at once (a newer request cancels the older);
        # guided generation takes long enough to wait for the button.
        if self.source is not None and self.method_key() not in (None, "diffusion"):
            self.upscale()
        elif self.source is not None and self.method_key() == "diffusion":
            self.caption.setText("Press Upscale: generating candidates takes a while")

    def _settings(self) -> tuple[bool, np.ndarray | None]:
        simulate = self.simulate.isChecked()
        return simulate, None if simulate else self.image.reference

    def upscale(self) -> None:
        if self.source is None or self.scale.currentData() is None:
            return
        method, checkpoint, scale, options = self.methods.job_settings()
        simulate, reference = self._settings()
        if "seed" in options:
            self.settings.setValue("superres-seed", options["seed"])
        request = {"method": method, "entry": self.method_key(), "scale": scale,
                   "label": self.method.currentText(),
                   "simulate": simulate, "options": options, "generation": self._generation,
                   "checkpoint": checkpoint.name if checkpoint is not None else None}
        self._started = time.monotonic()
        self.caption.setText("upscaling…")
        args = (self.source, scale, method, simulate, reference, options)
        if checkpoint is None:
            args = (None, *args)  # the job's model argument: bicubic needs none
        # One key: a new request cancels the one still running (latest wins).
        self._job = self.jobs.submit(UPSCALE, *args, checkpoint=checkpoint, key="superres",
                                     label=f"upscaling ×{scale} ({method})",
                                     on_result=lambda value, _s: self._show(value, request),
                                     on_done=lambda _cancelled: self._job_done(request))

    def _job_done(self, request: dict[str, Any]) -> None:
        if request["generation"] == self._generation:
            self._job = None

    def _show(self, value: dict[str, Any], request: dict[str, Any],
              seconds: float | None = None) -> None:
        if request["generation"] != self._generation:
            return  # made for inputs that have changed since
        self.result, self.request = value, request
        lowres, out = value["input"], value["images"][0]
        seconds = time.monotonic() - self._started if seconds is None else seconds
        what = "simulated input " if request["simulate"] else ""
        text = (f"{what}{lowres.shape[1]}×{lowres.shape[0]} → {out.shape[1]}×{out.shape[0]} · "
                f"{request['label']} ×{request['scale']} · {seconds:.1f} s")
        if request["simulate"] and not self._sample:
            text += " · shrunk first to measure: untick Simulate to enlarge the image itself"
        self.caption.setText(text)
        self.comparison.show_result(value)
        self._update_actions()

    # --- every method on this image (superres_compare.py) -----------------------------------
    def compare_methods(self) -> None:
        """Runs the image through every method available now, side by side."""
        if self.source is None or self.scale.currentData() is None:
            return
        simulate, reference = self._settings()
        self.compare_runner.start(self.source, int(self.scale.currentData()), simulate,
                                  reference)
        self.comparison.show_methods()

    def _tile_chosen(self, index: int) -> None:
        """A result of the comparison becomes the panel's result (to look at, save, copy)."""
        tile = self.compare_runner.grid.tiles()[index]
        value = dict(tile.value)
        bicubic = next((t.pixels for t in self.compare_runner.grid.tiles()
                        if t.entry == "bicubic" and t.pixels is not None), None)
        if value.get("bicubic") is None and bicubic is not None \
                and bicubic.shape == tile.pixels.shape:
            value["bicubic"] = bicubic
        self._quiet = True  # the method list says which method made the result shown
        try:
            self.set_method(tile.entry)
        finally:
            self._quiet = False
        self._update_domain()
        method, checkpoint, scale, options = self.methods.job_settings(tile.entry)
        request = {"method": method, "entry": tile.entry, "scale": scale, "label": tile.name,
                   "simulate": self.compare_runner.request["simulate"], "options": options,
                   "generation": self._generation,
                   "checkpoint": checkpoint.name if checkpoint is not None else None}
        self._show(value, request, seconds=value["seconds"])

    @property
    def selected(self) -> int:
        """Which of the result's images is chosen (one of the candidates, or 0)."""
        return self.comparison.selected

    def select(self, index: int) -> None:
        self.comparison.select(index)

    # --- the result -------------------------------------------------------------------------
    def _update_actions(self) -> None:
        have = self.result is not None
        self.save_button.setEnabled(have)
        self.copy_button.setEnabled(have)

    def result_pixels(self) -> np.ndarray | None:
        return None if self.result is None else self.result["images"][self.selected]

    def record(self) -> dict[str, Any]:
        from genplay import __version__

        request = self.request or {}
        record: dict[str, Any] = {
            "genplay_version": __version__, "operation": "super-resolution",
            "source": self.source_name, "method": request.get("method"),
            "scale": request.get("scale"), "simulated": request.get("simulate"),
            "model": request.get("checkpoint") or ""}
        if request.get("method") == "diffusion":
            record.update(seed=request["options"]["seed"], index=self.selected)
        metrics = (self.result or {}).get("metrics")
        if metrics:
            record["metrics"] = metrics[self.selected]
        return record

    def current_image(self):
        pixels = self.result_pixels()
        return None if pixels is None else (pixels, self.record())

    def save_dialog(self) -> None:
        if self.result is None:
            return
        stem = Path(self.source_name).stem if self.source_name else "image"
        name = f"{stem.replace(' ', '-')}_x{self.request['scale']}-{self.request['method']}"
        name += f"-{self.selected}" if len(self.result["images"]) > 1 else ""
        path, _ = QFileDialog.getSaveFileName(self, "Save PNG", f"{name}.png", "PNG (*.png)")
        if path:
            self.save(Path(path))

    def save(self, path: Path) -> bool:
        """Writes the chosen result as a PNG with its record; a failure becomes a message."""
        if self.result is None or not self.write_png(path, self.result_pixels(), self.record()):
            return False
        self.messages.show_message(f"Saved {path}", "info", 5000)
        return True

    def copy_result(self) -> None:
        pixels = self.result_pixels()
        if pixels is not None:
            copy_image(pixels)

    # --- a folder at a time (superres_batch.py) ---------------------------------------------
    @property
    def batch_log(self) -> list[dict[str, Any]]:
        """What the last batch did, file by file."""
        return self.batch.log

    def save_settings(self) -> None:
        self.settings.setValue("superres-seed", self.seed.value())
