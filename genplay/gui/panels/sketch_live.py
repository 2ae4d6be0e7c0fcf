"""The Sketch panel's quick candidates while the pen moves (Live mode).

A model that turns a drawing into images with a diffusion sampler (a sketch model, or
SDEdit) takes a second or more for full candidates on a laptop CPU, so Live mode used to
show nothing new until the pen rested. While a stroke is drawn, StrokePreviews asks for
the same candidates (same seed, count and options) in a few sampler steps instead: one
job at a time, the newest drawing next, so previews keep coming at the model's own pace.
When the pen rests, the panel's full request supersedes them; a preview still running
then is dropped unseen. A stroke that starts while a full request runs cancels it
quietly: its drawing is out of date, and the previews need the engine.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PREVIEW_NOTE = "quick preview"


class StrokePreviews:
    """Quick candidates for a SketchPanel while its pen moves."""

    def __init__(self, panel: Any, job: Any) -> None:
        self.panel, self.job = panel, job  # job: the engine op that draws candidates
        self.showing = False  # whether the strip shows previews, not the last result
        self._job: int | None = None
        self._again = False  # the drawing changed while a preview was computed
        self._epoch = 0  # bumped when a full request supersedes the previews

    def steps(self) -> int | None:
        """The sampler steps of a preview for the panel's settings, or None when previews
        do not apply (Live off, Fill mode, a model without them) or would be no quicker."""
        panel = self.panel
        facts = panel.facts
        if (not panel.live.isChecked() or panel.mode() == "fill" or facts is None
                or not facts.get("preview_steps") or panel.info is None):
            return None
        steps = facts["preview_steps"]
        if facts["method"] == "sdedit":  # SDEdit runs its strength's share of the steps
            steps = math.ceil(steps / max(panel.strength.value() / 100, 1e-3))
        return steps if steps < panel.steps.value() else None

    def busy(self) -> bool:
        return self._job is not None

    def moved(self) -> None:
        """The drawing changed under the pen: a preview of it, now or after the one
        running."""
        if self.steps() is None or self.panel.canvas.is_empty():
            return
        if self._job is not None:
            self._again = True
        else:
            self._submit()

    def supersede(self) -> None:
        """A full request goes out: no more previews of the drawing before it."""
        self._epoch += 1
        self._again = False

    def shown_result(self) -> None:
        """The strip shows a full result again."""
        self.showing = False

    def _submit(self) -> None:
        panel, steps = self.panel, self.steps()
        if steps is None:
            return
        target = panel.target() or panel.info
        options = {**panel.options(), "steps": steps}
        epoch, job = self._epoch, []

        def arrived(images: np.ndarray, _summary: dict) -> None:
            self._show(epoch, images)
            self._done(job[0])  # the newest drawing goes at once, not after the done signal

        job.append(panel.engine.submit(
            self.job, panel.canvas.image_array(), panel.count.value(), panel.seed.value(),
            panel.strength.value() / 100, options, checkpoint=target.path,
            key="sketch-preview", label="",  # no label: strokes stay out of the status bar
            on_result=panel.for_model(arrived),
            on_error=lambda _message: None,  # the full request says what is wrong
            on_done=lambda _cancelled: self._done(job[0])))
        self._job = job[0]

    def _show(self, epoch: int, images: np.ndarray) -> None:
        if epoch != self._epoch:
            return  # the pen rested and the full candidates are on their way
        from genplay.core.images import to_uint8_hwc

        view = self.panel.view
        view.show_candidates(to_uint8_hwc(images))
        view.set_selected(min(self.panel.selected, len(images) - 1))
        view.set_busy(PREVIEW_NOTE, wash=False)
        self.showing = True

    def _done(self, job: int) -> None:
        if job != self._job:
            return
        self._job = None
        if self._again:
            self._again = False
            self._submit()
