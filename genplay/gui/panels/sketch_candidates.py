"""The Sketch panel's candidate strip: the chosen candidate framed, a wash while new come.

A PixelView showing the candidates as one grid. The chosen tile gets a frame in the
highlight colour, so what Save, Copy and the hand-offs act on is always visible. While a
request is computing, the old candidates are washed out under a small spinner and an
"updating…" note, so a user in Live mode sees that they are about to be replaced.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget

from genplay.core.images import make_grid
from genplay.gui.widgets.pixel_view import PixelView

PADDING = 0.1  # of a tile's height, between tiles: room for the frame of the chosen one
FRAME = 3  # widget pixels, the chosen tile's frame
WASH_ALPHA = 150  # how far old candidates fade while new ones are computed (of 255)
SPIN_MS = 80


class CandidateStrip(PixelView):
    """Candidates side by side (two rows past eight); click or arrow keys to choose."""

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent, placeholder=placeholder)
        self._selected: int | None = None
        self._layout: tuple[int, int, int, int, int] | None = None  # h, w, pad, cols, count
        self._busy = ""
        self._wash = True
        self._angle = 0
        self._spin = QTimer(self, interval=SPIN_MS)
        self._spin.timeout.connect(self._turn)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def sizeHint(self) -> QSize:
        # A strip: wide and low. The panel's preferred height (what a scrolling tab page
        # gives it) stays within a laptop screen; spare height goes to it by stretch.
        return QSize(480, 150)

    # --- content ----------------------------------------------------------------------------
    @staticmethod
    def columns(n: int) -> int:
        return n if n <= 8 else (n + 1) // 2  # one row, or two for more than 8

    def show_candidates(self, images: np.ndarray, tooltips: list[str] | None = None) -> None:
        """uint8 (N, H, W, C) candidates as the strip, padded with the view's background."""
        n, h, w = images.shape[:3]
        cols = self.columns(n)
        background = self.palette().color(QPalette.ColorRole.Base).lightness()
        pad = max(1, round(PADDING * h))
        grid = make_grid(images, nrow=cols, padding=pad, pad_value=background)
        self._layout = (h, w, pad, cols, n)
        self.set_grid(grid, h, w, pad, n, tooltips)
        if self._selected is not None and self._selected >= n:
            self._selected = n - 1

    def clear(self) -> None:
        self._layout = None
        self._selected = None
        super().clear()

    def count(self) -> int:
        """How many candidates the strip shows."""
        return 0 if self._layout is None else self._layout[4]

    # --- the chosen tile --------------------------------------------------------------------
    def selected(self) -> int | None:
        return self._selected

    def set_selected(self, index: int | None) -> None:
        self._selected = index
        self.update()

    def tile_rect(self, index: int) -> QRectF:
        """Where tile `index` is drawn, in widget coordinates (empty if there is none)."""
        pixels = self.pixels()
        if self._layout is None or pixels is None or not 0 <= index < self.count():
            return QRectF()
        h, w, pad, cols, _n = self._layout
        rect = self.image_rect()
        scale = rect.width() / pixels.shape[1]
        x = pad + (index % cols) * (w + pad)
        y = pad + (index // cols) * (h + pad)
        return QRectF(rect.x() + x * scale, rect.y() + y * scale, w * scale, h * scale)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}.get(Qt.Key(event.key()))
        if step is None or self._selected is None:
            super().keyPressEvent(event)
            return
        index = min(max(self._selected + step, 0), self.count() - 1)
        if index != self._selected:
            self.tile_clicked.emit(index)  # the panel chooses it, as for a click

    # --- busy -------------------------------------------------------------------------------
    def busy_text(self) -> str:
        return self._busy

    def set_busy(self, text: str, wash: bool = True) -> None:
        """Show `text` ("updating…") over the strip, washing out what it shows (the old
        candidates) unless `wash` is False (previews of the first ones); "" ends it."""
        self._busy = text
        self._wash = wash
        if text and not self._spin.isActive():
            self._spin.start()
        elif not text:
            self._spin.stop()
        self.update()

    def _turn(self) -> None:
        self._angle = (self._angle + 30) % 360
        self.update()

    # --- painting ---------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        tile = self.tile_rect(self._selected) if self._selected is not None else QRectF()
        if not tile.isEmpty():
            gap = FRAME / 2 + 1
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), FRAME))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(tile.adjusted(-gap, -gap, gap, gap), 2, 2)
        if self._busy:
            if self._wash:
                wash = QColor(palette.color(QPalette.ColorRole.Base))
                wash.setAlpha(WASH_ALPHA)
                painter.fillRect(self.rect(), wash)
            self._paint_note(painter)
        painter.end()

    def _paint_note(self, painter: QPainter) -> None:
        """A spinner and the busy text in a rounded box, centred on the strip."""
        palette = self.palette()
        metrics = painter.fontMetrics()
        size = metrics.height()
        width = size + 6 + metrics.horizontalAdvance(self._busy) + 20
        box = QRectF((self.width() - width) / 2, (self.height() - size - 12) / 2, width,
                     size + 12)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Window))
        painter.drawRoundedRect(box, 6, 6)
        ring = QRectF(box.x() + 10, box.y() + 6, size, size).adjusted(2, 2, -2, -2)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
        painter.drawArc(ring, -self._angle * 16, 270 * 16)
        painter.setPen(palette.color(QPalette.ColorRole.WindowText))
        painter.drawText(QRectF(ring.right() + 8, box.y(), width, box.height()),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self._busy)
