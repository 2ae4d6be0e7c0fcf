"""The right-hand side of the Super-resolution panel: one upscaling result, compared.

A before/after view (input, bicubic or reference on the left of the divider, the
result on the right), the candidates of guided generation as thumbnails to choose
from, and PSNR/SSIM against the reference when there is one. It shows a result
dict as ``ops.superres.upscale_steps`` makes it, plus the panel's "input",
"bicubic" and "reference" images; it runs nothing itself.
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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import make_grid
from genplay.gui.widgets.before_after import DIVIDER, SIDE_BY_SIDE, BeforeAfterView
from genplay.gui.widgets.labels import MUTED
from genplay.gui.widgets.pixel_view import PixelView

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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: dict[str, Any] | None = None
        self.selected = 0
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._build_bar())
        layout.addWidget(self.view, 1)
        layout.addWidget(self.candidates_box)
        layout.addWidget(self.metrics_label)

    def _build_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Compare with"))
        self.compare = QComboBox()
        self.compare.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.compare.setToolTip("What the left of the divider shows; the result is on the right")
        self.compare.currentIndexChanged.connect(self._show_before)
        bar.addWidget(self.compare)
        self.divider_button = QToolButton(text="Divider", checkable=True, checked=True)
        self.side_button = QToolButton(text="Side by side", checkable=True)
        modes = QButtonGroup(self)
        modes.addButton(self.divider_button)
        modes.addButton(self.side_button)
        self.divider_button.toggled.connect(
            lambda on: self.view.set_mode(DIVIDER if on else SIDE_BY_SIDE))
        bar.addSpacing(8)
        bar.addWidget(self.divider_button)
        bar.addWidget(self.side_button)
        bar.addStretch()
        for text, slot, tip in (("−", self.view.zoom_out, "Zoom out (-, wheel)"),
                                ("+", self.view.zoom_in, "Zoom in (+, wheel)"),
                                ("Fit", self.view.fit, "Fit the view (0, double-click)"),
                                ("1:1", self.view.actual_pixels,
                                 "One image pixel per screen pixel (1)")):
            button = QToolButton(text=text, toolTip=tip)
            button.clicked.connect(lambda _=False, s=slot: s())
            bar.addWidget(button)
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(48)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar.addWidget(self.zoom_label)
        return bar

    # --- content ----------------------------------------------------------------------------
    def show_source(self, pixels: np.ndarray) -> None:
        """A new image, not upscaled yet: shown on both sides."""
        self.result, self.selected = None, 0
        self.candidates_box.hide()
        self.metrics_label.clear()
        self._fill_compare()
        self.view.set_images(pixels, pixels, labels=("Input", "Input"))

    def show_result(self, result: dict[str, Any]) -> None:
        """result: "images", "scale", "metrics", "baseline" of ops.superres, with "input",
        "bicubic" (or None) and "reference" (or None) for the left of the divider."""
        self.result, self.selected = result, 0
        self._fill_compare()
        self.select(0)

    def select(self, index: int) -> None:
        """Chooses one of several candidates: it goes right of the divider."""
        if self.result is None or not 0 <= index < len(self.result["images"]):
            return
        self.selected = index
        images = self.result["images"]
        if len(images) > 1:
            metrics = self.result.get("metrics") or [None] * len(images)
            tips = [f"alternative {i}" + (f" · PSNR {m['psnr']:.2f} dB · SSIM {m['ssim']:.3f}"
                                          if m else "") for i, m in enumerate(metrics)]
            h, w = images[0].shape[:2]
            self.candidates.set_grid(candidate_strip(images, index), h, w, THUMB_PAD,
                                     len(images), tips)
            self.candidates_box.show()
        else:
            self.candidates_box.hide()
        before, label = self._before()
        name = "Result" if len(images) == 1 else f"Alternative {index}"
        self.view.set_images(before, images[index], labels=(label, name))
        self._show_metrics()
        self.candidate_chosen.emit(index)

    def _fill_compare(self) -> None:
        """What the left of the divider can show: the input, bicubic, the reference."""
        current = self.compare.currentData()
        self.compare.blockSignals(True)
        self.compare.clear()
        self.compare.addItem("Input (its pixels)", "input")
        if (self.result is not None and self.result.get("bicubic") is not None
                and self.result.get("method") != "bicubic"):  # else it is the result itself
            self.compare.addItem("Bicubic", "bicubic")
        if self.result is not None and self.result.get("reference") is not None:
            self.compare.addItem("Reference", "reference")
        self.compare.setCurrentIndex(max(0, self.compare.findData(current)))
        self.compare.blockSignals(False)

    def _before(self) -> tuple[np.ndarray | None, str]:
        which = self.compare.currentData() or "input"
        label = {"input": f"Input ×{self.result['scale']} (nearest)", "bicubic": "Bicubic",
                 "reference": "Reference"}[which]
        return self.result.get(which), label

    def _show_before(self, *_args) -> None:
        if self.result is not None:
            self.view.set_before(*self._before())

    def _show_metrics(self) -> None:
        metrics = self.result.get("metrics")
        if not metrics:
            self.metrics_label.setText(
                f"<span style='{MUTED}'>No reference, so no PSNR/SSIM: "
                "tick Simulate, or load a reference.</span>")
            return
        several = len(metrics) > 1
        rows = [(f"Alternative {self.selected}" if several else "Result",
                 metrics[self.selected])]
        if self.result.get("method") != "bicubic" and self.result.get("baseline"):
            rows.append(("Bicubic", self.result["baseline"]))
        cells = "".join(
            f"<tr><td>{name}</td><td align='right'>{m['psnr']:.2f} dB</td>"
            f"<td align='right'>{m['ssim']:.4f}</td></tr>" for name, m in rows)
        self.metrics_label.setText(
            "<table cellspacing='0' cellpadding='3'><tr><th align='left'>vs reference</th>"
            "<th align='right'>PSNR</th><th align='right'>SSIM</th></tr>"
            f"{cells}</table>")
