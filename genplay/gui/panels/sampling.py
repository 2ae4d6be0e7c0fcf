"""Sampling panel: seed, count and the model's own options; a grid to hover, enlarge, save."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import make_grid, save_png
from genplay.gui.panels.base import Panel, seed_editor
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.pixel_view import PixelView, copy_image

PADDING = 2


def _facts_for(folder: str):
    """A job that reads what the panel needs of a model: its options and weights' hash."""

    def job(model):
        from genplay.core import checkpoints

        return {"options": model.sample_options(), "hash": checkpoints.weights_hash(folder)}
    return job


def _sample(model, n: int, seed: int, options: dict[str, float]):
    from genplay.core.ops.sampling import sample_images

    yield from sample_images(model, n, seed, **options)


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


class SampleDialog(QDialog):
    """One sample, large, with its seed and index."""

    def __init__(self, parent: QWidget, pixels: np.ndarray, title: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        view = PixelView()
        view.set_image(pixels)
        view.setMinimumSize(360, 360)
        layout.addWidget(view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class SamplingPanel(Panel):
    title = "Sampling"
    capability = "sampler"
    # "A" or "B", seed, index in the request, sampler options (the temperature matters)
    endpoint_requested = Signal(str, int, int, object)

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        self.images: np.ndarray | None = None  # float (N, C, H, W) of the last request
        self.request: dict[str, Any] | None = None
        self.checkpoint_hash = ""
        self._option_boxes: dict[str, QWidget] = {}
        self._option_specs: list = []

        self.seed, seed_row = seed_editor(int(settings.value("seed", 0)))
        self.seed.setToolTip("The same seed and options give the same images")
        self.count = QSpinBox(minimum=1, maximum=256, value=64)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.save_button = QPushButton("Save…")
        self.save_button.clicked.connect(self.save_dialog)
        self.save_button.setEnabled(False)

        self.form = QFormLayout()
        self.form.addRow("Seed", seed_row)
        self.form.addRow("Samples", self.count)
        controls = QWidget()
        controls.setFixedWidth(250)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self.form)
        column.addWidget(self.generate_button)
        column.addWidget(self.save_button)
        self.model_label = muted_label()
        column.addWidget(self.model_label)
        column.addStretch()

        self.view = PixelView(placeholder="Press Generate to draw samples")
        self.view.tile_clicked.connect(self.enlarge)
        self.view.tile_context_menu.connect(self._tile_menu)
        self.caption = QLabel()
        right = QVBoxLayout()
        right.addWidget(self.view, 1)
        right.addWidget(self.caption)
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addLayout(right, 1)

    # --- model --------------------------------------------------------------------------
    def model_changed(self, info) -> None:
        self.view.clear()
        self.caption.clear()
        self.images, self.request = None, None
        self.save_button.setEnabled(False)
        self.generate_button.setEnabled(False)
        self.model_label.setText(f"{info.name}: loading…")
        self.model_label.setToolTip("")
        self.engine.submit(_facts_for(str(info.path)), checkpoint=info.path, key="sampling-model",
                           label=f"loading {info.name}", on_result=self.for_model(self._on_facts),
                           on_error=self.for_model(self._on_load_error))

    def _on_load_error(self, message: str) -> None:
        """The model cannot be loaded (the message bar shows why): no more "loading…", and
        Generate stays off."""
        name = self.info.name if self.info is not None else "The model"
        self.model_label.setText(f"{name}: could not be loaded")
        self.model_label.setToolTip(message)
        self.generate_button.setEnabled(False)

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
        info = self.info
        if info is not None:
            self.model_label.setText(f"{info.name} · {info.family} · {Path(info.dataset).name}"
                                     f"\n{info.key_metrics()}")
        self.generate_button.setEnabled(True)

    def _update_option_states(self, *_args) -> None:
        """Greys out options that do nothing with the others' values (eta unless DDIM,
        guidance without a class)."""
        values = self.options()
        for option in self._option_specs:
            self._option_boxes[option.name].setEnabled(option.applies(values))

    def options(self) -> dict[str, float | str]:
        return {name: box.currentText() if isinstance(box, QComboBox) else box.value()
                for name, box in self._option_boxes.items()}

    # --- sampling -----------------------------------------------------------------------
    def generate(self) -> None:
        if self.info is None:
            return
        request = {"seed": self.seed.value(), "n": self.count.value(), "options": self.options()}
        self.settings.setValue("seed", request["seed"])
        self.generate_button.setEnabled(False)
        self.engine.submit(
            _sample, request["n"], request["seed"], request["options"], checkpoint=self.info.path,
            key="sampling", label=f"sampling {request['n']} images",
            on_result=self.for_model(lambda images, summary: self._show(images, request)),
            on_preview=self.for_model(self._show_preview),
            on_done=lambda cancelled: self.generate_button.setEnabled(True),
        )

    def _show_preview(self, images: np.ndarray) -> None:
        """Iterative samplers send their current state every few steps (uint8 NHWC)."""
        n, h, w = images.shape[:3]
        self.view.set_grid(make_grid(images, padding=PADDING), h, w, PADDING, n)
        self.caption.setText("sampling… (preview of the current step)")

    def _show(self, images: np.ndarray, request: dict[str, Any]) -> None:
        from genplay.core.images import to_uint8_hwc

        self.images, self.request = images, request
        n, _, h, w = images.shape
        grid = make_grid(to_uint8_hwc(images), padding=PADDING)
        tips = [f"seed {request['seed']} · sample {i}" for i in range(n)]
        self.view.set_grid(grid, h, w, PADDING, n, tips)
        opts = describe_options(request["options"])
        head = f"{n} samples · seed {request['seed']}" + (f" · {opts}" if opts else "")
        self.caption.setText(head + " — hover for a sample's seed, click to enlarge, "
                             "right-click for more")
        self.save_button.setEnabled(True)

    # --- per-sample actions -------------------------------------------------------------
    def sample_pixels(self, index: int) -> np.ndarray:
        from genplay.core.images import to_uint8_hwc

        return to_uint8_hwc(self.images[index])

    def enlarge(self, index: int) -> None:
        if self.images is None:
            return
        SampleDialog(self, self.sample_pixels(index),
                     f"Seed {self.request['seed']}, sample {index}").exec()

    def _tile_menu(self, index: int, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Save this sample…", lambda: self.save_dialog(index))
        menu.addAction("Copy this sample", lambda: copy_image(self.sample_pixels(index)))
        if self.info is not None and "latent" in self.info.capabilities:
            menu.addSeparator()
            menu.addAction("Use as interpolation start (A)",
                           lambda: self._endpoint("A", index))
            menu.addAction("Use as interpolation end (B)", lambda: self._endpoint("B", index))
        menu.exec(pos)

    def _endpoint(self, which: str, index: int) -> None:
        self.endpoint_requested.emit(which, self.request["seed"], index,
                                     dict(self.request["options"]))

    # --- save ---------------------------------------------------------------------------
    def record(self, index: int | None = None) -> dict[str, Any]:
        from genplay.core.ops.sampling import sample_record

        return sample_record(
            checkpoint=str(self.info.path.resolve()), model=self.info.name,
            family=self.info.family, checkpoint_hash=self.checkpoint_hash,
            seed=self.request["seed"], n=self.request["n"], options=self.request["options"],
            index=index,
        )

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

    def save(self, path: Path, index: int | None = None) -> None:
        """PNG with the sample record in its metadata, and the record as a JSON sidecar,
        which `genplay sample --replay` turns back into the same PNG."""
        from genplay.core.errors import GenplayError
        from genplay.core.ops.sampling import png_metadata, render

        path = path.with_suffix(".png")
        record = self.record(index)
        try:
            save_png(path, render(self.images, index=index), png_metadata(record))
            path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
        except (GenplayError, OSError) as exc:
            self.show_error(f"Could not save {path.name}: {exc}")
            return
        self.messages.show_message(f"Saved {path} and {path.with_suffix('.json').name}", "info",
                                   4000)

    def save_settings(self) -> None:
        self.settings.setValue("seed", self.seed.value())
