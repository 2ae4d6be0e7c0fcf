"""The Latent panel's live images: decode slider positions one job at a time.

The Sliders tab's image follows its sliders; the Interpolation tab's follows its position
slider between the two ends.

A model whose full decode is slow (a diffusion model's DDIM steps) draws quick previews
while a slider is held, in as many sampler steps as this machine runs within the preview
budget (ops.sliders.preview_steps, from the time each decode took a step), and full
quality once it is let go; a busy cue shows whenever a decode takes more than a moment.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar

from genplay.core.ops.sliders import Between, SliderState, preview_steps
from genplay.gui.panels.base import op
from genplay.gui.widgets.pixel_view import PixelView

SLOW_DECODE_S = 0.12  # a full decode slower than this gets quick previews while dragging
CUE_DELAY_MS = 150  # a decode still running after this shows the busy cue


RENDER = op("ops.sliders:render_sliders")  # the whole slider state -> its image
RENDER_BETWEEN = op("ops.sliders:render_between")  # a point between two latents -> its image


# --- the live image ---------------------------------------------------------------------------
class LiveDecoder:
    """Decodes what the sliders show: one job at a time, the newest position next.

    A job per value change, each replacing the last, shows nothing during a drag on a
    slow model: every decode is overtaken before it ends and its image dropped. Here a
    move while a decode runs only changes what is decoded next, so images keep coming at
    the model's own pace. A model whose full decode is slow (a diffusion model's DDIM
    steps) draws quick previews while a slider is held and full quality once it is let
    go; a thin busy bar and a caption show whenever a decode takes more than a moment.
    """

    def __init__(self, panel, view: PixelView, cue: QProgressBar, caption: QLabel,
                 render=RENDER, key: str = "latent-slider") -> None:
        """render: the engine job that draws a state, (model, state, preview) -> (image,
        {"preview", "seconds"}); key: its engine key (one per decoder)."""
        self.panel, self.view, self.cue, self.caption = panel, view, cue, caption
        self.render, self.key = render, key
        self.full_seconds: float | None = None  # the last full decode's time
        self.step_seconds: float | None = None  # a decode step's time, averaged
        self.showing_preview = False  # whether the image shown is a quick preview
        self.shown_steps: int | None = None  # the sampler steps of the preview shown
        self._job: int | None = None
        self._job_preview = False
        self._epoch = 0  # bumped when an image arrives another way: older jobs' are stale
        self._next: tuple | None = None  # (checkpoint, state, preview, its steps) to draw next
        self._timer = QTimer(singleShot=True, interval=CUE_DELAY_MS, timeout=self._show_cue)

    def slow(self) -> bool:
        return self.full_seconds is not None and self.full_seconds > SLOW_DECODE_S

    def busy(self) -> bool:
        return self._job is not None

    def request(self, state: SliderState | Between, dragging: bool) -> None:
        if self.panel.info is None:
            return
        want = (self.panel.info.path, state, dragging and self.slow(),
                preview_steps(self.step_seconds))
        if self._job is not None:
            self._next = want
        else:
            self._submit(want)
        self._update_caption()

    def reset(self, full_seconds: float | None = None) -> None:
        """A new model (or new ends to go between): forget what was waiting, and the
        predecessor's speed unless full_seconds is known already."""
        self._next = None
        self._epoch += 1
        self.full_seconds = full_seconds
        self.step_seconds = None
        self.showing_preview = False
        self._update_caption()

    def show_full(self, image: np.ndarray, seconds: float | None) -> None:
        """A full-quality image made by another job (a new starting point): shown at once,
        and nothing decoded before it may replace it."""
        self._next = None
        self._epoch += 1
        self.view.set_image(image)
        self.showing_preview = False
        if seconds is not None:
            self.full_seconds = seconds
        self._update_caption()

    def _submit(self, want: tuple) -> None:
        path, state, preview, steps = want
        panel, epoch = self.panel, self._epoch
        self._job_preview = preview
        job: list[int] = []

        def arrived(value, _summary) -> None:
            self._show(path, epoch, value)
            self._done(job[0])  # the next position goes at once, not after the done signal

        job.append(panel.engine.submit(
            # No label: slider drags stay out of the status bar (the view has its own cue).
            self.render, state, preview, steps, checkpoint=path, key=self.key, label="",
            on_result=arrived, on_error=panel.show_error,
            on_done=lambda _cancelled: self._done(job[0])))
        self._job = job[0]
        if not self._timer.isActive() and not self.cue.isVisible():
            self._timer.start()

    def _show(self, path, epoch: int, value) -> None:
        if self.panel.info is None or self.panel.info.path != path or epoch != self._epoch:
            return  # decoded for a model the user has since left, or overtaken
        image, facts = value
        self.view.set_image(image)
        self.showing_preview = bool(facts["preview"])
        self.shown_steps = int(facts["evaluations"]) if facts["preview"] else None
        if not facts["preview"]:
            self.full_seconds = float(facts["seconds"])
        self._learn_speed(float(facts["seconds"]) / max(1, int(facts["evaluations"])))

    def _learn_speed(self, seconds: float) -> None:
        """A step's time, averaged over the decodes so one slow moment does not change
        the previews' step count."""
        old = self.step_seconds
        self.step_seconds = seconds if old is None else 0.7 * old + 0.3 * seconds

    def _done(self, job: int) -> None:
        if job != self._job:  # its result already let the next one go
            return
        self._job = None
        if self._next is not None:
            want, self._next = self._next, None
            self._submit(want)
        else:
            self._timer.stop()
            self.cue.hide()
        self._update_caption()

    def _show_cue(self) -> None:
        if self._job is not None:
            self.cue.show()
            self._update_caption()

    def _update_caption(self) -> None:
        if self._job is None:
            text = ""
        elif self._job_preview or (self._next is not None and self._next[2]):
            text = "Quick preview while you drag; full quality when you let go."
        elif self.cue.isVisible():
            text = "Drawing at full quality…"
        else:
            text = ""
        self.caption.setText(text)
