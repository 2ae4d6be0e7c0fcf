"""The "Download from the Hub" dialog: a model's name on the Hugging Face Hub in, a model
folder in genplay's model folder out (core/hub.py: only the files genplay opens, resumed
when cut off, placed only when complete).

The download runs in the engine's downloads thread, as a dataset's does
(widgets/dataset_offer.py), so the models' work goes on meanwhile; the dialog can be
closed while it runs (the status bar still shows it) and ``pulled`` is emitted when the
model is there, so the window can list and select it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from genplay.core import hub
from genplay.core.errors import GenplayError
from genplay.core.paths import user_model_dir

if TYPE_CHECKING:
    from genplay.gui.engine import Engine

NETWORK_TIMEOUT_S = 15.0  # a stalled connection gives way (and Cancel takes effect) by then
EXAMPLE = "google/ddpm-cifar10-32"


def _pull(spec: str, revision: str | None):
    yield from hub.pull(spec, revision=revision, timeout=NETWORK_TIMEOUT_S)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


class HubDialog(QDialog):
    """Downloads a model from the Hub; ``pulled(Path)`` gives what to open: a pipeline's
    folder, or an upscaler's weights file inside its folder."""

    pulled = Signal(object)

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.job: int | None = None
        self.setWindowTitle("Download from the Hub")
        self.repo = QLineEdit(placeholderText=EXAMPLE, clearButtonEnabled=True)
        self.repo.setToolTip("OWNER/NAME, hf://OWNER/NAME or the model's huggingface.co "
                             "address; an upscaler repository holding several weight files: "
                             "OWNER/NAME/FILE.pth")
        self.revision = QLineEdit(placeholderText="main")
        self.revision.setToolTip("A branch, tag or commit of the repository")
        about = QLabel(
            "A diffusers DDPM pipeline (a UNet2DModel and its scheduler), or an ESRGAN-family "
            "upscaler's weights. Only the files genplay opens are downloaded (safetensors "
            f"weights and their configs), into {user_model_dir()}.", wordWrap=True)
        about.setStyleSheet("color: palette(mid);")
        self.progress = QProgressBar(textVisible=True)
        self.progress.hide()
        self.message = QLabel(wordWrap=True)
        self.message.setMinimumHeight(self.message.fontMetrics().lineSpacing() * 2)

        self.download_button = QPushButton("Download", clicked=self.download)
        self.download_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, enabled=False)
        self.close_button = QPushButton("Close", clicked=self.close)
        self.close_button.setAutoDefault(False)
        self.cancel_button.setAutoDefault(False)

        form = QFormLayout()
        form.addRow("Model:", self.repo)
        form.addRow("Revision:", self.revision)
        buttons = QHBoxLayout()
        buttons.addStretch()
        for button in (self.download_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(about)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.setMinimumWidth(480)

    def busy(self) -> bool:
        return self.job is not None

    # --- the download ------------------------------------------------------------------------
    def download(self) -> None:
        if self.busy():
            return
        text = self.repo.text().strip()
        if not text:
            self.say(f"Type a model's name on the Hub, as {EXAMPLE}.")
            return
        revision = self.revision.text().strip() or None
        try:
            spec = hub.resolve_spec(text, revision)
        except GenplayError as exc:
            self.say(str(exc))
            return
        self._running(True)
        self.say(f"Asking the Hub about {spec.repo_id}…")
        self.job = self.engine.submit(
            _pull, text, revision, lane="downloads", label=f"downloading {spec.repo_id}",
            on_progress=self._on_progress, on_result=self._on_result,
            on_error=self._on_error, on_done=self._on_done)

    def cancel(self) -> None:
        if self.job is not None:
            self.engine.cancel(self.job)

    def say(self, text: str) -> None:
        self.message.setText(text)

    def _running(self, running: bool) -> None:
        self.download_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.repo.setEnabled(not running)
        self.revision.setEnabled(not running)
        if running:
            self.progress.setRange(0, 0)  # busy until the sizes are known
            self.progress.setFormat("")
            self.progress.show()
        else:
            self.progress.hide()

    def _on_progress(self, step: int, total: int | None, message: str) -> None:
        if total:
            # kB: a QProgressBar counts in 32-bit ints, and a UNet can be over 2 GB
            self.progress.setRange(0, max(1, total // 1024))
            self.progress.setValue(min(step, total) // 1024)
            self.progress.setFormat(f"{_size(step)} of {_size(total)}")
        if message:
            self.say(message if total is None else f"Downloading {message}")

    def _on_result(self, folder, summary: dict) -> None:
        if summary.get("already"):
            self.say(f"Already here: {folder}")
        else:
            note = f" Note: {summary['note']}." if summary.get("note") else ""
            count = len(summary["files"])
            self.say(f"Ready: {folder} ({count} file{'s' if count != 1 else ''}, "
                     f"{_size(summary['bytes'])}).{note}")
        self.pulled.emit(Path(summary.get("model") or folder))

    def _on_error(self, message: str) -> None:
        self.say(message)

    def _on_done(self, cancelled: bool) -> None:
        self.job = None
        self._running(False)
        if cancelled:
            self.say("Cancelled; Download goes on from where it stopped.")
