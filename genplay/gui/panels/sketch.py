"""Sketch panel: draw, and see the model turn the drawing into images.

The canvas is drawn light on dark, like the training sets; beside it is what the
model sees (the drawing at the model's resolution). Candidates come from
``ops.sketch``: SDEdit for models with the Conditional capability (diffusion),
latent fitting for models with a latent space (VAE, GAN, flow); the panel asks
for the capability, never for the family. In Live mode a request goes to the
engine when the user pauses; a newer one supersedes it (latest wins), so the pen
never waits for the model.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import IMAGE_FILTER, make_grid
from genplay.gui.panels.base import Panel, seed_editor
from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.pixel_view import PixelView, copy_image
from genplay.gui.widgets.sketch_canvas import SketchCanvas

PADDING = 2
LIVE_PAUSE_MS = 350  # how long the pen must rest before a Live request goes out


def _facts(model) -> dict[str, Any]:
    from genplay.core.models.base import Sampler
    from genplay.core.ops.sketch import FIT_STEPS, sketch_method

    options = {o.name: o for o in model.sample_options()} if isinstance(model, Sampler) else {}
    method = sketch_method(model)
    if method == "sdedit":
        steps = (int(options["steps"].default), 200)  # a whole schedule's
    elif method == "langevin":
        steps = (model.condition_default_steps, 1000)
    else:
        steps = (FIT_STEPS, 1000)
    return {
        "method": method,
        "shape": tuple(model.image_shape),
        "classes": list(options["class"].choices) if "class" in options else [],
        "steps": steps,
    }


def _sketch(model, drawing: np.ndarray, n: int, seed: int, strength: float,
            options: dict[str, Any]):
    """Runs in the engine: a uint8 (H, W) drawing at the model's size -> candidates."""
    import torch

    from genplay.core.ops.sketch import sketch_images

    c = model.image_shape[0]
    guide = torch.from_numpy(drawing.astype(np.float32) / 255.0)[None, None].repeat(1, c, 1, 1)
    yield from sketch_images(model, guide, n=n, seed=seed, strength=strength, **options)


def _load_pixels(path: str) -> np.ndarray:
    """Runs in the engine: a user's image file, gray and light on dark like the canvas."""
    from genplay.core.images import load_image, prepare_for_model

    pixels = load_image(path)
    side = 280
    prepared, _ = prepare_for_model(pixels, size=side, channels=1)
    return prepared[..., 0]


