"""The reference distribution of a score, the user's images on it, and a threshold to drag."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

REFERENCE_BRUSH = (90, 130, 200, 110)
USER_PEN = (235, 130, 30)
THRESHOLD_PEN = pg.mkPen((200, 40, 40), width=2)
RUG_LIMIT = 500  # up to this many of the user's images: a tick for each
CURVE_MIN = 100  # from this many: also their histogram (fewer make a comb of spikes)


class ScoreHistogram(pg.PlotWidget):
    """The density of the reference scores (filled), the user's scores (a tick per image
    when there are few, their density when there are many), and a vertical threshold
    line the user drags."""

    threshold_moved = Signal(float)  # while dragging, and when set by the panel

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("left", "density")
        self.addLegend(offset=(-10, 10))
        self.reference_curve = pg.PlotDataItem(
            stepMode="center", fillLevel=0, brush=REFERENCE_BRUSH, pen=pg.mkPen((60, 90, 160)),
            name="test split (reference)")
        self.user_curve = pg.PlotDataItem(stepMode="center", pen=pg.mkPen(USER_PEN, width=2),
                                          name="your images")
        self.rug = pg.ScatterPlotItem(symbol="|", size=22, pen=pg.mkPen(USER_PEN, width=2),
                                      brush=None)
        self.line = pg.InfiniteLine(angle=90, movable=True, pen=THRESHOLD_PEN,
                                    hoverPen=pg.mkPen((240, 60, 60), width=4))
        self.line.setToolTip("Drag to set the threshold: images scoring above it are flagged")
        for item in (self.reference_curve, self.user_curve, self.rug, self.line):
            self.addItem(item)
        self.line.sigPositionChanged.connect(lambda line: self.threshold_moved.emit(line.value()))
        self._edges = np.linspace(0, 1, 2)
        self._reference = np.zeros(0)
        self._user = np.zeros(0)

    def set_reference(self, values: np.ndarray, label: str) -> None:
        values = np.asarray(values, np.float64)
        values = values[np.isfinite(values)]
        self._reference = values
        self.setLabel("bottom", label)
        self._redraw()

    def set_user(self, values: np.ndarray) -> None:
        values = np.asarray(values, np.float64)
        self._user = values[np.isfinite(values)]
        self._redraw()

    def set_threshold(self, value: float) -> None:
        self.line.setValue(value)

    def threshold(self) -> float:
        return float(self.line.value())

    def _redraw(self) -> None:
        ref = self._reference
        if ref.size == 0:
            self.reference_curve.setData([], [])
            self.user_curve.setData([], [])
            self.rug.setData([], [])
            return
        lo, hi = np.percentile(ref, [0.2, 99.8])
        if self._user.size:  # keep the user's images in view, however strange
            lo, hi = min(lo, self._user.min()), max(hi, self._user.max())
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, 61)
        density, _ = np.histogram(np.clip(ref, lo, hi), edges, density=True)
        self.reference_curve.setData(edges, density)
        if self._user.size >= CURVE_MIN:
            user_density, _ = np.histogram(self._user, edges, density=True)
            self.user_curve.setData(edges, user_density)
        else:
            self.user_curve.setData([], [])
        if 0 < self._user.size <= RUG_LIMIT:
            self.rug.setData(self._user, np.zeros(self._user.size))
        else:
            self.rug.setData([], [])
        self.setXRange(lo, hi, padding=0.03)
        self.line.setBounds((lo - (hi - lo), hi + (hi - lo)))
