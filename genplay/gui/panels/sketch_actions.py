"""The Sketch panel's chosen candidate: choosing it, and what can be done with it.

The candidate strip frames the chosen candidate; Save, Copy, Draw on it and the hand-offs
to the Latent and Outlier panels all act on that one, and on nothing else.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QFileDialog, QMenu


class ChosenCandidate:
    """Mixin for SketchPanel: needs images, request, selected, info, view, caption, the
    action buttons and the send_to_* signals."""

    def select(self, index: int) -> None:
        if self.images is None or not 0 <= index < len(self.images):
            return
        self.selected = index
        self.view.set_selected(index)
        self._note_choice()
        noun = "Filling" if (self.request or {}).get("mode") == "fill" else "Candidate"
        self.caption.setText(f"{noun} {index + 1} chosen (framed): save it, copy it, draw on "
                             "it, or send it to another panel")
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

    def use_as_drawing(self) -> None:
        """The chosen candidate becomes the picture on the canvas (the mask is kept)."""
        if self.images is not None:
            self.canvas.load_image(self.candidate_pixels(self.selected))

    def record(self) -> dict[str, Any]:
        from genplay import __version__

        request = self.request or {}
        selected = self.info.name if self.info else ""
        return {"genplay_version": __version__, "model": request.get("model", selected),
                "mode": request.get("mode", "sketch"), "method": request.get("method"),
                "seed": request.get("seed"), "strength": request.get("strength"),
                "options": request.get("options"), "index": self.selected}

    def current_image(self):
        if self.images is None:
            return None
        return self.candidate_pixels(self.selected), self.record()

    def save_dialog(self) -> None:
        if self.images is None or self.info is None:
            return
        mode = self.request.get("mode", "sketch")
        model = self.request.get("model", self.info.name)
        name = f"{model}-{mode}-seed{self.request['seed']}-{self.selected}.png"
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
            from genplay.gui.widgets.pixel_view import copy_image

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
        if self.images is None:
            return  # a preview is on show: nothing to act on yet
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
