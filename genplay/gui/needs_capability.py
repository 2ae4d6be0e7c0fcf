"""What a tab shows in place of its panel when the selected model cannot serve it: why,
and buttons for models that can."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from genplay.gui.widgets.labels import breakable

if TYPE_CHECKING:
    from genplay.core.checkpoints import CheckpointInfo
    from genplay.gui.main_window import MainWindow

CAPABILITY_WORDS = {"sampler": "draw samples", "latent": "map images to and from a latent space",
                    "density": "score images by likelihood", "conditional": "follow a guide image",
                    "upscaler": "enlarge images (a super-resolution network)",
                    "sketch": "turn a drawing into images (that needs a diffusion model "
                              "or a latent space)"}


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
                           f"panel cannot use it:<br>{html.escape(breakable(message))}")

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
