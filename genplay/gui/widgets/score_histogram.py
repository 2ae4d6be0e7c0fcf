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


HEADROOM_ABOVE = 1.45  # the view's top, as a multiple of the tallest bar: room for the legend
HEADROOM_BELOW = 0.12


class ScoreHistogram(pg.PlotWidget):
    """The density of the reference scores (filled), the user's scores (a tick per image
    when there are few, their density when there are many), and a vertical threshold
    line the user drags."""

    threshold_moved = Signal(float)  # when the line moves, except by set_threshold()

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.hideAxis("left")  # the shapes matter here, not the density's units
        self.getAxis("bottom").enableAutoSIPrefix(False)  # no "(x0.001)" after the label
        self.addLegend(offset=(-10, 10))
        self.reference_curve = pg.PlotDataItem(
            stepMode="center", fillLevel=0, brush=REFERENCE_BRUSH, pen=pg.mkPen((60, 90, 160)),
            name="the model's test images")
        self.user_curve = pg.PlotDataItem(stepMode="center", pen=pg.mkPen(USER_PEN, width=2),
                                          name="your images")
        self.rug = pg.ScatterPlotItem(symbol="|", size=22, pen=pg.mkPen(USER_PEN, width=2),
                                      brush=None)
        self.line = pg.InfiniteLine(angle=90, movable=True, pen=THRESHOLD_PEN,
                                    hoverPen=pg.mkPen((240, 60, 60), width=4))
        self.line.setToolTip("Drag to set the threshold: images scoring above it are flagged")
        for item in (self.reference_curve, self.user_curve, self.rug, self.line):
            self.addItem(item)
        self.line.sigPositionChanged.connect(self._line_moved)
        self._quiet = False
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
        """Puts the line at value (in view) without reporting it as a move."""
        self._quiet = True
        try:
            self._fit(value)
            self.line.setValue(value)
        finally:
            self._quiet = False

    def _line_moved(self, line) -> None:
        if not self._quiet:
            self.threshold_moved.emit(line.value())

    def threshold(self) -> float:
        return float(self.line.value())

    def _span(self) -> tuple[float, float]:
        """The scores shown: most of the reference and all of the user's images."""
        lo, hi = np.percentile(self._reference, [0.2, 99.8])
        if self._user.size:  # keep the user's images in view, however strange
            lo, hi = min(lo, self._user.min()), max(hi, self._user.max())
        return float(lo), (float(hi) if hi > lo else float(lo) + 1.0)

    def _fit(self, threshold: float | None = None) -> None:
        """The view spans the scores and the threshold (the line's, unless given), and the
        line can be dragged over all of it but never out of it."""
        if self._reference.size == 0:
            return
        lo, hi = self._span()
        threshold = self.line.value() if threshold is None else threshold
        if np.isfinite(threshold):
            lo, hi = min(lo, threshold), max(hi, threshold)
        pad = 0.03 * (hi - lo)
        quiet, self._quiet = self._quiet, True  # the bounds hold the line: no move to report
        try:
            self.setXRange(lo - pad, hi + pad, padding=0)
            self.line.setBounds((lo - pad, hi + pad))
        finally:
            self._quiet = quiet

    def _redraw(self) -> None:
        ref = self._reference
        if ref.size == 0:
            self.reference_curve.setData([], [])
            self.user_curve.setData([], [])
            self.rug.setData([], [])
            return
        lo, hi = self._span()
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
        # Headroom above the tallest bar keeps the legend (top right) off the curves; room
        # below zero keeps the rug of the user's scores whole.
        top = float(max(density.max(), user_density.max() if self._user.size >= CURVE_MIN
                        else 0.0)) or 1.0
        self.setYRange(-HEADROOM_BELOW * top, HEADROOM_ABOVE * top, padding=0)
        self._fit()
