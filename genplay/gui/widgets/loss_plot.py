"""Curves of named values against the training step: one curve per loss term (or metric).

A run sends up to ten progress events a second, so an hour holds tens of thousands of
points per curve: the plot keeps them in growing numpy buffers, shows only what is in
view and thins it to the pixels it has (pyqtgraph's clip-to-view and peak downsampling).
A log scale shows the slow late decrease that a linear one flattens; values that a log
cannot show (zero, negative: a GAN's or an EBM's terms can be) are left out of it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

# Distinct on white, in the order curves appear (matplotlib's "tab10", less its gray).
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207)]


class _Series:
    def __init__(self) -> None:
        self.x = np.zeros(256)
        self.y = np.zeros(256)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == self.x.size:
            self.x = np.concatenate([self.x, np.zeros(self.n)])
            self.y = np.concatenate([self.y, np.zeros(self.n)])
        self.x[self.n], self.y[self.n] = x, y
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
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._series: dict[str, _Series] = {}
        self._colours: dict[str, tuple[int, int, int]] = {}
        self._log = False

    def add(self, step: float, values: dict[str, float]) -> None:
        for name, value in values.items():
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = _Series()
                colour = COLOURS[len(self.curves) % len(COLOURS)]
                self.curves[name] = self.plot([], [], pen=pg.mkPen(colour, width=2), name=name)
                self._colours[name] = colour
                if self.legend is not None:
                    self.legend.setColumnCount(len(self.curves))  # one row: it hides less
                    self.legend.show()
            series.append(float(step), float(value))
            self._redraw(name)

    def points(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The (steps, values) of a curve so far."""
        series = self._series[name]
        return series.x[: series.n].copy(), series.y[: series.n].copy()

    def colour(self, name: str) -> tuple[int, int, int] | None:
        """The (r, g, b) of a curve; None for a name it has not drawn."""
        return self._colours.get(name)

    def clear_curves(self) -> None:
        for curve in self.curves.values():
            self.removeItem(curve)
        if self.legend is not None:
            self.legend.clear()
            self.legend.hide()
        self.curves.clear()
        self._series.clear()
        self._colours.clear()

    def set_log(self, on: bool) -> None:
        self._log = on
        self.setLogMode(y=on)
        for name in self.curves:
            self._redraw(name)
        self.enableAutoRange()

    def is_log(self) -> bool:
        return self._log

    def _redraw(self, name: str) -> None:
        x, y = self.points(name)
        if self._log:
            y = np.where(y > 0, y, np.nan)  # a log scale has no place for them
        self.curves[name].setData(x, y, connect="finite")
