"""Every upscaling method on one input, side by side, for the Super-resolution panel.

"Compare all methods" runs the image through each method the panel can run now (the
model's network or its guided generation, the photo upscaler, bicubic), one engine job
each, queued in that order and cancelled together. Each result lands in a tile of its
own, labelled with the method, the time the method itself took (not the loading of its
model) and, when there is a reference, PSNR/SSIM against it. Clicking a tile makes that
result the panel's: shown in the before/after view, saved and copied from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from genplay.gui.panels.base import op
from genplay.gui.widgets.pixel_view import crisp_pixels, draw_placeholder, to_qimage

if TYPE_CHECKING:
    from collections.abc import Callable

    from genplay.gui.panels.superres_methods import UpscaleBox
    from genplay.gui.widgets.job_progress import JobProgress

PHOTO_SIDE = 96  # a result this large on its shorter side is drawn smoothly
CAPTION_LINES = 3  # method · size · time · figures wraps to 3 lines in a narrow tile
GAP = 8  # between the tiles


COMPARE = op("ops.upscale_view:compare_method")  # one method of the comparison


def duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 0.1 else f"{seconds:.2f} s"


def figures_text(value: dict[str, Any]) -> str:
    metrics = value.get("metrics")
    if not metrics:
        return ""
    return f"{metrics[0]['psnr']:.2f} dB · SSIM {metrics[0]['ssim']:.3f}"


class Tile:
    """One place in the grid: a method's result (or what became of it), or the input or
    the reference the methods are compared with."""

    def __init__(self, entry: str, name: str) -> None:
        self.entry, self.name = entry, name  # entry: a method entry, "input" or "reference"
        self.value: dict[str, Any] | None = None
        self.pixels: np.ndarray | None = None
        self.image: QImage | None = None
        self.status = "waiting…"

    @property
    def is_method(self) -> bool:
        return self.entry not in ("input", "reference")

    @property
    def caption(self) -> str:
        if self.pixels is not None and not self.is_method:
            h, w = self.pixels.shape[:2]
            return f"{self.name} · {w}×{h}"
        if self.value is None:
            return f"{self.name} · {self.status}"
        if "error" in self.value:
            return f"{self.name} · could not run: {self.value['error']}"
        h, w = self.pixels.shape[:2]
        parts = [self.name, f"{w}×{h}", duration(self.value["seconds"]),
                 figures_text(self.value)]
        if len(self.value["images"]) > 1:
            parts.insert(2, f"candidate 1 of {len(self.value['images'])}")
        return " · ".join(p for p in parts if p)

    def set_value(self, value: dict[str, Any]) -> None:
        self.value = value
        if "images" in value:
            self.set_pixels(value["images"][0])

    def set_pixels(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        self.image = to_qimage(pixels)

    def crisp(self) -> bool:
        """Pixels as squares: the input (its pixels are the point), a small result, or
        everywhere when the app is set to crisp pixels."""
        return (self.entry == "input" or crisp_pixels()
                or min(self.image.width(), self.image.height()) < PHOTO_SIDE)


class MethodGrid(QWidget):
    """The tiles in the grid that leaves them the most room, each image fitted to its
    cell and its caption under it. The wheel zooms every tile at once around the same
    place, a drag pans them together, a double-click fits them again, and a click on a
    method's result chooses it."""

    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tiles: list[Tile] = []
        self._cache: dict[tuple[int, int, int], QImage] = {}
        self._zoom = 1.0  # relative to fit, the same for every tile
        self._centre = QPointF(0.5, 0.5)  # of the part shown, as fractions of each image
        self._press: QPointF | None = None
        self._last = QPointF()
        self._moved = False
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Wheel: zoom every result at once · drag: pan · double-click: fit · "
                        "click a result to compare it with the input, save or copy it")

    def tiles(self) -> list[Tile]:
        return list(self._tiles)

    def set_tiles(self, tiles: list[Tile]) -> None:
        self._tiles = tiles
        self._zoom, self._centre = 1.0, QPointF(0.5, 0.5)
        self.tile_changed()

    def tile_changed(self) -> None:
        self._cache.clear()
        self.update()

    def choose(self, index: int) -> None:
        if 0 <= index < len(self._tiles) and self._tiles[index].is_method \
                and self._tiles[index].image is not None:
            self.chosen.emit(index)

    def zoom(self) -> float:
        return self._zoom

    def sizeHint(self) -> QSize:
        return QSize(480, 400)

    # --- geometry ---------------------------------------------------------------------------
    def _caption_height(self) -> int:
        return self.fontMetrics().lineSpacing() * CAPTION_LINES + 4

    def _columns(self) -> int:
        """The number of columns that gives the images the most room."""
        n = len(self._tiles)
        shown = next((t.image for t in self._tiles if t.image is not None), None)
        aspect = shown.width() / shown.height() if shown is not None else 4 / 3
        best, best_cols = -1.0, 1
        for cols in range(1, n + 1):
            rows = -(-n // cols)
            w = (self.width() - GAP * (cols - 1)) / cols
            h = (self.height() - GAP * (rows - 1)) / rows - self._caption_height()
            size = min(w, h * aspect)
            if size > best + 1e-6:
                best, best_cols = size, cols
        return best_cols

    def cells(self) -> list[QRectF]:
        n = len(self._tiles)
        if n == 0:
            return []
        cols = self._columns()
        rows = -(-n // cols)
        w = (self.width() - GAP * (cols - 1)) / cols
        h = (self.height() - GAP * (rows - 1)) / rows
        return [QRectF((i % cols) * (w + GAP), (i // cols) * (h + GAP), w, h) for i in range(n)]

    def image_rect(self, index: int) -> QRectF:
        """Where a tile's image (or the zoomed part of it) is drawn."""
        cell, tile = self.cells()[index], self._tiles[index]
        if tile.image is None:
            return QRectF()
        space = cell.adjusted(0, 0, 0, -self._caption_height())
        iw, ih = tile.image.width(), tile.image.height()
        fit = min(space.width() / iw, space.height() / ih)
        w, h = iw * fit, ih * fit
        return QRectF(space.center().x() - w / 2, space.top() + (space.height() - h) / 2, w, h)

    def _source(self, image: QImage) -> QRectF:
        """The part of an image shown at the grid's zoom and centre."""
        half = 0.5 / self._zoom
        return QRectF((self._centre.x() - half) * image.width(),
                      (self._centre.y() - half) * image.height(),
                      image.width() / self._zoom, image.height() / self._zoom)

    def _set_view(self, zoom: float, centre: QPointF) -> None:
        self._zoom = min(64.0, max(1.0, zoom))
        half = 0.5 / self._zoom
        self._centre = QPointF(min(1 - half, max(half, centre.x())),
                               min(1 - half, max(half, centre.y())))
        self.update()

    def _fraction_at(self, pos: QPointF) -> tuple[int, QPointF] | None:
        """(tile, the point under pos as fractions of its image) or None."""
        for index, _cell in enumerate(self.cells()):
            rect = self.image_rect(index)
            if rect.contains(pos):
                u = (pos.x() - rect.left()) / rect.width()
                v = (pos.y() - rect.top()) / rect.height()
                half = 0.5 / self._zoom
                return index, QPointF(self._centre.x() - half + u / self._zoom,
                                      self._centre.y() - half + v / self._zoom)
        return None

    # --- painting ---------------------------------------------------------------------------
    def _fitted(self, index: int, rect: QRectF) -> QImage:
        """A tile's whole image at its on-screen size: smoothly scaled, or for crisp tiles
        enlarged by a whole number first, then smoothed to size."""
        tile = self._tiles[index]
        dpr = self.devicePixelRatioF()
        dw, dh = max(1, round(rect.width() * dpr)), max(1, round(rect.height() * dpr))
        key = (index, dw, dh)
        if key not in self._cache:
            image = tile.image
            keep = Qt.AspectRatioMode.IgnoreAspectRatio
            whole = min(dw // image.width(), dh // image.height())
            if tile.crisp() and whole > 1:
                image = image.scaled(image.width() * whole, image.height() * whole, keep,
                                     Qt.TransformationMode.FastTransformation)
            image = image.scaled(dw, dh, keep, Qt.TransformationMode.SmoothTransformation)
            image.setDevicePixelRatio(dpr)
            self._cache[key] = image
        return self._cache[key]

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if not self._tiles:
            draw_placeholder(painter, self, "Press “Compare all methods” to see every method "
                                            "on this image side by side", margin=12)
            return
        text = self.palette().color(QPalette.ColorRole.Text)
        for index, (cell, tile) in enumerate(zip(self.cells(), self._tiles)):
            rect = self.image_rect(index)
            if tile.image is None:
                painter.fillRect(cell.adjusted(0, 0, 0, -self._caption_height()),
                                 QColor(128, 128, 128, 40))
            elif self._zoom == 1.0:
                painter.drawImage(rect.topLeft(), self._fitted(index, rect))
            else:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                                      not tile.crisp())
                painter.drawImage(rect, tile.image, self._source(tile.image))
            caption = QRectF(cell.left(), cell.bottom() - self._caption_height() + 2,
                             cell.width(), self._caption_height() - 2)
            painter.setPen(text)
            painter.drawText(caption, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                             | Qt.TextFlag.TextWordWrap, tile.caption)

    def resizeEvent(self, event) -> None:
        self._cache.clear()
        super().resizeEvent(event)

    # --- mouse ------------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        at = self._fraction_at(event.position())
        if not steps or at is None:
            return
        index, point = at
        zoom = self._zoom * 1.25 ** steps
        rect = self.image_rect(index)
        u = (event.position().x() - rect.left()) / rect.width()
        v = (event.position().y() - rect.top()) / rect.height()
        # the point under the cursor stays there
        z = min(64.0, max(1.0, zoom))
        self._set_view(z, QPointF(point.x() - (u - 0.5) / z, point.y() - (v - 0.5) / z))
        event.accept()

    def mousePressEvent(self, event) -> None:
        self._press = self._last = event.position()
        self._moved = False

    def mouseMoveEvent(self, event) -> None:
        if self._press is None:
            return
        pos = event.position()
        if (pos - self._press).manhattanLength() > 4:
            self._moved = True
        at = self._fraction_at(self._press)
        if self._moved and at is not None and self._zoom > 1:
            rect = self.image_rect(at[0])
            delta = pos - self._last
            self._set_view(self._zoom, self._centre - QPointF(
                delta.x() / rect.width() / self._zoom, delta.y() / rect.height() / self._zoom))
        self._last = pos

    def mouseReleaseEvent(self, event) -> None:
        press, self._press = self._press, None
        if press is None or self._moved:
            return
        for index, cell in enumerate(self.cells()):
            if cell.contains(event.position()):
                self.choose(index)
                return

    def mouseDoubleClickEvent(self, event) -> None:
        self._set_view(1.0, QPointF(0.5, 0.5))


class CompareRunner:
    """Starts the comparison's jobs, one per method, and fills the grid as they land."""

    def __init__(self, jobs: JobProgress, methods: UpscaleBox, grid: MethodGrid,
                 on_progress: Callable[[str], None]) -> None:
        self.jobs = jobs
        self.methods = methods
        self.grid = grid
        self.on_progress = on_progress  # a line for the panel's caption
        self._pending: dict[int, int] = {}  # engine job id -> tile index
        self.request: dict[str, Any] = {}  # what the tiles were made from
        self._cancelled = False
        self._run = 0  # callbacks of an earlier comparison are recognised and ignored

    def running(self) -> bool:
        return bool(self._pending)

    def done(self) -> bool:
        """Whether a comparison has finished with every tile filled."""
        tiles = [t for t in self.grid.tiles() if t.is_method]
        return bool(tiles) and not self._pending and all(t.value is not None for t in tiles)

    def start(self, pixels: np.ndarray, scale: int, simulate: bool,
              reference: np.ndarray | None) -> None:
        self.clear()
        self._run += 1
        run = self._run
        self._cancelled = False
        entries = self.methods.enabled_entries()
        tiles = [Tile("input", "Input, its pixels")]
        tiles += [Tile(e, self.methods.method.itemText(self.methods.method.findData(e)))
                  for e in entries]
        if simulate or reference is not None:
            tiles.append(Tile("reference", "Reference"))
        self.grid.set_tiles(tiles)
        self.request = {"scale": scale, "simulate": simulate}
        for index, entry in enumerate(entries, 1):
            method, checkpoint, scale, options = self.methods.job_settings(entry)
            args = (pixels, scale, method, simulate, reference, options)
            if checkpoint is None:
                args = (None, *args)  # bicubic needs no model

            def landed(value, _summary, index=index):
                if run == self._run:
                    self._landed(index, value)

            def finished(cancelled, job_index=index):
                if run == self._run:
                    self._finished(job_index, cancelled)

            job = self.jobs.submit(COMPARE, *args, checkpoint=checkpoint,
                                   key=f"superres-compare-{entry}",
                                   label=f"comparing: {tiles[index].name}",
                                   on_result=landed, on_done=finished)
            self._pending[job] = index
        self.on_progress(f"Comparing {len(entries)} methods…")

    def _landed(self, index: int, value: dict[str, Any]) -> None:
        tiles = self.grid.tiles()
        tiles[index].set_value(value)
        # the input and the reference, as the first result in the input's own frame has them
        # (guided generation sees the input fitted into its model's size instead)
        if tiles[index].entry != "diffusion" and "images" in value:
            for tile in tiles:
                if not tile.is_method and tile.pixels is None \
                        and value.get(tile.entry) is not None:
                    tile.set_pixels(value[tile.entry])
        self.grid.tile_changed()

    def _finished(self, index: int, cancelled: bool) -> None:
        self._pending = {j: i for j, i in self._pending.items() if i != index}
        tile = self.grid.tiles()[index]
        if tile.value is None:
            tile.status = "cancelled" if cancelled else "failed"
            self._cancelled = self._cancelled or cancelled
            self.grid.tile_changed()
        methods = [t for t in self.grid.tiles() if t.is_method]
        finished = sum(t.value is not None for t in methods)
        if self._pending:
            self.on_progress(f"Comparing methods: {finished} of {len(methods)} done")
        elif not self._cancelled and methods:
            self.on_progress(f"Compared {len(methods)} methods ×{self.request['scale']}: "
                             "wheel to zoom all, click one to look at it closely or save it")

    def stop(self) -> None:
        """Cancels the comparison's jobs still queued or running."""
        for job in list(self._pending):
            self.jobs.engine.cancel(job)

    def clear(self) -> None:
        """The inputs changed: the tiles no longer belong to them."""
        self._run += 1  # what is still under way belongs to the old tiles
        self.stop()
        self._pending.clear()
        self.grid.set_tiles([])
