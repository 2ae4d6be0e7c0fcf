"""The parts of the Outlier panel that show things: the scores' plain names, the drop hint
and the page shown while files are scored, the table view sized to fit, and the detail
view of the selected image with its heatmap."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.labels import MUTED
from genplay.gui.widgets.pixel_view import PixelView, best_columns
from genplay.gui.widgets.score_table import OUTLIER, THUMB

if TYPE_CHECKING:
    from genplay.gui.panels.outliers import OutlierPanel

# What each score is called and what it means, in plain words; the exact definition
# (core's METHODS description) goes in the tooltip.
SCORE_WORDS: dict[str, tuple[str, str]] = {
    "complexity": ("Corrected likelihood",
                   "How surprising the image is to the model, allowing for how simple it is. "
                   "The most reliable choice for most models."),
    "ratio": ("Likelihood vs. background",
              "How surprising the objects in the image are, leaving out plain image "
              "statistics (backgrounds, smoothness) that any model finds easy."),
    "bpd": ("Raw likelihood",
            "How surprising the image is to the model. Simple images (plain, mostly dark) "
            "look familiar to any model, so this misses many outliers."),
    "typicality": ("Typicality",
                   "How far the model's surprise at the image is from its usual level, in "
                   "either direction: too surprising or too easy."),
    "elbo": ("Quick likelihood",
             "A quicker, looser estimate of how surprising the image is to the model."),
    "recon": ("Reconstruction error",
              "How badly the model redraws the image from its own summary of it."),
    "energy": ("Energy",
               "How unlikely the model finds the image; only its rank among the model's "
               "test images means something."),
    "features": ("Feature distance",
                 "How far the image is from the nearest training image, as the dataset's "
                 "classifier sees them: a photo or a garment is far from every emoji, "
                 "however likely the model finds its pixels (a doodle in dark lines is "
                 "not: emoji have line-drawn symbols too)."),
    "profile": ("Bits profile",
                "How unusual the way the model spends its bits on the image is: the share "
                "of pixels it finds nearly free (an emoji's white ground), their spread, "
                "their average, against its training images. Catches garments on black and "
                "photos that the raw likelihood finds as plausible as emoji."),
}
def default_score(methods: list[str]) -> str:
    """The score a model opens on, as `genplay score` reads it: its bits profile where it
    has one (its own likelihood, corrected), else the distance in features where it has a
    feature bank, else the complexity-corrected likelihood where it has one
    (outlier_figures.DEFAULT_ORDER); else its first."""
    from genplay.core.ops.outlier_figures import default_method

    return default_method(methods) or (methods[0] if methods else "")


def score_name(method: str) -> str:
    return SCORE_WORDS.get(method, (method, ""))[0]


def score_help(method: str) -> str:
    return SCORE_WORDS.get(method, ("", method))[1]


def short_name(path: str, limit: int = 34) -> str:
    """A file name cut in the middle to at most limit characters."""
    name = Path(path).name
    if len(name) <= limit:
        return name
    keep = (limit - 1) // 2
    return name[:keep] + "…" + name[-(limit - 1 - keep):]


def headline(path: str, verdict: str, percentile: float, method: str, score: float) -> str:
    """The selected image's name, verdict and standing, as rich text."""
    shown = (f"<span style='color:{OUTLIER.name()}'>{verdict}</span>" if verdict == "outlier"
             else verdict)
    return (f"<b>{html.escape(short_name(path))}</b> — {shown}<br>Stranger than "
            f"{percentile:.1f}% of the model's test images ({score_name(method).lower()} "
            f"{score:.4f})")


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


class DropHint(AcceptsFileDrops, QLabel):
    TEXT = "Drop images or folders here\n(or use Add images… / Add folder…)"

    def __init__(self, panel: OutlierPanel) -> None:
        super().__init__(self.TEXT)
        self.panel = panel
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setMinimumWidth(100)
        self.setStyleSheet("QLabel { border: 2px dashed palette(mid); border-radius: 8px; "
                           "color: palette(placeholder-text); font-size: 15px; }")
        self.setAcceptDrops(True)

    def files_dropped(self, paths: list[str]) -> None:
        self.panel.add_paths(paths)


class ScoringPage(QWidget):
    """Shown in place of the drop hint from the moment files are added until the first
    of them are scored."""

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.label.setMinimumWidth(100)
        self.bar = QProgressBar(textVisible=False)
        self.bar.setMaximumWidth(360)
        layout = QVBoxLayout(self)
        layout.addStretch()
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch()

    def show_progress(self, step: int, total: int | None, message: str = "") -> None:
        if total:
            self.label.setText(f"Scoring your images… {step:,} of {total:,}")
            self.bar.setRange(0, total)
            self.bar.setValue(step)
        else:
            self.label.setText("Looking for images…" if not message else message[:1].upper()
                               + message[1:])
            self.bar.setRange(0, 0)  # busy


