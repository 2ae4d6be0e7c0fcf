"""Compare on one seed: the same seed drawn with several sampler settings, side by side.

Rows are the choices of the model's sampler option (DDPM, DDIM, DPM-Solver++ for
diffusion), columns the values of one number option (steps by default, else e.g. the
temperature); every other option keeps the value set in the panel. Each cell says its
setting and the time it took. The runs go one after another in one engine job, which
fills the cells as they finish and stops at Cancel.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import grid_pad_value, make_grid
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.pixel_view import PixelView

MAX_RUNS = 24
PADDING = 1


def choice_option(specs: list) -> Any:
    """The option whose choices make the rows: a sampler's name, never the class."""
    return next((o for o in specs if o.choices and o.name != "class"), None)


def number_options(specs: list) -> list:
    return [o for o in specs if not o.choices]


def default_values(option) -> str:
    """Three values to start from: a few step counts, or the default and either side."""
    if option.name == "steps":
        values = [v for v in (10, 20, 50) if option.minimum <= v <= option.maximum]
        return ", ".join(str(v) for v in values or [int(option.default)])
    d, lo, hi = float(option.default), option.minimum, option.maximum
    step = (hi - lo) / 4
    values = sorted({min(hi, max(lo, v)) for v in (d - step, d, d + step)})
    if option.integer:
        return ", ".join(str(int(round(v))) for v in values)
    return ", ".join(f"{v:.2f}".rstrip("0").rstrip(".") for v in values)


def parse_values(text: str, option) -> list[float | int]:
    """The numbers typed for option, checked against its range; ValueError says why."""
    words = [w for w in re.split(r"[,;\s]+", text.strip()) if w]
    if not words:
        raise ValueError(f"type one or more values for {option.name}")
    values: list[float | int] = []
    for word in words:
        try:
            value = float(word)
        except ValueError:
            raise ValueError(f"{word!r} is not a number") from None
        if option.integer and value != int(value):
            raise ValueError(f"{option.name} takes whole numbers, not {word}")
        if not option.minimum <= value <= option.maximum:
            raise ValueError(f"{option.name} goes from {option.minimum:g} to "
                             f"{option.maximum:g}, not {word}")
        value = int(value) if option.integer else value
        if value not in values:
            values.append(value)
    return values


def describe_value(name: str, value: Any) -> str:
    if name == "steps":
        return f"{value} steps"
    return f"{name.replace('_', ' ')} {value:g}" if isinstance(value, float) else str(value)


class _CellView(PixelView):
    def sizeHint(self) -> QSize:
        return QSize(120, 120)  # the cells share the page: none asks for more room


class _Cell(QWidget):
    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.view = _CellView()
        self.view.setMinimumSize(80, 80)
        self.label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.label)
        self.set_state("waiting")

    def set_state(self, state: str) -> None:
        self.label.setText(f"<b>{self.title}</b> · {state}")

    def show_images(self, images: np.ndarray, tips: list[str] | None = None) -> None:
        n, h, w = images.shape[:3]
        grid = make_grid(images, padding=PADDING, pad_value=grid_pad_value(images))
        self.view.set_grid(grid, h, w, PADDING, n, tips)