class SketchPanel(AcceptsFileDrops, Panel):
    title = "Sketch"
    capability = "sketch"
    send_to_latent = Signal(str)  # a PNG file of the chosen candidate
    send_to_outliers = Signal(str)

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        self.setAcceptDrops(True)
        self.facts: dict[str, Any] | None = None
        self.images: np.ndarray | None = None  # float (N, C, H, W) of the last result
        self.request: dict[str, Any] | None = None
        self.selected = 0
        self._job: int | None = None
        self._started = 0.0

        self.canvas = SketchCanvas()
        self.canvas.setMinimumSize(240, 240)
        self.canvas.stroke_started.connect(self._stroke_started)
        self.canvas.stroke_moved.connect(self._refresh_model_view)
        self.canvas.changed.connect(self._drawing_changed)
        self.canvas.history_changed.connect(self._update_history_buttons)

        self.live_timer = QTimer(self, singleShot=True, interval=LIVE_PAUSE_MS)
        self.live_timer.timeout.connect(self.generate)

        controls = QWidget()
        controls.setFixedWidth(250)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._build_tools())
        column.addWidget(self._build_generation())
        # A wrapped label inside a QFormLayout gets too little height and is clipped;
        # in the column it gets what it needs.
        column.addWidget(self.method_label)
        column.addStretch()

        self.model_view = PixelView()
        self.model_view.setFixedSize(140, 140)
        self.model_view.setToolTip("Your drawing at the model's resolution: what it sees")
        self.model_caption = muted_label("What the model sees")
        self.view = PixelView(placeholder="Draw on the canvas: candidates appear here")
        self.view.setMinimumSize(200, 150)
        self.view.tile_clicked.connect(self.select)
        self.view.tile_context_menu.connect(self._tile_menu)
        self.caption = QLabel(wordWrap=True)
        self.save_button = QPushButton("Save…", clicked=self.save_dialog)
        self.copy_button = QPushButton("Copy", clicked=self.copy_selected)
        self.latent_button = QPushButton("To Latent", clicked=self._to_latent)
        self.latent_button.setToolTip("Encode the chosen candidate as interpolation start A")
        self.outlier_button = QPushButton("To Outliers", clicked=self._to_outliers)
        self.outlier_button.setToolTip("Score the chosen candidate in the Outlier panel")
        self.use_button = QPushButton("Draw on it", clicked=self.use_as_drawing)
        self.use_button.setToolTip("Put the chosen candidate on the canvas to draw over it")
        actions = QHBoxLayout()
        for button in (self.save_button, self.copy_button, self.use_button, self.latent_button,
                       self.outlier_button):
            button.setEnabled(False)
            actions.addWidget(button)
        actions.addStretch()

        seen = QVBoxLayout()
        seen.addWidget(self.model_view)
        seen.addWidget(self.model_caption)
        seen.addStretch()
        top = QHBoxLayout()
        top.addWidget(self.canvas, 1)
        top.addLayout(seen)
        right = QVBoxLayout()
        right.addLayout(top, 3)
        right.addWidget(self.view, 2)  # the candidates, side by side under the drawing
        right.addLayout(actions)
        right.addWidget(self.caption)
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addLayout(right, 1)
        self._refresh_model_view()

    def accepts(self, capabilities: list[str]) -> bool:
        # SDEdit and Langevin dynamics need Conditional; latent fitting needs a latent space
        # (and decode_continuous, which every shipped latent family has).
        return "conditional" in capabilities or "latent" in capabilities

    # --- building ---------------------------------------------------------------------------
    def _build_tools(self) -> QGroupBox:
        box = QGroupBox("Drawing")
        form = QFormLayout(box)
        self.pen_button = QToolButton(text="Pen", checkable=True, checked=True)
        self.eraser_button = QToolButton(text="Eraser", checkable=True)
        tools = QButtonGroup(box)
        tools.addButton(self.pen_button)
        tools.addButton(self.eraser_button)
        self.eraser_button.toggled.connect(self.canvas.set_eraser)
        self.ink = QComboBox()
        self.ink.addItems(["White", "Black"])
        self.ink.setToolTip("The models were trained on light strokes on black")
        self.ink.currentTextChanged.connect(
            lambda text: self.canvas.set_ink(255 if text == "White" else 0))
        row = QHBoxLayout()
        row.addWidget(self.pen_button)
        row.addWidget(self.eraser_button)
        row.addWidget(self.ink, 1)
        form.addRow(row)
        self.pen_size = QSlider(Qt.Orientation.Horizontal, minimum=4, maximum=60,
                                value=round(self.canvas.pen_width()))
        self.pen_size.valueChanged.connect(self.canvas.set_pen_width)
        form.addRow("Size", self.pen_size)
        self.smoothing = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100,
                                 value=round(100 * self.canvas.smoothing()))
        self.smoothing.valueChanged.connect(lambda v: self.canvas.set_smoothing(v / 100))
        self.smoothing.setToolTip("Steadies the stroke: higher follows the mouse more loosely")
        form.addRow("Smoothing", self.smoothing)
        self.undo_button = QToolButton(text="Undo", clicked=self.canvas.undo)
        self.undo_button.setToolTip("Undo the last stroke (Ctrl+Z)")
        self.redo_button = QToolButton(text="Redo", clicked=self.canvas.redo)
        self.redo_button.setToolTip("Redo (Ctrl+Shift+Z)")
        clear = QToolButton(text="Clear", clicked=self.canvas.clear)
        load = QToolButton(text="Load…", clicked=self.load_dialog)
        load.setToolTip("Start from an image file (or drop one on the panel)")
        row = QHBoxLayout()
        for button in (self.undo_button, self.redo_button, clear, load):
            row.addWidget(button)
        form.addRow(row)
        self._update_history_buttons()
        return box

    def _build_generation(self) -> QGroupBox:
        box = QGroupBox("Generation")
        form = QFormLayout(box)
        self.strength = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=50)
        self.strength_label = QLabel("0.50")
        self.strength.valueChanged.connect(
            lambda v: self.strength_label.setText(f"{v / 100:.2f}"))
        self.strength.setToolTip("How far the images may stray from your lines: 0 keeps the "
                                 "drawing, 1 ignores it")
        row = QHBoxLayout()
        row.addWidget(self.strength, 1)
        row.addWidget(self.strength_label)
        form.addRow("Strength", row)
        self.steps = QSpinBox(minimum=1, maximum=200, value=20)
        form.addRow("Steps", self.steps)
        self.count = QSpinBox(minimum=1, maximum=16, value=4)
        self.count.setToolTip("Candidates, each from its own seeded noise")
        form.addRow("Candidates", self.count)
        self.seed, row = seed_editor(int(self.settings.value("sketch-seed", 0)))
        form.addRow("Seed", row)
        self.label = QComboBox()
        self.label.setToolTip("Ask for a class; any: let the drawing decide")
        self.label_row = QLabel("Class")
        form.addRow(self.label_row, self.label)
        self.guidance = QDoubleSpinBox(minimum=0.0, maximum=10.0, value=1.0, singleStep=0.5)
        self.guidance.setToolTip("Classifier-free guidance: higher follows the class harder")
        self.guidance_row = QLabel("Guidance")
        form.addRow(self.guidance_row, self.guidance)
        self.label.currentTextChanged.connect(
            lambda text: self.guidance.setEnabled(text != "any"))
        self.live = QCheckBox("Live", checked=self.settings.value("sketch-live", "true") == "true")
        self.live.setToolTip("Regenerate whenever you pause drawing")
        self.live.toggled.connect(lambda on: self.settings.setValue("sketch-live",
                                                                    "true" if on else "false"))
        self.generate_button = QPushButton("Generate", clicked=self.generate)
        self.generate_button.setDefault(True)
        row = QHBoxLayout()
        row.addWidget(self.live)
        row.addWidget(self.generate_button, 1)
        form.addRow(row)
        self.method_label = muted_label()  # placed under the box (see __init__)
        for widget in (self.strength, self.steps, self.count, self.seed, self.guidance):
            widget.valueChanged.connect(self._settings_changed)
        self.label.currentTextChanged.connect(self._settings_changed)
        return box

    # --- model ------------------------------------------------------------------------------
    def model_changed(self, info) -> None:
        self.facts = None
        self.images, self.request = None, None
        self.view.clear()
        self.caption.clear()
        self._update_actions()
        self.generate_button.setEnabled(False)
        self.method_label.setText(f"{info.name}: loading…")
        self.engine.submit(_facts, checkpoint=info.path, key="sketch-model",
                           label=f"loading {info.name}", on_result=self.for_model(self._on_facts),
                           on_error=self.show_error)

    def _on_facts(self, facts: dict[str, Any], _summary: dict) -> None:
        self.facts = facts
        size = facts["shape"][1]
        self.canvas.set_model_size(size)
        self.model_caption.setText(f"What the model sees ({size}×{size})")
        default_steps, most = facts["steps"]
        self.steps.blockSignals(True)
        self.steps.setMaximum(most)
        self.steps.setValue(default_steps)
        self.steps.blockSignals(False)
        self.label.blockSignals(True)
        self.label.clear()
        self.label.addItems(facts["classes"])
        self.label.blockSignals(False)
        has_classes = bool(facts["classes"])
        for widget in (self.label, self.label_row, self.guidance, self.guidance_row):
            widget.setVisible(has_classes)
        self.guidance.setEnabled(self.label.currentText() not in ("", "any"))
        if facts["method"] == "sdedit":
            self.steps.setToolTip("Steps of a whole denoising schedule; strength 0.5 runs half")
            how = "SDEdit: your drawing is noised to the strength's level, then denoised."
        elif facts["method"] == "langevin":
            self.steps.setToolTip("Langevin steps from your drawing mixed with noise")
            how = ("Langevin dynamics: your drawing, mixed with as much noise as the "
                   "strength says, drifts towards images the energy model finds likely.")
        else:
            self.steps.setToolTip("Gradient steps fitting each candidate's latent to the drawing")
            how = ("Latent fitting: each candidate's latent is moved until its image matches "
                   "your drawing, as far as the strength allows.")
        self.method_label.setText(how)
        self.generate_button.setEnabled(True)
        self._refresh_model_view()
        if not self.canvas.is_empty():
            self._schedule_live()

    # --- drawing ----------------------------------------------------------------------------
    def _update_history_buttons(self) -> None:
        self.undo_button.setEnabled(self.canvas.can_undo())
        self.redo_button.setEnabled(self.canvas.can_redo())

    def _refresh_model_view(self) -> None:
        self.model_view.set_image(self.canvas.image_array()[..., None])

    def _stroke_started(self) -> None:
        self.live_timer.stop()  # the user is drawing again: wait for the next pause

    def _drawing_changed(self) -> None:
        self._refresh_model_view()
        self._schedule_live()

    def _settings_changed(self, *_args) -> None:
        self._schedule_live()

    def _schedule_live(self) -> None:
        if self.live.isChecked() and self.facts is not None:
            self.live_timer.start()

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Start from an image", "", IMAGE_FILTER)
        if path:
            self.load_file(path)

    def load_file(self, path: str) -> None:
        self.engine.submit(_load_pixels, path, label=f"opening {Path(path).name}",
                           on_result=lambda pixels, _s: self.canvas.load_image(pixels),
                           on_error=self.show_error)

    def files_dropped(self, paths: list[str]) -> None:
        self.load_file(paths[0])

    def use_as_drawing(self) -> None:
        if self.images is not None:
            self.canvas.load_image(self.candidate_pixels(self.selected))

    # --- generating -------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"steps": self.steps.value()}
        if self.facts and self.facts["classes"] and self.label.currentText() != "any":
            opts["class"] = self.label.currentText()
            opts["guidance"] = self.guidance.value()
        return opts

    def generate(self) -> None:
        self.live_timer.stop()
        if self.info is None or self.facts is None:
            return
        if self.canvas.is_empty():
            self.caption.setText("Draw something first: an empty canvas gives the model "
                                 "nothing to follow")
            return
        request = {"seed": self.seed.value(), "n": self.count.value(),
                   "strength": self.strength.value() / 100, "options": self.options()}
        self.settings.setValue("sketch-seed", request["seed"])
        drawing = self.canvas.image_array()
        self._started = time.monotonic()
        self.caption.setText("generating…")
        # One key: a new request cancels the one still running (latest wins).
        self._job = self.engine.submit(
            _sketch, drawing, request["n"], request["seed"], request["strength"],
            request["options"], checkpoint=self.info.path, key="sketch",
            label=f"{request['n']} candidates from the sketch",
            on_result=self.for_model(lambda images, summary: self._show(images, request,
                                                                        summary)),
            on_preview=self.for_model(self._show_preview), on_error=self.show_error)

    def _show_preview(self, images: np.ndarray) -> None:
        n, h, w = images.shape[:3]
        self.view.set_grid(make_grid(images, nrow=self._columns(n), padding=PADDING),
                           h, w, PADDING, n)

    @staticmethod
    def _columns(n: int) -> int:
        return n if n <= 8 else (n + 1) // 2  # one row, or two for more than 8

    def _show(self, images: np.ndarray, request: dict[str, Any], summary: dict) -> None:
        from genplay.core.images import to_uint8_hwc

        self.images, self.request = images, {**request, "method": summary["method"]}
        self.selected = min(self.selected, len(images) - 1)
        n, _, h, w = images.shape
        tips = [f"candidate {i} · seed {request['seed']}" for i in range(n)]
        self.view.set_grid(make_grid(to_uint8_hwc(images), nrow=self._columns(n),
                                     padding=PADDING), h, w, PADDING, n, tips)
        seconds = time.monotonic() - self._started
        self.caption.setText(
            f"{n} candidates in {seconds:.1f} s · strength {request['strength']:.2f} · "
            f"seed {request['seed']} — click one to choose it, right-click for more")
        self._update_actions()

    # --- the chosen candidate ---------------------------------------------------------------
    def select(self, index: int) -> None:
        if self.images is None or not 0 <= index < len(self.images):
            return
        self.selected = index
        self.caption.setText(f"Candidate {index} chosen: save it, copy it, draw on it, or "
                             "send it to another panel")
        self._update_actions()

    def _update_actions(self) -> None:
        have = self.images is not None
        caps = self.info.capabilities if self.info is not None else []
        for button in (self.save_button, self.copy_button, self.use_button):
            button.setEnabled(have)
        self.latent_button.setEnabled(have and "latent" in caps)
        self.outlier_button.setEnabled(have and "density" in caps)

    def candidate_pixels(self, index: int) -> np.ndarray:
        from genplay.core.images import to_uint8_hwc

        return to_uint8_hwc(self.images[index])

    def record(self) -> dict[str, Any]:
        from genplay import __version__

        request = self.request or {}
        return {"genplay_version": __version__, "model": self.info.name if self.info else "",
                "method": request.get("method"), "seed": request.get("seed"),
                "strength": request.get("strength"), "options": request.get("options"),
                "index": self.selected}

    def current_image(self):
        if self.images is None:
            return None
        return self.candidate_pixels(self.selected), self.record()

    def save_dialog(self) -> None:
        if self.images is None or self.info is None:
            return
        name = f"{self.info.name}-sketch-seed{self.request['seed']}-{self.selected}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Save PNG", name, "PNG (*.png)")
        if path:
            self.save(Path(path))

    def save(self, path: Path) -> None:
        if self._write_candidate(path):
            self.messages.show_message(f"Saved {path}", "info")

    def _write_candidate(self, path: Path) -> bool:
        """The chosen candidate as a PNG with its record (save_png makes the folder)."""
        return self.write_png(path, self.candidate_pixels(self.selected), self.record())

    def copy_selected(self) -> None:
        if self.images is not None:
            copy_image(self.candidate_pixels(self.selected))

    def _export_for_panel(self) -> str | None:
        """The chosen candidate as a PNG in a temporary folder, for panels that take files."""
        if self.images is None:
            return None
        folder = Path(tempfile.gettempdir()) / "genplay-sketches"
        path = folder / f"candidate-{time.strftime('%Y%m%d-%H%M%S')}-{self.selected}.png"
        return str(path) if self._write_candidate(path) else None

    def _to_latent(self) -> None:
        path = self._export_for_panel()
        if path:
            self.send_to_latent.emit(path)

    def _to_outliers(self) -> None:
        path = self._export_for_panel()
        if path:
            self.send_to_outliers.emit(path)

    def _tile_menu(self, index: int, pos: QPoint) -> None:
        self.select(index)
        menu = QMenu(self)
        menu.addAction("Save this candidate…", self.save_dialog)
        menu.addAction("Copy this candidate", self.copy_selected)
        menu.addAction("Draw on it", self.use_as_drawing)
        if self.latent_button.isEnabled():
            menu.addAction("Encode as interpolation start (Latent panel)", self._to_latent)
        if self.outlier_button.isEnabled():
            menu.addAction("Score it (Outlier panel)", self._to_outliers)
        menu.exec(pos)
