"""Curves of named values against the training step: one curve per loss term (or metric).

A run sends up to ten progress events a second, so an hour holds tens of thousands of
points per curve: the plot keeps them in growing numpy buffers, shows only what is in
view and thins it to the pixels it has (pyqtgraph's clip-to-view and peak downsampling).
A log scale shows the slow late decrease that a linear one flattens; values that a log
cannot show (zero, negative: a GAN's or an EBM's terms can be) are left out of it.

Each curve is drawn twice: the raw values, faint, and over them a running average (an
exponential moving average, corrected at the start so it does not begin at zero), which
shows the trend of a noisy term (a GAN's are spiky) without hiding how noisy it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

if TYPE_CHECKING:
    from PySide6.QtGui import QPen

# Distinct on white, in the order curves appear (matplotlib's "tab10", less its gray).
SMOOTHING = 0.9  # weight of the running average's past: about the last 10 points
RAW_ALPHA = 70  # the raw curve behind the smoothed one
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207)]


class _Series:
    """The points of one curve, and their running average as they come."""

    def __init__(self) -> None:
        self.x = np.zeros(256)
        self.y = np.zeros(256)
        self.smooth = np.zeros(256)
        self.n = 0
        self._average = 0.0  # the biased average; / (1 - SMOOTHING**k) corrects it
        self._weight = 1.0  # SMOOTHING**k over the k finite values so far

    def append(self, x: float, y: float) -> None:
        if self.n == self.x.size:
            grow = np.zeros(self.n)
            self.x, self.y = np.concatenate([self.x, grow]), np.concatenate([self.y, grow])
            self.smooth = np.concatenate([self.smooth, grow])
        self.x[self.n], self.y[self.n] = x, y
        if np.isfinite(y):
            self._average = SMOOTHING * self._average + (1 - SMOOTHING) * y
            self._weight *= SMOOTHING
        self.smooth[self.n] = (self._average / (1 - self._weight) if self._weight < 1
                               else np.nan)
        self.n += 1


class LossPlot(pg.PlotWidget):
    """``add(step, {"loss": 0.3, "kl": 0.1})`` appends a point to each named curve (a new
    name starts a new curve); ``set_log(True)`` switches the y axis to a log scale."""

    def __init__(self, parent=None, y_label: str = "loss", x_label: str = "step",
                 legend: bool = True) -> None:
        super().__init__(parent, background="w")
        self.setMenuEnabled(False)
        self.setLabel("left", y_label)
        self.setLabel("bottom", x_label)
        self.showGrid(x=True, y=True, alpha=0.15)
        # legend=False: the caller names the curves outside the plot, in colour(name), where
        # no curve can pass behind the names (flat curves on a log scale run along the top).
        self.legend: pg.LegendItem | None = None
        if legend:
            # On a near-white ground, so the curves that pass behind it do not cross its names.
            self.legend = self.addLegend(offset=(-10, 10), brush=(255, 255, 255, 220),
                                         pen=(200, 200, 200), labelTextColor=(50, 50, 50))
            self.legend.hide()  # until it names a curve: an empty framed box says nothing
        self.plotItem.setClipToView(True)
        self.plotItem.setDownsampling(auto=True, mode="peak")
        self.curves: dict[str, pg.PlotDataItem] = {}  # the raw values
        self.smooth_curves: dict[str, pg.PlotDataItem] = {}  # their running average
        self._series: dict[str, _Series] = {}
        self._colours: dict[str, tuple[int, int, int]] = {}
        self._log = False
        self._smoothing = True

    def add(self, step: float, values: dict[str, float]) -> None:
        for name, value in values.items():
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = _Series()
                colour = COLOURS[len(self.curves) % len(COLOURS)]
                self._colours[name] = colour
                self.curves[name] = self.plot([], [], pen=self._raw_pen(name))
                self.smooth_curves[name] = self.plot([], [], pen=pg.mkPen(colour, width=2),
                                                     name=name)
                self.smooth_curves[name].setVisible(self._smoothing)
                if self.legend is not None:
                    self.legend.setColumnCount(len(self.curves))  # one row: it hides less
                    self.legend.show()
            series.append(float(step), float(value))
            self._redraw(name)

    def points(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The (steps, values) of a curve so far."""
        series = self._series[name]
        return series.x[: series.n].copy(), series.y[: series.n].copy()

    def smoothed(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The (steps, running average) of a curve so far."""
        series = self._series[name]
        return series.x[: series.n].copy(), series.smooth[: series.n].copy()

    def colour(self, name: str) -> tuple[int, int, int] | None:
        """The (r, g, b) of a curve; None for a name it has not drawn."""
        return self._colours.get(name)

    def clear_curves(self) -> None:
        for curve in [*self.curves.values(), *self.smooth_curves.values()]:
            self.removeItem(curve)
        if self.legend is not None:
            self.legend.clear()
            self.legend.hide()
        self.curves.clear()
        self.smooth_curves.clear()
        self._series.clear()
        self._colours.clear()

    def set_log(self, on: bool) -> None:
        self._log = on
        self.setLogMode(y=on)
        for name in self.curves:
            self._redraw(name)
        self.enableAutoRange()

    def set_smoothing(self, on: bool) -> None:
        """On: the running average over the raw values drawn faint; off: the raw ones only."""
        self._smoothing = on
        for name in self.curves:
            self.curves[name].setPen(self._raw_pen(name))
            self.smooth_curves[name].setVisible(on)
            self._redraw(name)

    def _raw_pen(self, name: str) -> QPen:
        r, g, b = self._colours[name]
        if self._smoothing:
            return pg.mkPen((r, g, b, RAW_ALPHA), width=1)
        return pg.mkPen((r, g, b), width=2)

    def _redraw(self, name: str) -> None:
        x, y = self.points(name)
        curves = [(self.curves[name], y)]
        if self._smoothing:
            curves.append((self.smooth_curves[name], self.smoothed(name)[1]))
        for curve, values in curves:
            if self._log:
                values = np.where(values > 0, values, np.nan)  # a log scale has no place
            curve.setData(x, values, connect="finite")
