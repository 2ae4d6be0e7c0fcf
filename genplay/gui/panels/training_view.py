"""How a run is going, for the Training panel: what it shows while a model learns.

A line of figures (step, epoch, images/s, ETA and the latest loss terms) above a curve
per loss term (log scale optional); below them the latest grid of samples and a line of
validation metrics per epoch. The view only shows what it is given; the panel feeds it
the run's events.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import make_grid
from genplay.gui.widgets.loss_plot import LossPlot
from genplay.gui.widgets.pixel_view import PixelView

if TYPE_CHECKING:
    import numpy as np

    from genplay.core.events import Progress, Validation

PADDING = 2


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class RunView(QWidget):
    """Curves, figures, samples and validation of one run (kept across a resume)."""

    def __init__(self) -> None:
        super().__init__()
        # Two lines, the figures and the loss terms, that never widen the window: a family
        # with many terms would otherwise push the panel past the screen. The terms are
        # named in their curves' colours: the plot's legend, outside the plot.
        self.stats_label = QLabel("", textFormat=Qt.TextFormat.RichText)
        self.stats_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                       QSizePolicy.Policy.Preferred)
        self.stats_label.setMinimumHeight(2 * self.stats_label.fontMetrics().lineSpacing())
        self.log_scale = QCheckBox("Log scale", toolTip="A log y axis shows the slow late "
                                                        "decrease; values ≤ 0 are left out")
        self.loss_plot = LossPlot(legend=False)
        self.log_scale.toggled.connect(self.loss_plot.set_log)
        top_row = QHBoxLayout()
        top_row.addWidget(self.stats_label, 1)
        top_row.addWidget(self.log_scale)
        self.samples_view = PixelView(placeholder="Samples appear as it learns")
        self.validation_list = QListWidget(toolTip="Measured on held-out images after "
                                                   "each epoch")
        samples_box = QGroupBox("Samples")
        QVBoxLayout(samples_box).addWidget(self.samples_view)
        validation_box = QGroupBox("Validation (per epoch)")
        QVBoxLayout(validation_box).addWidget(self.validation_list)
        bottom = QSplitter()
        bottom.addWidget(samples_box)
        bottom.addWidget(validation_box)
        bottom.setSizes([300, 200])
        plot_box = QWidget()
        plot_layout = QVBoxLayout(plot_box)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addLayout(top_row)
        plot_layout.addWidget(self.loss_plot, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(plot_box)
        splitter.addWidget(bottom)
        splitter.setSizes([300, 250])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def clear(self) -> None:
        """Empty, for a new run."""
        self.loss_plot.clear_curves()
        self.validation_list.clear()
        self.samples_view.clear()

    def add_losses(self, p: Progress) -> None:
        self.loss_plot.add(p.step, p.losses)

    def show_stats(self, p: Progress | None) -> None:
        """The figures of the latest step; None: none yet."""
        if p is None:
            self.stats_label.setText("")
            self.stats_label.setToolTip("")
            return
        step = f"step {p.step}" + (f" / {p.total}" if p.total else "")
        figures = (f"{step} · epoch {p.epoch + 1} · {p.images_per_s:.0f} images/s · "
                   f"ETA {format_seconds(p.eta_s)}")
        terms = []
        for name, value in p.losses.items():
            colour = self.loss_plot.colour(name)
            swatch = "" if colour is None else \
                '<span style="color: #{:02x}{:02x}{:02x}">━━</span>&nbsp;'.format(*colour)
            terms.append(f"{swatch}{html.escape(name)} {value:.4g}")
        self.stats_label.setText(f"{html.escape(figures)}<br>{'&nbsp;&nbsp; '.join(terms)}")
        self.stats_label.setToolTip(figures + "\n" + "  ".join(
            f"{k} {v:.4g}" for k, v in p.losses.items()))

    def show_samples(self, images: np.ndarray) -> None:
        n, h, w = images.shape[:3]
        self.samples_view.set_grid(make_grid(images, padding=PADDING), h, w, PADDING, n)

    def add_validation(self, event: Validation) -> None:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
        self.validation_list.addItem(f"epoch {event.epoch} · step {event.step}: {metrics}")
        self.validation_list.scrollToBottom()
