"""The Sketch panel's earlier results: the last 20 sets of candidates, to go back to.

Each result is kept with the request that made it, the candidate chosen in it, and the
drawing it came from. Choosing one (a thumbnail, or Ctrl+Z / Ctrl+Shift+Z on the
candidates) shows its candidates again, and, when asked, puts its drawing back on the
canvas without starting a new request.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QCheckBox, QVBoxLayout, QWidget

from genplay.core.images import make_grid, to_uint8_hwc
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.result_history import ResultHistory

KEPT = 20


def result_terms(request: dict[str, Any], selected: str) -> str:
    """How a result was made, in a few words: its strength or sketch guidance (and the
    sketch model's name when it is not the selected model, `selected`)."""
    if request["mode"] == "fill":
        return "the painted region filled"
    options = request.get("options") or {}
    if "sketch_guidance" in options:
        by = request.get("model", selected)
        return (f"{by} · " if by != selected else "") + (
            f"sketch guidance {options['sketch_guidance']:.2f}")
    return f"strength {request['strength']:.2f}"


class EarlierResults:
    """Mixin for SketchPanel: needs images, request, selected, info, canvas, view, caption,
    engine, _job, _token, live_timer, previews, _show_result_strip and _update_actions."""

    def _build_history(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(muted_label("Earlier results"))
        self.history = ResultHistory(limit=KEPT)
        self.history.setToolTip(f"The last {KEPT} results: click one to see its candidates "
                                "again")
        self.history.chosen.connect(self._restore)
        self.restore_drawing = QCheckBox("Bring back its drawing too")
        self.restore_drawing.setToolTip("Choosing an earlier result also puts the drawing it "
                                        "came from on the canvas (undo takes it off)")
        column.addWidget(self.history)
        column.addWidget(self.restore_drawing)
        for keys, step in ((QKeySequence.StandardKey.Undo, self.history.back),
                           (QKeySequence.StandardKey.Redo, self.history.forward)):
            shortcut = QShortcut(keys, self.view, context=Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(step)
        return box

    def _remember(self, images: np.ndarray, request: dict[str, Any]) -> None:
        """Adds a new result to the history, as its newest and current entry."""
        n = len(images)
        thumbnail = make_grid(to_uint8_hwc(images), nrow=math.ceil(math.sqrt(n)), padding=1,
                              pad_value=128)
        if request["mode"] == "fill":
            what = f"{n} filling{'s' if n != 1 else ''}"
        else:
            terms = result_terms(request, self.info.name if self.info is not None else "")
            what = f"{n} candidate{'s' if n != 1 else ''} · {terms}"
        tooltip = f"{what} · seed {request['seed']} · {time.strftime('%H:%M:%S')}"
        self.history.add(thumbnail[..., 0] if thumbnail.shape[2] == 1 else thumbnail, tooltip,
                         {"images": images, "request": request, "selected": self.selected,
                          "drawing": self.canvas.canvas_array(), "tooltip": tooltip})

    def _note_choice(self) -> None:
        """The current entry remembers which candidate is chosen in it."""
        entry = self.history.current_payload()
        if entry is not None and entry["images"] is self.images:
            entry["selected"] = self.selected

    def _restore(self, entry: dict[str, Any]) -> None:
        """Shows an earlier result again; whatever was computing is dropped."""
        self.live_timer.stop()
        self._token += 1
        if self._job is not None:
            self.engine.cancel(self._job)
        self.previews.supersede()
        self.view.set_busy("")
        self.images, self.request = entry["images"], entry["request"]
        self.selected = min(entry["selected"], len(self.images) - 1)
        self._show_result_strip()
        if self.restore_drawing.isChecked():
            self._quiet = True  # the drawing comes back; no new request for it
            try:
                self.canvas.load_image(entry["drawing"])
            finally:
                self._quiet = False
        self.caption.setText(f"Earlier result: {entry['tooltip']} — click a candidate to "
                             "choose it")
        self._update_actions()
