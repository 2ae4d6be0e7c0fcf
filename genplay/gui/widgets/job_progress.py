"""A panel's own progress row for its long jobs: a thin bar, a Cancel button, a caption.

The status bar shows every job of the window; a panel whose jobs take a while (a folder
to upscale, candidates to generate) also shows them beside its controls. The bar and the
button are on while any job submitted through ``JobProgress.submit`` is queued or
running; the jobs' progress messages land in the caption, and an error clears the caption
before it goes on to the panel. The panel places the two widgets where it wants them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

if TYPE_CHECKING:
    from collections.abc import Callable

    from genplay.gui.engine import Engine


class JobProgress:
    def __init__(self, engine: Engine, caption: QLabel, on_error: Callable[[str], None]) -> None:
        self.engine = engine
        self.caption = caption
        self.on_error = on_error
        self.progress = QProgressBar(textVisible=False, maximumHeight=8)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel)
        self.cancel_button.setEnabled(False)
        self._running: set[int] = set()  # jobs submitted here, still queued or running
        self._cancelled: set[int] = set()  # of those, the ones the user cancelled

    def submit(self, fn, *args, on_done=None, **kwargs) -> int:
        """``engine.submit`` with this row's progress, error and done handling (on_done,
        if given, is called after it)."""
        job: list[int] = []
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.setEnabled(True)

        def done(cancelled: bool) -> None:
            self._done(job[0])
            if on_done is not None:
                on_done(cancelled)

        def progress(step: int, total: int | None, message: str) -> None:
            if job[0] not in self._cancelled:  # a cancelled job may report once more
                self._on_progress(step, total, message)

        job.append(self.engine.submit(fn, *args, **kwargs, on_progress=progress,
                                      on_error=self._on_error, on_done=done))
        self._running.add(job[0])
        return job[0]

    def busy(self) -> bool:
        """Whether a job submitted here is queued or running."""
        return bool(self._running)

    def cancel(self) -> None:
        for job in list(self._running):  # a cancelled job may be done (and dropped) at once
            self._cancelled.add(job)
            self.engine.cancel(job)
        self.caption.setText("cancelled")

    def _done(self, job: int) -> None:
        self._running.discard(job)
        self._cancelled.discard(job)
        if not self._running:
            self.progress.hide()
            self.cancel_button.setEnabled(False)

    def _on_progress(self, step: int, total: int | None, message: str) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(step)
        if message:
            self.caption.setText(message)

    def _on_error(self, message: str) -> None:
        self.caption.setText("")
        self.on_error(message)
