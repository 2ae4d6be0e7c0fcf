"""How a run is going, for the Training panel: what it shows while a model learns.

A line of figures (step, epoch, images/s and the latest loss terms) above a curve per loss
term, smoothed, with the raw values faint behind (log scale optional); below them the grids
of samples the run has drawn, on a timeline one can scrub back through, and the validation
figures, measured on held-out images now and then. The view only shows what it is given;
the panel feeds it the run's events.
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
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import grid_pad_value, make_grid
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.loss_plot import LossPlot
from genplay.gui.widgets.pixel_view import PixelView

if TYPE_CHECKING:
    import numpy as np

    from genplay.core.events import Progress, Validation

PADDING = 2
MAX_GRIDS = 200  # grids kept on the timeline; past it every other older one is let go
VALIDATION_ABOUT = ("Measured on held-out images the model never trains on, when an epoch "
                    "ends.")


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def _count(n: int) -> str:
    return f"{n:,}"


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
        self.smooth = QCheckBox("Smooth", checked=True,
                                toolTip="A running average of each curve, with the raw "
                                        "values faint behind it")
        self.log_scale = QCheckBox("Log scale", toolTip="A log y axis shows the slow late "
                                                        "decrease; values ≤ 0 are left out")
        self.loss_plot = LossPlot(legend=False)
        self.loss_plot.setMinimumHeight(140)
        self.smooth.toggled.connect(self.loss_plot.set_smoothing)
        self.log_scale.toggled.connect(self.loss_plot.set_log)
        top_row = QHBoxLayout()
        top_row.addWidget(self.stats_label, 1)
        top_row.addWidget(self.smooth)
        top_row.addWidget(self.log_scale)

        # The samples: every grid the run sent, newest shown unless the user scrubbed back.
        self.grids: list[tuple[int, np.ndarray]] = []
        self.samples_view = PixelView(placeholder="Samples appear as it learns")
        self.timeline = QSlider(Qt.Orientation.Horizontal, enabled=False,
                                toolTip="Every grid of samples drawn during the run: drag "
                                        "back to see how the samples changed")
        self.timeline.setRange(0, 0)
        self.timeline.setPageStep(1)
        self.timeline.valueChanged.connect(self._show_grid)
        self.timeline_label = QLabel()
        self.timeline_label.setMinimumWidth(self.timeline_label.fontMetrics()
                                            .horizontalAdvance("step 000,000 · 000 / 000"))
        timeline_row = QHBoxLayout()
        timeline_row.addWidget(self.timeline, 1)
        timeline_row.addWidget(self.timeline_label)
        samples_box = QGroupBox("Samples")
        samples_layout = QVBoxLayout(samples_box)
        samples_layout.addWidget(self.samples_view, 1)
        samples_layout.addLayout(timeline_row)

        self.validation_list = QListWidget(wordWrap=True)
        self.validation_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.validation_list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.validation_caption = muted_label(VALIDATION_ABOUT)
        self.validation_box = QGroupBox("Validation")
        validation_layout = QVBoxLayout(self.validation_box)
        validation_layout.addWidget(self.validation_caption)
        validation_layout.addWidget(self.validation_list, 1)
        self.validation_box.setMinimumWidth(150)
        bottom = QSplitter()
        bottom.setChildrenCollapsible(False)
        bottom.addWidget(samples_box)
        bottom.addWidget(self.validation_box)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        bottom.setSizes([330, 220])
        plot_box = QWidget()
        plot_layout = QVBoxLayout(plot_box)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addLayout(top_row)
        plot_layout.addWidget(self.loss_plot, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(plot_box)
        splitter.addWidget(bottom)
        splitter.setSizes([260, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def clear(self) -> None:
        """Empty, for a new run."""
        self.loss_plot.clear_curves()
        self.validation_list.clear()
        self.samples_view.clear()
        self.grids.clear()
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, 0)
        self.timeline.blockSignals(False)
        self.timeline.setEnabled(False)
        self.timeline_label.setText("")

    def add_losses(self, p: Progress) -> None:
        self.loss_plot.add(p.step, p.losses)

    def show_stats(self, p: Progress | None, ended: bool = False) -> None:
        """The figures of the latest step; None: none yet. ended: the run is over (or
        paused), so no rate nor time left: they would be stale."""
        if p is None:
            self.stats_label.setText("")
            self.stats_label.setToolTip("")
            return
        step = f"step {_count(p.step)}" + (f" of {_count(p.total)}" if p.total else "")
        figures = f"{step} · epoch {p.epoch + 1}"
        if not ended:
            figures += f" · {p.images_per_s:,.0f} images/s · ETA {format_seconds(p.eta_s)}"
        terms = []
        for name, value in p.losses.items():
            colour = self.loss_plot.colour(name)
            swatch = "" if colour is None else \
                '<span style="color: #{:02x}{:02x}{:02x}">━━</span>&nbsp;'.format(*colour)
            terms.append(f"{swatch}{html.escape(name)} {value:.4g}")
        self.stats_label.setText(f"{html.escape(figures)}<br>{'&nbsp;&nbsp; '.join(terms)}")
        self.stats_label.setToolTip(figures + "\n" + "  ".join(
            f"{k} {v:.4g}" for k, v in p.losses.items()))

    # --- the samples' timeline --------------------------------------------------------------
    def show_samples(self, images: np.ndarray, step: int = 0) -> None:
        """Adds a grid to the timeline; shows it unless the user is looking at an older one."""
        following = not self.grids or self.timeline.value() == self.timeline.maximum()
        if len(self.grids) >= MAX_GRIDS:  # a long run: keep the first, thin out the rest
            self.grids[1:-1] = self.grids[2:-1:2]
        self.grids.append((step, images))
        last = len(self.grids) - 1
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, last)
        self.timeline.blockSignals(False)
        self.timeline.setEnabled(last > 0)
        if following:
            self.timeline.blockSignals(True)
            self.timeline.setValue(last)
            self.timeline.blockSignals(False)
        self._show_grid(self.timeline.value())

    def _show_grid(self, index: int) -> None:
        if not 0 <= index < len(self.grids):
            return
        step, images = self.grids[index]
        n, h, w = images.shape[:3]
        grid = make_grid(images, padding=PADDING, pad_value=grid_pad_value(images))
        self.samples_view.set_grid(grid, h, w, PADDING, n)
        latest = index == len(self.grids) - 1
        self.timeline_label.setText(f"step {_count(step)} · {index + 1} / {len(self.grids)}")
        self.timeline_label.setToolTip("the newest grid" if latest else
                                       "an earlier grid: drag right for the newest")

    # --- validation -------------------------------------------------------------------------
    def describe_validation(self, images: str, every_s: float) -> None:
        """Says what the validation figures are measured on and how often (images: e.g.
        "5% of the training images")."""
        self.validation_caption.setText(
            f"Measured on held-out images ({images}, never trained on) when an epoch ends, "
            f"at most every {format_seconds(every_s)}.")

    def add_validation(self, event: Validation) -> None:
        metrics = " · ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
        self.validation_list.addItem(
            f"Epoch {event.epoch} (step {_count(event.step)}): {metrics}")
        self.validation_list.scrollToBottom()
