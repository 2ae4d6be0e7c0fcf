"""The right-hand side of the Super-resolution panel: one upscaling result, compared.

A before/after view (input, bicubic or reference on the left of the divider, the
result on the right), the candidates of guided generation as thumbnails to choose
from, and PSNR/SSIM against the reference when there is one. It shows a result
dict as ``ops.superres.upscale_steps`` makes it, plus the panel's "input",
"bicubic" and "reference" images; it runs nothing itself. A third mode shows the
grid of "Compare all methods" (panels/superres_compare.py) in the view's place.

When the panel's inputs change, ``mark_stale`` takes the figures away at once and
labels the image still shown as made with the earlier settings, until the new result
replaces it: no number is ever shown beside an image it was not measured on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import make_grid
from genplay.gui.widgets.before_after import DIVIDER, SIDE_BY_SIDE, BeforeAfterView
from genplay.gui.widgets.labels import MUTED
from genplay.gui.widgets.pixel_view import PixelView

STALE = " · earlier settings"  # after the result's label while new settings are run
FIGURES_TIP = ("How close the result comes to the reference. PSNR: pixel by pixel, in "
               "decibels, higher is closer. SSIM: likeness of local structure, 1 is "
               "identical. Bicubic is the baseline a method has to beat.")

THUMB_PAD = 2
HIGHLIGHT = (255, 170, 0)  # the frame around the chosen candidate


def candidate_strip(images: list[np.ndarray], chosen: int) -> np.ndarray:
    """The candidates side by side, uint8 RGB, with a coloured frame around the chosen one
    (drawn in the padding, so no pixel of a candidate is covered)."""
    batch = np.stack([im if im.ndim == 3 else im[..., None] for im in images])
    if batch.shape[3] == 1:
        batch = np.repeat(batch, 3, axis=3)  # the frame is in colour
    grid = make_grid(batch, nrow=len(batch), padding=THUMB_PAD)
    w = batch.shape[2]
    x = chosen * (w + THUMB_PAD)
    frame = grid[:, x:x + w + 2 * THUMB_PAD]  # a view: painting it paints the grid
    frame[:THUMB_PAD] = frame[-THUMB_PAD:] = HIGHLIGHT
    frame[:, :THUMB_PAD] = frame[:, -THUMB_PAD:] = HIGHLIGHT
    return grid


class UpscaleComparison(QWidget):
    candidate_chosen = Signal(int)

    def __init__(self, grid: QWidget, parent: QWidget | None = None) -> None:
        """grid: what "All methods" shows in the view's place (the panel's MethodGrid)."""
        super().__init__(parent)
        self.result: dict[str, Any] | None = None
        self.selected = 0
        self._stale = False  # the result shown was made with earlier settings
        self.view = BeforeAfterView(
            placeholder="Open or drop an image, pick a sample, or take one from another tab")
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.candidates = PixelView()
        self.candidates.setFixedHeight(96)
        self.candidates.tile_clicked.connect(self.select)
        self.candidates_label = QLabel(
            "<b>Alternatives, not the truth:</b> each candidate shrinks back to your input; "
            "they differ where the input holds no information. Click one to compare it.",
            wordWrap=True)
        self.candidates_box = QWidget()
        box = QVBoxLayout(self.candidates_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.candidates_label)
        box.addWidget(self.candidates)
        self.candidates_box.hide()
        self.metrics_label = QLabel(wordWrap=True)
        self.metrics_label.setTextFormat(Qt.TextFormat.RichText)
        self.metrics_label.setToolTip(FIGURES_TIP)
        self.grid = grid
        self.stack = QStackedWidget()  # the before/after view, or every method's result
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.grid)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._build_bar())
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.candidates_box)
        layout.addWidget(self.metrics_label)

    def _build_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setSpacing(4)
        self.compare = QComboBox()
        self.compare.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.compare.setToolTip("What the left of the divider (or the left pane) shows: the "
                                "input's own pixels, bicubic, or the reference; the result is "
                                "on the right")
        self.compare.currentIndexChanged.connect(self._show_before)
        bar.addWidget(self.compare)
        self.divider_button = QToolButton(text="Divider", checkable=True, checked=True)
        self.side_button = QToolButton(text="Side by side", checkable=True)
        self.methods_button = QToolButton(text="All methods", checkable=True)
        self.methods_button.setToolTip("Every method's result on this image, side by side "
                                       "(“Compare all methods” fills it)")
        modes = QButtonGroup(self)
        for button in (self.divider_button, self.side_button, self.methods_button):
            modes.addButton(button)
        modes.buttonToggled.connect(self._mode_changed)
        bar.addSpacing(6)
        bar.addWidget(self.divider_button)
        bar.addWidget(self.side_button)
        bar.addWidget(self.methods_button)
        bar.addStretch()
        self.zoom_tools = QWidget()  # the view's tools, hidden with the grid; placed by the panel
        tools = QHBoxLayout(self.zoom_tools)
        tools.setContentsMargins(0, 0, 0, 0)
        tools.setSpacing(2)
        self.crisp_button = QToolButton(text="Pixels", checkable=True)
        self.crisp_button.setToolTip("Show every pixel as a sharp square (else a photo-sized "
                                     "result is scaled smoothly)")
        self.crisp_button.clicked.connect(lambda on: self.view.set_smooth(not on))
        tools.addWidget(self.crisp_button)
        for text, slot, tip in (("−", self.view.zoom_out, "Zoom out (-, wheel)"),
                                ("+", self.view.zoom_in, "Zoom in (+, wheel)"),
                                ("Fit", self.view.fit, "Fit the view (0, double-click)"),
                                ("1:1", self.view.actual_pixels,
                                 "One image pixel per screen pixel (1)")):
            button = QToolButton(text=text, toolTip=tip)
            button.clicked.connect(lambda _=False, s=slot: s())
            tools.addWidget(button)
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(self.zoom_label.fontMetrics().horizontalAdvance("1000%"))
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        tools.addWidget(self.zoom_label)
        # zoom_tools is not in the bar: the panel puts it where there is room (beside Save)
        return bar

    def _mode_changed(self, button, on: bool) -> None:
        if not on:
            return
        grid = button is self.methods_button
        self.stack.setCurrentWidget(self.grid if grid else self.view)
        self.zoom_tools.setVisible(not grid)
        self.compare.setEnabled(not grid)
        self.metrics_label.setVisible(not grid)
        self.candidates_box.setVisible(not grid and self._several())
        if not grid:
            self.view.set_mode(DIVIDER if button is self.divider_button else SIDE_BY_SIDE)

    def show_methods(self, on: bool = True) -> None:
        """Shows the grid of every method (or goes back to the before/after view)."""
        (self.methods_button if on else self.divider_button if self.view.mode() == DIVIDER
         else self.side_button).setChecked(True)

    def showing_methods(self) -> bool:
        return self.methods_button.isChecked()

    def _several(self) -> bool:
        return self.result is not None and len(self.result["images"]) > 1

    def _sync_crisp(self) -> None:
        """The Pixels button says what the view does (it decides by the result's size
        until the user presses it)."""
        self.crisp_button.setChecked(not self.view.smooth())

    # --- content ----------------------------------------------------------------------------
    def show_source(self, pixels: np.ndarray) -> None:
        """A new image, not upscaled yet: shown on both sides."""
        self.result, self.selected, self._stale = None, 0, False
        self.candidates_box.hide()
        self.metrics_label.clear()
        self._fill_compare()
        self.view.set_images(pixels, pixels, labels=("Input", "Input"))
        self._sync_crisp()

    def mark_stale(self) -> None:
        """The inputs changed: the figures go now, and the image still shown says it was
        made with the earlier settings (until show_result replaces it)."""
        if self.result is None or self._stale:
            self.metrics_label.clear()
            return
        self._stale = True
        self.select(self.selected)

    def show_result(self, result: dict[str, Any]) -> None:
        """result: "images", "scale", "metrics", "baseline" of ops.superres, with "input",
        "bicubic" (or None) and "reference" (or None) for the left of the divider."""
        self.result, self.selected, self._stale = result, 0, False
        self._fill_compare()
        self.select(0)
        if self.showing_methods():
            self.show_methods(False)

    def select(self, index: int) -> None:
        """Chooses one of several candidates: it goes right of the divider."""
        if self.result is None or not 0 <= index < len(self.result["images"]):
            return
        self.selected = index
        images = self.result["images"]
        if len(images) > 1:
            metrics = (None if self._stale else self.result.get("metrics")) or \
                [None] * len(images)
            tips = [f"alternative {i}" + (f" · PSNR {m['psnr']:.2f} dB · SSIM {m['ssim']:.3f}"
                                          if m else "") for i, m in enumerate(metrics)]
            h, w = images[0].shape[:2]
            self.candidates.set_grid(candidate_strip(images, index), h, w, THUMB_PAD,
                                     len(images), tips)
        self.candidates_box.setVisible(len(images) > 1 and not self.showing_methods())
        before, label = self._before()
        name = "Result" if len(images) == 1 else f"Alternative {index}"
        self.view.set_images(before, images[index], labels=(label, name + STALE * self._stale),
                             before_crisp=self.compare.currentData() in (None, "input"))
        self._sync_crisp()
        self._show_metrics()
        self.candidate_chosen.emit(index)

    def _fill_compare(self) -> None:
        """What the left of the divider can show: the input, bicubic, the reference."""
        current = self.compare.currentData()
        self.compare.blockSignals(True)
        self.compare.clear()
        self.compare.addItem("Left: input", "input")
        if (self.result is not None and self.result.get("bicubic") is not None
                and self.result.get("method") != "bicubic"):  # else it is the result itself
            self.compare.addItem("Left: bicubic", "bicubic")
        if self.result is not None and self.result.get("reference") is not None:
            self.compare.addItem("Left: reference", "reference")
        self.compare.setCurrentIndex(max(0, self.compare.findData(current)))
        self.compare.blockSignals(False)

    def _before(self) -> tuple[np.ndarray | None, str]:
        which = self.compare.currentData() or "input"
        label = {"input": f"Input ×{self.result['scale']} (nearest)", "bicubic": "Bicubic",
                 "reference": "Reference"}[which]
        return self.result.get(which), label

    def _show_before(self, *_args) -> None:
        if self.result is not None:
            which = self.compare.currentData() or "input"
            self.view.set_before(*self._before(), crisp=which == "input")

    def _show_metrics(self) -> None:
        if self._stale:
            self.metrics_label.clear()
            return
        metrics = self.result.get("metrics")
        if not metrics:
            self.metrics_label.setText(
                f"<span style='{MUTED}'>No reference, so no figures of closeness: tick "
                "Simulate, or load the original as a reference.</span>")
            return
        several = len(metrics) > 1
        rows = [(f"Alternative {self.selected}" if several else "Result",
                 metrics[self.selected])]
        baseline = self.result.get("baseline")
        if self.result.get("method") != "bicubic" and baseline:
            rows.append(("Bicubic", baseline))
        cells = "".join(
            f"<tr><td>{name}</td><td align='right'>{m['psnr']:.2f} dB</td>"
            f"<td align='right'>{m['ssim']:.4f}</td>"
            f"<td style='{MUTED}'>{self._versus(m, baseline, name)}</td></tr>"
            for name, m in rows)
        self.metrics_label.setText(
            "<table cellspacing='0' cellpadding='3'><tr><th align='left'>Compared with the "
            "reference</th><th align='right'>PSNR (higher: closer)</th>"
            "<th align='right'>SSIM (1: same)</th><th></th></tr>"
            f"{cells}</table>")

    def _versus(self, m: dict[str, float], baseline: dict[str, float] | None,
                name: str) -> str:
        if not baseline or name == "Bicubic" or self.result.get("method") == "bicubic":
            return ""
        gain = m["psnr"] - baseline["psnr"]
        return f"{gain:+.2f} dB against bicubic"
