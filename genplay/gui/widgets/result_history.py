"""A strip of the last results a panel made, to go back to one: thumbnails, newest last.

A panel adds each new result with ``add(thumbnail, tooltip, payload)``; clicking a
thumbnail, or ``back()`` / ``forward()`` (the panel's Ctrl+Z / Ctrl+Shift+Z), makes that
entry current and emits ``chosen(payload)``, and the panel shows the payload again. The
strip never knows what a payload is. Thumbnails are scaled smoothly once, when added, to
the strip's height; the strip scrolls sideways when they do not all fit, so it never
asks for more width than a few thumbnails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QToolTip,
    QWidget,
)

from genplay.gui.widgets.pixel_view import to_qimage

THUMB_HEIGHT = 56
GAP = 4  # between thumbnails, and around them for the mark of the current one
MAX_ASPECT = 3.0  # a very wide result is cropped to this width/height in its thumbnail


@dataclass
class _Entry:
    image: QImage  # already scaled to the strip's height (in device pixels)
    tooltip: str
    payload: object


class _Strip(QWidget):
    """The row of thumbnails itself, as wide as they need, inside a scroll area."""

    clicked = Signal(int)

    def __init__(self, history: ResultHistory) -> None:
        super().__init__()
        self.history = history
        self.setMouseTracking(True)

    def rects(self) -> list[QRect]:
        x, out = GAP, []
        dpr = self.devicePixelRatioF()
        for entry in self.history._entries:
            w = round(entry.image.width() / dpr)
            out.append(QRect(x, GAP, w, THUMB_HEIGHT))
            x += w + GAP
        return out

    def sizeHint(self) -> QSize:
        rects = self.rects()
        width = rects[-1].right() + 1 + GAP if rects else 0
        return QSize(width, THUMB_HEIGHT + 2 * GAP)

    def index_at(self, pos: QPoint) -> int | None:
        return next((i for i, r in enumerate(self.rects()) if r.contains(pos)), None)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        for i, (entry, rect) in enumerate(zip(self.history._entries, self.rects(), strict=True)):
            painter.drawImage(rect, entry.image)
            if i == self.history._current:
                painter.setPen(QPen(highlight, 3))
                painter.drawRect(rect.adjusted(-2, -2, 1, 1))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().toPoint())
        if index is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(),
                              self.history._entries[index].tooltip, self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().toPoint())
        if index is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(index)


class _Scroll(QScrollArea):
    """Asks for the strip's whole width (QScrollArea keeps its first idea of it)."""

    def sizeHint(self) -> QSize:
        frame = 2 * self.frameWidth()
        return QSize(self.widget().sizeHint().width() + frame, self.height())


class ResultHistory(QWidget):
    """Up to ``limit`` earlier results as thumbnails; the current one is marked."""

    chosen = Signal(object)  # the payload of the entry the user went to

    def __init__(self, limit: int = 20, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit = limit
        self._entries: list[_Entry] = []
        self._current = -1
        self.back_button = QToolButton(text="◀", toolTip="Previous result (Ctrl+Z)",
                                       autoRaise=True, clicked=self.back)
        self.forward_button = QToolButton(text="▶", toolTip="Next result (Ctrl+Shift+Z)",
                                          autoRaise=True, clicked=self.forward)
        self.strip = _Strip(self)
        self.strip.clicked.connect(self.go_to)
        self.scroll = _Scroll()
        self.scroll.setWidget(self.strip)
        self.scroll.setWidgetResizable(False)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        bar = self.scroll.horizontalScrollBar().sizeHint().height()
        self.scroll.setFixedHeight(THUMB_HEIGHT + 2 * GAP + bar)
        self.scroll.setMinimumWidth(2 * THUMB_HEIGHT)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.back_button)
        layout.addWidget(self.scroll)
        layout.addWidget(self.forward_button)
        layout.addStretch(1)  # the arrows stay beside the thumbnails
        self.scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._update()

    # --- content ------------------------------------------------------------------------------
    def add(self, thumbnail: np.ndarray, tooltip: str, payload: object) -> None:
        """Adds a result as the newest and current entry (the oldest goes past ``limit``).
        thumbnail: uint8 (H, W) or (H, W, 3) (or (H, W, 1)), any size."""
        self._entries.append(_Entry(self._scaled(thumbnail), tooltip, payload))
        del self._entries[:max(0, len(self._entries) - self.limit)]
        self._current = len(self._entries) - 1
        self._update()

    def clear(self) -> None:
        self._entries.clear()
        self._current = -1
        self._update()

    def count(self) -> int:
        return len(self._entries)

    def current_index(self) -> int:
        """The current entry's index, oldest 0; -1 when empty."""
        return self._current

    def current_payload(self) -> object:
        return self._entries[self._current].payload if self._entries else None

    # --- moving -------------------------------------------------------------------------------
    def go_to(self, index: int) -> None:
        """Makes entry ``index`` current and emits its payload."""
        if not 0 <= index < len(self._entries):
            return
        self._current = index
        self._update()
        self.chosen.emit(self._entries[index].payload)

    def back(self) -> bool:
        """Steps to the previous (older) result; False when there is none."""
        if self._current <= 0:
            return False
        self.go_to(self._current - 1)
        return True

    def forward(self) -> bool:
        """Steps to the next (newer) result; False when there is none."""
        if self._current >= len(self._entries) - 1:
            return False
        self.go_to(self._current + 1)
        return True

    # --- drawing ------------------------------------------------------------------------------
    def _scaled(self, pixels: np.ndarray) -> QImage:
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or 0 in pixels.shape:
            raise ValueError(f"expected a uint8 (H, W[, 3]) thumbnail, got {pixels.dtype} "
                             f"{pixels.shape}")
        h, w = pixels.shape[:2]
        if w > MAX_ASPECT * h:  # keep the middle of a very wide picture
            keep = int(MAX_ASPECT * h)
            pixels = pixels[:, (w - keep) // 2:(w - keep) // 2 + keep]
        dpr = self.devicePixelRatioF()
        height = round(THUMB_HEIGHT * dpr)
        return to_qimage(pixels).scaledToHeight(height,
                                                Qt.TransformationMode.SmoothTransformation)

    def _update(self) -> None:
        self.back_button.setEnabled(self._current > 0)
        self.forward_button.setEnabled(0 <= self._current < len(self._entries) - 1)
        self.strip.resize(self.strip.sizeHint())
        self.strip.update()
        # as wide as the thumbnails, no wider: the arrows stay beside them
        self.scroll.setMaximumWidth(self.scroll.sizeHint().width())
        self.scroll.updateGeometry()
        rects = self.strip.rects()
        if 0 <= self._current < len(rects):
            r = rects[self._current]
            self.scroll.ensureVisible(r.center().x(), r.center().y(), r.width() // 2 + GAP, 0)
