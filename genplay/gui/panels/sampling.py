"""Sampling panel: seed, count and the model's own options; a grid to hover, enlarge, save;
the last results to go back to; settings compared on one seed; a saved PNG redrawn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import grid_pad_value, make_grid, save_png, to_uint8_hwc
from genplay.gui.panels.base import Panel, op, seed_editor
from genplay.gui.panels.sampling_compare import CompareView
from genplay.gui.panels.sampling_reproduce import Reproducer
from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.image_dialog import ImageDialog
from genplay.gui.widgets.job_progress import JobProgress
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.nearest_dialog import NearestDialog
from genplay.gui.widgets.pixel_view import PixelView, copy_image
from genplay.gui.widgets.result_history import ResultHistory

PADDING = 2
HISTORY = 20


# the engine jobs: functions of core.ops.sampling, the ones `genplay sample` builds on
FACTS = op("ops.sampling:sampling_facts")
SAMPLE = op("ops.sampling:sample_with")
COMPARE = op("ops.sampling:compare_settings")
NEAREST = op("ops.nearest_images:nearest_training_images")


def _option_box(option) -> QWidget:
    """The editor of one sampler option: a list of choices, a whole number or a number."""
    if option.choices:
        box = QComboBox()
        box.addItems(list(option.choices))
        box.setCurrentText(str(option.default))
        return box
    if option.integer:
        return QSpinBox(minimum=int(option.minimum), maximum=int(option.maximum),
                        value=int(option.default))
    return QDoubleSpinBox(minimum=option.minimum, maximum=option.maximum,
                          value=float(option.default), singleStep=0.05, decimals=2)


def describe_options(options: dict[str, float | str]) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in options.items())


def _thumbnail(images: np.ndarray) -> np.ndarray:
    """The first four samples as a 2x2 picture: recognisable at the strip's height."""
    return make_grid(to_uint8_hwc(images[:4]), nrow=2, padding=1)


