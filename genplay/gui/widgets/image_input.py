"""The image the Super-resolution panel upscales, and what the result is measured against.

The image comes from a file (Open…, or dropped on the panel), a sample shipped with
genplay, or the image another tab shows. "Simulate" shrinks it first and keeps the
original as the reference; otherwise a reference of the user's own (the output's size)
can be loaded. The box holds these choices and says what they are; reading files is the
panel's, which owns the engine: the box asks with ``file_chosen`` / ``reference_chosen``
and the panel answers with ``set_source`` / ``set_reference``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import IMAGE_FILTER
from genplay.gui.widgets.labels import muted_label

if TYPE_CHECKING:
    from collections.abc import Callable

    # (tab title, a getter of its current image: (pixels, record) or None)
    OtherImages = Callable[[], list[tuple[str, Callable[[], Any]]]]

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"


def shape_text(pixels: np.ndarray) -> str:
    h, w = pixels.shape[:2]
    kind = "gray" if pixels.ndim == 2 or pixels.shape[2] == 1 else "colour"
    return f"{w}×{h} {kind}"


class ImageInput(QGroupBox):
    file_chosen = Signal(str)  # a file to read as the image (Open…, a sample)
    reference_chosen = Signal(str)  # a file to read as the reference
    source_changed = Signal(object)  # the new image, uint8 HW or HWC
    measure_changed = Signal()  # Simulate or the reference changed
    notice = Signal(str)  # something to tell the user (not an error)

    def __init__(self, simulate: bool, other_images: OtherImages,
                 parent: QWidget | None = None) -> None:
        super().__init__("Image", parent)
        self.other_images = other_images
        self.source: np.ndarray | None = None  # the image the user gave, uint8 HW or HWC
        self.source_name = ""
        self.reference: np.ndarray | None = None  # a high-resolution reference the user gave
        self.reference_name = ""

        column = QVBoxLayout(self)
        self.open_button = QPushButton("Open…", clicked=self.open_dialog)
        self.open_button.setToolTip("Open an image file (or drop one on the panel)")
        self.sample_button = QPushButton("Sample")
        self.sample_button.setMenu(self._samples_menu())
        self.sample_button.setToolTip("One of the sample images shipped with genplay")
        self.from_button = QPushButton("Use the image of another tab")
        self.from_menu = QMenu(self.from_button)
        self.from_menu.aboutToShow.connect(self.fill_from_menu)
        self.from_button.setMenu(self.from_menu)
        self.from_button.setToolTip("The image another panel shows (its chosen sample, "
                                    "candidate or frame)")
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.sample_button)
        column.addLayout(row)
        column.addWidget(self.from_button)
        self.source_label = muted_label("No image yet")
        column.addWidget(self.source_label)
        self.simulate = QCheckBox("Simulate: shrink it first", checked=simulate)
        self.simulate.setToolTip("Shrink the image by the scale (the same antialiased bicubic "
                                 "shrink the networks were trained on), upscale that, and "
                                 "measure the result against the original")
        self.simulate.toggled.connect(self._simulate_toggled)
        column.addWidget(self.simulate)
        self.reference_button = QPushButton("Reference…", clicked=self.reference_dialog)
        self.reference_button.setToolTip("A high-resolution version of the image, to measure "
                                         "PSNR/SSIM against (the output's size)")
        self.clear_reference_button = QToolButton(text="✕", clicked=self.clear_reference)
        self.clear_reference_button.setToolTip("Forget the reference")
        row = QHBoxLayout()
        row.addWidget(self.reference_button, 1)
        row.addWidget(self.clear_reference_button)
        column.addLayout(row)
        self.reference_label = muted_label()
        column.addWidget(self.reference_label)
        self._update_reference_label()

    def _samples_menu(self) -> QMenu:
        menu = QMenu(self)
        for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()) if SAMPLES.is_dir() \
                else []:
            sub = menu.addMenu(folder.name)
            for path in sorted(folder.glob("*.png")):
                sub.addAction(path.stem, lambda p=str(path): self.file_chosen.emit(p))
        if menu.isEmpty():
            menu.addAction("(no samples found)").setEnabled(False)
        return menu

    # --- the image --------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image to upscale", "", IMAGE_FILTER)
        if path:
            self.file_chosen.emit(path)

    def set_source(self, pixels: np.ndarray, name: str) -> None:
        """The image to upscale (uint8 HW or HWC)."""
        self.source, self.source_name = pixels, name
        self.source_label.setText(f"{name} · {shape_text(pixels)}")
        self.source_changed.emit(pixels)

    def fill_from_menu(self) -> None:
        self.from_menu.clear()
        for title, getter in self.other_images():
            action = self.from_menu.addAction(title, lambda t=title, g=getter: self.take(t, g))
            action.setEnabled(getter() is not None)
        if self.from_menu.isEmpty():
            self.from_menu.addAction("(no other tabs)").setEnabled(False)

    def take(self, title: str, getter: Callable[[], Any]) -> None:
        """Takes the current image of another panel."""
        current = getter()
        if current is None:
            self.notice.emit(f"The {title} panel shows no image yet")
            return
        self.set_source(np.ascontiguousarray(current[0]), f"from {title}")

    # --- what the result is measured against ------------------------------------------------
    def _simulate_toggled(self, on: bool) -> None:
        self.reference_button.setEnabled(not on)
        self._update_reference_label()
        self.measure_changed.emit()

    def reference_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a high-resolution reference", "",
                                              IMAGE_FILTER)
        if path:
            self.reference_chosen.emit(path)

    def set_reference(self, pixels: np.ndarray, name: str) -> None:
        self.reference, self.reference_name = pixels, name
        # A reference of one's own replaces simulation; the box is unticked quietly, as
        # this is not the user choosing to stop simulating for the next images.
        with QSignalBlocker(self.simulate):
            self.simulate.setChecked(False)
        self.reference_button.setEnabled(True)
        self._update_reference_label()
        self.measure_changed.emit()

    def clear_reference(self) -> None:
        self.reference, self.reference_name = None, ""
        self._update_reference_label()
        self.measure_changed.emit()

    def _update_reference_label(self) -> None:
        if self.simulate.isChecked():
            text = "Reference: the original (simulated input)"
        elif self.reference is not None:
            text = f"Reference: {self.reference_name} · {shape_text(self.reference)}"
        else:
            text = "No reference: PSNR/SSIM need one"
        self.reference_label.setText(text)
        self.clear_reference_button.setEnabled(self.reference is not None)
