"""The main window: model picker, capability-gated panel tabs, status bar, menus.

The window appears before PyTorch is imported; scanning checkpoints and loading
models happen in the engine's thread, and the picker fills in when they are done.
"""

from __future__ import annotations

import html
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, qVersion
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from genplay import __version__
from genplay.gui.engine import Engine
from genplay.gui.panels.base import Panel
from genplay.gui.widgets.message_bar import MessageBar
from genplay.gui.widgets.pixel_view import to_qimage

if TYPE_CHECKING:
    from genplay.core.checkpoints import CheckpointInfo

CAPABILITY_WORDS = {"sampler": "draw samples", "latent": "map images to and from a latent space",
                    "density": "score images by likelihood", "conditional": "follow a guide image",
                    "upscaler": "enlarge images (a super-resolution network)",
                    "sketch": "turn a drawing into images (that needs a diffusion model "
                              "or a latent space)"}


def scan_folders(folders: list[Path], extra: list[Path]) -> tuple[list, list]:
    """Runs in the engine thread: checkpoints below each folder plus single extra folders."""
    from genplay.core import checkpoints
    from genplay.core.errors import CheckpointError

    found, broken = [], []
    for folder in folders:
        f, b = checkpoints.scan(folder)
        found += f
        broken += b
    for folder in extra:
        try:
            found.append(checkpoints.read_info(folder))
        except CheckpointError as exc:
            broken.append((folder, str(exc)))
    unique = {info.path.resolve(): info for info in found}
    return list(unique.values()), broken


def _loads(_model) -> None:
    """A job that only has the engine load the selected model: its error says the model
    cannot be loaded at all."""


def _devices() -> list[str]:
    from genplay.core.runtime import available_devices

    return available_devices()


class NeedsCapability(QWidget):
    """Shown in place of a panel whose capability the selected model lacks."""

    def __init__(self, window: MainWindow, capability: str) -> None:
        super().__init__()
        self.window_ = window
        self.capability = capability
        layout = QVBoxLayout(self)
        layout.addStretch()
        self.label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        layout.addWidget(self.label)
        self.buttons = QHBoxLayout()
        layout.addLayout(self.buttons)
        layout.addStretch()

    def _clear(self) -> None:
        while self.buttons.count():
            item = self.buttons.takeAt(0)
            if item.widget() is not None:  # the stretches around the buttons have none
                item.widget().deleteLater()

    def explain_failure(self, info: CheckpointInfo, message: str) -> None:
        """The selected model has the capability but cannot be loaded (damaged weights...)."""
        self._clear()
        self.label.setText(f"<b>{html.escape(info.name)}</b> could not be loaded, so this "
                           f"panel cannot use it:<br>{html.escape(message)}")

    def explain(self, info: CheckpointInfo | None, alternatives: list[CheckpointInfo]) -> None:
        self._clear()
        if info is None:
            self.label.setText("Choose a model on the left.")
            return
        need = CAPABILITY_WORDS.get(self.capability, self.capability)
        text = f"<b>{info.name}</b> ({info.family}) cannot {need}, which this panel needs."
        text += " Try one of these:" if alternatives else " No loaded model can."
        self.label.setText(text)
        self.buttons.addStretch()
        for alt in alternatives[:4]:
            button = QPushButton(alt.name)
            button.clicked.connect(lambda _=False, p=alt.path: self.window_.select_model(p))
            self.buttons.addWidget(button)
        self.buttons.addStretch()


def _fid_or_inf(metrics: dict) -> float:
    fid = metrics.get("fid")
    return float(fid) if isinstance(fid, int | float) else float("inf")


