"""Upscaling a folder at a time, for the Super-resolution panel.

Every image below one folder is upscaled into another with the method and scale the
panel shows, as ``genplay upscale`` does; the caption follows file by file, and files
that could not be read are listed when it is done.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from genplay.gui.panels.base import op

if TYPE_CHECKING:
    from collections.abc import Callable

    from genplay.gui.widgets.job_progress import JobProgress
    from genplay.gui.widgets.message_bar import MessageBar

    # (ops.superres method, checkpoint or None, scale, options): what the panel would run
    UpscaleSettings = Callable[[], tuple[str, Path | None, int, dict[str, Any]]]


FOLDER = op("ops.upscale_view:upscale_folder")


class FolderBatch:
    """The panel's "Batch folder…" button, and the batch it starts."""

    def __init__(self, parent: QWidget, jobs: JobProgress, messages: MessageBar,
                 settings: UpscaleSettings) -> None:
        self.parent = parent  # of the folder dialogs
        self.jobs = jobs
        self.messages = messages
        self.settings = settings
        self.log: list[dict[str, Any]] = []  # what the last batch did, file by file
        self.button = QPushButton("Batch folder…", clicked=self.dialog)
        self.button.setToolTip("Upscale every image in a folder into another folder, "
                               "with the method and scale above")

    def dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.parent, "Folder of images to upscale")
        if not folder:
            return
        out_dir = QFileDialog.getExistingDirectory(self.parent, "Folder to write the results into")
        if out_dir:
            self.run(folder, out_dir)

    def run(self, folder: str, out_dir: str) -> None:
        """Upscales every image below ``folder`` into ``out_dir``; unreadable files are listed
        when it is done."""
        method, checkpoint, scale, options = self.settings()
        args = (folder, out_dir, scale, method, options)
        if checkpoint is None:
            args = (None, *args)  # the job's model argument: bicubic needs none
        self.log = []
        self.jobs.caption.setText(f"upscaling the images in {Path(folder).name}…")
        self.jobs.submit(FOLDER, *args, checkpoint=checkpoint, key="superres-batch",
                         label=f"upscaling {Path(folder).name} ×{scale}",
                         on_partial=self._partial,
                         on_result=lambda value, _s: self._done(value, out_dir))

    def _partial(self, value: dict[str, Any]) -> None:
        self.log.append(value)
        done = len(self.log)
        self.jobs.caption.setText(f"{done} file{'s' if done != 1 else ''} done: "
                                  f"{Path(value['file']).name}")

    def _done(self, value: dict[str, Any], out_dir: str) -> None:
        written, failed = value["written"], value["failed"]
        text = f"Wrote {written} image{'s' if written != 1 else ''} to {out_dir}."
        self.jobs.caption.setText(text)
        if failed:
            listed = "; ".join(f"{Path(name).name} ({why})" for name, why in failed[:5])
            more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
            self.messages.show_message(
                f"{text} {len(failed)} could not be read: {listed}{more}", "error")
        else:
            self.messages.show_message(text, "info", 8000)
