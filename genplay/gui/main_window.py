"""The main window: model picker, capability-gated panel tabs, status bar, menus.

The window appears before PyTorch is imported; scanning checkpoints and loading
models happen in the engine's thread, and the picker fills in when they are done.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QByteArray, QEvent, QSettings, QTimer, qVersion
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from genplay import __version__
from genplay.gui.engine import Engine
from genplay.gui.model_list import PATH_ROLE, ModelList, first_model
from genplay.gui.model_opening import PICKLE_OPTION, SCAN, ModelOpening
from genplay.gui.needs_capability import NeedsCapability
from genplay.gui.panels.base import Panel, op
from genplay.gui.welcome import SETTING as WELCOME_DONE
from genplay.gui.welcome import Welcome
from genplay.gui.widgets.message_bar import MessageBar, MessageChannel
from genplay.gui.widgets.pixel_view import crisp_pixels, set_crisp_pixels, to_qimage
from genplay.gui.window_layout import first_size, fit_panel_room, scrolling, size_by_current

if TYPE_CHECKING:
    from genplay.core.checkpoints import CheckpointInfo

# What the user does in a panel: it answers that panel's earlier error, which then goes.
USER_ACTS = frozenset({QEvent.Type.MouseButtonPress, QEvent.Type.KeyPress, QEvent.Type.Drop})
READY = op("checkpoints:ready")
DEVICES = op("runtime:available_devices")


class MainWindow(ModelOpening, QMainWindow):
    def __init__(self, checkpoint_dirs: list[Path] | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("genplay")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        if checkpoint_dirs is None:
            from genplay.core.paths import default_checkpoint_dir, user_model_dir

            # the shipped checkpoints, and the models genplay pull (or the Hub dialog) brought
            checkpoint_dirs = [default_checkpoint_dir(), user_model_dir()]
        self.checkpoint_dirs = checkpoint_dirs
        self.opened: list[Path] = [Path(p) for p in self.settings.value("opened", [], list) or []]
        self.infos: list[CheckpointInfo] = []
        self.current: CheckpointInfo | None = None
        self.engine = Engine(device=str(self.settings.value("device", "cpu")))
        self._job: int | None = None
        self._user_cancelled = False  # "Cancelled" is said only when the user asked for it

        self.messages = MessageBar()
        self.messages.sources_changed.connect(self._mark_tabs)
        self._job_pages: dict[int, Panel] = {}  # job id -> the panel on screen when it started
        set_crisp_pixels(self.settings.value("view/crisp_pixels", False, bool))
        self.model_list = ModelList()
        self.model_list.setMinimumWidth(170)
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
            channel = MessageChannel(self.messages, None)
            panel = cls(self.engine, self.settings, channel)
            needs = NeedsCapability(self, panel.capability)
            stack = QStackedWidget()
            stack.addWidget(panel)
            stack.addWidget(needs)
            stack.currentChanged.connect(lambda _i, st=stack: size_by_current(st))
            stack.setCurrentWidget(needs if panel.needs_model else panel)
            size_by_current(stack)
            self.tabs.addTab(scrolling(stack), panel.title)
            self._adopt(panel, channel)
            self._stacks.append((stack, panel, needs))
        self.sampling, self.latent, self.sketch, self.superres, self.outliers = self.panels
        # The last tab trains a new model: it takes no model, so it is never gated.
        channel = MessageChannel(self.messages, None)
        self.training = TrainingPanel(self.engine, self.settings, channel)
        self.tabs.addTab(scrolling(self.training), self.training.title)
        self._adopt(self.training, channel)
        # New runs go into the first folder the picker scans, so they show up there.
        self.training.set_output_root(self.checkpoint_dirs[0])
        self.training.model_ready.connect(self.show_trained_model)
        self.superres.image_sources = self._images_for_superres
        self.sampling.endpoint_requested.connect(self._use_as_endpoint)
        self.sampling.model_requested.connect(self._select_model_named)
        self.sketch.send_to_latent.connect(self._sketch_to_latent)
        self.sketch.send_to_outliers.connect(self._sketch_to_outliers)

        right = self.right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 0)
        right_layout.addWidget(self.messages)
        right_layout.addWidget(self.tabs, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([300, 1000])
        self.left = left
        self.setCentralWidget(self.splitter)
        self.tabs.currentChanged.connect(self._on_tab)
        self._on_tab(self.tabs.currentIndex())

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
            self.resize(*first_size(self))
        self.welcome: Welcome | None = None
        if not self.settings.value(WELCOME_DONE, False, bool):
            self._show_welcome()
        self.model_list.set_message("Looking for checkpoints…")
        QTimer.singleShot(0, self.refresh_models)
        self.engine.submit(DEVICES, label="checking devices", on_result=self._set_devices)
        QApplication.instance().installEventFilter(self)  # see eventFilter: user acts

    def _adopt(self, panel: Panel, channel: MessageChannel) -> None:
        """A panel joins the window; its messages (given through channel) are kept with its
        tab from now on."""
        self.panels.append(panel)
        channel.source = panel
        self.messages.name_source(panel, panel.title)

    # --- welcome ----------------------------------------------------------------------------
    def _show_welcome(self) -> None:
        self.welcome = Welcome()
        self.welcome.generate_requested.connect(self._welcome_generate)
        self.welcome.tab_requested.connect(self._show_tab_titled)
        self.welcome.closed.connect(self._welcome_done)
        self.sampling.view.set_empty_widget(self.welcome)

    def _welcome_generate(self) -> None:
        if self.sampling.generate_button.isEnabled():
            self.sampling.generate()

    def _show_tab_titled(self, title: str) -> None:
        titles = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        if title in titles:
            self.tabs.setCurrentIndex(titles.index(title))

    def _welcome_done(self) -> None:
        """The first result is there (or the user closed the card): it does not come back."""
        if self.welcome is None:
            return
        self.settings.setValue(WELCOME_DONE, True)
        self.sampling.view.set_empty_widget(None)
        self.welcome.deleteLater()
        self.welcome = None

    # --- messages: each kept with the tab it came from --------------------------------------
    def _on_tab(self, index: int) -> None:
        if 0 <= index < len(self.panels):
            self.messages.set_page(self.panels[index])
        self._fit_panel()

    def _fit_panel(self) -> None:
        fit_panel_room(self.right, self.tabs)

    def resizeEvent(self, event) -> None:
        self._fit_panel()
        super().resizeEvent(event)

    def _mark_tabs(self) -> None:
        """A tab holding an error shows a warning sign, so one raised elsewhere is found."""
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for i, panel in enumerate(self.panels):
            self.tabs.setTabIcon(i, warning if self.messages.has_kept(panel) else QIcon())

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        """A click, a key or a drop in a panel answers its earlier error: the error goes
        (before the panel reacts, so an error this act causes is shown)."""
        if event.type() in USER_ACTS and self.messages.has_kept() and isinstance(
                watched, QWidget):
            index = self.tabs.currentIndex()
            page = self.tabs.widget(index)
            if page is not None and (watched is page or page.isAncestorOf(watched)):
                self.messages.clear(self.panels[index])
        return False

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
               self.open_checkpoint_dialog,
               "A genplay checkpoint, a diffusers pipeline, or a folder of them")
        action(file_menu, "Open &upscaler weights…", "", self.open_weights_dialog,
               "An ESRGAN-family super-resolution model (.pth or .safetensors)")
        action(file_menu, "&Download from the Hub…", "", self.download_from_hub,
               "Download a diffusers DDPM pipeline or an upscaler from the Hugging Face Hub")
        action(file_menu, "&Save image…", QKeySequence.StandardKey.Save, self.save_image)
        action(file_menu, "&Copy image", QKeySequence.StandardKey.Copy, self.copy_image)
        file_menu.addSeparator()
        action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        model_menu = self.menuBar().addMenu("&Model")
        action(model_menu, "&Rescan checkpoints", "F5", self.refresh_models)
        action(model_menu, "&Unload models", "", lambda: self.engine.unload())
        action(model_menu, "Cancel running job", "Esc", self.cancel_jobs)
        view_menu = self.menuBar().addMenu("&View")
        self.models_action = action(view_menu, "&Model list", "F9", self._toggle_model_list,
                                    "Show or hide the list of models")
        self.models_action.setCheckable(True)
        self.models_action.setChecked(True)
        self.crisp_action = action(view_menu, "&Crisp pixels", "", self.set_crisp,
                                   "Show each model pixel as a sharp square instead of "
                                   "scaling images smoothly")
        self.crisp_action.setCheckable(True)
        self.crisp_action.setChecked(crisp_pixels())
        self.device_menu = self.menuBar().addMenu("&Device")
        self.device_group = QActionGroup(self)
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "&About genplay", "F1", self.show_about)

    def _toggle_model_list(self) -> None:
        self.left.setVisible(self.models_action.isChecked())

    def set_crisp(self, crisp: bool) -> None:
        """Crisp pixels or smooth scaling, in every image view; remembered."""
        set_crisp_pixels(crisp)
        self.crisp_action.setChecked(crisp)
        self.settings.setValue("view/crisp_pixels", bool(crisp))

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
        self._job_pages[job_id] = self._current_panel()  # its error goes with that tab
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
            shift = max(0, total.bit_length() - 31)  # QProgressBar counts in 32 bits
            self.progress.setRange(0, total >> shift)
            self.progress.setValue(step >> shift)
        if message:
            self.job_label.setText(message)

    def _on_job_finished(self, job_id: int, cancelled: bool, error: str) -> None:
        page = self._job_pages.pop(job_id, None)
        if error:
            self.messages.show_message(error, "error", source=page)
        if self.welcome is not None and self.sampling.view.pixels() is not None:
            self._welcome_done()
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
        self.engine.submit(SCAN, list(self.checkpoint_dirs), list(self.opened),
                           label="scanning checkpoints", on_result=self._models_scanned)

    def _models_scanned(self, result: tuple[list, list], _summary: dict) -> None:
        found, broken = result
        self.infos = sorted(found, key=lambda i: (i.dataset, i.family, i.name))
        wanted = self.current.path if self.current else self.settings.value("model", "")
        self.model_list.blockSignals(True)
        self.model_list.set_models(self.infos)
        self.model_list.blockSignals(False)
        self.superres.set_checkpoints(self.infos)  # it looks for the shipped photo upscaler
        self.sketch.set_checkpoints(self.infos)  # it offers the selected dataset's sketch model
        if not self.infos:
            self.model_list.set_message("No checkpoints found")
        if broken:
            self.messages.show_message(
                "Some checkpoint folders could not be read: "
                + "; ".join(reason for _, reason in broken[:3]), "error")
        target = next((i for i in self.infos if str(i.path) == str(wanted)), None)
        target = target or first_model(self.infos)
        if target is not None:
            self.select_model(target.path)

    def select_model(self, path: Path | str) -> None:
        self.model_list.select_path(path)

    def _on_model_item(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        path = item.data(PATH_ROLE) if item else None
        before = self.current
        self.current = next((i for i in self.infos if str(i.path) == path), None)
        if before is not None and (self.current is None or self.current.path != before.path):
            self.messages.clear_sources()  # the panels' errors were about the other model
        if self.current is not None:
            self.settings.setValue("model", str(self.current.path))
            # Qt adds the application's display name ("— genplay") to the title itself.
            self.setWindowTitle(self.current.name)
            if self.welcome is not None:
                self.welcome.set_model_name(self.current.name)
        self._apply_model()

    def _apply_model(self) -> None:
        QTimer.singleShot(0, self._fit_panel)  # the panels' controls change with the model
        info = self.current
        for stack, panel, needs in self._stacks:
            if info is not None and panel.accepts(info.capabilities):
                stack.setCurrentWidget(panel)
                panel.set_model(info)
            elif info is None and not panel.needs_model:
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
            self.engine.submit(READY, checkpoint=info.path, key="window-model",
                               on_error=lambda message: self._model_failed(info, message))

    def _model_failed(self, info: CheckpointInfo, message: str) -> None:
        """The selected model cannot be loaded: its panels say so in place of their controls
        (one that works without a model, bicubic upscaling, stays usable), and drop it, so
        selecting it again, or another device, tries again."""
        if self.current is None or self.current.path != info.path:
            return
        if PICKLE_OPTION in message and self._ask_to_trust_pickle(info):
            self.engine.trust_pickle(info.path)
            for _, panel, _ in self._stacks:  # their jobs failed on the refusal: start over
                panel.set_model(None)
            self.messages.clear_sources()
            self._apply_model()  # load it again, trusted
            return
        for stack, panel, needs in self._stacks:
            if panel.info is None or panel.info.path != info.path:
                continue
            if panel.needs_model:
                needs.explain_failure(info, message)
                stack.setCurrentWidget(needs)
            panel.set_model(None)
        self.model_list.mark_failed(info.path, info.name, message)

    def _select_model_named(self, name: str) -> None:
        """A dropped PNG was drawn by another model: select it (by the name its record
        holds) so the Sampling panel can draw the image again."""
        match = next((i for i in self.infos if i.name == name), None)
        if match is None:
            self.messages.show_message(f"No model named {name} is listed here: open its "
                                       "checkpoint folder to draw the image again", "error")
            return
        self.select_model(match.path)
        self.tabs.setCurrentIndex(self.panels.index(self.sampling))

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

    # --- close ----------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        QApplication.instance().removeEventFilter(self)
        self.settings.setValue("geometry", self.saveGeometry())
        for panel in self.panels:
            panel.save_settings()
        self.training.shutdown()  # the run saves its last step and exits
        if not self.engine.shutdown(2000):
            # A job stuck between cancel points (a slow load): destroying a running QThread
            # aborts the process, so wait for it rather than lose the user's session badly.
            self.engine.shutdown(30000)
        super().closeEvent(event)
