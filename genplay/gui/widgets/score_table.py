"""A table of scored images that stays fast at tens of thousands of rows.

The data live in numpy arrays that grow a chunk at a time; sorting is an argsort of
a permutation, verdicts are one comparison with the threshold, and thumbnails are
made only for the rows the view asks for (and a bounded number kept).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QPixmap

from genplay.gui.widgets.pixel_view import to_qimage

THUMB = 56  # thumbnail side in pixels (a 28x28 image at 2x)
COLUMNS = ("Image", "File", "Score", "Percentile", "Verdict")
HEADER_TIPS = (
    "The image as the model sees it",
    "The file's name (hover over a row for its full path)",
    "The chosen score: higher means stranger to the model",
    "Share of the model's own test images that score lower than this image",
    "Outlier: above the threshold; inlier: at or below it",
)
OUTLIER = QColor(200, 40, 40)
UNREADABLE = QColor(130, 130, 130)


class ScoreTableModel(QAbstractTableModel):
    """Rows are scored files; one method's scores are shown at a time."""

    def __init__(self) -> None:
        super().__init__()
        self._thumbs: OrderedDict[int, QPixmap] = OrderedDict()
        self._sort: tuple[int, Qt.SortOrder] | None = None  # kept when cleared, as the header
        self.clear()

    # --- content -----------------------------------------------------------------------------
    def clear(self) -> None:
        self.beginResetModel()
        self.files: list[str] = []
        self.errors: list[str] = []
        self.pixels = np.zeros((0, 1, 1, 1), dtype=np.uint8)
        self.scores: dict[str, np.ndarray] = {}
        self.method = ""
        self.reference = np.zeros(0)
        self.threshold = float("inf")
        self.percentiles = np.zeros(0)
        self.order = np.zeros(0, dtype=np.int64)  # view row -> data index
        self._thumbs.clear()
        self.endResetModel()

    def append(self, part: dict) -> None:
        """Adds a chunk from outliers.score_files (its Partial value)."""
        n = len(part["files"])
        if n == 0:
            return
        first = len(self.files)
        self.beginInsertRows(QModelIndex(), first, first + n - 1)
        self.files += part["files"]
        self.errors += part["errors"]
        self.pixels = part["pixels"] if first == 0 else np.concatenate([self.pixels,
                                                                         part["pixels"]])
        for method, values in part["scores"].items():
            old = self.scores.get(method, np.full(first, np.nan))
            self.scores[method] = np.concatenate([old, values])
        self.order = np.concatenate([self.order, np.arange(first, first + n)])
        self._update_percentiles()
        self.endInsertRows()
        if self._sort is not None:
            self.sort(*self._sort)

    def set_method(self, method: str, reference: np.ndarray) -> None:
        self.method, self.reference = method, np.asarray(reference, np.float64)
        self._update_percentiles()
        self._columns_changed(2, 4)
        if self._sort is not None and self._sort[0] >= 2:
            self.sort(*self._sort)

    def set_threshold(self, threshold: float) -> None:
        self.threshold = float(threshold)
        self._columns_changed(4, 4)

    def _update_percentiles(self) -> None:
        from genplay.core.ops.outlier_figures import percentile_of

        values = self.current_scores()
        if self.reference.size and values.size:
            self.percentiles = np.where(np.isnan(values), np.nan,
                                        percentile_of(values, self.reference))
        else:
            self.percentiles = np.full(values.size, np.nan)

    def _columns_changed(self, first: int, last: int) -> None:
        if self.files:
            self.dataChanged.emit(self.index(0, first), self.index(len(self.files) - 1, last))

    # --- what the panel reads ------------------------------------------------------------
    def current_scores(self) -> np.ndarray:
        return self.scores.get(self.method, np.full(len(self.files), np.nan))

    def readable(self) -> np.ndarray:
        return np.array([not e for e in self.errors], dtype=bool)

    def flagged(self) -> np.ndarray:
        """Whether each file (in data order) scores above the threshold."""
        with np.errstate(invalid="ignore"):
            return self.current_scores() > self.threshold

    def data_index(self, row: int) -> int:
        return int(self.order[row])

    def row_of(self, data_index: int) -> int:
        return int(np.flatnonzero(self.order == data_index)[0])

    def first_readable_row(self) -> int | None:
        """The first view row whose file could be read, or None."""
        for row, i in enumerate(self.order):
            if not self.errors[int(i)]:
                return row
        return None

    def verdict(self, i: int) -> str:
        if self.errors[i]:
            return "unreadable"
        if np.isnan(self.current_scores()[i]):
            return ""
        return "outlier" if self.current_scores()[i] > self.threshold else "inlier"

    # --- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.files)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        i, column = self.data_index(index.row()), index.column()
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._thumbnail(i)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 1:
                return Path(self.files[i]).name
            if column == 2:
                score = self.current_scores()[i]
                return "" if np.isnan(score) else f"{score:.4f}"
            if column == 3:
                pct = self.percentiles[i] if i < self.percentiles.size else np.nan
                return "" if np.isnan(pct) else f"{pct:.1f}%"
            if column == 4:
                return self.verdict(i)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.errors[i] or self.files[i]
        if role == Qt.ItemDataRole.ForegroundRole and column == 4:
            verdict = self.verdict(i)
            if verdict == "outlier":
                return QBrush(OUTLIER)
            if verdict == "unreadable":
                return QBrush(UNREADABLE)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _thumbnail(self, i: int) -> QPixmap | None:
        if self.errors[i]:
            return None
        if i in self._thumbs:
            self._thumbs.move_to_end(i)
            return self._thumbs[i]
        image = to_qimage(self.pixels[i]).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio)
        thumb = QPixmap.fromImage(image)
        self._thumbs[i] = thumb
        while len(self._thumbs) > 2000:
            self._thumbs.popitem(last=False)
        return thumb

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        n = len(self.files)
        self._sort = (column, order)
        if column == 1:
            key = np.argsort(np.array([Path(f).name.lower() for f in self.files]), kind="stable")
        elif column in (2, 3, 4):
            values = self.current_scores().copy()
            if column == 4:  # verdict: inliers, then outliers, by score within each
                values = values + np.where(self.flagged(), 1e12, 0.0)
            key = np.argsort(values, kind="stable")  # NaN (unreadable) sorts last
        else:
            key = np.arange(n)
        if order == Qt.SortOrder.DescendingOrder:
            nan_last = np.isnan(self.current_scores()[key]) if column >= 2 else np.zeros(n, bool)
            key = np.concatenate([key[~nan_last][::-1], key[nan_last]])
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        targets = [int(self.order[p.row()]) for p in old]
        self.order = key.astype(np.int64)
        where = np.empty(n, dtype=np.int64)
        where[self.order] = np.arange(n)
        self.changePersistentIndexList(
            old, [self.index(int(where[t]), p.column()) for t, p in zip(targets, old)])
        self.layoutChanged.emit()
