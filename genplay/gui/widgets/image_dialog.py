"""A dialog that shows one picture large: zoom in and out, fit, 1:1, smooth or crisp
pixels, Save… and Copy. Any panel can open one for the image under the mouse.

Crisp pixels (the default) draw each image pixel as a block, which is what a 28x28
sample really is; in that mode Fit picks the largest whole zoom, so all blocks are the
same size. Smooth scaling interpolates, which reads better for photos and large zooms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeySequence, QPainter, QPalette, QShortcut, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from genplay.gui.widgets.pixel_view import copy_image, crisp_pixels, to_qimage

MIN_ZOOM, MAX_ZOOM = 0.125, 64.0


class _Canvas(QWidget):
    """The picture at the dialog's zoom; the scroll area around it pans."""

    def __init__(self, dialog: ImageDialog) -> None:
        super().__init__()
        self.dialog = dialog

    def sizeHint(self) -> QSize:
        image = self.dialog.image
        z = self.dialog.zoom
        return QSize(max(1, round(image.width() * z)), max(1, round(image.height() * z)))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                              self.dialog.smooth.isChecked())
        painter.drawImage(self.rect(), self.dialog.image)


class _Scroll(QScrollArea):
    """Ctrl+wheel zooms; the plain wheel scrolls."""

    def __init__(self, dialog: ImageDialog) -> None:
        super().__init__()
        self.dialog = dialog

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            (self.dialog.zoom_in if event.angleDelta().y() > 0 else self.dialog.zoom_out)()
            event.accept()
            return
        super().wheelEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.dialog.fitting:
            self.dialog.fit()


class ImageDialog(QDialog):
    """pixels: uint8 (H, W[, C]). save(path) writes the file (the panel's own Save, e.g.
    with a record and a sidecar; False if it failed); without it Save… writes a PNG with
    ``metadata`` as its text chunks."""

    def __init__(self, parent: QWidget | None, pixels: np.ndarray, title: str, *,
                 file_name: str = "image.png", metadata: dict | None = None,
                 save: Callable[[Path], object] | None = None, caption: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.pixels = pixels
        self.image = to_qimage(pixels)
        self.file_name = file_name
        self.metadata = metadata
        self._save = save
        self.zoom = 1.0
        self.fitting = True

        def tool(text: str, tip: str, slot) -> QToolButton:
            button = QToolButton(text=text, toolTip=tip, autoRaise=True)
            button.clicked.connect(slot)
            return button

        self.zoom_out_button = tool("−", "Zoom out (Ctrl+-, Ctrl+wheel)", self.zoom_out)
        self.zoom_in_button = tool("+", "Zoom in (Ctrl++, Ctrl+wheel)", self.zoom_in)
        self.fit_button = tool("Fit", "Fit the window (Ctrl+0)", self.fit)
        self.actual_button = tool("1:1", "One image pixel per screen pixel (Ctrl+1)",
                                  self.actual_size)
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(48)
        self.smooth = QCheckBox("Smooth", toolTip="Smooth scaling; off: crisp pixel blocks")
        self.smooth.setChecked(not crisp_pixels())  # as the app's views (View menu) start
        self.smooth.toggled.connect(self._smooth_toggled)
        self.copy_button = QPushButton("Copy", clicked=self.copy)
        self.save_button = QPushButton("Save…", clicked=self.save_dialog)
        close = QPushButton("Close", clicked=self.reject)
        for button in (self.copy_button, self.save_button):
            button.setAutoDefault(False)  # Enter closes; it never saves or copies by surprise
        close.setDefault(True)
        bar = QHBoxLayout()
        for w in (self.zoom_out_button, self.zoom_label, self.zoom_in_button, self.fit_button,
                  self.actual_button, self.smooth):
            bar.addWidget(w)
        bar.addStretch()
        for w in (self.copy_button, self.save_button, close):
            bar.addWidget(w)

        self.canvas = _Canvas(self)
        self.scroll = _Scroll(self)
        self.scroll.setWidget(self.canvas)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll.setBackgroundRole(QPalette.ColorRole.Base)
        self.scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.caption = QLabel(caption, wordWrap=True)
        self.caption.setVisible(bool(caption))
        self.status = QLabel()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.status)
        for keys, slot in ((QKeySequence.StandardKey.ZoomIn, self.zoom_in),
                           (QKeySequence.StandardKey.ZoomOut, self.zoom_out),
                           ("Ctrl+0", self.fit), ("Ctrl+1", self.actual_size)):
            QShortcut(QKeySequence(keys), self, slot)
        self.resize(self._first_size())
        self.fit()

    def _first_size(self) -> QSize:
        """Room for the picture at a comfortable size, within most of the screen."""
        screen = self.screen().availableGeometry() if self.screen() else None
        limit = QSize(900, 700) if screen is None else screen.size() * 0.85
        w, h = self.image.width(), self.image.height()
        scale = max(1.0, 480 / max(w, h))  # small images open large
        return QSize(min(limit.width(), max(420, round(w * scale) + 40)),
                     min(limit.height(), max(360, round(h * scale) + 110)))

    # --- zoom ---------------------------------------------------------------------------------
    def set_zoom(self, zoom: float, fitting: bool = False) -> None:
        self.zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        self.fitting = fitting
        self.canvas.resize(self.canvas.sizeHint())
        self.canvas.update()
        self.zoom_label.setText(f"{self.zoom * 100:.0f}%")
        self.zoom_out_button.setEnabled(self.zoom > MIN_ZOOM)
        self.zoom_in_button.setEnabled(self.zoom < MAX_ZOOM)

    def fit(self) -> None:
        """The largest zoom that shows the whole picture (a whole zoom with crisp pixels)."""
        room = self.scroll.viewport().size()
        zoom = min(room.width() / self.image.width(), room.height() / self.image.height())
        if not self.smooth.isChecked() and zoom >= 1:
            zoom = math.floor(zoom)
        self.set_zoom(zoom, fitting=True)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        """Next step up: whole zooms above 1, halvings below (crisp blocks stay even)."""
        z = self.zoom
        self.set_zoom(math.floor(z) + 1 if z >= 1 else min(1.0, 2 ** math.floor(
            math.log2(z) + 1 + 1e-9)))

    def zoom_out(self) -> None:
        z = self.zoom
        self.set_zoom(math.ceil(z) - 1 if z > 1 else 2 ** math.ceil(math.log2(z) - 1 - 1e-9))

    def _smooth_toggled(self) -> None:
        if self.fitting:
            self.fit()
        self.canvas.update()

    # --- save and copy ------------------------------------------------------------------------
    def copy(self) -> None:
        copy_image(self.pixels)
        self.status.setText("Copied to the clipboard")

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save PNG", self.file_name, "PNG (*.png)")
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        """Writes the picture to path (a PNG); says where, or why not."""
        from genplay.core.errors import GenplayError
        from genplay.core.images import save_png

        path = path.with_suffix(".png")
        try:
            if self._save is not None:
                if self._save(path) is False:  # it said why, in its own place
                    self.status.setText(f"Could not save {path.name}")
                    return False
            else:
                save_png(path, self.pixels, self.metadata)
        except (GenplayError, OSError) as exc:
            self.status.setText(f"Could not save {path.name}: {exc}")
            return False
        self.status.setText(f"Saved {path}")
        return True
