"""Which model turns the Sketch panel's drawing into images: the dataset's sketch model, or
the selected model's own way.

A sketch model (``condition_method = "sketch"``, models/sketch_diffusion.py) has learnt
from pairs of drawings and images what a drawing means, so it makes what was drawn; the
other ways (SDEdit, Langevin dynamics, latent fitting) only follow the lines. When the
scanned checkpoints hold a sketch model of the selected model's dataset, at its image
size, the panel offers it first and chooses it; the selected model's own way stays one
choice away. Which checkpoints are sketch models is read from the scan
(``CheckpointInfo.condition_method``), nothing loaded; the facts of the chosen one are
read in the engine's thread (``ops.sketch.sketch_facts``) as the selected model's are.
Fill a region always runs the selected model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
)

from genplay.core.models.capabilities import sketch_route
from genplay.gui.panels.base import op

if TYPE_CHECKING:
    from genplay.core.checkpoints import CheckpointInfo

SKETCH_FACTS = op("ops.sketch:sketch_facts")
WAYS = {"sketch": "Sketch model", "sdedit": "SDEdit", "langevin": "Langevin",
        "latent": "Latent fitting"}
GUIDANCE_DEFAULT, GUIDANCE_MOST = 2.0, 10.0  # until the facts say (ops.sketch's values)
_TOOLTIP_ROLE = Qt.ItemDataRole.ToolTipRole


def own_way(info: CheckpointInfo) -> str | None:
    """How a checkpoint follows a sketch, from its listing: "sketch", "sdedit", "langevin",
    "latent" or None (as ops.sketch.sketch_method will say once it is loaded)."""
    if info.condition_method:
        return info.condition_method
    return "latent" if sketch_route(info.capabilities) == "latent" else None


def sketch_models_for(info: CheckpointInfo, infos: list[CheckpointInfo]
                      ) -> list[CheckpointInfo]:
    """The sketch models among infos that can stand in for info: of its dataset and image
    shape (the canvas is drawn at one size); none for a sketch model itself, or for a
    model that names no dataset."""
    if info.condition_method == "sketch" or not info.dataset:
        return []
    return [i for i in infos if i.condition_method == "sketch" and i.dataset == info.dataset
            and tuple(i.image_shape) == tuple(info.image_shape) and i.path != info.path]


def entry_text(info: CheckpointInfo, way: str | None) -> str:
    if way == "sketch":
        return f"Sketch model ({info.name})"
    return WAYS.get(way or "", "Not available")


class ElidedComboBox(QComboBox):
    """A combo box that ends a text too long for it with "…" (a plain one cuts it off
    mid-letter); its list shows the whole texts."""

    def paintEvent(self, _event) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        room = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                           QStyle.SubControl.SC_ComboBoxEditField, self)
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, Qt.TextElideMode.ElideRight, room.width())
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def showPopup(self) -> None:
        widest = max((self.fontMetrics().horizontalAdvance(self.itemText(i))
                      for i in range(self.count())), default=0)
        self.view().setMinimumWidth(widest + 40)
        super().showPopup()


class SketchMethodChoice:
    """Mixin for SketchPanel: needs info, facts, engine, for_model, method_label,
    generate_button, fill_button, show_error, mode() and _use_facts(facts)."""

    def _build_method_choice(self) -> None:
        """The Method list and the Sketch guidance box; the panel places them in its form."""
        self.checkpoints: list[CheckpointInfo] = []
        self._entries: list[tuple[CheckpointInfo, str | None]] = []
        self._facts_of: dict[str, dict[str, Any]] = {}  # checkpoint path -> sketch facts
        self._unusable: set[str] = set()  # sketch models that failed to load
        self._guidance_for: str | None = None  # the checkpoint the guidance default is of
        self.method_box = ElidedComboBox()
        self.method_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.method_box.setMinimumContentsLength(12)  # long names are cut; the tip has them
        self.method_box.currentIndexChanged.connect(self._method_chosen)
        self.method_row = QLabel("Method")
        self.sketch_guidance = QDoubleSpinBox(minimum=0.0, maximum=GUIDANCE_MOST,
                                              value=GUIDANCE_DEFAULT, singleStep=0.25,
                                              decimals=2)
        self.sketch_guidance.setToolTip(
            "How closely the images follow your lines: 0 ignores the drawing, 1 follows it "
            "as the model was trained, higher follows the lines harder (less natural images)")
        self.sketch_guidance_row = QLabel("Sketch guidance")

    # --- what is offered --------------------------------------------------------------------
    def set_checkpoints(self, infos: list[CheckpointInfo]) -> None:
        """The scanned checkpoints, for the sketch models of the selected model's dataset."""
        self.checkpoints = list(infos)
        self._unusable.clear()  # a rescan tries a sketch model that failed again
        if self.info is not None:
            self._offer_methods()

    def _offer_methods(self) -> None:
        """Fills the Method list for the selected model: the first entry (a sketch model,
        when there is one) is chosen, unless the user had a choice and it is still offered."""
        info = self.info
        current = self.target() if len(self._entries) > 1 else None
        usable = [s for s in sketch_models_for(info, self.checkpoints)
                  if str(s.path) not in self._unusable]
        entries = [(s, "sketch") for s in usable] + [(info, own_way(info))]
        if [(str(i.path), w) for i, w in entries] == [(str(i.path), w)
                                                      for i, w in self._entries]:
            return
        self._entries = entries
        self.method_box.blockSignals(True)
        self.method_box.clear()
        for entry, way in entries:
            self.method_box.addItem(entry_text(entry, way))
            tip = (f"{entry.name}: trained on drawings and their images, it makes what was "
                   "drawn" if way == "sketch" else f"{info.name}'s own way: it follows your "
                   "lines without having learnt what drawings mean")
            self.method_box.setItemData(self.method_box.count() - 1, tip,
                                        role=_TOOLTIP_ROLE)
        paths = [str(i.path) for i, _ in entries]
        keep = str(current.path) if current is not None else None
        self.method_box.setCurrentIndex(paths.index(keep) if keep in paths else 0)
        self.method_box.blockSignals(False)
        # a choice only where there is one
        self._generation_form.setRowVisible(self.method_box, len(entries) > 1)
        self._method_chosen()

    def target(self) -> CheckpointInfo | None:
        """The checkpoint that turns drawings into images (Sketch mode)."""
        index = self.method_box.currentIndex()
        return self._entries[index][0] if 0 <= index < len(self._entries) else None

    def target_way(self) -> str | None:
        index = self.method_box.currentIndex()
        return self._entries[index][1] if 0 <= index < len(self._entries) else None

    def choose_method(self, way: str) -> bool:
        """Chooses the first entry of a way ("sketch", "sdedit", ...); False if none."""
        for index, (_, entry_way) in enumerate(self._entries):
            if entry_way == way:
                self.method_box.setCurrentIndex(index)
                return True
        return False

    def choose_own_way(self) -> None:
        """Chooses the selected model's own way (the list's last entry)."""
        self.method_box.setCurrentIndex(self.method_box.count() - 1)

    def method_choices(self) -> list[str]:
        return [self.method_box.itemText(i) for i in range(self.method_box.count())]

    # --- loading what the chosen model can do -------------------------------------------------
    def _method_chosen(self, *_args) -> None:
        target = self.target()
        if target is None or self.info is None:
            return
        self._tooltip_method()
        if str(target.path) not in self._facts_of and target.path != self.info.path:
            self.facts = None
            self.generate_button.setEnabled(False)
            self.method_label.setText(f"{target.name}: loading…")
            self._show_method_controls()
            self.engine.submit(SKETCH_FACTS, checkpoint=target.path, key="sketch-method",
                               label=f"loading {target.name}",
                               on_result=self.for_model(
                                   lambda facts, _s: self._facts_read(target, facts)),
                               on_error=self.for_model(
                                   lambda message: self._target_failed(target, message)))
        self._facts_ready()

    def _tooltip_method(self) -> None:
        index = self.method_box.currentIndex()
        self.method_box.setToolTip(self.method_box.itemData(index, _TOOLTIP_ROLE) or "")

    def _facts_read(self, checkpoint: CheckpointInfo, facts: dict[str, Any]) -> None:
        self._facts_of[str(checkpoint.path)] = facts
        target = self.target()
        if checkpoint.path == self.info.path or (target and checkpoint.path == target.path):
            self._facts_ready()  # (not for a method the user has since left)

    def _target_failed(self, checkpoint: CheckpointInfo, message: str) -> None:
        """A sketch model that cannot be loaded leaves the list; the selected model's own
        way is chosen instead."""
        self.show_error(message)
        self._unusable.add(str(checkpoint.path))
        self._offer_methods()

    def _facts_ready(self) -> None:
        """Once the selected model's facts and the chosen model's are read: the panel's
        facts, Sketch mode's from the chosen model, Fill's from the selected one."""
        target = self.target()
        own = self._facts_of.get(str(self.info.path)) if self.info is not None else None
        theirs = self._facts_of.get(str(target.path)) if target is not None else None
        if own is None or theirs is None:
            return
        facts = theirs if theirs is own else {**theirs, "fill": own["fill"],
                                              "fill_steps": own["fill_steps"]}
        guidance = facts.get("sketch_guidance")
        if guidance and self._guidance_for != str(target.path):
            self._guidance_for = str(target.path)
            self.sketch_guidance.setMaximum(guidance[1])
            self.sketch_guidance.setValue(guidance[0])
        self._use_facts(facts)

    def _show_method_controls(self) -> None:
        """Strength for SDEdit, Langevin and latent fitting; Sketch guidance in its place
        for a sketch model, whose drawing is never noised."""
        sketch = (self.facts["method"] if self.facts is not None
                  else self.target_way()) == "sketch"
        self._generation_form.setRowVisible(self.strength_row, not sketch)
        self._generation_form.setRowVisible(self.sketch_guidance_row, sketch)
        self.sketch_guidance.setEnabled(self.mode() != "fill")

    def method_options(self) -> dict[str, Any]:
        """The chosen model's own options (the sketch guidance of a sketch model)."""
        if self.facts is not None and self.facts["method"] == "sketch":
            return {"sketch_guidance": self.sketch_guidance.value()}
        return {}

