"""How models get into the window: Open checkpoint folder, Open upscaler weights, a drop,
Download from the Hub, a model the Training panel wrote; and the question asked before
pickled weights are loaded. A mixin of MainWindow (main_window.py), which holds the state
it uses: the scanned folders, the opened models, the settings, the engine and the list.

What names one model (a genplay or diffusers folder, a weights file) and what a folder of
them is decided by ``core.formats.is_one_model``, by names only: PyTorch is not loaded in
the UI thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from genplay.core.formats import WEIGHT_SUFFIXES, is_one_model
from genplay.gui.panels.base import op

if TYPE_CHECKING:
    from genplay.core.checkpoints import CheckpointInfo

SCAN = op("checkpoints:scan_all")
PICKLE_OPTION = "--trust-pickle"  # the refusal of pickled weights names it


class ModelOpening:
    """The window's ways of adding models to its list (see the module docstring)."""

    _hub_dialog = None  # made when first asked for

    def download_from_hub(self) -> None:
        """One dialog per window; it may be closed while it downloads."""
        from genplay.gui.widgets.hub_dialog import HubDialog

        if self._hub_dialog is None:
            self._hub_dialog = HubDialog(self.engine, self)
            self._hub_dialog.pulled.connect(
                lambda path: self.show_trained_model(str(path), select=True))
        self._hub_dialog.show()
        self._hub_dialog.raise_()
        self._hub_dialog.activateWindow()

    def _ask_to_trust_pickle(self, info: CheckpointInfo) -> bool:
        """A diffusers folder whose weights are a .bin pickle: load it only if the user says
        so (as --trust-pickle does on the command line)."""
        answer = QMessageBox.question(
            self, "Load pickled weights?",
            f"The weights of {info.name} are a PyTorch pickle (.bin), not safetensors.\n\n"
            "genplay can read them with PyTorch's weights-only loader, which refuses anything "
            "but plain tensors and runs no code from the file. Load them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def open_checkpoint_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open a checkpoint folder (genplay's, or a diffusers pipeline)")
        if folder:
            self.open_checkpoint(Path(folder))

    def open_weights_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in WEIGHT_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open upscaler weights", "", f"Upscaler weights ({patterns});;All files (*)")
        if path:
            self.open_checkpoint(Path(path))

    def open_checkpoint(self, folder: Path) -> None:
        """Adds a model (a checkpoint folder, a diffusers pipeline folder, an upscaler's
        weights file) or a folder of them to the picker, and selects it."""
        from_dir = not is_one_model(folder)
        if from_dir:
            self.checkpoint_dirs.append(folder)
        elif folder not in self.opened:
            self.opened.append(folder)
            self.settings.setValue("opened", [str(p) for p in self.opened])

        def done(result, summary):
            self._models_scanned(result, summary)
            if not from_dir:
                if not any(i.path.resolve() == folder.resolve() for i in self.infos):
                    self.opened.remove(folder)
                    self.settings.setValue("opened", [str(p) for p in self.opened])
                    return
                self.select_model(next(i.path for i in self.infos
                                       if i.path.resolve() == folder.resolve()))

        self.engine.submit(SCAN, list(self.checkpoint_dirs), list(self.opened),
                           label="reading checkpoint", on_result=done)

    def show_trained_model(self, path: str, select: bool = False) -> None:
        """A checkpoint the Training panel wrote: rescans so the picker lists it (a folder
        outside the scanned ones is remembered like an opened one); select: selects it and
        shows the first panel that can use it."""
        folder = Path(path)
        scanned = any(folder.parent.resolve() == d.resolve() for d in self.checkpoint_dirs)
        if not scanned and folder not in self.opened:
            self.opened.append(folder)
            self.settings.setValue("opened", [str(p) for p in self.opened])

        def done(result, summary):
            self._models_scanned(result, summary)
            match = next((i for i in self.infos if i.path.resolve() == folder.resolve()), None)
            if select and match is not None:
                self.select_model(match.path)
                usable = [k for k, (_, panel, _) in enumerate(self._stacks)
                          if panel.accepts(match.capabilities)]
                if usable:
                    self.tabs.setCurrentIndex(usable[0])

        self.engine.submit(SCAN, list(self.checkpoint_dirs), list(self.opened),
                           label="scanning checkpoints", on_result=done)

    # --- drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and all(Path(u.toLocalFile()).is_dir()
                        or Path(u.toLocalFile()).suffix.lower() in WEIGHT_SUFFIXES
                        for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            self.open_checkpoint(Path(url.toLocalFile()))
