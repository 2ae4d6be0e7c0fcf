"""A panel's progress row: a cancelled job's last progress message never overwrites
"cancelled"."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from genplay.gui.widgets.job_progress import JobProgress


class RecordingEngine:
    """Keeps the callbacks of each submitted job, to call them as the engine would."""

    def __init__(self) -> None:
        self.jobs: dict[int, dict] = {}
        self.cancelled: list[int] = []

    def submit(self, fn, *args, **callbacks) -> int:
        job = len(self.jobs) + 1
        self.jobs[job] = callbacks
        return job

    def cancel(self, job: int) -> None:
        self.cancelled.append(job)


def test_a_cancelled_jobs_late_progress_leaves_cancelled_on_screen(qtbot):
    engine, caption = RecordingEngine(), QLabel()
    qtbot.addWidget(caption)
    row = JobProgress(engine, caption, on_error=lambda message: None)
    job = row.submit(print)
    engine.jobs[job]["on_progress"](1, 4, "upscaling tile 1 of 4")
    assert caption.text() == "upscaling tile 1 of 4"
    row.cancel()
    assert engine.cancelled == [job] and caption.text() == "cancelled"
    engine.jobs[job]["on_progress"](2, 4, "upscaling tile 2 of 4")  # sent before the stop
    assert caption.text() == "cancelled"
    engine.jobs[job]["on_done"](True)
    assert not row.busy() and not row.cancel_button.isEnabled()
    later = row.submit(print)  # a new job reports again
    engine.jobs[later]["on_progress"](1, 2, "upscaling tile 1 of 2")
    assert caption.text() == "upscaling tile 1 of 2"