class CompareView(QWidget):
    """The setup row (what to vary), the cells, and Back; the panel runs the job."""

    run_requested = Signal()
    back_requested = Signal()
    tile_clicked = Signal(int, int)  # run index, sample index
    tile_context_menu = Signal(int, int, QPoint)

    def __init__(self) -> None:
        super().__init__()
        self.specs: list = []
        self.runs: list[dict[str, Any]] = []
        self.titles: list[str] = []
        self.cells: list[_Cell] = []
        self.images: dict[int, np.ndarray] = {}
        self.seed = 0
        self._running: int | None = None

        self.back_button = QPushButton("◀ Back to samples")
        self.back_button.clicked.connect(self.back_requested.emit)
        self.title = QLabel("<b>Compare settings on one seed</b>")
        self.choice_row = QHBoxLayout()
        self.choice_boxes: list[QCheckBox] = []
        self.number = QComboBox()
        self.number.currentIndexChanged.connect(self._number_changed)
        self.values = QLineEdit()
        self.values.setToolTip("Values to try, separated by commas")
        self.values.setMinimumWidth(80)
        self.values.returnPressed.connect(self.run_requested.emit)
        self.count = QSpinBox(minimum=1, maximum=16, value=4, toolTip="Images for each setting")
        self.run_button = QPushButton("Run comparison")
        self.run_button.clicked.connect(self.run_requested.emit)
        self.run_button.setDefault(True)
        self.note = muted_label()

        head = QHBoxLayout()
        head.addWidget(self.back_button)
        head.addWidget(self.title, 1)
        self.choice_label = QLabel()
        self.choice_row.addWidget(self.choice_label)
        self.choice_row.addStretch(1)  # the boxes go before it
        setup = QHBoxLayout()
        setup.addWidget(QLabel("Vary"))
        setup.addWidget(self.number)
        setup.addWidget(QLabel("over"))
        setup.addWidget(self.values, 1)
        setup.addWidget(QLabel("Images each"))
        setup.addWidget(self.count)
        setup.addWidget(self.run_button)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.grid_host)
        self.progress_row = QHBoxLayout()  # the panel puts its progress bar and Cancel here
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addLayout(self.choice_row)
        layout.addLayout(setup)
        layout.addLayout(self.progress_row)
        layout.addWidget(self.note)
        layout.addWidget(scroll, 1)

    # --- what to vary -------------------------------------------------------------------------
    def set_options(self, specs: list) -> None:
        """The model's sampler options: rebuilds the choice boxes and the number list."""
        self.specs = specs
        for box in self.choice_boxes:
            box.deleteLater()
        self.choice_boxes = []
        choice = choice_option(specs)
        self.choice_label.setText(f"{choice.name.capitalize()}s" if choice else "")
        for i, name in enumerate(choice.choices if choice else ()):
            box = QCheckBox(name, checked=i < 3)
            self.choice_row.insertWidget(self.choice_row.count() - 1, box)
            self.choice_boxes.append(box)
        self.number.blockSignals(True)
        self.number.clear()
        numbers = number_options(specs)
        for option in numbers:
            self.number.addItem(option.name.replace("_", " "), option.name)
        self.number.addItem("nothing", "")
        first = next((o for o in numbers if o.name == "steps"), numbers[0] if numbers else None)
        self.number.setCurrentIndex(numbers.index(first) if first else 0)
        self.number.blockSignals(False)
        self._number_changed()
        self.clear_cells()
        self.note.setText("Same seed and the options on the left; each setting below is "
                          "drawn in turn. Click an image to enlarge it.")

    def available(self) -> bool:
        """Whether the model has anything to compare."""
        return bool(self.specs)

    def _number_changed(self) -> None:
        option = self._number_option()
        self.values.setEnabled(option is not None)
        self.values.setText(default_values(option) if option else "")

    def _number_option(self):
        name = self.number.currentData()
        return next((o for o in self.specs if o.name == name), None)

    def plan(self, base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(title, options) of each run, from base (the panel's options); ValueError says
        what is wrong with the setup."""
        choice, number = choice_option(self.specs), self._number_option()
        rows = [b.text() for b in self.choice_boxes if b.isChecked()]
        if choice is not None and not rows:
            raise ValueError(f"tick at least one {choice.name}")
        values = parse_values(self.values.text(), number) if number is not None else [None]
        plan = []
        for row in rows or [None]:
            for value in values:
                options, words = dict(base), []
                if row is not None:
                    options[choice.name] = row
                    words.append(row)
                if value is not None:
                    options[number.name] = value
                    words.append(describe_value(number.name, value))
                plan.append((" · ".join(words) or "as set", options))
        if len(plan) > MAX_RUNS:
            raise ValueError(f"{len(plan)} settings are too many at once; at most {MAX_RUNS}")
        return plan

    # --- cells --------------------------------------------------------------------------------
    def clear_cells(self) -> None:
        for cell in self.cells:
            cell.deleteLater()
        self.cells, self.runs, self.titles, self.images = [], [], [], {}
        self._running = None

    def start(self, plan: list[tuple[str, dict[str, Any]]], seed: int) -> None:
        self.clear_cells()
        self.seed = seed
        self.titles = [title for title, _ in plan]
        self.runs = [options for _, options in plan]
        columns = len({str(o.get(self.number.currentData())) for o in self.runs}) or 1
        for i, title in enumerate(self.titles):
            cell = _Cell(title)
            cell.view.tile_clicked.connect(lambda tile, i=i: self.tile_clicked.emit(i, tile))
            cell.view.tile_context_menu.connect(
                lambda tile, pos, i=i: self.tile_context_menu.emit(i, tile, pos))
            self.grid.addWidget(cell, i // columns, i % columns)
            self.cells.append(cell)

    def run_started(self, index: int) -> None:
        self._running = index
        self.cells[index].set_state("drawing…")

    def show_preview(self, images: np.ndarray) -> None:
        if self._running is not None:
            self.cells[self._running].show_images(images)

    def run_finished(self, index: int, images: np.ndarray, seconds: float) -> None:
        self.images[index] = images
        tips = [f"seed {self.seed} · sample {k} · {self.titles[index]}"
                for k in range(len(images))]
        self.cells[index].show_images(images, tips)
        self.cells[index].set_state(f"{seconds:.1f} s")
        self._running = None

    def finished(self, cancelled: bool) -> None:
        """The job ended: cells that never ran say so."""
        for i, cell in enumerate(self.cells):
            if i not in self.images:
                cell.set_state("cancelled" if cancelled else "not drawn")
                if i == self._running:
                    cell.view.clear()
        self._running = None
