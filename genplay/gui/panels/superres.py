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

from genplay.gui.panels.base import Panel
from genplay.gui.panels.superres_batch import FolderBatch
from genplay.gui.panels.superres_methods import UpscaleBox
from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.image_input import ImageInput
from genplay.gui.widgets.job_progress import JobProgress
from genplay.gui.widgets.pixel_view import copy_image
from genplay.gui.widgets.upscale_comparison import UpscaleComparison

if TYPE_CHECKING:
    from collections.abc import Callable

    from genplay.core.checkpoints import CheckpointInfo

BICUBIC_VIEW_MAX = 25_000_000  # output pixels up to which bicubic is made for the view too


# --- jobs (run in the engine's thread) ------------------------------------------------------
def _load(path: str) -> np.ndarray:
    from genplay.core.images import load_image

    return load_image(path)


def _upscale(model, pixels: np.ndarray, scale: int, method: str, simulate: bool,
             reference: np.ndarray | None, options: dict[str, Any]):
    """The chosen method (``model`` is None for bicubic), plus what the comparison view
    shows beside it: the input as the method saw it, bicubic from that input, and the
    reference in the result's frame."""
    from genplay.core.events import Result, final_value, relay
    from genplay.core.images import prepare_for_model
    from genplay.core.ops import superres

    if simulate:
        lowres, reference = superres.simulate(pixels, scale)
    else:
        lowres = pixels if pixels.ndim == 3 else pixels[..., None]
    result = yield from relay(superres.upscale_steps(model, lowres, scale, method,
                                                     reference=reference, **options))
    value = dict(result.value)
    shown = lowres
    if method == "diffusion":
        # The model saw the input letterboxed into its own size // scale, and its
        # candidates are of its size: show the input, and the reference, in that frame.
        channels, size = model.image_shape[0], model.image_shape[1]
        shown, _ = prepare_for_model(lowres, size=size // scale, channels=channels,
                                     invert=False)
        if reference is not None and reference.shape[:2] != (size, size):
            reference, _ = prepare_for_model(reference, size=size, channels=channels,
                                             invert=False)
    out_h, out_w = value["images"][0].shape[:2]
    if method == "bicubic":
        bicubic = value["images"][0]
    elif out_h * out_w <= BICUBIC_VIEW_MAX:
        bicubic = final_value(superres.upscale_steps(None, shown, scale, "bicubic"))["images"][0]
    else:
        bicubic = None  # a second full-size image just for the view would cost too much
    value.update(input=shown, reference=reference, bicubic=bicubic)
    yield Result(value, result.summary)


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

        self.caption = QLabel(wordWrap=True)
        self.jobs = JobProgress(engine, self.caption, self.show_error)
        self.image = ImageInput(self.settings.value("superres-simulate", "true") == "true",
                                self._other_images)
        self.image.file_chosen.connect(self.load_file)
        self.image.reference_chosen.connect(self.load_reference)
        self.image.source_changed.connect(self._source_changed)
        self.image.measure_changed.connect(self._inputs_changed)
        self.image.notice.connect(lambda text: self.messages.show_message(text, "info", 4000))
        self.image.simulate.toggled.connect(
            lambda on: self.settings.setValue("superres-simulate", "true" if on else "false"))
        self.methods = UpscaleBox(engine, self.jobs, int(self.settings.value("superres-seed", 0)),
                                  self.for_model, self.show_error)
        self.methods.changed.connect(self._inputs_changed)
        self.methods.upscale_button.clicked.connect(self.upscale)
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

        self.comparison = UpscaleComparison()
        self.comparison.candidate_chosen.connect(lambda _index: self._update_actions())
        self.save_button = QPushButton("Save…", clicked=self.save_dialog)
        self.copy_button = QPushButton("Copy", clicked=self.copy_result)
        actions = QHBoxLayout()
        actions.addWidget(self.save_button)
        actions.addWidget(self.copy_button)
        actions.addWidget(self.caption, 1)

        right = QVBoxLayout()
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
        self.method_key, self.set_method = self.methods.entry, self.methods.set_method
        self.view, self.compare = self.comparison.view, self.comparison.compare
        self.candidates_box = self.comparison.candidates_box
        self.candidates_label = self.comparison.candidates_label
        self.metrics_label = self.comparison.metrics_label
        self.progress, self.cancel_button = self.jobs.progress, self.jobs.cancel_button
        self.batch_dialog, self.batch_folder = self.batch.dialog, self.batch.run

        self._update_actions()
        self.methods.read_choices()

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
        self._read(path, "superres-load", self.image.set_source)

    def load_reference(self, path: str) -> None:
        self._read(path, "superres-reference", self.image.set_reference)

    def _read(self, path: str, key: str, then: Callable[[np.ndarray, str], None]) -> None:
        name = Path(path).name
        self.engine.submit(_load, path, key=key, label=f"opening {name}",
                           on_result=lambda pixels, _s: then(pixels, name),
                           on_error=self.show_error)

    def files_dropped(self, paths: list[str]) -> None:
        self.load_file(paths[0])

    def _other_images(self) -> list[tuple[str, Callable[[], Any]]]:
        return self.image_sources() if self.image_sources is not None else []

    def _source_changed(self, pixels: np.ndarray) -> None:
        """A new image: the old result goes, and a quick method runs at once."""
        self.result = None
        self.comparison.show_source(pixels)
        self._update_actions()
        self._inputs_changed()

    # --- upscaling --------------------------------------------------------------------------
    def _inputs_changed(self, *_args) -> None:
        self.upscale_button.setEnabled(self.source is not None and self.method_key() is not None)
        # Quick methods follow the settings at once (a newer request cancels the older);
        # guided generation takes long enough to wait for the button.
        if self.source is not None and self.method_key() not in (None, "diffusion"):
            self.upscale()
        elif self.source is not None and self.method_key() == "diffusion":
            self.caption.setText("Press Upscale: generating candidates takes a while")

    def upscale(self) -> None:
        if self.source is None or self.scale.currentData() is None:
            return
        method, checkpoint, scale, options = self.methods.job_settings()
        simulate = self.simulate.isChecked()
        reference = None if simulate else self.image.reference
        if "seed" in options:
            self.settings.setValue("superres-seed", options["seed"])
        request = {"method": method, "entry": self.method_key(), "scale": scale,
                   "label": self.method.currentText(),
                   "simulate": simulate, "options": options,
                   "checkpoint": checkpoint.name if checkpoint is not None else None}
        self._started = time.monotonic()
        self.caption.setText("upscaling…")
        args = (self.source, scale, method, simulate, reference, options)
        if checkpoint is None:
            args = (None, *args)  # the job's model argument: bicubic needs none
        # One key: a new request cancels the one still running (latest wins).
        self.jobs.submit(_upscale, *args, checkpoint=checkpoint, key="superres",
                         label=f"upscaling ×{scale} ({method})",
                         on_result=lambda value, _s: self._show(value, request))

    def _show(self, value: dict[str, Any], request: dict[str, Any]) -> None:
        self.result, self.request = value, request
        lowres, out = value["input"], value["images"][0]
        seconds = time.monotonic() - self._started
        what = "simulated input " if request["simulate"] else ""
        self.caption.setText(
            f"{what}{lowres.shape[1]}×{lowres.shape[0]} → {out.shape[1]}×{out.shape[0]} · "
            f"{request['label']} ×{request['scale']} · {seconds:.1f} s")
        self.comparison.show_result(value)
        self._update_actions()

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
