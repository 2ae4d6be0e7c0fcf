"""Is it new or copied? A generated image beside the training images nearest to it, in
the classifier's feature space and in pixels, with their distances and the verdict
(core/ops/nearest_images.py finds them; the dialog opens at once and fills in when the
search is done)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from genplay.gui.widgets.pixel_view import PixelView

TILE = 120  # screen pixels per image: a 28 or 64 px image shown large


def _tile(pixels: np.ndarray | None, tip: str = "") -> PixelView:
    view = PixelView()
    view.setFixedSize(TILE, TILE)
    view.setToolTip(tip)
    if pixels is not None:
        view.set_image(pixels)
    return view


def _captioned(view: PixelView, text: str) -> QWidget:
    """A tile with its caption (a line or two) below it."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(view)
    layout.addWidget(QLabel(text))
    return box


class NearestDialog(QDialog):
    """pixels: the image asked about, uint8 (H, W[, C])."""

    def __init__(self, parent: QWidget | None, pixels: np.ndarray, title: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Nearest training images — {title}")
        self.pixels = pixels
        self.status = QLabel("Finding the nearest training images…")
        self.status.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(6)
        self.grid.addWidget(QLabel("<b>This image</b>"), 0, 0)
        self.grid.addWidget(_tile(pixels), 1, 0)
        self.views: dict[str, list[PixelView]] = {}
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetFixedSize)  # grows to fit
        layout.addLayout(self.grid)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

    def show_found(self, value: dict[str, Any]) -> None:
        """The op's result: the neighbours in each space and the verdict."""
        rows = (("features", "Nearest in the classifier's features", "distance"),
                ("pixels", "Nearest in pixels", "RMS difference"))
        for r, (space, heading, unit) in enumerate(rows):
            row = 2 + 2 * r
            self.grid.addWidget(QLabel(f"<b>{heading}</b>"), row, 0, 1, -1)
            self.views[space] = []
            for col, n in enumerate(value[space]):
                tip = f"training image {n['index']}" + (f" ({n['label']})" if n["label"] else "")
                view = _tile(n["pixels"], tip)
                self.views[space].append(view)
                label = f"{n['label']}\n" if n["label"] else ""
                self.grid.addWidget(_captioned(view, f"{label}{unit} {n['distance']:.3f}"),
                                    row + 1, col)
        nearest = value["features"][0]["distance"] if value["features"] else float("nan")
        verdict = ("<b>A near-copy</b>" if value["near_copy"] else "<b>Not a near-copy</b>")
        self.status.setText(
            f"{verdict}: its nearest training image is {nearest:.3f} away in the "
            f"classifier's features; near-copies are closer than {value['threshold']:.3f}, "
            f"the {value['threshold_note']} (of {value['training_images']:,} training images).")

    def show_error(self, text: str) -> None:
        self.status.setText(text)
