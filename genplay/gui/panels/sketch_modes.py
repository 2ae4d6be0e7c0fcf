"""The Sketch panel's two modes: follow a sketch, or fill a painted region of a picture.

Fill is offered only where the model can inpaint, decided as ``genplay inpaint`` decides
(``ops.sketch.inpaint_method``); elsewhere a one-line note says why it is not. Each mode
keeps its own step count, and the canvas pen paints the mask in Fill mode.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QSizePolicy, QToolButton

from genplay.gui.widgets.labels import muted_label


class SketchModes:
    """Mixin for SketchPanel: needs facts, canvas, steps, strength, strength_label, ink,
    clear_button, view, method_label, caption, _steps, _refresh_model_view,
    _show_method_controls and target()."""

    def _build_modes(self) -> QHBoxLayout:
        self.sketch_button = QToolButton(text="Sketch → images", checkable=True, checked=True)
        self.sketch_button.setToolTip("Draw, and get images that follow your lines")
        self.fill_button = QToolButton(text="Fill a region", checkable=True, enabled=False)
        self.fill_button.setToolTip("Paint over part of the picture on the canvas; the model "
                                    "fills it and keeps the rest (inpainting)")
        modes = QButtonGroup(self)
        for button in (self.sketch_button, self.fill_button):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            modes.addButton(button)
        self.fill_button.toggled.connect(self._mode_toggled)
        self.fill_note = muted_label()  # why Fill is not offered, when it is not
        self.fill_note.hide()
        row = QHBoxLayout()
        row.addWidget(self.sketch_button, 1)
        row.addWidget(self.fill_button, 1)
        return row

    def _offer_modes(self) -> None:
        """Fill where the model can, else a note why not (and back to sketching)."""
        can_fill = self.facts["fill"] is not None
        self.fill_button.setEnabled(can_fill)
        self.fill_note.setVisible(not can_fill)
        self.fill_note.setText("" if can_fill else f"{self.info.name} cannot fill a region: "
                                                   "that needs a diffusion model.")
        if not can_fill and self.fill_button.isChecked():
            self.sketch_button.setChecked(True)  # see _mode_toggled
        else:
            self._apply_mode()

    def mode(self) -> str:
        return "fill" if self.fill_button.isChecked() else "sketch"

    def set_mode(self, mode: str) -> None:
        """"sketch" or "fill" (the latter only where the model can fill)."""
        (self.fill_button if mode == "fill" else self.sketch_button).setChecked(True)

    def _mode_toggled(self, _fill: bool) -> None:
        self._steps[self._other_mode()] = self.steps.value()
        self._apply_mode()
        if self.mode() == "fill" and self.facts is not None:
            self.caption.setText("Paint over the part to fill; the rest of the picture is kept. "
                                 "Load… a picture, or use Draw on it with a candidate.")
        self._schedule_live()

    def _other_mode(self) -> str:
        return "sketch" if self.mode() == "fill" else "fill"

    def _apply_mode(self) -> None:
        """Controls, canvas and texts for the current mode and model."""
        fill = self.mode() == "fill"
        self.canvas.set_mask_mode(fill)
        for button in self.inks.buttons():
            button.setEnabled(not fill)
        for widget in (self.strength, self.strength_label):
            widget.setEnabled(not fill)
        self.clear_button.setToolTip("Clear the painted region" if fill else "Clear the drawing")
        self.model_view.setToolTip(
            "The picture at the model's resolution; tinted: the pixels it will fill" if fill
            else "Your drawing at the model's resolution: what it sees")
        self.view.placeholder = ("Paint over part of the picture: fillings appear here" if fill
                                 else "Draw on the canvas: candidates appear here")
        self.view.update()
        if self.facts is not None:
            self._set_steps(fill)
            self.method_label.setText(self._method_text(fill))
        self._show_method_controls()
        self._refresh_model_view()

    def _set_steps(self, fill: bool) -> None:
        most = self.facts["fill_steps"][1] if fill else self.facts["steps"][1]
        self.steps.blockSignals(True)
        self.steps.setMaximum(most)
        self.steps.setValue(self._steps["fill" if fill else "sketch"])
        self.steps.blockSignals(False)
        if fill:
            self.steps.setToolTip("Denoising steps over the painted region")
        elif self.facts["method"] == "sdedit":
            self.steps.setToolTip("Steps of a whole denoising schedule; strength 0.5 runs half")
        elif self.facts["method"] == "sketch":
            self.steps.setToolTip("Denoising steps, from noise to the image your lines ask for")
        elif self.facts["method"] == "langevin":
            self.steps.setToolTip("Langevin steps from your drawing mixed with noise")
        else:
            self.steps.setToolTip("Gradient steps fitting each candidate's latent to the drawing")

    def _method_text(self, fill: bool) -> str:
        if fill:
            return ("Inpainting: the painted region is denoised from noise while the rest of "
                    "the picture is held as it is.")
        if self.facts["method"] == "sdedit":
            return "SDEdit: your drawing is noised to the strength's level, then denoised."
        if self.facts["method"] == "sketch":
            name = self.target().name if self.target() is not None else ""
            return (f"Sketch model {name}: trained on drawings of its images, it makes what "
                    "your lines show; sketch guidance says how closely to follow them.")
        if self.facts["method"] == "langevin":
            return ("Langevin dynamics: your drawing, mixed with as much noise as the "
                    "strength says, drifts towards images the energy model finds likely.")
        return ("Latent fitting: each candidate's latent is moved until its image matches "
                "your drawing, as far as the strength allows.")
