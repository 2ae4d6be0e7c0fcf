"""A canvas to sketch on: a rough digit or garment for the grey models, a coloured
shape for the colour ones.

The drawing is kept at ten times the 28x28 model resolution (280x280 RGB, light ink on
black like MNIST) so strokes can be smooth and antialiased, and is area-averaged down to
the model size on request. A grey canvas (the default, for grey models) shows and returns
the drawing's luma; a colour canvas shows and returns its colours, so a colour ink can
tell a colour model what colour a shape should be. Raw mouse points are smoothed (a
moving average, drawn as quadratic curves through midpoints) because hand-drawn mouse
strokes are jagged, and every stroke, clear or load is undoable.

A second layer, the mask, marks what inpainting should fill: in mask mode the pen paints
the mask (shown as a warm wash over the drawing) and the eraser takes it away; the drawing
itself is untouched. Both layers share one undo history.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from PySide6.QtCore import QElapsedTimer, QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

BACKGROUND = 0
FRAME = 1.0  # widget pixels between the widget edge and the image, for the frame
MOVED_INTERVAL_MS = 30  # stroke_moved at most this often, so live previews don't flood
MIN_PEN_WIDTH = 1.0
MASK_TINT = (255, 110, 40)  # the wash over what inpainting will fill
MASK_OPACITY = 0.6


def default_pen_width(canvas_size: int) -> float:
    """22 px at 280: after averaging down to 28x28 strokes are ~2 px wide, as in MNIST."""
    return canvas_size * 22.0 / 280.0


def rgb_pixels(pixels: np.ndarray) -> np.ndarray:
    """Any (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image -> uint8 (H, W, 3)."""
    a = np.asarray(pixels)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or a.size == 0:
        raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got {a.shape}")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(np.nan_to_num(a.astype(np.float64)), 0, 255).round().astype(np.uint8)
    if a.ndim == 3:
        return np.ascontiguousarray(a[:, :, :3])
    return np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))


def luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> (H, W): ITU-R 601 luma, as Pillow's "L" conversion."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert("L"))


def _number(value: object) -> float | None:
    """value as a float, or None for what is not a number (NaN included): setters driven
    by widgets ignore such values rather than raise in an event handler."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def area_average(pixels: np.ndarray, size: int) -> np.ndarray:
    """Square uint8 (N, N) or (N, N, C) -> (size, size[, C]), each output pixel the mean of
    the area it covers.

    Area averaging keeps the mean grey level, so thin strokes fade instead of vanishing
    or aliasing the way point sampling would make them.
    """
    n = pixels.shape[0]
    if size == n:
        return pixels.copy()
    if n % size == 0:
        k = n // size
        means = pixels.reshape(size, k, size, k, *pixels.shape[2:]).mean(axis=(1, 3))
        return np.clip(np.rint(means), 0, 255).astype(np.uint8)
    resized = Image.fromarray(pixels).resize((size, size), Image.Resampling.BOX)
    return np.asarray(resized, dtype=np.uint8).copy()


class SketchCanvas(QWidget):
    """A square drawing, shown letterboxed; strokes, eraser, undo and redo."""

    HISTORY = 100  # undo levels kept; a 280x280 snapshot is 235 KB

    stroke_started = Signal()
    stroke_moved = Signal()  # at most every MOVED_INTERVAL_MS during a stroke
    changed = Signal()  # after a stroke ends, and after undo, redo, clear, load_image
    history_changed = Signal()  # can_undo() or can_redo() may have changed

    def __init__(self, parent: QWidget | None = None, model_size: int = 28,
                 canvas_size: int = 280) -> None:
        super().__init__(parent)
        if int(canvas_size) < 8:
            raise ValueError(f"canvas_size must be at least 8, got {canvas_size}")
        self._canvas_size = int(canvas_size)
        self._model_size = 28
        self.set_model_size(model_size)
        self._image = QImage(self._canvas_size, self._canvas_size,
                             QImage.Format.Format_RGB888)
        self._image.fill(QColor(BACKGROUND, BACKGROUND, BACKGROUND))
        self._colour = False
        self._mask = QImage(self._canvas_size, self._canvas_size,
                            QImage.Format.Format_Grayscale8)
        self._mask.fill(0)
        self._mask_mode = False
        # Undo and redo steps: (layer, the layer's picture before the step).
        self._undo: list[tuple[str, QImage]] = []
        self._redo: list[tuple[str, QImage]] = []
        self._pen_width = default_pen_width(self._canvas_size)
        self._ink = (255, 255, 255)
        self._eraser = False
        self._smoothing = 0.5
        # Stroke in progress (image coordinates): the picture before it, the last smoothed
        # point and the midpoint where the next curve segment starts.
        self._stroke_before: QImage | None = None
        self._stroke_layer = "drawing"
        self._smoothed = QPointF()
        self._segment_start = QPointF()
        self._moved = False
        self._moved_clock = QElapsedTimer()
        self._hover: QPointF | None = None  # widget coordinates, for the pen outline
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # --- settings ---------------------------------------------------------------------------
    def canvas_size(self) -> int:
        return self._canvas_size

    def model_size(self) -> int:
        return self._model_size

    def set_model_size(self, size: int) -> None:
        """The resolution image_array() returns by default; the drawing is kept."""
        if int(size) < 1:
            raise ValueError(f"model size must be positive, got {size}")
        self._model_size = int(size)

    def pen_width(self) -> float:
        return self._pen_width

    def set_pen_width(self, px: float) -> None:
        """Width in canvas-image pixels, clamped to [1, canvas_size]; NaN is ignored."""
        width = _number(px)
        if width is None:
            return
        self._pen_width = min(max(width, MIN_PEN_WIDTH), float(self._canvas_size))
        self.update()

    def ink(self) -> int:
        """The ink's grey level (its luma, for a colour ink)."""
        r, g, b = self._ink
        return round(0.299 * r + 0.587 * g + 0.114 * b)

    def ink_colour(self) -> tuple[int, int, int]:
        return self._ink

    def set_ink(self, value: int) -> None:
        """Grey level strokes paint, 0..255 (255: white ink, as in MNIST)."""
        level = int(min(max(int(value), 0), 255))
        self._ink = (level, level, level)

    def set_ink_colour(self, rgb: tuple[int, int, int]) -> None:
        """The colour strokes paint, (r, g, b) each 0..255; a grey canvas shows its luma."""
        r, g, b = (int(min(max(int(v), 0), 255)) for v in rgb)
        self._ink = (r, g, b)

    def colour(self) -> bool:
        return self._colour

    def set_colour(self, on: bool) -> None:
        """A colour canvas shows and returns the drawing's colours; a grey one its luma.
        The colours drawn are kept either way, so switching back brings them back."""
        self._colour = bool(on)
        self.update()

    def eraser(self) -> bool:
        return self._eraser

    def set_eraser(self, on: bool) -> None:
        """The eraser paints background with the pen's width."""
        self._eraser = bool(on)

    def smoothing(self) -> float:
        return self._smoothing

    def set_smoothing(self, amount: float) -> None:
        """0: draw the mouse path as it comes; 1: heaviest smoothing."""
        value = _number(amount)
        if value is not None:
            self._smoothing = min(max(value, 0.0), 1.0)

    def mask_mode(self) -> bool:
        return self._mask_mode

    def set_mask_mode(self, on: bool) -> None:
        """In mask mode the pen paints the mask and the eraser clears it; the drawing stays."""
        self._end_stroke()
        self._mask_mode = bool(on)
        self.update()

    # --- the drawing ------------------------------------------------------------------------
    def _array(self, image: QImage) -> np.ndarray:
        n = self._canvas_size
        depth = 3 if image.format() == QImage.Format.Format_RGB888 else 1
        line = image.bytesPerLine()
        rows = np.frombuffer(image.constBits(), np.uint8, count=line * n)
        pixels = rows.reshape(n, line)[:, :n * depth].reshape(n, n, depth)
        return pixels.copy() if depth == 3 else pixels[:, :, 0].copy()

    def canvas_array(self) -> np.ndarray:
        """Copy of the full-resolution drawing: uint8 (canvas_size, canvas_size, 3) on a
        colour canvas, (canvas_size, canvas_size) luma on a grey one."""
        rgb = self._array(self._image)
        return rgb if self._colour else luma(rgb)

    def mask_canvas_array(self) -> np.ndarray:
        """uint8 (canvas_size, canvas_size) copy of the mask: 255 where to fill."""
        return self._array(self._mask)

    def mask_array(self, size: int | None = None) -> np.ndarray:
        """The mask area-averaged to size x size (default: the model size), uint8."""
        return self._shrunk(self.mask_canvas_array(), size)

    def has_mask(self) -> bool:
        return bool(self.mask_canvas_array().any())

    def clear_mask(self) -> None:
        """Empty the mask; undoable, but clearing an empty mask records nothing."""
        self._end_stroke()
        before = self._mask.copy()
        self._mask.fill(0)
        self._commit(before, "mask")

    def image_array(self, size: int | None = None) -> np.ndarray:
        """The drawing area-averaged to size x size (default: the model size), uint8, with
        three channels on a colour canvas."""
        return self._shrunk(self.canvas_array(), size)

    def _shrunk(self, layer: np.ndarray, size: int | None) -> np.ndarray:
        size = self._model_size if size is None else int(size)
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        return area_average(layer, size)

    def is_empty(self) -> bool:
        return not self.canvas_array().any()

    def clear(self) -> None:
        """Fill with background; undoable, but clearing an empty canvas records nothing."""
        self._end_stroke()
        before = self._image.copy()
        self._image.fill(QColor(BACKGROUND, BACKGROUND, BACKGROUND))
        self._commit(before)

    def load_image(self, pixels: np.ndarray) -> None:
        """Start from an image (grey or colour), scaled to fit with its aspect kept, centred
        on black."""
        rgb = rgb_pixels(pixels)
        h, w = rgb.shape[:2]
        n = self._canvas_size
        scale = n / max(h, w)
        new_w, new_h = max(1, min(n, round(w * scale))), max(1, min(n, round(h * scale)))
        resized = np.asarray(Image.fromarray(rgb).resize((new_w, new_h),
                                                         Image.Resampling.LANCZOS))
        canvas = np.full((n, n, 3), BACKGROUND, np.uint8)
        top, left = (n - new_h) // 2, (n - new_w) // 2
        canvas[top:top + new_h, left:left + new_w] = resized
        self._end_stroke()
        before = self._image.copy()
        self._image = QImage(canvas.data, n, n, canvas.strides[0],
                             QImage.Format.Format_RGB888).copy()
        self._commit(before)

    # --- history ----------------------------------------------------------------------------
    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> None:
        self._end_stroke()
        if not self._undo:
            return
        layer, picture = self._undo.pop()
        self._redo.append((layer, self._layer(layer)))
        self._set_layer(layer, picture)
        self._after_history_step()

    def redo(self) -> None:
        self._end_stroke()
        if not self._redo:
            return
        layer, picture = self._redo.pop()
        self._undo.append((layer, self._layer(layer)))
        self._set_layer(layer, picture)
        self._after_history_step()

    def _layer(self, layer: str) -> QImage:
        return self._mask if layer == "mask" else self._image

    def _set_layer(self, layer: str, picture: QImage) -> None:
        if layer == "mask":
            self._mask = picture
        else:
            self._image = picture

    def _after_history_step(self) -> None:
        self.update()
        self.changed.emit()
        self.history_changed.emit()

    def _commit(self, before: QImage, layer: str = "drawing") -> None:
        """Record `before` as an undo step if the layer differs from it, and announce it."""
        self.update()
        if self._layer(layer) == before:
            return
        self._undo.append((layer, before))
        if len(self._undo) > self.HISTORY:  # drop the oldest levels
            del self._undo[:len(self._undo) - self.HISTORY]
        self._redo.clear()
        self.changed.emit()
        self.history_changed.emit()

    # --- geometry ---------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the drawing is shown: the largest centred square inside the frame."""
        side = max(1.0, min(self.width(), self.height()) - 2 * FRAME)
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def map_to_image(self, pos: QPointF) -> QPointF:
        """Widget coordinates -> canvas-image coordinates, through the letterbox."""
        rect = self.image_rect()
        scale = self._canvas_size / rect.width()
        return QPointF((pos.x() - rect.x()) * scale, (pos.y() - rect.y()) * scale)

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 160)

    # --- strokes ----------------------------------------------------------------------------
    def _image_point(self, pos: QPointF) -> QPointF | None:
        """The event position on the image, kept within a canvas of it; None if not finite."""
        p = self.map_to_image(pos)
        if not (math.isfinite(p.x()) and math.isfinite(p.y())):
            return None
        n = self._canvas_size
        return QPointF(min(max(p.x(), -n), 2 * n), min(max(p.y(), -n), 2 * n))

    def _paint_colour(self) -> QColor:
        """What the pen paints on the layer of the stroke."""
        if self._stroke_layer == "mask":
            level = 0 if self._eraser else 255
            return QColor(level, level, level)
        if self._eraser:
            return QColor(BACKGROUND, BACKGROUND, BACKGROUND)
        return QColor(*self._ink)

    def _pen(self) -> QPen:
        pen = QPen(self._paint_colour(), self._pen_width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        return pen

    def _paint(self, path: QPainterPath) -> None:
        painter = QPainter(self._layer(self._stroke_layer))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.strokePath(path, self._pen())
        painter.end()
        self.update()

    def _paint_dot(self, centre: QPointF) -> None:
        radius = self._pen_width / 2
        painter = QPainter(self._layer(self._stroke_layer))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._paint_colour())
        painter.drawEllipse(centre, radius, radius)
        painter.end()
        self.update()

    def _begin_stroke(self, point: QPointF) -> None:
        self._stroke_layer = "mask" if self._mask_mode else "drawing"
        self._stroke_before = self._layer(self._stroke_layer).copy()
        self._smoothed = QPointF(point)
        self._segment_start = QPointF(point)
        self._moved = False
        self._moved_clock.invalidate()
        self._paint_dot(point)  # a click is a dot; a drag starts with one
        self.stroke_started.emit()

    def _extend_stroke(self, point: QPointF) -> None:
        """Move the smoothed point towards `point` and draw the curve up to the new midpoint."""
        previous = self._smoothed
        follow = 1.0 - 0.9 * self._smoothing  # share of the way to the pointer per event
        smoothed = previous + (point - previous) * follow
        if (smoothed - previous).manhattanLength() < 0.05:
            return
        path = QPainterPath(self._segment_start)
        if self._smoothing == 0:
            path.lineTo(smoothed)
            self._segment_start = smoothed
        else:
            middle = (previous + smoothed) / 2
            path.quadTo(previous, middle)
            self._segment_start = middle
        self._smoothed = smoothed
        self._moved = True
        self._paint(path)
        if not self._moved_clock.isValid() or self._moved_clock.elapsed() >= MOVED_INTERVAL_MS:
            self._moved_clock.start()
            self.stroke_moved.emit()

    def _end_stroke(self, point: QPointF | None = None) -> None:
        """Finish the curve at the pen-up point (the smoothed point lags) and commit."""
        if self._stroke_before is None:
            return
        if self._moved:
            end = self._smoothed if point is None else point
            path = QPainterPath(self._segment_start)
            path.quadTo(self._smoothed, end)
            self._paint(path)
        before, self._stroke_before = self._stroke_before, None
        self._commit(before, self._stroke_layer)

    # --- events -----------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        self._end_stroke()  # a release we never got (a popup took the mouse)
        point = self._image_point(event.position())
        if point is not None:
            self._begin_stroke(point)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._hover = event.position()
        if self._stroke_before is not None:
            point = self._image_point(event.position())
            if point is not None:
                self._extend_stroke(point)
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._stroke_before is None:
            event.ignore()
            return
        self._end_stroke(self._image_point(event.position()))
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def _history_key(self, event: QKeyEvent) -> str | None:
        """'undo' for Ctrl+Z, 'redo' for Ctrl+Shift+Z and Ctrl+Y, else None."""
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
        if event.key() == Qt.Key.Key_Z and mods == ctrl:
            return "undo"
        if (event.key() == Qt.Key.Key_Z and mods == ctrl | shift) or (
                event.key() == Qt.Key.Key_Y and mods == ctrl):
            return "redo"
        return None

    def event(self, event: QEvent) -> bool:
        # Take Ctrl+Z and friends before a window-wide shortcut (an Edit menu) does.
        if event.type() == QEvent.Type.ShortcutOverride and self._history_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = self._history_key(event)
        if key == "undo":
            self.undo()
        elif key == "redo":
            self.redo()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _mask_overlay(self) -> QImage:
        """The mask as a translucent tint (RGBA), to lay over the drawing."""
        mask = self.mask_canvas_array()
        n = self._canvas_size
        rgba = np.empty((n, n, 4), np.uint8)
        rgba[..., :3] = MASK_TINT
        rgba[..., 3] = (mask * MASK_OPACITY).astype(np.uint8)
        return QImage(rgba.data, n, n, 4 * n, QImage.Format.Format_RGBA8888).copy()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        rect = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(rect, self._image if self._colour else
                          self._image.convertToFormat(QImage.Format.Format_Grayscale8))
        if self._mask_mode:
            painter.drawImage(rect, self._mask_overlay())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))
        if self._hover is not None and rect.contains(self._hover):
            # Two outlines, so the pen size shows on black and on white ink alike.
            radius = max(1.0, self._pen_width / 2 * rect.width() / self._canvas_size)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(0, 0, 0, 160), 1))
            painter.drawEllipse(self._hover, radius + 1, radius + 1)
            painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
            painter.drawEllipse(self._hover, radius, radius)