class MainWindow(QMainWindow):
    def __init__(self, checkpoint_dirs: list[Path] | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("genplay")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        if checkpoint_dirs is None:
            from genplay.core.paths import default_checkpoint_dir

            checkpoint_dirs = [default_checkpoint_dir()]
        self.checkpoint_dirs = checkpoint_dirs
        self.opened: list[Path] = [Path(p) for p in self.settings.value("opened", [], list) or []]
        self.infos: list[CheckpointInfo] = []
        self.current: CheckpointInfo | None = None
        self.engine = Engine(device=str(self.settings.value("device", "cpu")))
        self._job: int | None = None
        self._user_cancelled = False  # "Cancelled" is said only when the user asked for it

        self.messages = MessageBar()
        self.model_list = QListWidget()
        self.model_list.setMinimumWidth(270)
        self.model_list.setWordWrap(True)
        self.model_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model_list.setSpacing(2)
        self.model_list.setStyleSheet("QListWidget::item { padding: 4px 6px; }")
        self.model_list.currentItemChanged.connect(self._on_model_item)
        open_button = QPushButton("Open checkpoint folder…")
        open_button.clicked.connect(self.open_checkpoint_dialog)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addWidget(QLabel("<b>Models</b>"))
        left_layout.addWidget(self.model_list, 1)
        left_layout.addWidget(open_button)

        from genplay.gui.panels.latent import LatentPanel
        from genplay.gui.panels.outliers import OutlierPanel
        from genplay.gui.panels.sampling import SamplingPanel
        from genplay.gui.panels.sketch import SketchPanel
        from genplay.gui.panels.superres import SuperresPanel
        from genplay.gui.panels.training import TrainingPanel

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.panels: list[Panel] = []
        self._stacks: list[tuple[QStackedWidget, Panel, NeedsCapability]] = []
        for cls in (SamplingPanel, LatentPanel, SketchPanel, SuperresPanel, OutlierPanel):
            panel = cls(self.engine, self.settings, self.messages)
            needs = NeedsCapability(self, panel.capability)
            stack = QStackedWidget()
            stack.addWidget(panel)
            stack.addWidget(needs)
            stack.setCurrentWidget(needs if getattr(panel, "needs_model", True) else panel)
            self.tabs.addTab(stack, panel.title)
            self.panels.append(panel)
            self._stacks.append((stack, panel, needs))
        self.sampling, self.latent, self.sketch, self.superres, self.outliers = self.panels
        # The last tab trains a new model: it takes no model, so it is never gated.
        self.training = TrainingPanel(self.engine, self.settings, self.messages)
        self.tabs.addTab(self.training, self.training.title)
        self.panels.append(self.training)
        # New runs go into the first folder the picker scans, so they show up there.
        self.training.set_output_root(self.checkpoint_dirs[0])
        self.training.model_ready.connect(self.show_trained_model)
        self.superres.image_sources = self._images_for_superres
        self.sampling.endpoint_requested.connect(self._use_as_endpoint)
        self.sketch.send_to_latent.connect(self._sketch_to_latent)
        self.sketch.send_to_outliers.connect(self._sketch_to_outliers)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 0)
        right_layout.addWidget(self.messages)
        right_layout.addWidget(self.tabs, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([290, 850])
        self.setCentralWidget(splitter)

        self._build_status_bar()
        self._build_menus()
        self.engine.job_started.connect(self._on_job_started)
        self.engine.job_progress.connect(self._on_job_progress)
        self.engine.job_finished.connect(self._on_job_finished)
        self.engine.models_changed.connect(self._update_memory)
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 720)
        self.model_list.addItem("Looking for checkpoints…")
        QTimer.singleShot(0, self.refresh_models)
        self.engine.submit(_devices, label="checking devices", on_result=self._set_devices)

    # --- status bar and menus ---------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel()
        self.memory_label = QLabel("No model loaded")
        self.unload_button = QPushButton("Unload", flat=True, toolTip="Free the loaded models")
        self.unload_button.clicked.connect(lambda: self.engine.unload())
        self.job_label = QLabel()
        self.progress = QProgressBar(maximumWidth=180, textVisible=False)
        self.cancel_button = QPushButton("Cancel", toolTip="Stop the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        for w in (self.job_label, self.progress, self.cancel_button):
            bar.addWidget(w)
            w.hide()
        bar.addPermanentWidget(self.memory_label)
        bar.addPermanentWidget(self.unload_button)
        bar.addPermanentWidget(self.device_label)
        self._show_device()

    def _build_menus(self) -> None:
        def action(menu, text, shortcut, slot, tip=""):
            a = QAction(text, self, shortcut=QKeySequence(shortcut), statusTip=tip)
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        file_menu = self.menuBar().addMenu("&File")
        action(file_menu, "&Open checkpoint folder…", QKeySequence.StandardKey.Open,
               self.open_checkpoint_dialog)
        action(file_menu, "&Save image…", QKeySequence.StandardKey.Save, self.save_image)
        action(file_menu, "&Copy image", QKeySequence.StandardKey.Copy, self.copy_image)
        file_menu.addSeparator()
        action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        model_menu = self.menuBar().addMenu("&Model")
        action(model_menu, "&Rescan checkpoints", "F5", self.refresh_models)
        action(model_menu, "&Unload models", "", lambda: self.engine.unload())
        action(model_menu, "Cancel running job", "Esc", self.cancel_jobs)
        self.device_menu = self.menuBar().addMenu("&Device")
        self.device_group = QActionGroup(self)
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "&About genplay", "F1", self.show_about)

    def _set_devices(self, devices: list[str], _summary: dict) -> None:
        self.device_menu.clear()
        wanted = self.engine.device if self.engine.device in devices else "cpu"
        if wanted != self.engine.device:
            self.engine.set_device(wanted)
        names = {"cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple GPU (MPS)"}
        for device in ("cpu", "cuda", "mps"):
            a = QAction(names[device], self, checkable=True, enabled=device in devices)
            a.setChecked(device == wanted)
            a.triggered.connect(lambda _=False, d=device: self.set_device(d))
            self.device_group.addAction(a)
            self.device_menu.addAction(a)
        self._show_device()

    def set_device(self, device: str) -> None:
        self.engine.set_device(device)
        self.settings.setValue("device", device)
        self._show_device()
        self._apply_model()

    def _show_device(self) -> None:
        self.device_label.setText(f"Device: {self.engine.device.upper()}")

    def _update_memory(self) -> None:
        loaded = self.engine.loaded_models()
        if not loaded:
            self.memory_label.setText("No model loaded")
            self.unload_button.setEnabled(False)
            return
        mb = sum(size for _, size in loaded) / 1e6
        names = ", ".join(p.name for p, _ in loaded)
        self.memory_label.setText(f"{len(loaded)} loaded · {mb:.1f} MB")
        self.memory_label.setToolTip(names)
        self.unload_button.setEnabled(True)

    # --- jobs -------------------------------------------------------------------------------
    def _on_job_started(self, job_id: int, label: str) -> None:
        if not label:  # interactive jobs (slider drags) stay out of the status bar
            return
        self._job = job_id
        self.job_label.setText(label)
        self.progress.setRange(0, 0)
        for w in (self.job_label, self.progress, self.cancel_button):
            w.show()

    def _on_job_progress(self, job_id: int, step: int, total: int, message: str) -> None:
        if job_id != self._job:
            return
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(step)
        if message:
            self.job_label.setText(message)

    def _on_job_finished(self, job_id: int, cancelled: bool, error: str) -> None:
        if error:
            self.messages.show_message(error, "error")
        if job_id != self._job:
            return
        self._job = None
        for w in (self.job_label, self.progress, self.cancel_button):
            w.hide()
        if cancelled and self._user_cancelled:
            self.statusBar().showMessage("Cancelled", 3000)
        self._user_cancelled = False

    def cancel_jobs(self) -> None:
        self._user_cancelled = True
        self.engine.cancel()

    # --- models -----------------------------------------------------------------------------
    def refresh_models(self) -> None:
        self.engine.submit(scan_folders, list(self.checkpoint_dirs), list(self.opened),
                           label="scanning checkpoints", on_result=self._models_scanned)

    def _models_scanned(self, result: tuple[list, list], _summary: dict) -> None:
        found, broken = result
        self.infos = sorted(found, key=lambda i: (i.dataset, i.family, i.name))
        wanted = self.current.path if self.current else self.settings.value("model", "")
        self.model_list.blockSignals(True)
        self.model_list.clear()
        for info in self.infos:
            caps = ", ".join(info.capabilities) or "helper network"
            item = QListWidgetItem(f"{info.name}\n{info.family} · {Path(info.dataset).name} · "
                                   f"{info.key_metrics()}")
            item.setToolTip(f"{info.path}\ncan: {caps}\ntrained by: {info.recipe}")
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            self.model_list.addItem(item)
        self.model_list.blockSignals(False)
        self.superres.set_checkpoints(self.infos)  # it looks for the shipped photo upscaler
        if not self.infos:
            self.model_list.addItem("No checkpoints found")
        if broken:
            self.messages.show_message(
                "Some checkpoint folders could not be read: "
                + "; ".join(reason for _, reason in broken[:3]), "error")
        # First start: the sampler whose samples measured best (lowest FID) is shown first.
        generative = sorted((i for i in self.infos if i.capabilities),
                            key=lambda i: _fid_or_inf(i.metrics))
        target = next((i for i in self.infos if str(i.path) == str(wanted)), None)
        target = target or (generative[0] if generative else None)
        if target is not None:
            self.select_model(target.path)

    def select_model(self, path: Path | str) -> None:
        for row in range(self.model_list.count()):
            item = self.model_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(path):
                self.model_list.setCurrentItem(item)
                return

    def _on_model_item(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        path = item.data(Qt.ItemDataRole.UserRole) if item else None
        self.current = next((i for i in self.infos if str(i.path) == path), None)
        if self.current is not None:
            self.settings.setValue("model", str(self.current.path))
            self.setWindowTitle(f"genplay — {self.current.name}")
        self._apply_model()

    def _apply_model(self) -> None:
        info = self.current
        for stack, panel, needs in self._stacks:
            if info is not None and panel.accepts(info.capabilities):
                stack.setCurrentWidget(panel)
                panel.set_model(info)
            elif info is None and not getattr(panel, "needs_model", True):
                stack.setCurrentWidget(panel)  # e.g. bicubic upscaling: no model needed
                panel.set_model(None)
            else:
                others = [i for i in self.infos if panel.accepts(i.capabilities)]
                needs.explain(info, others)
                stack.setCurrentWidget(needs)
                panel.set_model(None)
        if info is not None:
            # Each panel loads the model in its own job and says so while it waits; a model
            # that cannot be loaded must not leave any of them "loading…".
            self.engine.submit(_loads, checkpoint=info.path, key="window-model",
                               on_error=lambda message: self._model_failed(info, message))

    def _model_failed(self, info: CheckpointInfo, message: str) -> None:
        """The selected model cannot be loaded: its panels say so in place of their controls
        (one that works without a model, bicubic upscaling, stays usable), and drop it, so
        selecting it again, or another device, tries again."""
        if self.current is None or self.current.path != info.path:
            return
        for stack, panel, needs in self._stacks:
            if panel.info is None or panel.info.path != info.path:
                continue
            if getattr(panel, "needs_model", True):
                needs.explain_failure(info, message)
                stack.setCurrentWidget(needs)
            panel.set_model(None)
        item = self.model_list.currentItem()
        if item is not None and item.data(Qt.ItemDataRole.UserRole) == str(info.path):
            item.setText(f"{info.name}\ncould not be loaded")
            item.setToolTip(f"{info.path}\n{message}")

    def open_checkpoint_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a checkpoint folder")
        if folder:
            self.open_checkpoint(Path(folder))

    def open_checkpoint(self, folder: Path) -> None:
        """Adds a checkpoint folder (or a folder of them) to the picker and selects it."""
        from_dir = folder.is_dir() and not (folder / "config.json").exists()
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

        self.engine.submit(scan_folders, list(self.checkpoint_dirs), list(self.opened),
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

        self.engine.submit(scan_folders, list(self.checkpoint_dirs), list(self.opened),
                           label="scanning checkpoints", on_result=done)

    def _use_as_endpoint(self, which: str, seed: int, index: int, options: dict) -> None:
        self.latent.set_endpoint_from_sample(which, seed, index, options)
        self.tabs.setCurrentIndex(self.panels.index(self.latent))

    # --- save / copy / about ----------------------------------------------------------------
    def _sketch_to_latent(self, path: str) -> None:
        self.latent.encode_endpoint("A", path)
        self.tabs.setCurrentIndex(self.panels.index(self.latent))

    def _sketch_to_outliers(self, path: str) -> None:
        self.outliers.add_paths([path])
        self.tabs.setCurrentIndex(self.panels.index(self.outliers))

    def _images_for_superres(self) -> list[tuple[str, Any]]:
        """(title, current_image) of the other panels now showing: the Super-resolution
        panel's "Use the image of another tab" menu."""
        sources = [(panel.title, panel.current_image) for stack, panel, _ in self._stacks
                   if panel is not self.superres and stack.currentWidget() is panel]
        if self.training.current_image() is not None:  # its latest samples
            sources.append((self.training.title, self.training.current_image))
        return sources

    def _current_panel(self) -> Panel:
        return self.panels[self.tabs.currentIndex()]

    def save_image(self) -> None:
        panel = self._current_panel()
        if hasattr(panel, "save_dialog"):
            panel.save_dialog()

    def copy_image(self) -> None:
        current = self._current_panel().current_image()
        if current is None:
            self.statusBar().showMessage("Nothing to copy yet", 3000)
            return
        QApplication.clipboard().setImage(to_qimage(current[0]))
        self.statusBar().showMessage("Image copied", 2000)

    def show_about(self) -> None:
        import sys

        torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else "not loaded"
        QMessageBox.about(self, "About genplay", (
            f"<h3>genplay {__version__}</h3>"
            "<p>A playground for deep generative image models.</p>"
            f"<p>PyTorch {torch_version}<br>Qt {qVersion()} (PySide6 {pyside_version})<br>"
            f"Python {platform.python_version()}<br>Device: {self.engine.device.upper()}</p>"))

    # --- drag and drop, close ---------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and all(Path(u.toLocalFile()).is_dir() for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            self.open_checkpoint(Path(url.toLocalFile()))

    def closeEvent(self, event) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        for panel in self.panels:
            if hasattr(panel, "save_settings"):
                panel.save_settings()
        self.training.shutdown()  # the run saves its last step and exits
        if not self.engine.shutdown(2000):
            # A job stuck between cancel points (a slow load): destroying a running QThread
            # aborts the process, so wait for it rather than lose the user's session badly.
            self.engine.shutdown(30000)
        super().closeEvent(event)
