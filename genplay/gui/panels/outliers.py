"""Outlier panel: how strange the user's images are to the model, read against its test split.

Files and folders dropped (or opened) are found, loaded safely and scored in the engine,
a chunk at a time, so the table fills while the rest is scored and the window stays
responsive for tens of thousands of images. Every score the checkpoint has a reference
for is computed in one pass, so changing the method is instant. The threshold is set by
a false-positive rate on the test split, or by dragging the line on the histogram; the
verdicts follow it live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from genplay.core import datasets
from genplay.core.images import IMAGE_FILTER
from genplay.gui.panels.base import Panel
from genplay.gui.widgets.dataset_offer import DatasetOffer
from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.labels import MUTED, muted_label
from genplay.gui.widgets.pixel_view import PixelView
from genplay.gui.widgets.score_histogram import ScoreHistogram
from genplay.gui.widgets.score_table import THUMB, ScoreTableModel

PAD = 2


def _facts(model, folder: str) -> dict[str, Any]:
    """What the panel needs of a model: its reference scores and what it can compute.
    A missing reference is a state the panel explains, not an error for the message bar."""
    from genplay.core import checkpoints
    from genplay.core.errors import GenplayError
    from genplay.core.ops import outliers

    try:
        reference, typical = outliers.load_reference(folder, checkpoints.weights_hash(folder))
    except GenplayError as exc:
        return {"missing": str(exc)}
    background = outliers.load_background(folder)
    methods = [m for m in outliers.available_methods(model, background) if m in reference]
    return {"reference": {m: reference[m] for m in methods}, "typical": typical,
            "methods": methods,
            "descriptions": {m: outliers.METHODS[m].description for m in methods},
            "pixel_note": getattr(model, "pixel_bits_note", "")}


def _measure_reference(folder: str):
    from genplay.core.errors import GenplayError
    from genplay.core.metrics import measure_reference

    try:
        yield from measure_reference(folder)
    except OSError as exc:
        raise GenplayError(f"could not write the reference scores into {folder}: "
                           f"{exc.strerror or exc}") from None


def _score(model, folder: str, paths: list[str], known: set[str], methods: list[str], typical):
    from genplay.core import checkpoints
    from genplay.core.data import invert_policy
    from genplay.core.events import Progress
    from genplay.core.images import find_images
    from genplay.core.ops.outliers import load_background, score_files

    yield Progress(0, None, message="looking for images…")
    background = load_background(folder, device=str(model.device)) if "ratio" in methods else None
    files = [f for f in find_images(paths) if str(f) not in known]
    invert = invert_policy(checkpoints.read_info(folder).dataset)
    yield from score_files(model, files, methods, typical_bpd=typical, background=background,
                           invert=invert)


def _pixel_bits(model, pixels: np.ndarray):
    import torch

    from genplay.core.images import to_float_chw
    from genplay.core.ops.outliers import pixel_bits

    bits = pixel_bits(model, torch.from_numpy(to_float_chw(pixels))[None])
    return None if bits is None else bits[0]


def heat_colours(bits: np.ndarray) -> np.ndarray:
    """(H, W) bits -> uint8 (H, W, 3), inferno from 0 to the image's maximum."""
    import pyqtgraph as pg

    top = float(bits.max()) if bits.size and bits.max() > 0 else 1.0
    return pg.colormap.get("inferno").map(np.clip(bits / top, 0, 1), mode="byte")[..., :3]


