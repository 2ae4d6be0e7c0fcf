"""A before/after view for super-resolution: two images of one scene, one divider.

The "before" (the small input) is drawn over the same rectangle as the "after" (the
enlarged result) without smoothing, so a 7x7 input shows as 7x7 blocks: exactly the
information the upscaler had. Both share one zoom and one centre, so whatever is
under the cursor is the same place in both. Fit fills the view. A small result (a
digit) keeps crisp pixels, so the pixels the method invented stay visible as pixels;
a photo-sized one is scaled smoothly, as a photo viewer does (``set_smooth`` chooses
either way; the app's "crisp pixels" setting makes crisp the default for all).

Mouse: drag the divider (or click where it should go); wheel zooms around the
cursor; drag with the middle or right button pans (with the left too, once the
image is larger than the view). Keys: Left/Right move the divider (Shift: faster),
Home/End put it at an edge, +/- zoom, 0 or F fits, 1 shows one image pixel per
screen pixel, Ctrl+arrows pan. A side-by-side mode shows the two in panes of their
own, still zoomed and panned together.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from genplay.gui.widgets.pixel_view import crisp_pixels, draw_placeholder, to_qimage

# Device pixels per image pixel that +/- step through: whole numbers above 1 keep every
# image pixel the same size on screen.
ZOOM_LEVELS = (1 / 16, 1 / 8, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1, 2, 3, 4, 6, 8, 12, 16, 24,
               32, 48, 64)
MAX_FIT_ZOOM = 64  # fitting a tiny image never blows one pixel up beyond this
PHOTO_SIDE = 96  # a result this large on its shorter side is a photo: scaled smoothly
GRAB_PX = 6  # how near the divider (in screen pixels) a press must land to drag it
PANE_GAP = 6  # between the two panes of the side-by-side mode
DIVIDER = "divider"
SIDE_BY_SIDE = "side"


class BeforeAfterView(QWidget):
    """Shows ``before`` (stretched, nearest-neighbour) and ``after`` on one geometry."""

    split_changed = Signal(float)  # the divider's position, 0 (left edge) .. 1 (right edge)
    zoom_changed = Signal(float)  # device pixels per "after" pixel

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._labels = ("Before", "After")
        self._mode = DIVIDER
        self._split = 0.5
        self._zoom: float | None = None  # None: fit the pane
        self._centre = QPointF()  # the "after" image point at the middle of each pane
        self._drag: str | None = None  # "divider" | "pan"
        self._last = QPointF()
        self._scaled: dict[tuple[int, float], QImage] = {}  # resampled copies, per zoom
        self._smooth: bool | None = None  # None: smooth for a photo-sized result
        self._before_crisp = True  # the input keeps its blocks; bicubic or a reference not
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setMinimumSize(120, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Before and after comparison")
        self.setToolTip("Drag the divider (or Left/Right) · wheel or +/- zooms · 0 fits · "
                        "1 shows actual pixels · middle/right drag or Ctrl+arrows pans")

    # --- content ---------------------------------------------------------------------------
    def set_images(self, before: np.ndarray | None, after: np.ndarray | None,
                   labels: tuple[str, str] | None = None, before_crisp: bool = True) -> None:
        """uint8 (H, W[, C]) images; ``before`` is shown stretched to ``after``'s size, with
        crisp pixels unless before_crisp is False (then as smooth as the result). The zoom
        and position are kept when the result keeps its size (switching between
        candidates), and reset to fit otherwise."""
        old = self._after.size() if self._after is not None else None
        self._before = None if before is None else to_qimage(before)
        self._before_crisp = before_crisp
        self._after = None if after is None else to_qimage(after)
        self._scaled.clear()
        if labels is not None:
            self._labels = labels
        if self._after is None or self._after.size() != old:
            self._zoom = None
            self._centre = self._image_centre()
            self.zoom_changed.emit(self.zoom())
        self.update()

    def set_before(self, before: np.ndarray | None, label: str | None = None,
                   crisp: bool = True) -> None:
        """Changes only the left image (e.g. input -> bicubic -> reference)."""
        self._before = None if before is None else to_qimage(before)
        self._before_crisp = crisp
        self._scaled = {k: v for k, v in self._scaled.items() if k[0] != 0}
        if label is not None:
            self._labels = (label, self._labels[1])
        self.update()

    def labels(self) -> tuple[str, str]:
        return self._labels

    def clear(self) -> None:
        self.set_images(None, None)

    def smooth(self) -> bool:
        """Whether the result is scaled smoothly (else each pixel is a crisp square)."""
        if self._smooth is not None:
            return self._smooth
        if self._after is None or crisp_pixels():
            return False
        return min(self._after.width(), self._after.height()) >= PHOTO_SIDE

    def set_smooth(self, smooth: bool | None) -> None:
        """True: smooth scaling; False: crisp pixels; None: by the result's size."""
        self._smooth = smooth
        self._scaled.clear()
        self.update()

    def image_size(self) -> QSize:
        """Size of the "after" image, which sets the geometry of both."""
        return self._after.size() if self._after is not None else QSize()

    # --- mode and divider -------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in (DIVIDER, SIDE_BY_SIDE):
            raise ValueError(f"unknown mode {mode!r}")
        if mode != self._mode:
            self._mode = mode
            self._pane_resized()  # the panes changed size
            self.update()

    def mode(self) -> str:
        return self._mode

    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        if fraction != self._split:
            self._split = fraction
            self.split_changed.emit(fraction)
            self.update()

    def divider_x(self) -> float:
        """Where the divider is drawn, in widget coordinates: the split fraction of the part
        of the image that is visible (so it stays reachable when zoomed in)."""
        left, right = self._visible_span()
        return left + self._split * (right - left)

    def _visible_span(self) -> tuple[float, float]:
        pane = self.panes()[0]
        rect = self.image_rect(0)
        if rect.isEmpty():
            return pane.left(), pane.right()
        return max(rect.left(), pane.left()), min(rect.right(), pane.right())

    # --- geometry ---------------------------------------------------------------------------
    def panes(self) -> list[QRectF]:
        """The one (divider mode) or two (side by side) rectangles images are drawn in."""
        full = QRectF(self.rect())
        if self._mode == DIVIDER:
            return [full]
        half = (full.width() - PANE_GAP) / 2
        return [QRectF(full.left(), full.top(), half, full.height()),
                QRectF(full.right() - half, full.top(), half, full.height())]

    def fit_zoom(self) -> float:
        """The zoom at which the result fills the pane (fractional: no band of empty space
        is kept to make every pixel a whole number of screen pixels)."""
        if self._after is None:
            return 1.0
        pane = self.panes()[0]
        dpr = self.devicePixelRatioF()
        fit = min(pane.width() * dpr / self._after.width(),
                  pane.height() * dpr / self._after.height())
        return float(min(MAX_FIT_ZOOM, fit))

    def zoom(self) -> float:
        """Device pixels per image pixel of the "after" image."""
        return self.fit_zoom() if self._zoom is None else self._zoom

    def is_fit(self) -> bool:
        return self._zoom is None

    def set_zoom(self, zoom: float | None, anchor: QPointF | None = None) -> None:
        """Sets the zoom (None: fit), keeping the image point under ``anchor`` (widget
        coordinates; default the middle of the pane) where it is."""
        if self._after is None:
            return
        if zoom is None:
            self._zoom = None
            self._centre = self._image_centre()
        else:
            zoom = min(ZOOM_LEVELS[-1], max(min(ZOOM_LEVELS[0], self.fit_zoom()), zoom))
            pane = self._pane_at(anchor) if anchor is not None else self.panes()[0]
            anchor = anchor if anchor is not None else pane.center()
            fixed = self.to_image(anchor, pane)
            self._zoom = zoom
            s = self._scale()
            # the same image point stays under the anchor
            self._centre = fixed - (anchor - pane.center()) / s
            self._clamp_centre()
        self.zoom_changed.emit(self.zoom())
        self.update()

    def zoom_in(self, anchor: QPointF | None = None) -> None:
        z = self.zoom()
        self.set_zoom(next((lv for lv in ZOOM_LEVELS if lv > z * 1.001), ZOOM_LEVELS[-1]),
                      anchor)

    def zoom_out(self, anchor: QPointF | None = None) -> None:
        z = self.zoom()
        lower = [lv for lv in ZOOM_LEVELS if lv < z / 1.001]
        target = lower[-1] if lower else z
        if target <= self.fit_zoom():
            self.fit()  # below fit there is nothing more to see
        else:
            self.set_zoom(target, anchor)

    def fit(self) -> None:
        self.set_zoom(None)

    def actual_pixels(self) -> None:
        self.set_zoom(1.0)

    def centre(self) -> QPointF:
        return QPointF(self._centre)

    def pan_by(self, dx: float, dy: float) -> None:
        """Moves the view by (dx, dy) widget pixels; the content follows the mouse."""
        if self._after is None:
            return
        s = self._scale()
        self._centre -= QPointF(dx, dy) / s
        self._clamp_centre()
        self.update()

    def can_pan(self) -> bool:
        if self._after is None:
            return False
        pane = self.panes()[0]
        rect = self.image_rect(0)
        return rect.width() > pane.width() + 0.5 or rect.height() > pane.height() + 0.5

    def _scale(self) -> float:
        """Widget (logical) pixels per image pixel."""
        return self.zoom() / self.devicePixelRatioF()

    def _image_centre(self) -> QPointF:
        if self._after is None:
            return QPointF()
        return QPointF(self._after.width() / 2, self._after.height() / 2)

    def _clamp_centre(self) -> None:
        """Keeps the view on the image; an image smaller than the pane stays centred."""
        pane = self.panes()[0]
        s = self._scale()
        w, h = self._after.width(), self._after.height()
        x, y = self._centre.x(), self._centre.y()
        half_w, half_h = pane.width() / 2 / s, pane.height() / 2 / s
        x = w / 2 if w <= 2 * half_w else min(w - half_w, max(half_w, x))
        y = h / 2 if h <= 2 * half_h else min(h - half_h, max(half_h, y))
        self._centre = QPointF(x, y)

    def image_rect(self, pane_index: int = 0) -> QRectF:
        """Where the "after" image (and the stretched "before") lands in a pane."""
        if self._after is None:
            return QRectF()
        pane = self.panes()[pane_index]
        s = self._scale()
        dpr = self.devicePixelRatioF()
        x = pane.center().x() - self._centre.x() * s
        y = pane.center().y() - self._centre.y() * s
        # Snap the corner to a device pixel so every image pixel is drawn the same size.
        x, y = round(x * dpr) / dpr, round(y * dpr) / dpr
        return QRectF(x, y, self._after.width() * s, self._after.height() * s)

    def to_image(self, pos: QPointF, pane: QRectF | None = None) -> QPointF:
        """Widget coordinates -> "after" image coordinates (pixels, fractional)."""
        pane = pane if pane is not None else self._pane_at(pos)
        index = self.panes().index(pane) if pane in self.panes() else 0
        rect = self.image_rect(index)
        s = self._scale()
        return QPointF((pos.x() - rect.x()) / s, (pos.y() - rect.y()) / s)

    def _pane_at(self, pos: QPointF) -> QRectF:
        panes = self.panes()
        return panes[1] if len(panes) == 2 and pos.x() > panes[0].right() else panes[0]

    def sizeHint(self) -> QSize:
        return QSize(480, 400)

    # --- painting ---------------------------------------------------------------------------
    def _display_image(self, which: int) -> tuple[QImage | None, bool]:
        """(the image to draw, whether the painter should smooth it). When shrinking, a
        smoothly shrunk copy made once per zoom (nearest-neighbour shrinking would alias,
        and smoothing a large image on every repaint would make dragging the divider
        stutter). Crisp pixels at a fractional zoom: the image enlarged by the whole part
        of the zoom without smoothing, then drawn smoothly, so every pixel gets the same
        size and only its edges are blended."""
        image = self._before if which == 0 else self._after
        if image is None:
            return None, False
        z = self.zoom()
        fx = self._after.width() * z / image.width()
        fy = self._after.height() * z / image.height()
        smooth = self.smooth() and not (which == 0 and self._before_crisp)
        if fx >= 1 and fy >= 1:
            whole = min(math.floor(fx + 1e-6), math.floor(fy + 1e-6))
            if smooth or (abs(fx - whole) < 1e-6 and abs(fy - whole) < 1e-6):
                return image, smooth
            if whole * max(image.width(), image.height()) > 8192:
                return image, False  # deep in a large image: uneven pixels, not a huge copy
            mode = Qt.TransformationMode.FastTransformation
            size = (image.width() * whole, image.height() * whole)
        else:
            mode = Qt.TransformationMode.SmoothTransformation
            size = (max(1, round(image.width() * fx)), max(1, round(image.height() * fy)))
        key = (which, round(z, 6))
        if key not in self._scaled:
            self._scaled[key] = image.scaled(*size, Qt.AspectRatioMode.IgnoreAspectRatio, mode)
        return self._scaled[key], mode == Qt.TransformationMode.FastTransformation

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if self._after is None:
            draw_placeholder(painter, self, self.placeholder, margin=12)
            return
        before, after = self._display_image(0), self._display_image(1)
        if self._mode == DIVIDER:
            pane, rect = self.panes()[0], self.image_rect(0)
            x = self.divider_x()
            self._draw(painter, *before, rect, QRectF(pane.left(), pane.top(),
                                                      x - pane.left(), pane.height()))
            self._draw(painter, *after, rect, QRectF(x, pane.top(), pane.right() - x,
                                                     pane.height()))
            painter.setClipping(False)
            self._draw_divider(painter, x, pane)
            self._draw_label(painter, self._labels[0], pane, left=True)
            self._draw_label(painter, self._labels[1], pane, left=False)
        else:
            for index, (image, label) in enumerate(((before, self._labels[0]),
                                                    (after, self._labels[1]))):
                pane = self.panes()[index]
                self._draw(painter, *image, self.image_rect(index), pane)
                painter.setClipping(False)
                self._draw_label(painter, label, pane, left=True)

    def _draw(self, painter: QPainter, image: QImage | None, smooth: bool, rect: QRectF,
              clip: QRectF) -> None:
        painter.setClipRect(clip)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        if image is not None:
            painter.drawImage(rect, image)
        else:  # nothing to compare with yet: a neutral field, not a misleading empty space
            painter.fillRect(rect, self.palette().color(QPalette.ColorRole.Mid))

    def _draw_divider(self, painter: QPainter, x: float, pane: QRectF) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        dark, light = QColor(0, 0, 0, 160), QColor(255, 255, 255, 230)
        painter.setPen(QPen(dark, 3))
        painter.drawLine(QPointF(x, pane.top()), QPointF(x, pane.bottom()))
        painter.setPen(QPen(light, 1))
        painter.drawLine(QPointF(x, pane.top()), QPointF(x, pane.bottom()))
        # a round handle in the middle says "drag me"
        centre = QPointF(x, pane.center().y())
        painter.setPen(QPen(dark, 1.5))
        painter.setBrush(light)
        painter.drawEllipse(centre, 9, 9)
        painter.setPen(QPen(dark, 1.5))
        for sign in (-1, 1):
            tip = centre + QPointF(sign * 5.5, 0)
            painter.drawLine(tip, tip + QPointF(-sign * 3, -3))
            painter.drawLine(tip, tip + QPointF(-sign * 3, 3))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _draw_label(self, painter: QPainter, text: str, pane: QRectF, left: bool) -> None:
        if not text:
            return
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 12, metrics.height() + 6
        x = pane.left() + 6 if left else pane.right() - 6 - w
        box = QRectF(x, pane.top() + 6, w, h)
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # --- mouse and keys ---------------------------------------------------------------------
    def _near_divider(self, pos: QPointF) -> bool:
        return (self._mode == DIVIDER and self._after is not None
                and abs(pos.x() - self.divider_x()) <= GRAB_PX)

    def _split_at(self, x: float) -> float:
        left, right = self._visible_span()
        return 0.0 if right <= left else (x - left) / (right - left)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._after is None:
            return
        pos = event.position()
        self._last = pos
        if event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            self._drag = "pan"
        elif event.button() == Qt.MouseButton.LeftButton:
            if self._near_divider(pos):
                self._drag = "divider"
            elif self.can_pan() or self._mode == SIDE_BY_SIDE:
                self._drag = "pan"
            else:  # nothing to pan: a click puts the divider there
                self._drag = "divider"
                self.set_split(self._split_at(pos.x()))
        if self._drag == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._drag == "divider":
            self.set_split(self._split_at(pos.x()))
        elif self._drag == "pan":
            delta = pos - self._last
            self.pan_by(delta.x(), delta.y())
        else:
            self._update_cursor(pos)
        self._last = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self._update_cursor(event.position())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.fit()

    def _update_cursor(self, pos: QPointF) -> None:
        if self._near_divider(pos):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        elif self.can_pan():
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y()
        if self._after is None or steps == 0:
            return
        if steps > 0:
            self.zoom_in(event.position())
        else:
            self.zoom_out(event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        step = 0.1 if mods & Qt.KeyboardModifier.ShiftModifier else 0.02
        pane = self.panes()[0]
        pans = {Qt.Key.Key_Left: (1, 0), Qt.Key.Key_Right: (-1, 0),
                Qt.Key.Key_Up: (0, 1), Qt.Key.Key_Down: (0, -1)}
        if ctrl and key in pans:
            dx, dy = pans[key]
            self.pan_by(dx * pane.width() / 5, dy * pane.height() / 5)
        elif key == Qt.Key.Key_Left:
            self.set_split(self._split - step)
        elif key == Qt.Key.Key_Right:
            self.set_split(self._split + step)
        elif key == Qt.Key.Key_Home:
            self.set_split(0.0)
        elif key == Qt.Key.Key_End:
            self.set_split(1.0)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_out()
        elif key in (Qt.Key.Key_0, Qt.Key.Key_F):
            self.fit()
        elif key == Qt.Key.Key_1:
            self.actual_pixels()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def resizeEvent(self, event) -> None:
        self._pane_resized()
        super().resizeEvent(event)

    def _pane_resized(self) -> None:
        if self._after is None:
            return
        if self._zoom is None:  # a fitted view fits the new size
            self._centre = self._image_centre()
            self.zoom_changed.emit(self.zoom())
        else:
            self._clamp_centre()
