"""An image view that draws pixels crisply at an integer zoom, and knows its grid tiles.

Model images are 28x28: any smoothing or fractional zoom blurs them. This view scales
by a whole number of device pixels (sharp on HiDPI screens too), centres the image,
and maps the mouse to a tile of the grid it shows, so panels can offer hover text,
click-to-enlarge and a context menu per sample.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget


def to_qimage(pixels: np.ndarray) -> QImage:
    """uint8 (H, W), (H, W, 1) or (H, W, 3) -> a QImage that owns a copy of the data."""
    a = np.ascontiguousarray(pixels)
    if a.ndim == 3 and a.shape[2] == 1:
        a = np.ascontiguousarray(a[:, :, 0])
    h, w = a.shape[:2]
    if a.ndim == 2:
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8).copy()
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888).copy()


def copy_image(pixels: np.ndarray) -> None:
    """Puts uint8 pixels on the clipboard as an image."""
    QGuiApplication.clipboard().setImage(to_qimage(pixels))


def draw_placeholder(painter: QPainter, widget: QWidget, text: str, margin: int = 0) -> None:
    """What an empty view says: centred, wrapped, in the placeholder colour."""
    if text:
        painter.setPen(widget.palette().color(QPalette.ColorRole.PlaceholderText))
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        painter.drawText(widget.rect().adjusted(margin, margin, -margin, -margin), flags, text)


class PixelView(QWidget):
    """Shows one uint8 image; optionally a grid of tiles (tile size + padding)."""

    tile_clicked = Signal(int)
    tile_context_menu = Signal(int, QPoint)  # tile index, global position

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None
        self._tile: tuple[int, int, int, int] | None = None  # tile_h, tile_w, padding, count
        self._tooltips: list[str] = []
        self.placeholder = placeholder
        self.max_zoom = 16
        self.setMouseTracking(True)
        self.setMinimumSize(64, 64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # --- content ---------------------------------------------------------------------------
    def set_image(self, pixels: np.ndarray | None) -> None:
        self._pixels = pixels
        self._image = None if pixels is None else to_qimage(pixels)
        self.update()

    def set_grid(self, pixels: np.ndarray, tile_h: int, tile_w: int, padding: int, count: int,
                 tooltips: list[str] | None = None) -> None:
        self._tile = (tile_h, tile_w, padding, count)
        self._tooltips = tooltips or []
        self.set_image(pixels)

    def clear(self) -> None:
        self._tile = None
        self._tooltips = []
        self.set_image(None)

    def pixels(self) -> np.ndarray | None:
        return self._pixels

    # --- geometry ---------------------------------------------------------------------------
    def zoom(self) -> int:
        """Whole device pixels per image pixel that fit the widget."""
        if self._image is None:
            return 1
        dpr = self.devicePixelRatioF()
        fit = min(self.width() * dpr / self._image.width(),
                  self.height() * dpr / self._image.height())
        return max(1, min(self.max_zoom, int(fit)))

    def image_rect(self) -> QRectF:
        if self._image is None:
            return QRectF()
        scale = self.zoom() / self.devicePixelRatioF()
        w, h = self._image.width() * scale, self._image.height() * scale
        # Snap the top-left corner to a device pixel so every image pixel has the same size.
        dpr = self.devicePixelRatioF()
        x = round((self.width() - w) / 2 * dpr) / dpr
        y = round((self.height() - h) / 2 * dpr) / dpr
        return QRectF(x, y, w, h)

    def tile_at(self, pos: QPointF) -> int | None:
        if self._image is None or self._tile is None:
            return None
        rect = self.image_rect()
        if not rect.contains(pos):
            return None
        scale = rect.width() / self._image.width()
        px, py = (pos.x() - rect.x()) / scale, (pos.y() - rect.y()) / scale
        tile_h, tile_w, pad, count = self._tile
        col, row = int((px - pad) // (tile_w + pad)), int((py - pad) // (tile_h + pad))
        cols = max(1, (self._image.width() - pad) // (tile_w + pad))
        inside = (px - pad) % (tile_w + pad) < tile_w and (py - pad) % (tile_h + pad) < tile_h
        index = row * cols + col
        return index if inside and 0 <= col < cols and 0 <= index < count else None

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    # --- events -----------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if self._image is None:
            draw_placeholder(painter, self, self.placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        rect = self.image_rect()
        painter.drawImage(rect, self._image)
        painter.setPen(QColor(128, 128, 128, 90))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.tile_at(event.position())
        if index is not None and index < len(self._tooltips):
            QToolTip.showText(event.globalPosition().toPoint(), self._tooltips[index], self)
        else:
            QToolTip.hideText()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        index = self.tile_at(event.position())
        if index is None:
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self.tile_clicked.emit(index)

    def contextMenuEvent(self, event) -> None:
        index = self.tile_at(QPointF(event.pos()))
        if index is not None:
            self.tile_context_menu.emit(index, event.globalPos())
