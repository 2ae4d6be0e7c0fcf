"""Latent panel: interpolate between two endpoints, and drag sliders through latent space.

Works for every model with the Latent capability through the common interface. The
Interpolation tab (latent_interpolation.py) walks between two endpoints: seeds, samples
picked in the Sampling panel, or the user's own images encoded by the model. The
Sliders tab (latent_sliders.py) moves one image along the principal directions of what
the model draws or along raw latent dimensions.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QTabWidget, QVBoxLayout

from genplay.gui.panels.base import Panel
from genplay.gui.panels.latent_interpolation import InterpolationTab
from genplay.gui.panels.latent_sliders import SlidersTab
from genplay.gui.widgets.drops import AcceptsFileDrops


class LatentPanel(InterpolationTab, SlidersTab, AcceptsFileDrops, Panel):
    title = "Latent space"
    capability = "latent"

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        self.setAcceptDrops(True)
        tabs = QTabWidget()
        tabs.addTab(self._build_interpolation(), "Interpolation")
        tabs.addTab(self._build_sliders(), "Sliders")
        self.tabs = tabs
        tabs.currentChanged.connect(lambda _index: self._find_directions())
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)

    # --- model --------------------------------------------------------------------------
    def model_changed(self, info) -> None:
        self._interpolation_model_changed()
        self._sliders_model_changed()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._find_directions()

    def hideEvent(self, event) -> None:
        # Leaving the panel gives the engine back to the panel the user went to; the
        # search starts again (or reads the cache) when this one is shown again.
        super().hideEvent(event)
        self.cancel_directions(by_user=False)

    # --- saving -------------------------------------------------------------------------
    def current_image(self):
        pixels = self.live.pixels() if self.tabs.currentIndex() == 1 else self.strip.pixels()
        return None if pixels is None else (pixels, None)

    def save_dialog(self) -> None:
        from genplay.core.images import save_png

        current = self.current_image()
        if current is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save PNG", "latent.png", "PNG (*.png)")
        if path:
            meta = {"model": self.info.name if self.info else ""}
            self._guarded(lambda: save_png(path, current[0], meta), path)

    def _guarded(self, write, path: str) -> None:
        from genplay.core.errors import GenplayError

        try:
            write()
        except (GenplayError, OSError, ValueError) as exc:
            self.show_error(f"Could not write {path}: {exc}")
        else:
            self.messages.show_message(f"Saved {path}", "info", 4000)

    # --- drops --------------------------------------------------------------------------
    def files_dropped(self, paths: list[str]) -> None:
        self.drop_image(paths[0])

    def drop_image(self, path: str) -> None:
        """An image dropped on the panel: an endpoint, or the sliders' starting point."""
        if self.tabs.currentIndex() == 1:
            self.set_base_from_image(path)
        else:
            which = "A" if self.ends["A"].latent is None else "B"
            self.encode_endpoint(which, path)