def overlay(pixels: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The image in gray with the heatmap blended over it, uint8 (H, W, 3)."""
    gray = pixels.mean(axis=2, keepdims=True) if pixels.shape[2] == 3 else pixels
    base = np.repeat(gray.astype(np.float32), 3, axis=2)
    return np.clip((1 - alpha) * base + alpha * heat.astype(np.float32), 0, 255).astype(np.uint8)


class ScoreTableView(AcceptsFileDrops, QTableView):
    def __init__(self, panel: OutlierPanel) -> None:
        super().__init__()
        self.panel = panel
        self.setAcceptDrops(True)

    def files_dropped(self, paths: list[str]) -> None:
        self.panel.add_paths(paths)

    def dragMoveEvent(self, event) -> None:  # a view refuses drops on its items otherwise
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()


class DropHint(AcceptsFileDrops, QLabel):
    def __init__(self, panel: OutlierPanel) -> None:
        super().__init__("Drop images or folders here\n(or use Add images… / Add folder…)")
        self.panel = panel
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("QLabel { border: 2px dashed palette(mid); border-radius: 8px; "
                           "color: palette(placeholder-text); font-size: 15px; }")
        self.setAcceptDrops(True)

    def files_dropped(self, paths: list[str]) -> None:
        self.panel.add_paths(paths)


class OutlierPanel(Panel):
    title = "Outliers"
    capability = "density"

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        self.facts: dict[str, Any] | None = None
        self.heat: np.ndarray | None = None  # bits per pixel of the selected image
        self._detail_head = self._detail_foot = ""
        self.sources: list[str] = []  # what the user added, rescored when the model changes
        self._jobs: set[int] = set()
        self._generation = 0
        self.table_model = ScoreTableModel()

        self.add_files_button = QPushButton("Add images…")
        self.add_files_button.clicked.connect(self.add_files_dialog)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.clicked.connect(self.add_folder_dialog)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.method = QComboBox()
        self.method.currentIndexChanged.connect(self._method_changed)
        self.method_help = muted_label()
        self.fpr = QDoubleSpinBox(minimum=0.1, maximum=50.0, singleStep=0.5, decimals=1,
                                  suffix=" %", value=float(settings.value("outlier_fpr", 5.0)))
        self.fpr.setToolTip("Share of the model's own test images that the threshold flags")
        self.fpr.valueChanged.connect(self._fpr_changed)
        self.threshold_label = QLabel()
        self.summary = QLabel(wordWrap=True)
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_csv_button.clicked.connect(lambda: self.export_dialog("csv"))
        self.export_json_button = QPushButton("Export JSON…")
        self.export_json_button.clicked.connect(lambda: self.export_dialog("json"))
        self.model_label = muted_label()
        self.measure_button = QPushButton("Measure reference scores")
        self.measure_button.setToolTip(
            "Score the model's test split once, so your images can be read against it "
            "(same as genplay eval --scores-only)")
        self.measure_button.clicked.connect(self.measure_reference)
        self.measure_button.hide()
        # measuring needs the test split of the model's dataset: offered when missing
        self.dataset_offer = DatasetOffer(engine)
        self.dataset_offer.ready.connect(self._dataset_arrived)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_files_button)
        buttons.addWidget(self.add_folder_button)
        form = QFormLayout()
        form.addRow("Score", self.method)
        form.addRow(self.method_help)
        form.addRow("False positives", self.fpr)
        form.addRow("Threshold", self.threshold_label)
        exports = QHBoxLayout()
        exports.addWidget(self.export_csv_button)
        exports.addWidget(self.export_json_button)
        controls = QWidget()
        controls.setFixedWidth(260)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(buttons)
        column.addWidget(self.clear_button)
        column.addSpacing(8)
        column.addLayout(form)
        column.addWidget(self.summary)
        column.addLayout(exports)
        column.addWidget(self.model_label)
        column.addWidget(self.measure_button)
        column.addWidget(self.dataset_offer)
        column.addStretch()

        self.histogram = ScoreHistogram()
        self.histogram.setMinimumHeight(170)
        self.histogram.threshold_moved.connect(self._threshold_moved)

        self.table = ScoreTableView(self)
        self.table.setModel(self.table_model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 62), (2, 66), (3, 74), (4, 74)):
            self.table.setColumnWidth(col, width)
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(THUMB + 4)
        rows.hide()
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.selectionModel().currentRowChanged.connect(self._row_selected)
        self.hint = DropHint(self)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.hint)
        self.table_stack.addWidget(self.table)

        self.detail = PixelView(placeholder="Select an image")
        self.detail.setMinimumWidth(250)
        self.detail_caption = QLabel(wordWrap=True)
        self.detail_caption.setMinimumWidth(250)
        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.detail, 1)
        detail_layout.addWidget(self.detail_caption)

        bottom = QSplitter()
        bottom.addWidget(self.table_stack)
        bottom.addWidget(detail)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.histogram)
        right.addWidget(bottom)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addWidget(right, 1)
        self._enable(False)

    # --- model ---------------------------------------------------------------------------
    def model_changed(self, info) -> None:
        self.facts = None
        self.measure_button.hide()
        self.dataset_offer.hide()
        self._enable(False)
        self._reset_table()
        self.model_label.setText(f"{info.name}: loading…")
        self.engine.submit(_facts, str(info.path), checkpoint=info.path, key="outlier-model",
                           label=f"loading {info.name}",
                           on_result=self.for_model(self._on_facts),
                           on_error=self.for_model(self.model_label.setText))

    def _no_reference(self, message: str) -> None:
        self.model_label.setText(message)
        self.histogram.set_reference(np.zeros(0), "")
        self.measure_button.show()
        dataset = self.info.dataset if self.info is not None else ""
        missing = dataset in datasets.CATALOGUE and datasets.locate(dataset, split="test") is None
        self.measure_button.setEnabled(not missing)
        if missing:
            self.dataset_offer.offer(dataset, "to measure the reference scores on")
        else:
            self.dataset_offer.hide()

    def _dataset_arrived(self, _name: str) -> None:
        if self.info is not None and not self.measure_button.isHidden():  # still to measure
            self._no_reference(self.model_label.text())

    def measure_reference(self) -> None:
        """Scores the model's test split (in the engine) and reloads the panel with it."""
        info = self.info
        if info is None:
            return
        self.measure_button.setEnabled(False)
        self.model_label.setText(f"{info.name}: scoring its test split…")

        def measured(_methods, _summary):
            self.measure_button.hide()
            self.model_changed(info)

        def failed(message):
            self.measure_button.setEnabled(True)
            self.model_label.setText(message)

        self.engine.submit(_measure_reference, str(info.path), key="outlier-reference",
                           label=f"measuring the reference scores of {info.name}",
                           on_result=self.for_model(measured), on_error=self.for_model(failed))

    def _on_facts(self, facts: dict[str, Any], _summary: dict) -> None:
        if "missing" in facts:
            self._no_reference(facts["missing"])
            return
        self.facts = facts
        info = self.info
        refs = facts["reference"]
        count = len(next(iter(refs.values()))) if refs else 0
        self.model_label.setText(
            f"{info.name} · {Path(info.dataset).name}\nReference: the scores of its "
            f"{count:,} test images.")
        self.method.blockSignals(True)
        self.method.clear()
        for name in facts["methods"]:
            self.method.addItem(name, name)
            self.method.setItemData(self.method.count() - 1, facts["descriptions"][name],
                                    Qt.ItemDataRole.ToolTipRole)
        wanted = str(self.settings.value("outlier_method", "complexity"))
        self.method.setCurrentIndex(max(0, self.method.findData(wanted)))
        self.method.blockSignals(False)
        if not facts["methods"]:
            self.model_label.setText(f"{info.name}: no score it can compute has a reference")
            return
        self._enable(True)
        self._method_changed()
        if self.sources:
            self._submit(self.sources)

    def _enable(self, on: bool) -> None:
        for w in (self.add_files_button, self.add_folder_button, self.method, self.fpr,
                  self.hint, self.table):
            w.setEnabled(on)
        self._update_summary()

    # --- method and threshold ----------------------------------------------------------
    def current_method(self) -> str:
        return self.method.currentData() or ""

    def _method_changed(self, *_args) -> None:
        if self.facts is None or not self.current_method():
            return
        method = self.current_method()
        self.settings.setValue("outlier_method", method)
        reference = self.facts["reference"][method]
        self.method_help.setText(self.facts["descriptions"][method] + " (higher = stranger)")
        self.table_model.set_method(method, reference)
        self.histogram.set_reference(reference, f"{method} score")
        self.histogram.set_user(self.table_model.current_scores())
        self._fpr_changed()

    def reference(self) -> np.ndarray:
        return self.facts["reference"][self.current_method()]

    def _fpr_changed(self, *_args) -> None:
        """The false-positive rate sets the threshold (and moves the line)."""
        from genplay.core.ops.outliers import threshold_at_fpr

        if self.facts is None or not self.current_method():
            return
        self.settings.setValue("outlier_fpr", self.fpr.value())
        self.histogram.set_threshold(threshold_at_fpr(self.reference(), self.fpr.value() / 100))

    def _threshold_moved(self, threshold: float) -> None:
        """The line sets the threshold; the rate shown is what it gives on the test split."""
        from genplay.core.ops.outliers import false_positive_rate

        if self.facts is None or not self.current_method():
            return
        rate = 100 * false_positive_rate(self.reference(), threshold)
        self.fpr.blockSignals(True)
        self.fpr.setValue(max(self.fpr.minimum(), rate))
        self.fpr.blockSignals(False)
        self.threshold_label.setText(f"{threshold:.4g}")
        self.threshold_label.setToolTip(f"{rate:.2f}% of the model's test images score above it")
        self.table_model.set_threshold(threshold)
        self._update_summary()
        self._show_detail()

    def set_threshold(self, threshold: float) -> None:
        self.histogram.set_threshold(threshold)

    # --- adding and scoring images -----------------------------------------------------
    def add_files_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Images to score", "", IMAGE_FILTER)
        if paths:
            self.add_paths(paths)

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of images to score")
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths: list[str]) -> None:
        if self.facts is None or self.info is None:
            self.show_error("Choose a model with reference scores before adding images")
            return
        self.sources += [p for p in paths if p not in self.sources]
        self._submit(paths)

    def _submit(self, paths: list[str]) -> None:
        generation = self._generation
        job = None

        def partial(value):
            if generation == self._generation:
                self._add_rows(value)

        def done(cancelled):
            self._jobs.discard(job)
            self._update_summary()

        known = set(self.table_model.files)
        job = self.engine.submit(
            _score, str(self.info.path), list(paths), known, list(self.facts["methods"]),
            self.facts["typical"],
            checkpoint=self.info.path, label=f"scoring images with {self.info.name}",
            on_partial=self.for_model(partial),
            on_result=self.for_model(lambda counts, _summary: self._scored(counts, paths)),
            on_done=done)
        self._jobs.add(job)
        self._update_summary()

    def _scored(self, counts: dict, paths: list[str]) -> None:
        if counts["scored"] + counts["unreadable"] == 0:
            names = ", ".join(Path(p).name for p in paths[:3]) + ("…" if len(paths) > 3 else "")
            self.messages.show_message(
                f"No new images in {names} (folders are searched with their subfolders; "
                "images already in the table are not added again)", "info")
        elif counts["unreadable"]:
            self.messages.show_message(
                f"{counts['unreadable']} file(s) could not be read; they are listed as "
                "unreadable (hover for the reason)", "info")

    def _add_rows(self, part: dict) -> None:
        self.table_stack.setCurrentWidget(self.table)
        self.table_model.append(part)
        self.histogram.set_user(self.table_model.current_scores())
        self._update_summary()
        if self.table.currentIndex().row() < 0 and self.table_model.rowCount():
            self.table.selectionModel().setCurrentIndex(
                self.table_model.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)

    def clear(self) -> None:
        self.sources = []
        self._reset_table()

    def _reset_table(self) -> None:
        self._generation += 1
        for job in list(self._jobs):
            self.engine.cancel(job)
        self._jobs.clear()
        self.table_model.clear()
        if self.facts is not None and self.current_method():
            self.table_model.set_method(self.current_method(), self.reference())
            self.table_model.set_threshold(self.histogram.threshold())
        self.histogram.set_user(np.zeros(0))
        self.table_stack.setCurrentWidget(self.hint)
        self.detail.clear()
        self.detail_caption.clear()
        self._update_summary()

    def _update_summary(self) -> None:
        model = self.table_model
        n = len(model.files)
        busy = bool(self._jobs)
        if n == 0:
            self.summary.setText("Scoring…" if busy else "No images yet.")
        else:
            unreadable = n - int(model.readable().sum())
            text = f"<b>{int(model.flagged().sum())}</b> of {n - unreadable:,} images flagged"
            if unreadable:
                text += f"; {unreadable} unreadable"
            self.summary.setText(text + (" · scoring…" if busy else ""))
        for w in (self.export_csv_button, self.export_json_button, self.clear_button):
            w.setEnabled(n > 0 or busy)

    # --- the selected image ------------------------------------------------------------
    def _row_selected(self, current, _previous=None) -> None:
        self._show_detail(heatmap=True)

    def selected_index(self) -> int | None:
        row = self.table.currentIndex().row()
        return self.table_model.data_index(row) if row >= 0 else None

    def _show_detail(self, heatmap: bool = False) -> None:
        """Shows the selected image; a new selection also asks the model for its heatmap."""
        i = self.selected_index()
        if i is None or i >= len(self.table_model.files):
            return
        model = self.table_model
        name = Path(model.files[i]).name
        if model.errors[i]:
            self.detail.clear()
            self.detail_caption.setText(f"<b>{name}</b><br>{model.errors[i]}")
            return
        score, pct = model.current_scores()[i], model.percentiles[i]
        self._detail_head = (f"<b>{name}</b> — {model.verdict(i)}<br>{self.current_method()} "
                             f"score {score:.4f}, stranger than {pct:.1f}% of the test images")
        if not heatmap:
            self.detail_caption.setText(self._detail_head + self._detail_foot)
            return
        pixels = model.pixels[i]
        self.detail.set_image(pixels)
        self._detail_foot = f"<br><span style='{MUTED}'>the image as the model sees it</span>"
        if self.facts and self.facts["pixel_note"]:
            self.engine.submit(_pixel_bits, pixels, checkpoint=self.info.path,
                               key="outlier-heatmap",
                               on_result=self.for_model(
                                   lambda bits, _summary, i=i: self._show_heatmap(i, bits)))
        else:
            self._detail_foot += (f"<br><span style='{MUTED}'>this model gives no per-pixel "
                                  "score</span>")
        self.detail_caption.setText(self._detail_head + self._detail_foot)

    def _show_heatmap(self, i: int, bits: np.ndarray | None) -> None:
        from genplay.core.images import make_grid

        if bits is None or self.selected_index() != i:
            return
        pixels = self.table_model.pixels[i]
        rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
        heat = heat_colours(bits)
        tiles = np.stack([rgb, heat, overlay(pixels, heat)])
        h, w = pixels.shape[:2]
        self.detail.set_grid(make_grid(tiles, nrow=3, padding=PAD), h, w, PAD, 3,
                             ["as the model sees it", "bits per pixel", "overlay"])
        self.heat = bits
        self._detail_foot = (
            f"<br><span style='{MUTED}'>image · bits per pixel (dark 0, bright "
            f"{bits.max():.1f}; {bits.sum():.0f} bits in all) · overlay<br>"
            f"{self.facts['pixel_note']}</span>")
        self.detail_caption.setText(self._detail_head + self._detail_foot)

    # --- export --------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        from genplay.core.ops.outliers import verdict_rows

        model = self.table_model
        order = model.order
        rows = verdict_rows([model.files[i] for i in order], [model.errors[i] for i in order],
                            model.current_scores()[order], self.reference(),
                            model.threshold)
        return rows

    def export_dialog(self, fmt: str) -> None:
        if not self.table_model.files or self.info is None:
            return
        name = f"{self.info.name}-{self.current_method()}-scores.{fmt}"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {fmt.upper()}", name,
                                              f"{fmt.upper()} (*.{fmt})")
        if path:
            self.export(Path(path), fmt)

    def export(self, path: Path, fmt: str) -> None:
        """Writes the table (in its current order) as CSV or JSON, atomically."""
        from genplay.core.checkpoints import atomic_write
        from genplay.core.ops.outliers import write_rows

        header = {"checkpoint": self.info.name, "method": self.current_method(),
                  "fpr": self.fpr.value() / 100, "threshold": self.table_model.threshold}
        rows = self.rows()

        def write(tmp):
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                write_rows(fh, rows, fmt, header)
        try:
            atomic_write(path, write)
        except OSError as exc:
            self.show_error(f"Could not write {path}: {exc.strerror or exc}")
            return
        self.messages.show_message(f"Saved {len(rows)} rows to {path}", "info")

    def save_settings(self) -> None:
        self.settings.setValue("outlier_fpr", self.fpr.value())