class SamplingPanel(AcceptsFileDrops, Panel):
    title = "Sampling"
    capability = "sampler"
    # "A" or "B", seed, index in the request, sampler options (the temperature matters)
    endpoint_requested = Signal(str, int, int, object)
    # A dropped PNG was drawn by another model: its name; the panel redraws the image
    # when that model arrives (set_model).
    model_requested = Signal(str)

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        self.setAcceptDrops(True)
        self.images: np.ndarray | None = None  # float (N, C, H, W) of the result shown
        self.base_images: np.ndarray | None = None  # the same at the model's size (cascade)
        self.request: dict[str, Any] | None = None
        self.checkpoint_hash = ""
        self.dialog: ImageDialog | NearestDialog | None = None
        self._option_boxes: dict[str, QWidget] = {}
        self._option_specs: list = []
        self._job: int | None = None  # the sampling job running, if any
        self._ready = False  # the selected model's options have arrived
        self._job_shown = False  # whether its result arrived

        self.seed, seed_row = seed_editor(int(settings.value("seed", 0)))
        self.seed.setToolTip("The same seed and options give the same images")
        self.count = QSpinBox(minimum=1, maximum=256, value=64)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.status = muted_label()
        self.jobs = JobProgress(engine, self.status, self.show_error)
        self.save_button = QPushButton("Save…")
        self.save_button.clicked.connect(self.save_dialog)
        self.save_button.setEnabled(False)
        self.compare_button = QPushButton("Compare settings…")
        self.compare_button.setToolTip("Draw the same seed with several samplers or step "
                                       "counts, side by side, each with its time")
        self.compare_button.clicked.connect(self.show_compare)
        self.compare_button.setEnabled(False)

        # A cascade: the dataset's upscaler enlarges the samples (sample at 32, see 64).
        self.upscale_box = QCheckBox()
        self.upscale_box.setChecked(settings.value("upscale", True, type=bool))
        self.upscale_box.toggled.connect(lambda on: self.settings.setValue("upscale", on))
        self.upscale_box.hide()
        self._upscale: dict | None = None  # the model's cascade upscaler, if it has one

        self.form = QFormLayout()
        self.form.addRow("Seed", seed_row)
        self.form.addRow("Samples", self.count)
        controls = QWidget()
        controls.setFixedWidth(250)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self.form)
        column.addWidget(self.upscale_box)
        column.addWidget(self.generate_button)
        busy = QHBoxLayout()
        busy.addWidget(self.jobs.progress, 1)
        busy.addWidget(self.jobs.cancel_button)
        column.addLayout(busy)
        column.addWidget(self.status)
        column.addWidget(self.save_button)
        column.addWidget(self.compare_button)
        self.model_label = muted_label()
        column.addWidget(self.model_label)
        column.addStretch()
        column.addWidget(muted_label("Drop a PNG saved by genplay here to draw it again "
                                     "and check it matches."))

        self.view = PixelView(placeholder="Press Generate to draw samples")
        self.view.tile_clicked.connect(self.enlarge)
        self.view.tile_context_menu.connect(self._tile_menu)
        self.caption = QLabel(wordWrap=True)  # wraps: a long caption never widens the window
        self.compare = CompareView()
        self.compare.run_requested.connect(self.run_compare)
        self.compare.back_requested.connect(self.show_samples)
        self.compare.tile_clicked.connect(self._enlarge_compared)
        self.history = ResultHistory(limit=HISTORY)
        self.history.setToolTip("Earlier results: click one to see it again "
                                "(Ctrl+Z / Ctrl+Shift+Z step back and forward)")
        self.history.chosen.connect(self._display)
        self.history.hide()  # until there is a result to go back to
        grid_page = QWidget()
        grid_column = QVBoxLayout(grid_page)
        grid_column.setContentsMargins(0, 0, 0, 0)
        grid_column.addWidget(self.view, 1)
        grid_column.addWidget(self.caption)
        self.pages = QStackedWidget()
        self.pages.addWidget(grid_page)
        self.pages.addWidget(self.compare)
        right = QVBoxLayout()
        right.addWidget(self.pages, 1)
        right.addWidget(self.history)
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addLayout(right, 1)
        QShortcut(QKeySequence.StandardKey.Undo, self, self.history.back)
        QShortcut(QKeySequence("Ctrl+Shift+Z"), self, self.history.forward)
        self.reproducer = Reproducer(self)

    # --- model --------------------------------------------------------------------------
    def model_changed(self, info) -> None:
        self.view.clear()
        self.caption.clear()
        self.history.clear()
        self.history.hide()
        self.show_samples()
        self.images, self.request = None, None
        self.save_button.setEnabled(False)
        self._ready = False
        self.generate_button.setEnabled(False)
        self.compare_button.setEnabled(False)
        self.model_label.setText(f"{info.name}: loading…")
        self.model_label.setToolTip("")
        self.reproducer.model_changed(info)
        self.engine.submit(FACTS, str(info.path), checkpoint=info.path, key="sampling-model",
                           label=f"loading {info.name}", on_result=self.for_model(self._on_facts),
                           on_error=self.for_model(self._on_load_error))

    def _on_load_error(self, message: str) -> None:
        """The model cannot be loaded (the message bar shows why): no more "loading…", and
        Generate stays off."""
        name = self.info.name if self.info is not None else "The model"
        self.model_label.setText(f"{name}: could not be loaded")
        self.model_label.setToolTip(message)
        self._ready = False
        self.generate_button.setEnabled(False)
        self.reproducer.model_failed()

    def _on_facts(self, facts: dict[str, Any], _summary: dict) -> None:
        for name in list(self._option_boxes):
            self.form.removeRow(self._option_boxes.pop(name))
        self._option_specs = list(facts["options"])
        for option in self._option_specs:
            box = _option_box(option)
            box.setToolTip(option.help)
            signal = box.currentTextChanged if isinstance(box, QComboBox) else box.valueChanged
            signal.connect(self._update_option_states)
            self.form.addRow(option.name.replace("_", " ").capitalize(), box)
            self._option_boxes[option.name] = box
        self._update_option_states()
        self.checkpoint_hash = facts["hash"]
        self._upscale = facts.get("upscale")
        if self._upscale:
            up = self._upscale
            self.upscale_box.setText(f"Enlarge x{up['scale']} to {up['size']} px")
            self.upscale_box.setToolTip(
                f"A cascade: each sample is drawn at the model's size, then enlarged by "
                f"{up['name']}, the super-resolution network trained on the same dataset")
        self.upscale_box.setVisible(bool(self._upscale))
        info = self.info
        if info is not None:
            labels = info.metric_labels()  # plain words; what each figure means on hover
            self.model_label.setText("\n".join(
                [f"{info.name} · {info.family} · {Path(info.dataset).name}"]
                + [label for label, _ in labels]))
            self.model_label.setToolTip("\n\n".join(meaning for _, meaning in labels))
        self._ready = True
        self.generate_button.setEnabled(True)
        self.compare.set_options(self._option_specs)
        self.compare_button.setEnabled(self.compare.available())
        self.compare_button.setToolTip(
            self.compare_button.toolTip() if self.compare.available()
            else "This model has no sampler settings to compare")
        self.reproducer.model_ready()

    def _update_option_states(self, *_args) -> None:
        """Greys out options that do nothing with the others' values (eta unless DDIM,
        guidance without a class)."""
        values = self.options()
        for option in self._option_specs:
            self._option_boxes[option.name].setEnabled(option.applies(values))

    def options(self) -> dict[str, float | str]:
        return {name: box.currentText() if isinstance(box, QComboBox) else box.value()
                for name, box in self._option_boxes.items()}

    def set_options(self, options: dict[str, Any]) -> None:
        """Shows options in their boxes (a value a box cannot hold is left as it is)."""
        for name, value in options.items():
            box = self._option_boxes.get(name)
            if isinstance(box, QComboBox):
                box.setCurrentText(str(value))
            elif box is not None:
                box.setValue(value)

    # --- sampling -----------------------------------------------------------------------
    def generate(self, request: dict[str, Any] | None = None,
                 on_shown=None) -> None:
        """Draws the request (by default the one the controls describe); on_shown(images)
        is called once its result is on screen."""
        if self.info is None:
            return
        if not request:  # also False, when the button's clicked(bool) calls this
            request = {"seed": self.seed.value(), "n": self.count.value(),
                       "options": self.options(), "upscale": self.upscale()}
        self.settings.setValue("seed", request["seed"])
        self.generate_button.setEnabled(False)
        self.show_samples()
        job: list[int] = []

        def shown(images, summary):
            self._job_shown = True
            self._show(images, request, summary.get("base"))
            if on_shown is not None:
                on_shown(images)

        self._job_shown = False
        job.append(self.jobs.submit(
            SAMPLE, request["n"], request["seed"], request["options"], request.get("upscale"),
            checkpoint=self.info.path,
            key="sampling", label=f"sampling {request['n']} images",
            on_result=self.for_model(shown), on_preview=self.for_model(self._show_preview),
            on_done=lambda cancelled: self._sampling_done(job[0], cancelled),
        ))
        self._job = job[0]

    def _sampling_done(self, job: int, cancelled: bool) -> None:
        if job != self._job:  # an older request, replaced by a newer one
            return
        self._job = None
        # A job of the model before may end while the new one's options are on their way:
        # Generate waits for them (it would send the old model's options to the new one).
        self.generate_button.setEnabled(self.info is not None and self._ready)
        self.status.clear()  # the job's last progress message; the caption says the rest
        if cancelled and not self._job_shown:
            self._restore_after_cancel()

    def _restore_after_cancel(self) -> None:
        """A cancelled request leaves no half-drawn preview: the result before it comes
        back (or the empty view), and the caption says it was cancelled."""
        previous = self.history.current_payload()
        if previous is not None:
            self._display(previous)
            self.caption.setText("Cancelled. Showing the previous result: "
                                 + self._caption(self.images, self.request))
        else:
            self.view.clear()
            self.caption.setText("Cancelled")

    def _show_preview(self, images: np.ndarray) -> None:
        """Iterative samplers send their current state every few steps (uint8 NHWC)."""
        n, h, w = images.shape[:3]
        self.view.set_grid(make_grid(images, padding=PADDING, pad_value=grid_pad_value(images)),
                           h, w, PADDING, n)
        self.caption.setText("sampling… (preview of the current step)")

    def upscale(self) -> dict | None:
        """The cascade's upscaler when the model has one and the box is ticked."""
        return self._upscale if self._upscale and self.upscale_box.isChecked() else None

    def _show(self, images: np.ndarray, request: dict[str, Any],
              base: np.ndarray | None = None) -> None:
        # base: the samples at the model's own size, where images are them enlarged
        payload = {"images": images, "request": request, "base": base}
        tip = f"seed {request['seed']} · {request['n']} samples"
        opts = describe_options(request["options"])
        self.history.add(_thumbnail(images), tip + (f"\n{opts}" if opts else ""), payload)
        self.history.show()
        self._display(payload)

    def _caption(self, images: np.ndarray, request: dict[str, Any]) -> str:
        opts = describe_options(request["options"])
        up = request.get("upscale")
        enlarged = f" · enlarged x{up['scale']} by {up['name']}" if up else ""
        return (f"{len(images)} samples · seed {request['seed']}" + (f" · {opts}" if opts else "")
                + enlarged)

    def _display(self, payload: dict[str, Any]) -> None:
        """Shows a result (new, or from the history): the grid, caption, Save's source."""
        images, request = payload["images"], payload["request"]
        self.images, self.request = images, request
        self.base_images = payload.get("base")
        n, _, h, w = images.shape
        pixels = to_uint8_hwc(images)
        grid = make_grid(pixels, padding=PADDING, pad_value=grid_pad_value(pixels))
        tips = [f"seed {request['seed']} · sample {i}" for i in range(n)]
        self.view.set_grid(grid, h, w, PADDING, n, tips)
        self.caption.setText(self._caption(images, request) + " — hover for a sample's seed, "
                             "click to enlarge, right-click for more")
        self.save_button.setEnabled(True)
        self.show_samples()

    # --- compare on one seed ------------------------------------------------------------
    def show_compare(self) -> None:
        self.pages.setCurrentWidget(self.compare)

    def show_samples(self) -> None:
        self.pages.setCurrentWidget(self.pages.widget(0))

    def run_compare(self) -> None:
        if self.info is None or not self.compare.available():
            return
        try:
            plan = self.compare.plan(self.options())
        except ValueError as exc:
            self.compare.note.setText(f"Cannot compare: {exc}")
            return
        seed, n = self.seed.value(), self.compare.count.value()
        self.compare.note.setText(f"Seed {seed}, {n} images for each of {len(plan)} settings; "
                                  "other options as set on the left.")
        self.compare.start(plan, seed)
        self.compare.run_button.setEnabled(False)
        self.jobs.submit(
            COMPARE, n, seed, self.compare.runs, checkpoint=self.info.path,
            key="sampling-compare", label=f"comparing {len(plan)} settings",
            on_partial=self.for_model(self._compared),
            on_preview=self.for_model(self.compare.show_preview),
            on_done=self._compare_done)

    def _compared(self, part: dict[str, Any]) -> None:
        if "images" in part:
            self.compare.run_finished(part["index"], part["images"], part["seconds"])
        else:
            self.compare.run_started(part["index"])

    def _compare_done(self, cancelled: bool) -> None:
        self.compare.run_button.setEnabled(True)
        self.compare.finished(cancelled)
        self.status.clear()
        if cancelled:
            self.compare.note.setText("Comparison cancelled; the settings drawn so far stay.")

    def _enlarge_compared(self, run: int, index: int) -> None:
        from genplay.core.ops.sampling import png_metadata

        images = self.compare.images.get(run)
        if images is None or self.info is None:
            return
        options, seed = self.compare.runs[run], self.compare.seed
        record = self._record_for(seed, len(images), options, index)
        self._open_dialog(images[index], f"Seed {seed}, sample {index} · "
                          f"{self.compare.titles[run]}",
                          f"{self.info.name}-seed{seed}-{index}.png",
                          metadata=png_metadata(record), caption=describe_options(options))

    # --- per-sample actions -------------------------------------------------------------
    def sample_pixels(self, index: int) -> np.ndarray:
        return to_uint8_hwc(self.images[index])

    def enlarge(self, index: int) -> None:
        if self.images is None or self.info is None:
            return
        self._open_dialog(self.sample_pixels(index),
                          f"Seed {self.request['seed']}, sample {index}",
                          f"{self.info.name}-seed{self.request['seed']}-{index}.png",
                          save=lambda path: self.save(path, index),
                          caption=describe_options(self.request["options"]))

    def _open_dialog(self, pixels: np.ndarray, title: str, file_name: str, **kwargs) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = ImageDialog(self, pixels, title, file_name=file_name, **kwargs)
        self.dialog.finished.connect(lambda _: setattr(self, "dialog", None))
        self.dialog.open()

    def _tile_menu(self, index: int, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Save this sample…", lambda: self.save_dialog(index))
        menu.addAction("Copy this sample", lambda: copy_image(self.sample_pixels(index)))
        if self.info is not None and self.info.dataset:
            menu.addAction("Nearest training images…", lambda: self.show_nearest(index))
        if self.info is not None and "latent" in self.info.capabilities:
            menu.addSeparator()
            menu.addAction("Use as interpolation start (A)",
                           lambda: self._endpoint("A", index))
            menu.addAction("Use as interpolation end (B)", lambda: self._endpoint("B", index))
        menu.exec(pos)

    def show_nearest(self, index: int) -> None:
        """Is this sample new or a near-copy? Its nearest training images, in a dialog that
        opens at once and fills in when the search (seconds the first time) is done."""
        if self.images is None or self.info is None:
            return
        if self.dialog is not None:
            self.dialog.close()
        # the sample as the model drew it, before a cascade enlarged it
        drawn = self.images if self.base_images is None else self.base_images
        dialog = NearestDialog(self, to_uint8_hwc(drawn[index]),
                               f"seed {self.request['seed']}, sample {index}")
        self.dialog = dialog
        dialog.finished.connect(lambda _: setattr(self, "dialog", None))
        dialog.open()
        self.engine.submit(
            NEAREST, drawn[index], dataset=self.info.dataset,
            shape=tuple(self.info.image_shape), model_path=str(self.info.path),
            label="finding the nearest training images",
            on_progress=lambda _step, _total, message: dialog.status.setText(f"{message}…"),
            on_result=lambda value, _summary: dialog.show_found(value),
            on_error=dialog.show_error)

    def _endpoint(self, which: str, index: int) -> None:
        self.endpoint_requested.emit(which, self.request["seed"], index,
                                     dict(self.request["options"]))

    # --- reproduce a saved image --------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        """Files only: a dropped folder goes on to the window, which opens checkpoints."""
        if any(url.isLocalFile() and Path(url.toLocalFile()).is_file()
               for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def files_dropped(self, paths: list[str]) -> None:
        files = [Path(p) for p in paths if Path(p).is_file()]
        if files:
            self.reproducer.open(files[0])

    # --- save ---------------------------------------------------------------------------
    def _record_for(self, seed: int, n: int, options: dict, index: int | None,
                    upscale: dict | None = None) -> dict:
        from genplay.core.ops.sampling import sample_record

        return sample_record(
            checkpoint=str(self.info.path.resolve()), model=self.info.name,
            family=self.info.family, checkpoint_hash=self.checkpoint_hash,
            seed=seed, n=n, options=options, index=index, upscale=upscale)

    def record(self, index: int | None = None) -> dict[str, Any]:
        return self._record_for(self.request["seed"], self.request["n"],
                                self.request["options"], index, self.request.get("upscale"))

    def current_image(self):
        if self.images is None or self.info is None:
            return None
        return self.view.pixels(), self.record()

    def save_dialog(self, index: int | None = None) -> None:
        if self.images is None or self.info is None:
            return
        name = f"{self.info.name}-seed{self.request['seed']}"
        name += f"-{index}" if index is not None else ""
        path, _ = QFileDialog.getSaveFileName(self, "Save PNG", f"{name}.png", "PNG (*.png)")
        if path:
            self.save(Path(path), index)

    def save(self, path: Path, index: int | None = None) -> bool:
        """PNG with the sample record in its metadata, and the record as a JSON sidecar,
        which `genplay sample --replay` turns back into the same PNG (and which a drop on
        this panel redraws)."""
        from genplay.core.errors import GenplayError
        from genplay.core.ops.sampling import png_metadata, render

        path = path.with_suffix(".png")
        record = self.record(index)
        try:
            save_png(path, render(self.images, index=index), png_metadata(record))
            path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
        except (GenplayError, OSError) as exc:
            self.show_error(f"Could not save {path.name}: {exc}")
            return False
        self.messages.show_message(f"Saved {path} and {path.with_suffix('.json').name}", "info",
                                   4000)
        return True

    def save_settings(self) -> None:
        self.settings.setValue("seed", self.seed.value())
