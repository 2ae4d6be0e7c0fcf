"""An image view that scales its image to the space it has, and knows its grid tiles.

Model images are 28x28, so a view shows them many times larger. By default the image is
scaled smoothly to fill the view (any fractional zoom); "crisp pixels" (the View menu, one
setting for every view) shows each model pixel as a sharp square instead. Either way the
view maps the mouse to a tile of the grid it shows, exactly at any zoom, so panels can
offer hover text, click-to-enlarge and a context menu per sample.
"""

from __future__ import annotations

import math
import weakref

import numpy as np
import shiboken6
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

_views: weakref.WeakSet[PixelView] = weakref.WeakSet()
_crisp = False


def crisp_pixels() -> bool:
    """Whether every PixelView shows model pixels as sharp squares (else smooth scaling)."""
    return _crisp


def set_crisp_pixels(crisp: bool) -> None:
    """Switches every PixelView, those open and those made later, to crisp or smooth."""
    global _crisp
    _crisp = bool(crisp)
    for view in list(_views):
        if shiboken6.isValid(view):  # a closed window's views may be gone on the Qt side
            view.invalidate_scaled()


def best_columns(count: int, tile_h: int, tile_w: int, width: float, height: float,
                 padding: int, slack: float = 0.0) -> int:
    """How many tiles per row show `count` tiles (with `padding` around each) largest in
    a width x height area. Layouts within `slack` (a fraction) of the largest count as
    large, and the widest of those wins: a strip reads across."""
    def scale(cols: int) -> float:
        rows = -(-count // cols)
        return min(width / (cols * (tile_w + padding) + padding),
                   height / (rows * (tile_h + padding) + padding))

    best = max(scale(cols) for cols in range(1, count + 1))
    return max(cols for cols in range(1, count + 1) if scale(cols) >= best * (1 - slack) - 1e-12)


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
        self.max_zoom = 32.0  # image pixels are never drawn larger than this many screen pixels
        self._scaled: tuple[tuple, QImage] | None = None  # (key, the image drawn 1:1)
        self._empty_widget: QWidget | None = None
        _views.add(self)
        self.setMouseTracking(True)
        self.setMinimumSize(64, 64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # --- content ---------------------------------------------------------------------------
    def set_image(self, pixels: np.ndarray | None) -> None:
        self._pixels = pixels
        self._image = None if pixels is None else to_qimage(pixels)
        if self._empty_widget is not None:
            self._empty_widget.setVisible(pixels is None)
        self.invalidate_scaled()

    def set_empty_widget(self, widget: QWidget | None) -> None:
        """A widget shown in the middle of the view, in place of the placeholder text, while
        the view has no image (e.g. a welcome); None goes back to the text."""
        if self._empty_widget is not None:
            self._empty_widget.hide()
            self._empty_widget.setParent(None)
        self._empty_widget = widget
        if widget is not None:
            widget.setParent(self)
            self._place_empty_widget()
            widget.setVisible(self._image is None)
        self.update()

    def _place_empty_widget(self) -> None:
        widget = self._empty_widget
        margin = 12
        room = self.rect().adjusted(margin, margin, -margin, -margin)
        width = min(widget.sizeHint().width(), room.width())
        height = min(max(widget.heightForWidth(width), widget.sizeHint().height()),
                     room.height())
        widget.setGeometry(room.x() + (room.width() - width) // 2,
                           room.y() + (room.height() - height) // 2, width, height)

    def invalidate_scaled(self) -> None:
        """Drops the scaled copy (new image, new mode) and repaints."""
        self._scaled = None
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
    def zoom(self) -> float:
        """Screen pixels per image pixel: the largest that fits the widget (at most
        max_zoom), rounded so the image covers a whole number of device pixels."""
        if self._image is None:
            return 1.0
        return self.image_rect().width() / self._image.width()

    def _device_size(self) -> tuple[int, int]:
        """The image's size on screen, in device pixels, keeping its aspect ratio."""
        dpr = self.devicePixelRatioF()
        iw, ih = self._image.width(), self._image.height()
        fit = min(self.width() * dpr / iw, self.height() * dpr / ih, self.max_zoom * dpr)
        fit = max(fit, 1e-3)
        return max(1, math.floor(iw * fit + 1e-6)), max(1, math.floor(ih * fit + 1e-6))

    def image_rect(self) -> QRectF:
        if self._image is None:
            return QRectF()
        dpr = self.devicePixelRatioF()
        dw, dh = self._device_size()
        # The top-left corner on a device pixel: the scaled copy is drawn 1:1 there.
        x = math.floor((self.width() * dpr - dw) / 2) / dpr
        y = math.floor((self.height() * dpr - dh) / 2) / dpr
        return QRectF(x, y, dw / dpr, dh / dpr)

    def _scaled_image(self) -> QImage:
        """The image at its on-screen size: smooth (bilinear) scaling, or crisp pixels (each
        pixel enlarged by a whole number without smoothing first, so only the edges of the
        pixels are blended and every pixel gets the same size)."""
        dw, dh = self._device_size()
        key = (dw, dh, _crisp)
        if self._scaled is not None and self._scaled[0] == key:
            return self._scaled[1]
        image, smooth = self._image, Qt.TransformationMode.SmoothTransformation
        keep = Qt.AspectRatioMode.IgnoreAspectRatio
        if _crisp:
            whole = max(1, min(dw // image.width(), dh // image.height()))
            if whole > 1:
                image = image.scaled(image.width() * whole, image.height() * whole, keep,
                                     Qt.TransformationMode.FastTransformation)
        if (image.width(), image.height()) != (dw, dh):
            image = image.scaled(dw, dh, keep, smooth)
        image.setDevicePixelRatio(self.devicePixelRatioF())
        self._scaled = (key, image)
        return image

    def tile_at(self, pos: QPointF) -> int | None:
        if self._image is None or self._tile is None:
            return None
        rect = self.image_rect()
        if not rect.contains(pos):
            return None
        # image pixel under the mouse; across and down may differ by a fraction of a pixel
        px = (pos.x() - rect.x()) * self._image.width() / rect.width()
        py = (pos.y() - rect.y()) * self._image.height() / rect.height()
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
            if self._empty_widget is None:
                draw_placeholder(painter, self, self.placeholder)
            return
        rect = self.image_rect()
        painter.drawImage(rect.topLeft(), self._scaled_image())
        painter.setPen(QColor(128, 128, 128, 90))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))

    def resizeEvent(self, event) -> None:
        if self._empty_widget is not None:
            self._place_empty_widget()
        super().resizeEvent(event)

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
