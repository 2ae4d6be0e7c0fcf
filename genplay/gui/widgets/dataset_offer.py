"""A dataset that is not on this computer, offered where it is needed: "Get dataset"
downloads it (progress, Cancel, resumed next time if cut off), "From a copy…" imports
a folder or archive the user has. Both run in the engine's downloads thread, so the
models' work goes on meanwhile.

Every offer of the same dataset learns when it arrives (through ``arrivals``), so the
Training and Outlier panels both move on when either of them got it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
)

from genplay.core import datasets
from genplay.gui.widgets.job_progress import JobProgress

if TYPE_CHECKING:
    from genplay.gui.engine import Engine

NETWORK_TIMEOUT_S = 15.0  # a stalled connection gives way (and Cancel takes effect) by then


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class _Arrivals(QObject):
    arrived = Signal(str)  # the name of a dataset that has just been placed


arrivals = _Arrivals()


def _download(name: str):
    yield from datasets.download(name, timeout=NETWORK_TIMEOUT_S)


def _import(name: str, source: str):
    yield from datasets.import_copy(name, source)


class _Caption(QLabel):
    """A muted line that takes no room while it has nothing to say."""

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setVisible(bool(text))


class DatasetOffer(QFrame):
    """Says that a dataset is missing and gets it; ``ready`` when it is here."""

    ready = Signal(str)

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.name: str | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text = QLabel(wordWrap=True)
        self.get_button = QPushButton("Get dataset", clicked=self.get)
        self.get_button.setDefault(True)
        self.copy_button = QPushButton("From a copy…")
        menu = QMenu(self.copy_button)
        menu.addAction("A folder of its files…", self.import_folder_dialog)
        menu.addAction("An archive (.zip, .tar.gz …)…", self.import_archive_dialog)
        self.copy_button.setMenu(menu)
        self.caption = _Caption(wordWrap=True)
        self.caption.hide()
        self.caption.setStyleSheet("color: palette(mid);")
        # a failure lands in the caption (the window's message bar shows it too)
        self.jobs = JobProgress(engine, self.caption, self.caption.setText)

        buttons = QHBoxLayout()
        buttons.addWidget(self.get_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch()
        progress = QHBoxLayout()
        progress.addWidget(self.jobs.progress, 1)
        progress.addWidget(self.jobs.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        layout.addLayout(progress)
        layout.addWidget(self.caption)
        self.jobs.cancel_button.hide()
        arrivals.arrived.connect(self._arrived)
        self.hide()

    def offer(self, name: str, why: str = "") -> None:
        """Shows the offer for a known dataset (why: what needs it, in a few words)."""
        spec = datasets.known(name)
        if name != self.name:
            self.caption.setText("")
        self.name = name
        self.text.setText(
            f"<b>{spec.title}</b> is not on this computer{(' ' + why) if why else ''}. "
            f"Get it from its publishers ({_mb(spec.download_size)}, licence "
            f"{spec.licence}), or import a copy you have.")
        self.show()

    def busy(self) -> bool:
        return self.jobs.busy()

    # --- getting it -------------------------------------------------------------------------
    def get(self) -> None:
        if self.name is None or self.busy():
            return
        title = datasets.known(self.name).title
        self._start(_download, self.name, label=f"downloading {title}")

    def import_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder holding the dataset's files")
        if folder:
            self.import_copy(folder)

    def import_archive_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "An archive of the dataset's files",
            filter="Archives (*.zip *.tar *.tar.gz *.tgz *.tar.xz *.tar.bz2)")
        if path:
            self.import_copy(path)

    def import_copy(self, source: str | Path) -> None:
        if self.name is None or self.busy():
            return
        self._start(_import, self.name, str(source), label=f"importing {Path(source).name}")

    def _start(self, fn, *args, label: str) -> None:
        name = self.name
        self.get_button.setEnabled(False)
        self.copy_button.setEnabled(False)
        self.jobs.cancel_button.show()
        self.caption.setText("starting…")

        def placed(folder, summary: dict) -> None:
            note = "" if summary.get("published", True) else (
                " (not the published files: figures on it are not comparable)")
            self.caption.setText(f"Ready in {datasets.display_path(Path(folder))}{note}.")
            arrivals.arrived.emit(name)

        def done(cancelled: bool) -> None:
            self.get_button.setEnabled(True)
            self.copy_button.setEnabled(True)
            self.jobs.cancel_button.hide()
            if cancelled:
                self.caption.setText("Cancelled; Get dataset goes on from where it stopped.")

        self.jobs.submit(fn, *args, lane="downloads", label=label, on_result=placed,
                         on_done=done)

    def _arrived(self, name: str) -> None:
        if name == self.name:
            self.hide()
            self.ready.emit(name)
