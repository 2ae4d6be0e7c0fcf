"""Reproduce a saved image: a PNG that genplay saved, dropped on the Sampling panel, is
drawn again from the seed and options it records, and compared with the file's pixels.

The record (core.ops.reproduce) names the model; if another model is selected, the panel
asks the window for it (``model_requested``) and draws once it has arrived. The verdict
is exact: "Reproduced exactly", or the largest pixel difference, because silent drift
(other hardware, weights changed since) is what a user reproducing an image needs to know.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genplay.gui.panels.base import op

if TYPE_CHECKING:
    from genplay.gui.panels.sampling import SamplingPanel

MAX_SAMPLES = 256  # the panel's largest grid


READ_SAVED = op("ops.reproduce:read_saved_image")


class Reproducer:
    """The panel's drop handling: read, switch model if needed, redraw, compare."""

    def __init__(self, panel: SamplingPanel) -> None:
        self.panel = panel
        self.pending: tuple[Path, dict, np.ndarray] | None = None  # waiting for its model
        self.ready = False  # whether the panel's model has its options in place
        self.verdict = ""  # the last comparison, as said to the user

    def _say(self, text: str, kind: str = "info") -> None:
        self.panel.caption.setText(text)
        self.panel.messages.show_message(text, kind, 8000 if kind == "info" else 0)

    # --- from the panel -----------------------------------------------------------------------
    def open(self, path: Path) -> None:
        self.panel.engine.submit(
            READ_SAVED, str(path), label=f"reading {path.name}",
            on_result=lambda value, _summary: self._read(path, *value),
            on_error=self.panel.show_error)

    def model_changed(self, info) -> None:
        self.ready = False
        if self.pending is not None and info.name != self.pending[1]["model"]:
            self.pending = None  # the user chose another model meanwhile
        elif self.pending is not None:
            self.panel.caption.setText(f"Drawing {self.pending[0].name} again once "
                                       f"{info.name} has loaded…")

    def model_ready(self) -> None:
        self.ready = True
        if self.pending is not None:
            self._redraw()

    def model_failed(self) -> None:
        if self.pending is not None:
            path, record, _ = self.pending
            self.pending = None
            self._say(f"{path.name} cannot be drawn again: {record['model']} could not be "
                      "loaded", "error")

    # --- steps ------------------------------------------------------------------------------
    def _read(self, path: Path, record: dict | None, pixels: np.ndarray) -> None:
        panel = self.panel
        if record is None:
            self._say(f"{path.name} holds no genplay record: only PNGs saved by genplay "
                      "(Save… here, or genplay sample) can be drawn again", "error")
            return
        if record["n"] > MAX_SAMPLES:
            self._say(f"{path.name} is one of {record['n']} samples; this panel draws at "
                      f"most {MAX_SAMPLES} at once (genplay sample --replay can)", "error")
            return
        self.pending = (path, record, pixels)
        info = panel.info
        digest = panel.checkpoint_hash
        same = info is not None and (record["model"] == info.name or bool(digest)
                                     and record.get("checkpoint_hash") == digest)
        if same:
            if self.ready:
                self._redraw()
            return
        panel.caption.setText(f"{path.name} was drawn by {record['model']}: select that "
                              "model to draw it again")
        panel.model_requested.emit(record["model"])

    def _redraw(self) -> None:
        panel = self.panel
        path, record, pixels = self.pending
        self.pending = None
        options: dict[str, Any] = dict(record["options"])
        declared = {o.name for o in panel._option_specs}
        unknown = sorted(set(options) - declared)
        if unknown:
            self._say(f"{path.name} was drawn with options {panel.info.name} does not have "
                      f"({', '.join(unknown)}); it cannot be drawn again", "error")
            return
        wanted = record.get("upscale")
        have = panel._upscale
        if wanted and (not have or have["name"] != wanted.get("name")
                       or have["scale"] != wanted.get("scale")):
            self._say(f"{path.name} was enlarged by {wanted.get('name')}, which is not "
                      "beside this model; it cannot be drawn again", "error")
            return
        panel.seed.setValue(record["seed"])
        panel.count.setValue(record["n"])
        panel.set_options(options)
        if have:
            panel.upscale_box.setChecked(bool(wanted))
        changed = bool(record.get("checkpoint_hash")) and \
            record.get("checkpoint_hash") != panel.checkpoint_hash
        panel.caption.setText(f"Drawing {path.name} again…")
        request = {"seed": record["seed"], "n": record["n"], "options": options,
                   "upscale": have if wanted else None}
        panel.generate(request, on_shown=lambda images: self._compare(
            path, record, pixels, images, changed))

    def _compare(self, path: Path, record: dict, saved: np.ndarray, images: np.ndarray,
                 changed: bool) -> None:
        from genplay.core.ops.reproduce import max_pixel_difference
        from genplay.core.ops.sampling import render

        index, nrow = record.get("index"), record.get("nrow")
        if index is not None and index >= len(images):
            self.verdict = (f"{path.name}: differs: it is sample {index}, beyond the "
                            f"{len(images)} drawn")
        else:
            drawn = render(images, index=index, nrow=nrow)
            diff = max_pixel_difference(saved, drawn)
            if diff == 0:
                self.verdict = f"Reproduced exactly: {path.name}"
            elif diff is None:
                self.verdict = (f"{path.name}: differs: the file is {saved.shape[1]}x"
                                f"{saved.shape[0]} pixels, the drawing {drawn.shape[1]}x"
                                f"{drawn.shape[0]}")
            else:
                self.verdict = f"{path.name}: differs: max pixel difference {diff}"
        if changed and not self.verdict.startswith("Reproduced"):
            self.verdict += " (the model's weights have changed since it was saved)"
        what = f"sample {index} of " if index is not None else ""
        self._say(f"{self.verdict} · {what}seed {record['seed']}",
                  "info" if self.verdict.startswith("Reproduced") else "error")
