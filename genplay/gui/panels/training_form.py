"""What the Training panel will train: the "New run" form and the dataset preview.

Family, dataset (a built-in one or a folder of one's own images), size, channels,
budget, seed, how often to draw samples, and the folder the new model goes into. Beside
them, a few images of the dataset as the model will see them, fitted into the chosen
size and channels, with the files that could not be read named; a built-in dataset that
is not on this computer is offered there instead (Get dataset). The families and
datasets, and the preview, are read by jobs in the engine's thread (which has torch
loaded); the form itself starts nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import make_grid
from genplay.gui.panels.base import op, seed_editor
from genplay.gui.widgets.dataset_offer import DatasetOffer
from genplay.gui.widgets.pixel_view import PixelView

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtCore import QSettings

    from genplay.gui.engine import Engine

FOLDER_ITEM = "Folder…"
NOT_READ = "…"  # what the family and dataset lists hold until the engine has answered
SIZES = (28, 32, 64)
PADDING = 1
PREVIEW_HEIGHT = 200  # pixels the preview grid may take at zoom 1


# --- jobs (run in the engine's thread) ------------------------------------------------------
CHOICES = op("ops.training:training_choices")
GPUS = op("runtime:gpu_count")
PREVIEW = op("ops.training:dataset_preview")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "run"


class TrainingForm(QWidget):
    """The "New run" box and the "What the model will see" preview, one above the other."""

    # The folder the next run would use changed (its name, the root, or the choices arrived).
    folder_changed = Signal()

    def __init__(self, engine: Engine, settings: QSettings,
                 show_error: Callable[[str], None]) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.show_error = show_error
        # Where new runs go (the main window sets a folder that its picker scans).
        self.output_root: Path = Path.home() / "genplay-runs"
        self._folder: Path | None = None
        self._name_edited = False
        self._preview_job: int | None = None

        self.family_combo = QComboBox(toolTip="The kind of model to train")
        self.family_combo.addItem(NOT_READ)
        self.dataset_combo = QComboBox(toolTip="A built-in dataset, or a folder of your own "
                                               "images (any size and format)")
        self.dataset_combo.addItem(NOT_READ)
        self.size_combo = QComboBox(toolTip="Images are fitted into a square of this side")
        for size in SIZES:
            self.size_combo.addItem(f"{size} × {size}", size)
        self.channels_combo = QComboBox()
        self.channels_combo.addItem("Gray (1 channel)", 1)
        self.channels_combo.addItem("Colour (3 channels)", 3)
        self.budget_spin = QSpinBox(minimum=1, maximum=100_000, value=5)
        self.budget_unit = QComboBox()
        self.budget_unit.addItems(["epochs", "minutes"])
        budget_row = QHBoxLayout()
        budget_row.addWidget(self.budget_spin, 1)
        budget_row.addWidget(self.budget_unit)
        self.seed, seed_row = seed_editor(int(self.settings.value("training-seed", 0)))
        self.preview_spin = QSpinBox(minimum=1, maximum=100_000, value=100, suffix=" steps",
                                     toolTip="How often a new grid of samples is drawn: after "
                                             "the first step, then every so many steps, or "
                                             "every few seconds when steps are slow")
        self.out_name = QLineEdit(toolTip="The new model's folder name")
        self.out_name.textEdited.connect(self._name_was_edited)
        self.out_name.textChanged.connect(self.folder_changed)
        self.out_root_label = QLabel()
        self.out_root_label.setStyleSheet("color: palette(mid);")
        # Shown only where there is more than one GPU: then a run can take several.
        self.processes = QSpinBox(minimum=1, maximum=1, value=1, toolTip=(
            "Train on this many GPUs at once, one process on each (torch.distributed): each "
            "takes its share of every batch; the curves and samples are the first one's"))
        self.processes_label = QLabel("GPUs")

        form = QFormLayout()
        form.addRow("Family", self.family_combo)
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Size", self.size_combo)
        form.addRow("Channels", self.channels_combo)
        form.addRow("Budget", budget_row)
        form.addRow("Seed", seed_row)
        form.addRow("Samples every", self.preview_spin)
        form.addRow(self.processes_label, self.processes)
        self.processes.hide()
        self.processes_label.hide()
        form.addRow("Save as", self.out_name)
        form.addRow("", self.out_root_label)
        setup = QGroupBox("New run")
        setup.setLayout(form)

        self.missing: str | None = None  # the named dataset shown, when it is not here
        self.unreadable: str | None = None  # why the built-in dataset shown cannot be read
        self.dataset_offer = DatasetOffer(engine)
        self.dataset_offer.ready.connect(self._data_changed)
        self.data_view = PixelView(placeholder="Choose a dataset")
        self.data_view.setMinimumHeight(120)
        self.data_caption = QLabel(wordWrap=True)
        data_box = QGroupBox("What the model will see")
        data_layout = QVBoxLayout(data_box)
        data_layout.addWidget(self.dataset_offer)
        data_layout.addWidget(self.data_view, 1)
        data_layout.addWidget(self.data_caption)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(setup)
        layout.addWidget(data_box, 1)

        for combo in (self.dataset_combo, self.size_combo, self.channels_combo):
            combo.currentIndexChanged.connect(self._data_changed)
        self.family_combo.currentIndexChanged.connect(self._suggest_name)
        self.dataset_combo.activated.connect(self._dataset_activated)
        self.engine.submit(GPUS, label="", on_result=lambda n, _s: self.set_gpus(n))
        self.engine.submit(CHOICES, label="", on_result=self._set_choices,
                           on_error=self.show_error)

    # --- what it says ---------------------------------------------------------------------------
    def families(self) -> list[str]:
        return [self.family_combo.itemText(i) for i in range(self.family_combo.count())]

    def family(self) -> str | None:
        """The family chosen; None until the families have been read."""
        family = self.family_combo.currentText()
        return family if family != NOT_READ and family in self.families() else None

    def dataset_spec(self) -> str | None:
        """A dataset name or a folder path; None while "Folder…" has no folder yet."""
        text = self.dataset_combo.currentText()
        if text == FOLDER_ITEM or text.startswith("Folder: "):
            return str(self._folder) if self._folder is not None else None
        return text if text != NOT_READ else None

    def _named(self) -> list[str]:
        """The built-in datasets the list offers."""
        return [self.dataset_combo.itemText(i) for i in range(self.dataset_combo.count())
                if self.dataset_combo.itemText(i) not in (NOT_READ, FOLDER_ITEM)
                and not self.dataset_combo.itemText(i).startswith("Folder: ")]

    def dataset_problem(self) -> str | None:
        """Why no run can start on the family and dataset shown; None if one can."""
        if self.family() is None:
            return "The families are still being read; try again in a moment."
        spec = self.dataset_spec()
        if spec is None:
            return "Choose a folder of images to train on."
        if spec == self.missing:
            return (f"{spec} is not on this computer yet: Get dataset (beside the form) "
                    "downloads it.")
        if self.unreadable is not None:
            return self.unreadable
        if spec not in [self.dataset_combo.itemText(i) for i in
                        range(self.dataset_combo.count())] and not Path(spec).is_dir():
            return f"{spec} is not a folder."
        return None

    def image_size(self) -> int:
        """The side in pixels the model will see (QWidget.size() stays the widget's)."""
        return int(self.size_combo.currentData())

    def channels(self) -> int:
        return int(self.channels_combo.currentData())

    def budget(self) -> tuple[int | None, float | None]:
        """(epochs, minutes): one of them, the other None."""
        if self.budget_unit.currentText() == "minutes":
            return None, float(self.budget_spin.value())
        return self.budget_spin.value(), None

    def set_gpus(self, count: int) -> None:
        """With two GPUs or more, the form offers to train on several (all by default)."""
        several = int(count) > 1
        self.processes.setMaximum(max(1, int(count)))
        self.processes.setValue(max(1, int(count)))
        self.processes.setVisible(several)
        self.processes_label.setVisible(several)

    def gpu_processes(self) -> int:
        """How many processes (one a GPU) the run takes; 1: one process on the CPU."""
        return self.processes.value() if self.processes.isVisibleTo(self) else 1

    def out_folder(self) -> Path | None:
        """The folder "Save as" names under the output root; None if it names none."""
        name = self.out_name.text().strip()
        if not name or Path(name).name != name:
            return None
        return self.output_root / name

    def set_editable(self, editable: bool) -> None:
        """Off while a run goes on: what it trains is fixed when it starts."""
        for w in (self.family_combo, self.dataset_combo, self.size_combo, self.channels_combo,
                  self.budget_spin, self.budget_unit, self.seed, self.preview_spin,
                  self.out_name, self.processes):
            w.setEnabled(editable)

    # --- choices ------------------------------------------------------------------------------
    def _set_choices(self, result: tuple[list[str], list[str]], _summary: dict) -> None:
        families, datasets = result
        for combo, items in ((self.family_combo, families),
                             (self.dataset_combo, [*datasets, FOLDER_ITEM])):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)
        family = str(self.settings.value("training-family", "vae"))
        self.family_combo.setCurrentIndex(max(0, self.family_combo.findText(family)))
        self._data_changed()
        self.folder_changed.emit()

    def _dataset_activated(self, index: int) -> None:
        if self.dataset_combo.itemText(index) == FOLDER_ITEM:
            folder = QFileDialog.getExistingDirectory(self, "A folder of training images")
            if folder:
                self.set_folder(folder)

    def set_folder(self, folder: str | Path) -> None:
        """Trains on a folder of images (what "Folder…" does after its dialog)."""
        self._folder = Path(folder)
        index = self.dataset_combo.count() - 1  # the "Folder…" item, shown with its name
        self.dataset_combo.setItemText(index, f"Folder: {self._folder.name}")
        self.dataset_combo.setItemData(index, str(self._folder), Qt.ItemDataRole.ToolTipRole)
        if self.dataset_combo.currentIndex() != index:
            self.dataset_combo.setCurrentIndex(index)  # emits _data_changed
        else:
            self._data_changed()

    # --- the preview --------------------------------------------------------------------------
    def _data_changed(self, *_: Any) -> None:
        self._suggest_name()
        spec = self.dataset_spec()
        self.unreadable = None
        if spec is None:
            self.missing = None
            self.dataset_offer.hide()
            self.data_view.show()
            self.data_view.clear()
            self.data_caption.setText("Choose a folder of images.")
            return
        self.data_caption.setText("Loading a few images…")
        job: list[int] = []

        def shown(result: dict[str, Any], _summary: dict) -> None:
            if job and job[0] == self._preview_job:
                self.missing = result.get("missing")
                self.data_view.setVisible(self.missing is None)
                if self.missing is not None:
                    self.data_view.clear()
                    self.data_caption.setText("")
                    self.dataset_offer.offer(self.missing, "to train on")
                    return
                self.dataset_offer.hide()
                self._show_dataset_preview(result)

        def failed(message: str) -> None:
            if job and job[0] == self._preview_job:
                self.missing = None
                self.dataset_offer.hide()
                self.data_view.show()
                self.data_view.clear()
                self.data_caption.setText(message)
                # A built-in dataset is previewed at every start, unasked: what is wrong
                # with it is said here, in the tab, never on the window's message bar. A
                # folder the user has just chosen is worth the bar too.
                if spec in self._named():
                    self.unreadable = message
                else:
                    self.show_error(message)

        job.append(self.engine.submit(PREVIEW, spec, self.image_size(), self.channels(),
                                      key="training-data-preview", label="",
                                      on_result=shown, on_error=failed))
        self._preview_job = job[0]

    def _show_dataset_preview(self, result: dict[str, Any]) -> None:
        # Rows of 4, as many as fit in the narrow column at zoom 1 (three of 64 pixels).
        images = result["images"]
        h, w = images.shape[1:3]
        images = images[: 4 * max(1, min(4, PREVIEW_HEIGHT // (h + PADDING)))]
        n = len(images)
        self.data_view.set_grid(make_grid(images, nrow=4, padding=PADDING, pad_value=128),
                                h, w, PADDING, n)
        text = f"{n} images as the model sees them ({w}×{h}, " \
               f"{'colour' if images.shape[3] == 3 else 'gray'})"
        if result["files"] is not None:
            text += f" of {result['files']} image files"
        skipped = result["skipped"]
        if skipped:  # training leaves them out too; the tooltip says why
            names = ", ".join(Path(p).name for p, _ in skipped[:3])
            text += f"; {len(skipped)} unreadable, left out: {names}" + (
                "…" if len(skipped) > 3 else "")
        self.data_caption.setText(text + ".")
        self.data_caption.setToolTip("\n".join(why for _, why in skipped))

    # --- the new model's folder ---------------------------------------------------------------
    def _name_was_edited(self, _text: str) -> None:
        self._name_edited = True

    def _suggest_name(self, *_: Any) -> None:
        root = self.output_root
        self.out_root_label.setText(f"in …/{root.name}" if len(str(root)) > 36
                                    else f"in {root}")
        self.out_root_label.setToolTip(str(root))
        if self._name_edited:
            return
        family = self.family_combo.currentText()
        spec = self.dataset_spec()
        if family == NOT_READ or spec is None:
            return
        base = _slug(f"{family}-{Path(spec).name}-{self.image_size()}px")
        name, i = base, 2
        while (self.output_root / name).exists():
            name, i = f"{base}-{i}", i + 1
        self.out_name.setText(name)

    def set_output_root(self, folder: Path) -> None:
        self.output_root = Path(folder)
        self._suggest_name()
        self.folder_changed.emit()
