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
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from genplay.core import datasets
from genplay.core.images import IMAGE_FILTER
from genplay.gui.panels import outlier_jobs as jobs
from genplay.gui.panels import outlier_views as views
from genplay.gui.panels.base import Panel, op
from genplay.gui.widgets.dataset_offer import DatasetOffer
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.score_histogram import ScoreHistogram
from genplay.gui.widgets.score_table import ScoreTableModel

MEASURE = op("evaluation:measure_reference")  # the test split's scores, stored beside it
CHOICE_KEY = "outlier_score_choice"  # the score the user picked; models lacking it keep theirs


class OutlierPanel(Panel):
    title = "Outliers"
    capability = "density"

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        self.facts: dict[str, Any] | None = None
        self.heat: np.ndarray | None = None  # bits per pixel of the selected image
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
        self.method.setSizeAdjustPolicy(  # a long score name never widens the column
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.method.setMinimumContentsLength(12)
        self.method.currentIndexChanged.connect(self._method_chosen)
        self.method_help = muted_label()
        fpr = min(100.0, max(0.0, float(settings.value("outlier_fpr", 5.0))))
        self.fpr = QDoubleSpinBox(minimum=0.0, maximum=100.0, singleStep=0.5, decimals=2,
                                  suffix=" %", value=fpr)
        self.fpr.setToolTip(
            "Share of the model's own test images (all of them normal) that the threshold "
            "flags. Lower means fewer false alarms, and more real outliers missed.")
        self.fpr.valueChanged.connect(self._fpr_changed)
        self.threshold_label = QLabel(wordWrap=True)
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
        controls.setFixedWidth(240)
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
        self.histogram.setMinimumHeight(150)
        self.histogram.threshold_moved.connect(self._threshold_moved)

        self.table = views.ScoreTableView(self)
        self.table.setModel(self.table_model)
        self.table.selectionModel().currentRowChanged.connect(self._row_selected)
        self.hint = views.DropHint(self)
        self.scoring_page = views.ScoringPage()
        self.table_stack = QStackedWidget()
        for page in (self.hint, self.scoring_page, self.table):
            self.table_stack.addWidget(page)

        self.detail = views.DetailView()
        self.detail_caption = self.detail.caption

        self.middle = QSplitter(Qt.Orientation.Vertical)
        self.middle.addWidget(self.histogram)
        self.middle.addWidget(self.table_stack)
        self.right = QSplitter()
        self.right.addWidget(self.middle)
        self.right.addWidget(self.detail)
        for splitter, (first, second) in ((self.middle, (2, 3)), (self.right, (2, 1))):
            splitter.setChildrenCollapsible(False)
            splitter.setStretchFactor(0, first)  # how a window's growth is shared out
            splitter.setStretchFactor(1, second)
        self._placed = False
        layout = QHBoxLayout(self)
        layout.addWidget(controls)
        layout.addWidget(self.right, 1)
        self._enable(False)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._placed:  # first shown: share the space out (the user may then drag)
            self._placed = True
            width, height = self.right.width(), self.middle.height()
            table = max(self.table.minimumWidth(), round(0.68 * width))
            self.right.setSizes([table, max(self.detail.minimumSizeHint().width(),
                                            width - table)])
            self.middle.setSizes([round(0.4 * height), height - round(0.4 * height)])

    # --- model ---------------------------------------------------------------------------
    def model_changed(self, info) -> None:
        self.facts = None
        self.measure_button.hide()
        self.dataset_offer.hide()
        self._enable(False)
        self._forget_model()
        self._reset_table()
        self.model_label.setText(f"{info.name}: loading…")
        self.engine.submit(jobs.FACTS, str(info.path), checkpoint=info.path,
                           key="outlier-model", label=f"loading {info.name}",
                           on_result=self.for_model(self._on_facts),
                           on_error=self.for_model(self.model_label.setText))

    def _forget_model(self) -> None:
        """Nothing of the last model's reading stays on screen: scores, rate, threshold."""
        self.method.blockSignals(True)
        self.method.clear()
        self.method.blockSignals(False)
        self.method_help.clear()
        self.method_help.setToolTip("")
        self.threshold_label.clear()
        self.threshold_label.setToolTip("")
        self.histogram.set_reference(np.zeros(0), "")

    def _no_reference(self, message: str) -> None:
        self.model_label.setText(message)
        self._forget_model()
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

        self.engine.submit(MEASURE, str(info.path), key="outlier-reference",
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
            f"{info.name} · {Path(info.dataset).name}\nYour images are compared with the "
            f"scores of its {count:,} test images.")
        # a "features" or "profile" score that cannot be offered: say why
        note = facts.get("bank_note") or facts.get("profile_note")
        if note:
            self.messages.show_message(note, "info")
        methods = facts["methods"]
        if not methods:
            self.model_label.setText(f"{info.name}: no score it can compute has a reference")
            return
        self.method.blockSignals(True)
        self.method.clear()
        for name in methods:
            self.method.addItem(views.score_name(name), name)
            self.method.setItemData(self.method.count() - 1, self._definition(name),
                                    Qt.ItemDataRole.ToolTipRole)
        # the score the user picked, if this model has it; else this model's own default
        chosen = str(self.settings.value(CHOICE_KEY, ""))
        self.method.setCurrentIndex(self.method.findData(
            chosen if chosen in methods else views.default_score(methods)))
        self.method.blockSignals(False)
        self._enable(True)
        self._show_method()
        if self.sources:
            self._submit(self.sources)

    def _definition(self, method: str) -> str:
        return (f"{method}: {self.facts['descriptions'][method]} (higher = stranger)"
                if self.facts else "")

    def _enable(self, on: bool) -> None:
        for w in (self.add_files_button, self.add_folder_button, self.method, self.fpr,
                  self.hint, self.table):
            w.setEnabled(on)
        self._update_summary()

    # --- method and threshold ----------------------------------------------------------
    def current_method(self) -> str:
        return self.method.currentData() or ""

    def _method_chosen(self, *_args) -> None:
        """The user picked a score: remembered for the models that have it."""
        if self.facts is None or not self.current_method():
            return
        self.settings.setValue(CHOICE_KEY, self.current_method())
        self._show_method()

    def _show_method(self) -> None:
        """Shows the current score: its reference, the user's images on it, and the
        threshold at the rate in the box (typed or dragged, kept across scores)."""
        method = self.current_method()
        reference = self.facts["reference"][method]
        self.method_help.setText(views.score_help(method))
        self.method_help.setToolTip(self._definition(method))
        self.method.setToolTip(self._definition(method))
        self.table_model.set_method(method, reference)
        self.histogram.set_reference(reference, f"{views.score_name(method).lower()} score  "
                                                "(higher = stranger)")
        self.histogram.set_user(self.table_model.current_scores())
        self._fpr_changed()

    def reference(self) -> np.ndarray:
        return self.facts["reference"][self.current_method()]

    def _fpr_changed(self, *_args) -> None:
        """The false-positive rate sets the threshold (and moves the line)."""
        if self.facts is None or not self.current_method():
            return
        self.settings.setValue("outlier_fpr", self.fpr.value())
        threshold = jobs.threshold_for(self.reference(), self.fpr.value())
        self.histogram.set_threshold(threshold)
        self._apply_threshold(threshold)

    def _threshold_moved(self, threshold: float) -> None:
        """The line sets the threshold; the box shows the rate it gives on the test split."""
        from genplay.core.ops.outlier_figures import false_positive_rate

        if self.facts is None or not self.current_method():
            return
        self.fpr.blockSignals(True)
        self.fpr.setValue(100 * false_positive_rate(self.reference(), threshold))
        self.fpr.blockSignals(False)
        self.settings.setValue("outlier_fpr", self.fpr.value())
        self._apply_threshold(threshold)

    def _apply_threshold(self, threshold: float) -> None:
        from genplay.core.ops.outlier_figures import false_positive_rate

        rate = 100 * false_positive_rate(self.reference(), threshold)
        text = f"{threshold:.4g}"
        if abs(rate - self.fpr.value()) >= 0.005:  # few test images: no threshold gives it
            text += f" (flags {rate:.2f}%)"
        self.threshold_label.setText(text)
        self.threshold_label.setToolTip(
            f"Images scoring above {threshold:.6g} are flagged; {rate:.2f}% of the model's "
            "test images do")
        self.table_model.set_threshold(threshold)
        self._update_summary()
        self._show_detail()

    def set_threshold(self, threshold: float) -> None:
        """Moves the line as a drag does (the box follows)."""
        self.histogram.line.setValue(threshold)

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

        def progress(step, total, message):
            if generation == self._generation:
                self.scoring_page.show_progress(step, total, message)

        def done(cancelled):
            self._jobs.discard(job)
            if not self._jobs and not self.table_model.files:
                self.table_stack.setCurrentWidget(self.hint)  # nothing new: drop again
            self._update_summary()

        known = set(self.table_model.files)
        job = self.engine.submit(
            jobs.SCORE, str(self.info.path), list(paths), known,
            list(self.facts["methods"]), self.facts["typical"],
            checkpoint=self.info.path, label=f"scoring images with {self.info.name}",
            on_partial=self.for_model(partial), on_progress=self.for_model(progress),
            on_result=self.for_model(lambda counts, _summary: self._scored(counts, paths)),
            on_done=done)
        self._jobs.add(job)
        if not self.table_model.files:  # the drop hint gives way at once
            self.scoring_page.show_progress(0, None)
            self.table_stack.setCurrentWidget(self.scoring_page)
        self._update_summary()

    def _scored(self, counts: dict, paths: list[str]) -> None:
        if counts["scored"] + counts["unreadable"] == 0:
            names = ", ".join(Path(p).name for p in paths[:3]) + ("…" if len(paths) > 3 else "")
            self.messages.show_message(
                f"No new images in {names} (folders are searched with their subfolders; "
                "images already in the table are not added again)", "info")
        elif counts["unreadable"] == 1:
            self.messages.show_message("1 file could not be read; it is listed as unreadable "
                                       "(hover over it for the reason)", "info")
        elif counts["unreadable"]:
            self.messages.show_message(
                f"{counts['unreadable']} files could not be read; they are listed as "
                "unreadable (hover over one for the reason)", "info")

    def _add_rows(self, part: dict) -> None:
        self.table_stack.setCurrentWidget(self.table)
        self.table_model.append(part)
        self.histogram.set_user(self.table_model.current_scores())
        self._update_summary()
        if self.table.currentIndex().row() < 0:
            self.detail.view.placeholder = "Select an image in the table"
            self.detail.view.update()
            row = self.table_model.first_readable_row()
            if row is not None:  # an unreadable file is never chosen for the user
                self.table.selectionModel().setCurrentIndex(
                    self.table_model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
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
        self.heat = None
        self.detail.clear()
        self._update_summary()

    def _update_summary(self) -> None:
        model = self.table_model
        n = len(model.files)
        busy = bool(self._jobs)
        if n == 0:
            self.summary.setText("Scoring…" if busy else "No images yet.")
        else:
            unreadable = n - int(model.readable().sum())
            text = (f"<b>{int(model.flagged().sum())}</b> of {n - unreadable:,} images "
                    "flagged as outliers")
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

    def _headline(self, i: int) -> str:
        model = self.table_model
        return views.headline(model.files[i], model.verdict(i), model.percentiles[i],
                        self.current_method(), model.current_scores()[i])

    def _show_detail(self, heatmap: bool = False) -> None:
        """Shows the selected image; a new selection also asks the model for its heatmap."""
        i = self.selected_index()
        model = self.table_model
        if i is None or i >= len(model.files) or self.facts is None:
            return
        if model.errors[i]:
            self.heat = None
            self.detail.show_unreadable(model.files[i], model.errors[i])
            return
        if not heatmap:
            self.detail.set_text(self._headline(i), model.files[i])
            return
        self.heat = None
        pixels = model.pixels[i]
        note = self.facts["pixel_note"]
        self.detail.show_image(pixels, self._headline(i), model.files[i],
                               "" if note else "The image as the model sees it (this model "
                               "gives no map of where it is surprised).")
        if note:
            self.engine.submit(jobs.PIXEL_BITS, pixels, checkpoint=self.info.path,
                               key="outlier-heatmap",
                               on_result=self.for_model(
                                   lambda bits, _summary, i=i, g=self._generation:
                                   self._show_heatmap(i, g, bits)))

    def _show_heatmap(self, i: int, generation: int, bits: np.ndarray | None) -> None:
        if bits is None or self.selected_index() != i or generation != self._generation:
            return  # another image, or the table was cleared since
        self.heat = bits
        self.detail.show_heatmap(self.table_model.pixels[i], bits, self.facts["pixel_note"])

    # --- export --------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        from genplay.core.ops.outlier_figures import verdict_rows

        model, order = self.table_model, self.table_model.order
        return verdict_rows([model.files[i] for i in order], [model.errors[i] for i in order],
                            model.current_scores()[order], self.reference(), model.threshold)

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
        header = {"checkpoint": self.info.name, "method": self.current_method(),
                  "fpr": self.fpr.value() / 100, "threshold": self.table_model.threshold}
        rows = self.rows()
        try:
            jobs.write_table(path, fmt, rows, header)
        except OSError as exc:
            self.show_error(f"Could not write {path}: {exc.strerror or exc}")
            return
        self.messages.show_message(f"Saved {len(rows)} rows to {path}", "info")

    def save_settings(self) -> None:
        self.settings.setValue("outlier_fpr", self.fpr.value())
