"""How the Super-resolution panel upscales: which methods it offers now, at which scales.

The method list always has four entries: the selected model's own SR network ("net") or
its guided generation ("diffusion") when it has them (asked of the model, never of its
family), the shipped photo upscaler ("photo", run as "net" on its own checkpoint, found
by name among the scanned checkpoints), and bicubic, which needs no model. An entry that
cannot run now says why. What a model offers is read in the engine's thread by the two
jobs below; ``MethodOffer`` keeps the answers and decides, with no Qt; ``UpscaleBox``
shows them: the panel's "Upscale" box of scale, method, candidates and seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from genplay.gui.panels.base import op, seed_editor
from genplay.gui.widgets.labels import muted_label

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from genplay.core.checkpoints import CheckpointInfo
    from genplay.gui.engine import Engine
    from genplay.gui.widgets.job_progress import JobProgress

PHOTO_CHECKPOINT = "superres-photo"  # the shipped general-purpose upscaler, when present
# The entries of the method list; "photo" runs the "net" method on the shipped checkpoint.
METHOD_ENTRIES = ("net", "diffusion", "photo", "bicubic")
METHOD_HELP = {
    "net": "A network trained to enlarge images: one answer, quick.",
    "photo": "The shipped upscaler, trained on photos.",
    "diffusion": "The model imagines detail that agrees with your image: several "
                 "candidates, slow. Plausible, not recovered.",
    "bicubic": "Smooth interpolation between the pixels: no detail is added. The "
               "baseline every method should beat.",
}


# --- is the image one the model knows? ---------------------------------------------------------
def is_colour(pixels: np.ndarray) -> bool:
    """Whether an image has colour (three channels that differ), judged on at most about
    65,000 of its pixels: cheap enough for the UI thread."""
    if pixels.ndim != 3 or pixels.shape[2] < 3:
        return False
    step = max(1, int(np.sqrt(pixels.shape[0] * pixels.shape[1] / 65_536)))
    rgb = pixels[::step, ::step, :3].astype(np.int16)
    return float(np.abs(rgb[..., 0] - rgb[..., 1]).mean()
                 + np.abs(rgb[..., 1] - rgb[..., 2]).mean()) > 2.0


def _dark_ground(pixels: np.ndarray) -> bool:
    """Whether the image's border is mostly dark, as MNIST-style images (a light drawing on
    black) all are."""
    grey = pixels if pixels.ndim == 2 else pixels[..., :3].mean(axis=2)
    ring = np.concatenate([grey[:2].ravel(), grey[-2:].ravel(), grey[:, :2].ravel(),
                           grey[:, -2:].ravel()])
    return float(ring.mean()) < 64


def domain_warning(pixels: np.ndarray, info: CheckpointInfo | None, method: str,
                   scale: int) -> str | None:
    """One sentence when ``pixels`` are far from what the checkpoint behind ``method``
    learnt from (so its result will show artefacts), else None. Checked: colour given to a
    grey model, an image far larger than a grey model's training images, an image that is
    not a light drawing on a dark ground for the MNIST-style datasets, and for guided
    generation an image that must be shrunk a lot to fit the model's size."""
    if info is None or method == "bicubic":
        return None
    channels, size = int(info.image_shape[0]), int(info.image_shape[-1])
    h, w = pixels.shape[:2]
    learnt = (f"{info.name} learnt from {size}×{size} "
              f"{'grey' if channels == 1 else 'colour'} images")
    if method == "diffusion" and max(h, w) > 2 * (size // scale):
        small = size // scale
        return (f"{learnt}: this {w}×{h} image would be shrunk to {small}×{small} first and "
                f"come back as a {size}×{size} image")
    if channels != 1 or (method == "net" and info.format != "genplay"):
        # the photo upscaler: any size, colour or grey; an ESRGAN-family network says no
        # image size (a fully convolutional net of another project, trained on its own data)
        return None
    if is_colour(pixels):
        reason = "this is a colour image"
    elif max(h, w) > 4 * size:
        reason = f"this image is {w}×{h}"
    elif "mnist" in info.dataset.lower() and not _dark_ground(pixels):
        reason = "this image is not a light drawing on a dark ground"
    else:
        return None
    return f"{learnt}; {reason}, so expect artefacts (a mesh, false strokes)"


class DomainBar(QFrame):
    """One line above the result when the image is far from what the model learnt from
    (domain_warning), with a button to the method that suits it better."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("domainBar")
        self.setStyleSheet("#domainBar { background: #fff4ce; border: 1px solid #e0c36c; "
                           "border-radius: 3px; } #domainBar QLabel { color: #4a3b00; }")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(wordWrap=True)
        self.button = QPushButton()
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.hide()

    def warn(self, text: str | None, suggestion: str) -> None:
        """Shows text (None: hides the bar), offering the entry suggestion ("photo" or
        "bicubic")."""
        if text is None:
            self.hide()
            return
        self.label.setText(text + ".")
        self.label.setToolTip(text)
        self.button.setText("Use the photo upscaler" if suggestion == "photo" else
                            "Use bicubic")
        self.show()


# --- jobs (run in the engine's thread) ------------------------------------------------------
FACTS = op("ops.upscale_view:superres_facts")
CHOICES = op("ops.upscale_view:method_choices")


class MethodOffer:
    """The answers of the jobs above for the selected model and the photo upscaler, and
    what follows from them for each entry of the method list."""

    def __init__(self) -> None:
        self.names: dict[str, str] | None = None  # ops.superres.METHODS, once read
        self.model: CheckpointInfo | None = None  # the model selected on the left
        self.facts: dict[str, Any] | None = None  # of that model; None while it loads
        self.checkpoints: list[CheckpointInfo] = []  # all scanned: the photo upscaler's
        self.photo_facts: dict[str, Any] | None = None

    def set_model(self, info: CheckpointInfo | None) -> bool:
        """A newly selected model (or None); True when its facts must be loaded."""
        self.model = info
        if info is None or not info.capabilities:
            # Nothing to load: a helper network (or no model) serves bicubic only.
            self.facts = {"methods": ["bicubic"], "scales": []}
            return False
        self.facts = None
        return True

    def set_checkpoints(self, infos: list[CheckpointInfo]) -> None:
        """The scanned checkpoints; the photo upscaler's facts go when it is another one."""
        old = self.photo_info()
        self.checkpoints = list(infos)
        new = self.photo_info()
        if (old.path if old else None) != (new.path if new else None):
            self.photo_facts = None

    def photo_info(self) -> CheckpointInfo | None:
        return next((i for i in self.checkpoints if i.name == PHOTO_CHECKPOINT), None)

    def entry_state(self, entry: str) -> tuple[str, bool, str]:
        """(text, enabled, why not / what it does) of one method entry."""
        names = self.names or {}
        name = self.model.name if self.model is not None else ""
        if entry == "bicubic":
            return names.get("bicubic", "Bicubic"), True, "Plain bicubic enlargement: the baseline"
        if entry == "photo":
            photo = self.photo_info()
            if photo is None:
                return ("Photo upscaler", False,
                        f"No checkpoint named {PHOTO_CHECKPOINT} was found in the checkpoint "
                        "folders")
            if "upscaler" not in photo.capabilities:
                return "Photo upscaler", False, f"{photo.path} is not an upscaling network"
            return "Photo upscaler", True, f"The shipped photo upscaler ({photo.path.name})"
        label = names.get(entry, entry)
        if self.model is None:
            return label, False, "Choose a model on the left first"
        text = label  # the model is the one selected on the left; the tooltip names it
        if entry == "diffusion" and (self.facts or {}).get("guided") == "latent":
            text = "Latent-guided"  # a VAE, GAN or flow: latents fitted, not denoised
        if self.facts is None:
            return text, False, f"Loading {name}…"
        if entry not in self.facts["methods"]:
            why = ("has no super-resolution network" if entry == "net" else
                   "cannot guide generation toward an input (that needs a diffusion model or "
                   "a latent space)")
            return text, False, f"{name} {why}"
        return text, True, f"With {name}"

    def trained_scales(self, entry: str | None) -> list[int] | None:
        """The scales a network entry was trained for; None: any (or not known yet)."""
        facts = self.photo_facts if entry == "photo" else self.facts
        return facts.get("scales") if facts and entry in ("net", "photo") else None

    def job_target(self, entry: str | None) -> tuple[str, Path | None]:
        """(ops.superres method, checkpoint to run it on or None) for an entry."""
        entry = entry or "bicubic"
        if entry == "photo":
            return "net", self.photo_info().path
        if entry == "bicubic":
            return "bicubic", None
        return entry, self.model.path


class UpscaleBox(QGroupBox):
    """Scale and method, candidates and seed for guided generation, the Upscale button and
    the panel's progress row. A network entry only offers the scales it was trained for."""

    changed = Signal()  # the scale or the chosen entry changed: a quick method runs again

    def __init__(self, engine: Engine, jobs: JobProgress, seed: int,
                 for_model: Callable[[Callable], Callable],
                 on_error: Callable[[str], None]) -> None:
        super().__init__("Upscale")
        self.engine = engine
        self.for_model = for_model  # the panel's guard against a model changed meanwhile
        self.on_error = on_error
        self.offer = MethodOffer()
        self._last_entry: str | None = None
        form = QFormLayout(self)
        self.scale = QComboBox()  # filled with the scales of ops.superres, by _on_choices
        self.base_scales: list[int] = []  # those every method offers (ops.superres.SCALES)
        self.scale.currentIndexChanged.connect(lambda _index: self.changed.emit())
        form.addRow("Scale", self.scale)
        self.method = QComboBox()
        self.method.setModel(QStandardItemModel(self.method))
        self.method.currentIndexChanged.connect(self._method_changed)
        form.addRow("Method", self.method)
        self.count = QSpinBox(minimum=1, maximum=16, value=4)
        self.count.setToolTip("How many alternatives to generate, each from its own noise")
        self.count_row = QLabel("Candidates")
        form.addRow(self.count_row, self.count)
        self.seed, seed_row = seed_editor(seed)
        self.seed_row = QLabel("Seed")
        self.seed_widgets = QWidget()  # the seed box and its button, shown and hidden as one
        seed_row.setContentsMargins(0, 0, 0, 0)
        self.seed_widgets.setLayout(seed_row)
        form.addRow(self.seed_row, self.seed_widgets)
        self.upscale_button = QPushButton("Upscale")
        self.upscale_button.setDefault(True)
        row = QHBoxLayout()
        row.addWidget(self.upscale_button, 1)
        row.addWidget(jobs.cancel_button)
        form.addRow(row)
        self.compare_button = QPushButton("Compare all methods")
        self.compare_button.setToolTip("Run this image through every method available now, "
                                       "side by side, each with its time (and figures when "
                                       "there is a reference)")
        form.addRow(self.compare_button)
        form.addRow(jobs.progress)
        # A wrapped label in a QFormLayout gets too little height and is clipped: the panel
        # puts this one in its column, under the box.
        self.method_help = muted_label()

    def read_choices(self) -> None:
        """Reads the scales and method names of ops.superres, in the engine."""
        self.engine.submit(CHOICES, on_result=self._on_choices, on_error=self.on_error)

    def _on_choices(self, choices: dict[str, Any], _summary: dict) -> None:
        self.scale.blockSignals(True)
        self.base_scales = list(choices["scales"])
        for s in choices["scales"]:
            self.scale.addItem(f"×{s}", s)
        self.scale.blockSignals(False)
        self.offer.names = choices["methods"]
        self.refresh()

    # --- the model and the checkpoints ------------------------------------------------------
    def set_model(self, info: CheckpointInfo | None) -> None:
        """A newly selected model (or None): what it offers is read in the engine."""
        self._last_entry = None  # the same entry of another model is another method
        if self.offer.set_model(info):
            self.engine.submit(FACTS, checkpoint=info.path, key="superres-model",
                               label=f"loading {info.name}",
                               on_result=self.for_model(self._on_facts), on_error=self.on_error)
        self.refresh()

    def _on_facts(self, facts: dict[str, Any], _summary: dict) -> None:
        self.offer.facts = facts
        self.refresh()
        if "net" in facts["methods"]:
            self.set_method("net")  # a model chosen for its network is chosen to be used

    def set_checkpoints(self, infos: list[CheckpointInfo]) -> None:
        """The scanned checkpoints, for the shipped photo upscaler."""
        self.offer.set_checkpoints(infos)
        self.refresh()

    # --- the method list --------------------------------------------------------------------
    def refresh(self) -> None:
        if self.offer.names is None:
            return  # the list is filled when ops.superres has been read (_on_choices)
        current = self.entry()
        model: QStandardItemModel = self.method.model()
        self.method.blockSignals(True)
        model.clear()
        best = None
        for entry in METHOD_ENTRIES:
            text, enabled, tip = self.offer.entry_state(entry)
            self.method.addItem(text, entry)
            item = model.item(model.rowCount() - 1)
            item.setEnabled(enabled)
            item.setToolTip(tip)
            if enabled and best is None and entry != "diffusion":
                best = entry  # a network when there is one, else bicubic: quick either way
        keep = current if current is not None and self._enabled(current) else best
        self.method.setCurrentIndex(self.method.findData(keep))
        self.method.blockSignals(False)
        self._method_changed()

    def enabled_entries(self) -> list[str]:
        """The entries that can run now, in the list's order."""
        return [e for e in METHOD_ENTRIES if self._enabled(e)]

    def _enabled(self, entry: str) -> bool:
        index = self.method.findData(entry)
        return index >= 0 and self.method.model().item(index).isEnabled()

    def entry(self) -> str | None:
        """The selected entry: "net", "diffusion", "photo" or "bicubic"."""
        return self.method.currentData()

    def set_method(self, entry: str) -> bool:
        """Selects a method entry; False if it is not available now."""
        if not self._enabled(entry):
            return False
        self.method.setCurrentIndex(self.method.findData(entry))
        return True

    def _method_changed(self, *_args) -> None:
        entry = self.entry()
        diffusion = entry == "diffusion"
        for widget in (self.count, self.count_row, self.seed_widgets, self.seed_row):
            widget.setVisible(diffusion)
        self.method_help.setText(METHOD_HELP.get(entry or "", ""))
        self._update_scales()
        if entry == "photo" and self.offer.photo_facts is None:
            photo = self.offer.photo_info()
            self.engine.submit(FACTS, checkpoint=photo.path, key="superres-photo",
                               label=f"loading {photo.name}",
                               on_result=self._on_photo_facts, on_error=self.on_error)
        if entry != self._last_entry:  # a refreshed list with the same choice changes nothing
            self._last_entry = entry
            self.changed.emit()

    def _on_photo_facts(self, facts: dict[str, Any], _summary: dict) -> None:
        self.offer.photo_facts = facts
        self._update_scales()

    def _update_scales(self) -> None:
        allowed = self.offer.trained_scales(self.entry())
        # A network of another project may enlarge x1, x3 or x8: its scales join the list
        # (offered for it only).
        for scale in sorted(set(allowed or ()) - {self.scale.itemData(r)
                                                   for r in range(self.scale.count())}):
            row = next((r for r in range(self.scale.count())
                        if self.scale.itemData(r) > scale), self.scale.count())
            self.scale.blockSignals(True)
            self.scale.insertItem(row, f"×{scale}", scale)
            self.scale.blockSignals(False)
        rows = range(self.scale.count())
        model: QStandardItemModel = self.scale.model()
        for row in rows:
            value = self.scale.itemData(row)
            ok = value in allowed if allowed else value in self.base_scales
            model.item(row).setEnabled(ok)
            model.item(row).setToolTip("" if ok else "The network was not trained for this "
                                                     "scale")
        current = self.scale.currentIndex()
        if current >= 0 and not model.item(current).isEnabled():
            self.scale.setCurrentIndex(next(r for r in rows if model.item(r).isEnabled()))

    # --- what to run ------------------------------------------------------------------------
    def options(self, entry: str | None = None) -> dict[str, Any]:
        """The options of an entry (default: the selected one)."""
        if (entry or self.entry()) == "diffusion":
            return {"candidates": self.count.value(), "seed": self.seed.value()}
        return {}

    def job_settings(self, entry: str | None = None
                     ) -> tuple[str, Path | None, int, dict[str, Any]]:
        """(ops.superres method, checkpoint or None, scale, options) as the box says, for
        an entry (default: the selected one)."""
        entry = entry or self.entry()
        method, checkpoint = self.offer.job_target(entry)
        return method, checkpoint, int(self.scale.currentData()), self.options(entry)

    def checkpoint_info(self, entry: str | None = None) -> CheckpointInfo | None:
        """The checkpoint an entry runs on (None for bicubic)."""
        entry = entry or self.entry()
        if entry == "photo":
            return self.offer.photo_info()
        return None if entry in (None, "bicubic") else self.offer.model
