"""Sketch panel: draw, and see the model turn the drawing into images; or paint over part
of a picture and let the model fill it.

The canvas is drawn light on dark, like the training sets; beside it is what the
model sees (the drawing at the model's resolution). For a colour model the inks are a
palette: white draws lines, a colour draws a shape in that colour (a yellow circle for a
yellow face) or dabs the colour inside lines, as the model reads them
(sketches.drawing_hints). Candidates come from
``ops.sketch``: a sketch model (trained on drawings and their images) where one exists
for the selected model's dataset (sketch_method_choice.py), else the selected model's own
way: SDEdit for models with the Conditional capability (diffusion), latent fitting for
models with a latent space (VAE, GAN, flow); the panel asks for the capability, never for
the family. "Sketch from a picture" turns any picture into a drawing to edit (its lines,
found as the sketch models' training drawings were). In Fill mode the pen paints a mask
over the picture instead, and models that can inpaint (decided as ``genplay inpaint``
decides) fill it with the same op the command line runs. In Live mode a request goes to the
engine when the user pauses; a newer one supersedes it (latest wins), so the pen
never waits for the model, and the old candidates are washed out until the new arrive.
While the pen moves, a model that samples in steps shows quick candidates of the drawing
as it is (sketch_live.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
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
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import IMAGE_FILTER
from genplay.core.models.capabilities import sketch_route
from genplay.gui.panels.base import Panel, op, seed_editor
from genplay.gui.panels.sketch_actions import ChosenCandidate
from genplay.gui.panels.sketch_candidates import CandidateStrip
from genplay.gui.panels.sketch_history import EarlierResults, result_terms
from genplay.gui.panels.sketch_live import StrokePreviews
from genplay.gui.panels.sketch_method_choice import SKETCH_FACTS, SketchMethodChoice
from genplay.gui.panels.sketch_modes import SketchModes
from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.pixel_view import PixelView
from genplay.gui.widgets.sketch_canvas import MASK_OPACITY, MASK_TINT, SketchCanvas

LIVE_PAUSE_MS = 350  # how long the pen must rest before a Live request goes out
GREY_INKS = (("White", (255, 255, 255)), ("Black", (0, 0, 0)))
# White draws lines; the colours are emoji's own: the model takes them as colour hints.
COLOUR_INKS = (("White", (255, 255, 255)), ("Yellow", (252, 208, 40)),
               ("Orange", (245, 140, 30)), ("Red", (222, 40, 45)), ("Pink", (240, 120, 175)),
               ("Purple", (145, 80, 205)), ("Blue", (40, 110, 230)), ("Green", (55, 170, 70)),
               ("Brown", (140, 90, 50)), ("Skin", (238, 188, 135)))
SWATCH = 20  # pixels square
HOLE_LEVEL = 127  # mask pixels above this (of 255) are filled, as `genplay inpaint` reads one
# the engine jobs: functions of core.ops.sketch, the ones `genplay sketch`/`inpaint` build on
CANVAS_PIXELS = op("ops.sketch:canvas_pixels")
SKETCH = op("ops.sketch:sketch_canvas")
FILL = op("ops.sketch:fill_canvas")
PICTURE_SKETCH = op("ops.sketch:picture_sketch")


def swatch_icon(rgb: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(SWATCH, SWATCH)
    pixmap.fill(QColor(*rgb))
    return QIcon(pixmap)


def ink_tip(name: str, colour: bool) -> str:
    if not colour:
        return (f"{name} ink: the models were trained on light strokes on black"
                if name == "White" else f"{name} ink: to draw over a light picture")
    if name == "White":
        return "White ink: the lines of a shape"
    return (f"{name} ink: draw a shape in it (a circle for a round {name.lower()} thing) "
            "or dab it inside white lines, and the model colours that shape so")


class SketchPanel(ChosenCandidate, EarlierResults, SketchModes, SketchMethodChoice,
                  AcceptsFileDrops, Panel):
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
        self._token = 0  # the request whose end clears the busy cue; older ones are ignored
        self._started = 0.0
        self._steps = {"sketch": 20, "fill": 50}  # each mode keeps its own step count
        self._quiet = False  # a drawing put back from the history: no Live request for it
        self._busy_word = "updating…"

        self.canvas = SketchCanvas()
        self.canvas.stroke_started.connect(self._stroke_started)
        self.canvas.stroke_moved.connect(self._stroke_moved)
        self.previews = StrokePreviews(self, SKETCH)
        self.canvas.changed.connect(self._drawing_changed)
        self.canvas.history_changed.connect(self._update_history_buttons)

        self.live_timer = QTimer(self, singleShot=True, interval=LIVE_PAUSE_MS)
        self.live_timer.timeout.connect(self.generate)

        self.model_view = PixelView()
        self.model_view.setMinimumSize(150, 150)
        self.model_view.setMaximumSize(220, 220)
        self.model_view.setToolTip("Your drawing at the model's resolution: what it sees")
        self.model_caption = muted_label("What the model sees")
        self.model_caption.setMaximumWidth(220)
        self.view = CandidateStrip(placeholder="Draw on the canvas: candidates appear here")
        self.view.setMinimumSize(200, 110)
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
        self.use_button.setToolTip("Put the chosen candidate on the canvas, to draw over it "
                                   "or to fill part of it")
        actions = QHBoxLayout()
        actions.addWidget(muted_label("The framed one:"))
        for button in (self.save_button, self.copy_button, self.use_button, self.latent_button,
                       self.outlier_button):
            button.setEnabled(False)
            actions.addWidget(button)
        actions.addStretch()

        controls = QWidget()
        controls.setFixedWidth(262)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self._build_modes())
        column.addWidget(self.fill_note)
        column.addWidget(self._build_tools())
        self._build_method_choice()
        column.addWidget(self._build_generation())
        # A wrapped label inside a QFormLayout gets too little height and is clipped;
        # in the column it gets what it needs.
        column.addWidget(self.method_label)
        column.addStretch()

        seen = QVBoxLayout()
        seen.addWidget(self.model_view)
        seen.addWidget(self.model_caption)
        seen.addStretch()
        history = self._build_history()
        history.setMaximumWidth(220)
        seen.addWidget(history)
        top = QHBoxLayout()
        top.addWidget(self.canvas, 1)
        top.addLayout(seen)
        right = QVBoxLayout()
        right.addLayout(top, 5)
        right.addWidget(self.view, 2)  # the candidates, side by side under the drawing
        right.addLayout(actions)
        right.addWidget(self.caption)
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addLayout(right, 1)
        self._refresh_model_view()

    def accepts(self, capabilities: list[str]) -> bool:
        # The rule ops.sketch.sketch_method follows too (torch-free, so asked at once).
        return sketch_route(capabilities) is not None

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
        row = QHBoxLayout()
        row.addWidget(self.pen_button)
        row.addWidget(self.eraser_button)
        row.addStretch()
        form.addRow(row)
        self.inks = QButtonGroup(box)
        self.ink_row = QHBoxLayout()
        self.ink_row.setSpacing(2)
        self.ink_row.addStretch()  # the swatches go before it
        form.addRow(self.ink_row)
        self._set_inks(GREY_INKS)
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
        self.clear_button = QToolButton(text="Clear", clicked=self._clear)
        load = QToolButton(text="Load…", clicked=self.load_dialog)
        load.setToolTip("Start from an image file (or drop one on the panel)")
        row = QHBoxLayout()
        for button in (self.undo_button, self.redo_button, self.clear_button, load):
            row.addWidget(button)
        form.addRow(row)
        self.picture_button = QPushButton("Sketch from a picture…",
                                          clicked=self.picture_dialog)
        self.picture_button.setToolTip("Open any picture and draw its lines on the canvas, "
                                       "light on dark, to edit and generate from")
        form.addRow(self.picture_button)
        self._update_history_buttons()
        return box

    def _build_generation(self) -> QGroupBox:
        box = QGroupBox("Generation")
        form = QFormLayout(box)
        self._generation_form = form
        form.addRow(self.method_row, self.method_box)  # built by _build_method_choice
        self.strength = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=50)
        self.strength_label = QLabel("0.50")
        self.strength.valueChanged.connect(
            lambda v: self.strength_label.setText(f"{v / 100:.2f}"))
        self.strength.setToolTip("How far the images may stray from your lines: 0 keeps the "
                                 "drawing, 1 ignores it")
        row = QHBoxLayout()
        row.addWidget(self.strength, 1)
        row.addWidget(self.strength_label)
        self.strength_row = QLabel("Strength")
        # The form's labels keep one width whichever of Strength and Sketch guidance shows,
        # so the fields do not jump when the method changes.
        self.strength_row.setMinimumWidth(self.sketch_guidance_row.sizeHint().width())
        form.addRow(self.strength_row, row)
        form.addRow(self.sketch_guidance_row, self.sketch_guidance)
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
        for widget in (self.strength, self.steps, self.count, self.seed, self.guidance,
                       self.sketch_guidance):
            widget.valueChanged.connect(self._settings_changed)
        self.label.currentTextChanged.connect(self._settings_changed)
        return box

    def _set_inks(self, inks: tuple[tuple[str, tuple[int, int, int]], ...]) -> None:
        """The ink swatches: white and black for a grey model, a palette for a colour one.
        The ink in use stays if the new set has it, else white."""
        names = [name for name, _ in inks]
        if [b.objectName() for b in self.inks.buttons()] == names:
            return
        current = self.inks.checkedButton()
        keep = current.objectName() if current and current.objectName() in names else "White"
        for button in self.inks.buttons():
            self.inks.removeButton(button)
            button.deleteLater()
        colour = len(inks) > len(GREY_INKS)
        for i, (name, rgb) in enumerate(inks):
            button = QToolButton(checkable=True, objectName=name)
            button.setFixedSize(SWATCH + 2, SWATCH + 2)
            button.setIcon(swatch_icon(rgb))
            button.setIconSize(QSize(SWATCH - 4, SWATCH - 4))
            button.setToolTip(ink_tip(name, colour))
            button.toggled.connect(lambda on, rgb=rgb: on and self._use_ink(rgb))
            button.setEnabled(self.mode() != "fill")
            self.inks.addButton(button)
            self.ink_row.insertWidget(i, button)
        self.inks.buttons()[names.index(keep)].setChecked(True)

    def ink_names(self) -> list[str]:
        return [b.objectName() for b in self.inks.buttons()]

    def choose_ink(self, name: str) -> None:
        """Pick an ink by its name (as a click on its swatch does)."""
        for button in self.inks.buttons():
            if button.objectName() == name:
                button.setChecked(True)
                return
        raise ValueError(f"no ink {name!r} here (the inks: {', '.join(self.ink_names())})")

    def _use_ink(self, rgb: tuple[int, int, int]) -> None:
        self.canvas.set_ink_colour(rgb)
        self.pen_button.setChecked(True)  # picking an ink means drawing with it

    # --- model ------------------------------------------------------------------------------
    def model_changed(self, info) -> None:
        self.facts = None
        self._facts_of.clear()
        self._entries = []
        self.images, self.request = None, None
        self.history.clear()  # another model's results: Save would record the wrong model
        self._token += 1  # whatever was running belongs to the old model
        self.previews.supersede()
        self.previews.shown_result()
        self.view.set_busy("")
        self.view.clear()
        self.caption.clear()
        self._update_actions()
        self.generate_button.setEnabled(False)
        self.fill_button.setEnabled(False)
        self.method_label.setText(f"{info.name}: loading…")
        self.engine.submit(SKETCH_FACTS, checkpoint=info.path, key="sketch-model",
                           label=f"loading {info.name}",
                           on_result=self.for_model(lambda facts, _s: self._facts_read(info,
                                                                                      facts)),
                           on_error=self.for_model(self._on_load_failed))
        self._offer_methods()  # a sketch model of its dataset, when the scan found one

    def _on_load_failed(self, message: str) -> None:
        self.method_label.setText(f"{self.info.name} could not be loaded, so there is nothing "
                                  "to draw with: choose another model.")
        self.show_error(message)

    def _use_facts(self, facts: dict[str, Any]) -> None:
        """The facts of the model the panel now runs (sketch_method_choice._facts_ready)."""
        self.facts = facts
        size = facts["shape"][1]
        self.canvas.set_model_size(size)
        colour = facts["shape"][0] == 3
        self.canvas.set_colour(colour)
        self._set_inks(COLOUR_INKS if colour else GREY_INKS)
        self._refresh_model_view()
        self.model_caption.setText(f"What the model sees ({size}×{size})")
        self._steps = {"sketch": facts["steps"][0],
                       "fill": facts["fill_steps"][0] if facts["fill_steps"] else 1}
        chosen = self.label.currentText()
        self.label.blockSignals(True)
        self.label.clear()
        self.label.addItems(facts["classes"])
        if chosen in facts["classes"]:
            self.label.setCurrentText(chosen)  # another method of the same dataset: kept
        self.label.blockSignals(False)
        has_classes = bool(facts["classes"])
        for widget in (self.label, self.label_row, self.guidance, self.guidance_row):
            widget.setVisible(has_classes)
        self.guidance.setEnabled(self.label.currentText() not in ("", "any"))
        self._offer_modes()
        self.generate_button.setEnabled(True)
        if not self.canvas.is_empty():
            self._schedule_live()

    # --- drawing ----------------------------------------------------------------------------
    def _update_history_buttons(self) -> None:
        self.undo_button.setEnabled(self.canvas.can_undo())
        self.redo_button.setEnabled(self.canvas.can_redo())

    def _hole(self) -> np.ndarray:
        return self.canvas.mask_array() > HOLE_LEVEL

    def _refresh_model_view(self) -> None:
        pixels = self.canvas.image_array()
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if self.mode() != "fill":
            self.model_view.set_image(pixels)
            return
        rgb = np.repeat(pixels, 3 // pixels.shape[2], axis=2).astype(np.float32)
        hole = self._hole()
        rgb[hole] = rgb[hole] * (1 - MASK_OPACITY) + np.array(MASK_TINT) * MASK_OPACITY
        self.model_view.set_image(np.round(rgb).astype(np.uint8))

    def _stroke_started(self) -> None:
        self.live_timer.stop()  # the user is drawing again: wait for the next pause
        if self._job is not None and self.previews.steps() is not None:
            # The candidates on their way are of the drawing before this stroke, and the
            # stroke's previews need the engine: drop them quietly (no "Cancelled").
            self._token += 1
            self.engine.cancel(self._job)
            self._job = None
            self.view.set_busy("")

    def _stroke_moved(self) -> None:
        self._refresh_model_view()
        self.previews.moved()

    def _drawing_changed(self) -> None:
        self._refresh_model_view()
        if not self._quiet:
            self._schedule_live()

    def _settings_changed(self, *_args) -> None:
        self._schedule_live()

    def _schedule_live(self) -> None:
        if self.live.isChecked() and self.facts is not None:
            self.live_timer.start()

    def _clear(self) -> None:
        if self.mode() == "fill":
            self.canvas.clear_mask()
        else:
            self.canvas.clear()

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Start from an image", "", IMAGE_FILTER)
        if path:
            self.load_file(path)

    def load_file(self, path: str) -> None:
        self.engine.submit(CANVAS_PIXELS, path, self.canvas.colour(),
                           label=f"opening {Path(path).name}",
                           on_result=lambda pixels, _s: self.canvas.load_image(pixels),
                           on_error=self.show_error)

    def files_dropped(self, paths: list[str]) -> None:
        self.load_file(paths[0])

    def picture_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Sketch from a picture", "", IMAGE_FILTER)
        if path:
            self.sketch_picture(path)

    def sketch_picture(self, path: str, style: str = "lines") -> None:
        """The lines of any picture, found at the model's resolution (as its training
        drawings were), onto the canvas as a drawing to edit; a bad file: one line, and the
        canvas is left as it was."""
        if self.mode() == "fill":
            self.set_mode("sketch")  # a drawing, not a picture to fill
        self.engine.submit(PICTURE_SKETCH, path, self.canvas.canvas_size(),
                           self.canvas.model_size(), style,
                           label=f"sketching {Path(path).name}",
                           on_result=lambda pixels, _s: self.canvas.load_image(pixels),
                           on_error=self.show_error)

    # --- generating -------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"steps": self.steps.value()}
        if self.facts and self.facts["classes"] and self.label.currentText() != "any":
            opts["class"] = self.label.currentText()
            opts["guidance"] = self.guidance.value()
        if self.mode() != "fill":
            opts.update(self.method_options())
        return opts

    def generate(self) -> None:
        self.live_timer.stop()
        if self.info is None or self.facts is None:
            return
        self.previews.supersede()
        fill = self.mode() == "fill"
        hole = self._hole() if fill else None
        if fill and not hole.any():
            self.caption.setText("Paint over the part of the picture the model should fill "
                                 "first (the pen paints the region in fill mode)")
            return
        if not fill and self.canvas.is_empty():
            self.caption.setText("Draw something first: an empty canvas gives the model "
                                 "nothing to follow")
            return
        # Sketch mode runs the chosen model (a sketch model of the dataset, perhaps); Fill
        # the selected one. A sketch model never noises the drawing: no strength.
        target = self.info if fill else self.target() or self.info
        strength = self.strength.value() / 100
        request = {"mode": self.mode(), "seed": self.seed.value(), "n": self.count.value(),
                   "strength": None if fill or self.facts["method"] == "sketch" else strength,
                   "options": self.options(), "model": target.name}
        self.settings.setValue("sketch-seed", request["seed"])
        picture = self.canvas.image_array()
        if fill:
            job, args, what = FILL, (picture, hole), "fillings of the painted region"
        else:
            job, args, what = SKETCH, (picture,), "candidates from the sketch"
        self._started = time.monotonic()
        self._token += 1
        token = self._token
        self.caption.setText("generating…")
        self._busy_word = "updating…" if self._strip_shown() else "generating…"
        self.view.set_busy(self._busy_word, wash=self._strip_shown())
        # One key: a new request cancels the one still running (latest wins).
        self._job = self.engine.submit(
            job, *args, request["n"], request["seed"],
            *(() if fill else (strength,)), request["options"],
            checkpoint=target.path, key="sketch", label=f"{request['n']} {what}",
            on_result=self.for_model(lambda images, summary: self._show(images, request,
                                                                        summary)),
            on_progress=self.for_model(self._progress),
            on_preview=self.for_model(self._show_preview),
            on_error=self.for_model(self._failed),
            on_done=self.for_model(lambda cancelled: self._ended(token, cancelled)))

    def _progress(self, step: int, total: int | None, _message: str) -> None:
        if total:
            self.view.set_busy(f"{self._busy_word} {round(100 * step / total)}%",
                               wash=self._strip_shown())

    def _show_preview(self, images: np.ndarray) -> None:
        # Only while there is nothing yet: earlier candidates stay (washed out) until the
        # new ones are done, so the framed one is always what Save acts on.
        if not self._strip_shown():
            self.view.show_candidates(images)

    def _strip_shown(self) -> bool:
        """Whether the strip shows candidates: a result, or quick previews of a stroke."""
        return self.images is not None or self.previews.showing

    def _failed(self, message: str) -> None:
        self.view.set_busy("")
        self.caption.clear()
        self.show_error(message)

    def _ended(self, token: int, cancelled: bool) -> None:
        if token != self._token:
            return  # superseded by a newer request, still running
        self.view.set_busy("")
        if cancelled:
            if self.images is None:
                self.view.clear()
            elif self.previews.showing:  # back to the last result from a stroke's previews
                self._show_result_strip()
            self.previews.shown_result()
            self.caption.setText("Cancelled: the candidates shown are the earlier ones"
                                 if self.images is not None else "Cancelled")

    def _show_result_strip(self) -> None:
        """The last result's candidates in the strip, the chosen one framed."""
        from genplay.core.images import to_uint8_hwc

        noun = "filling" if self.request["mode"] == "fill" else "candidate"
        tips = [f"{noun} {i + 1} · seed {self.request['seed']}"
                for i in range(len(self.images))]
        self.view.show_candidates(to_uint8_hwc(self.images), tips)
        self.view.set_selected(self.selected)
        self.previews.shown_result()

    def _show(self, images: np.ndarray, request: dict[str, Any], summary: dict) -> None:
        self.images, self.request = images, {**request, "method": summary["method"]}
        self.selected = min(self.selected, len(images) - 1)
        n = len(images)
        fill = request["mode"] == "fill"
        noun = "filling" if fill else "candidate"
        self._show_result_strip()
        self.view.set_busy("")
        seconds = time.monotonic() - self._started
        how = result_terms(request, self.info.name if self.info else "")
        self.caption.setText(
            f"{n} {noun}{'s' if n != 1 else ''} in {seconds:.1f} s · {how} · "
            f"seed {request['seed']} — click one "
            "to choose it, right-click for more")
        self._update_actions()
        self._remember(images, self.request)