class ScoreTableView(AcceptsFileDrops, QTableView):
    """The scored files: fixed-width number columns, the file name taking the rest (cut
    in the middle when long, the full path a hover away), never a sideways scroll."""

    FILE_MIN = 120

    def __init__(self, panel: OutlierPanel) -> None:
        super().__init__()
        self.panel = panel
        self.setAcceptDrops(True)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setIconSize(QSize(THUMB, THUMB))
        rows = self.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(THUMB + 6)
        rows.hide()

    def setModel(self, model) -> None:
        super().setModel(model)
        header = self.horizontalHeader()
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # unsorted until clicked
        header.setHighlightSections(False)
        header.setMinimumSectionSize(THUMB + 8)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.size_columns()

    def size_columns(self) -> None:
        """Widths from the font: each header with room for its sort arrow, each value whole."""
        header = self.horizontalHeader()
        head, cell = header.fontMetrics(), self.fontMetrics()
        arrow = 24  # the sort indicator and the section's margins
        samples = {2: "-000.0000", 3: "100.0%", 4: "unreadable"}
        self.setColumnWidth(0, THUMB + 10)
        for column, sample in samples.items():
            title = self.model().headerData(column, Qt.Orientation.Horizontal)
            self.setColumnWidth(column, max(head.horizontalAdvance(title) + arrow,
                                            cell.horizontalAdvance(sample) + 14))
        fixed = sum(self.columnWidth(c) for c in (0, 2, 3, 4))
        scroll = self.verticalScrollBar().sizeHint().width()
        self.setMinimumWidth(fixed + self.FILE_MIN + scroll + 2 * self.frameWidth())

    def files_dropped(self, paths: list[str]) -> None:
        self.panel.add_paths(paths)

    def dragMoveEvent(self, event) -> None:  # a view refuses drops on its items otherwise
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()


class TileView(PixelView):
    """A PixelView of a few same-size tiles that lays them out in a row, a column or two
    columns, whichever shows them largest in the space the view has."""

    PAD = 2
    arranged = Signal(int)  # the number of columns, when it changes

    def __init__(self, placeholder: str = "") -> None:
        super().__init__(placeholder=placeholder)
        self.max_zoom = 24
        self.tiles: np.ndarray | None = None
        self.names: list[str] = []
        self.columns = 0

    def set_tiles(self, tiles: np.ndarray, names: list[str]) -> None:
        """tiles: uint8 (N, H, W, C), all of one channel count."""
        self.tiles, self.names, self.columns = tiles, names, 0
        self._arrange()

    def clear(self) -> None:
        self.tiles, self.names, self.columns = None, [], 0
        super().clear()

    def best_columns(self) -> int:
        """Its (one or three) tiles in a row, a column or 2 x 2, whichever shows them
        largest; a row when it is nearly as large (within 3%)."""
        n, h, w = self.tiles.shape[:3]
        return best_columns(n, h, w, self.width(), self.height(), self.PAD, slack=0.03)

    def _arrange(self) -> None:
        from genplay.core.images import make_grid

        if self.tiles is None:
            return
        columns = self.best_columns()
        if columns == self.columns:
            return
        self.columns = columns
        n, h, w = self.tiles.shape[:3]
        if n == 1:
            self.set_grid(self.tiles[0], h, w, 0, 1, self.names)
        else:
            self.set_grid(make_grid(self.tiles, nrow=columns, padding=self.PAD), h, w,
                          self.PAD, n, self.names)
        self.arranged.emit(columns)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()


class DetailView(QWidget):
    """The selected image (with where it surprises the model) and what it scored."""

    EMPTY = ("The image you select in the table appears here, large, with where it "
             "surprises the model")

    def __init__(self) -> None:
        super().__init__()
        self.view = TileView(placeholder=self.EMPTY)
        self.view.setMinimumSize(140, 140)
        self.caption = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.caption.setMinimumWidth(140)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.key = QLabel(wordWrap=True)
        self.key.setStyleSheet(MUTED)
        self.key.setMinimumWidth(140)
        self.key.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.key)
        self.view.arranged.connect(self._describe_tiles)
        self._tiles_known = False

    def clear(self, placeholder: str = EMPTY) -> None:
        self.view.placeholder = placeholder
        self.view.clear()
        self.caption.clear()
        self.caption.setToolTip("")
        self.key.clear()
        self.key.setToolTip("")
        self._tiles_known = False

    def show_unreadable(self, path: str, error: str) -> None:
        self.clear("This file could not be read")
        self.caption.setText(f"<b>{html.escape(short_name(path))}</b><br>"
                             f"{html.escape(error)}")
        self.caption.setToolTip(path)

    def show_image(self, pixels: np.ndarray, headline: str, path: str, key: str = "",
                   key_tip: str = "") -> None:
        self.view.placeholder = ""
        self._tiles_known = False
        self.view.set_tiles(pixels[None], ["the image as the model sees it"])
        self.set_text(headline, path)
        self.key.setText(key)
        self.key.setToolTip(key_tip)

    def set_text(self, headline: str, path: str) -> None:
        self.caption.setText(headline)
        self.caption.setToolTip(path)

    def show_heatmap(self, pixels: np.ndarray, bits: np.ndarray, note: str) -> None:
        rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
        heat = heat_colours(bits)
        self._tiles_known = True
        self.view.set_tiles(np.stack([rgb, heat, overlay(pixels, heat)]),
                            ["the image as the model sees it",
                             "where it surprises the model (brighter = more)",
                             "both together"])
        self.key.setToolTip(f"Bits per pixel: dark 0, brightest {bits.max():.1f}; "
                            f"{bits.sum():.0f} bits in all.\n{note}")

    def _describe_tiles(self, columns: int) -> None:
        if self._tiles_known:
            order = {3: "Left to right", 1: "Top to bottom"}.get(columns, "In reading order")
            self.key.setText(f"{order}: the image as the model sees it, where it surprises "
                             "the model (brighter = more), both together.")
