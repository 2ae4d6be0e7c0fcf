"""What every panel shares: the engine, the selected model, and what Save/Copy act on."""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QHBoxLayout, QSpinBox, QToolButton, QWidget

from genplay.core.images import save_png
from genplay.gui.engine import Engine
from genplay.gui.widgets.message_bar import MessageBar

if TYPE_CHECKING:
    from genplay.core.checkpoints import CheckpointInfo


MAX_SEED = 2**31 - 1


class Op:
    """An engine job named by where it lives in genplay.core ("module:function"), imported
    when the engine's thread first runs it: the ops import PyTorch, which a panel (and so
    the window) must not wait for. Every job a panel submits is such a core function, the
    one its command or a test also calls; panels hold widgets, state and wiring only."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._fn = None

    def resolve(self):
        if self._fn is None:
            module, _, function = self.name.partition(":")
            self._fn = vars(importlib.import_module(module))[function]
        return self._fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def op(name: str) -> Op:
    """The core function ``name`` ("genplay.core.ops.sketch:sketch_drawing") as a job."""
    return Op(f"genplay.core.{name}" if not name.startswith("genplay.") else name)


def seed_editor(value: int) -> tuple[QSpinBox, QHBoxLayout]:
    """A seed box with a Random button beside it: (the box, the row holding both)."""
    seed = QSpinBox(maximum=MAX_SEED, value=value)
    dice = QToolButton(text="Random", toolTip="Pick a random seed")
    dice.clicked.connect(lambda: seed.setValue(random.randint(0, 99_999)))
    row = QHBoxLayout()
    row.addWidget(seed, 1)
    row.addWidget(dice)
    return seed, row


class Panel(QWidget):
    """A tab of the main window. Subclasses set ``title`` and ``capability``."""

    title = ""
    capability = ""  # the capability a model needs for this panel ("sampler", "latent", ...)
    needs_model = True  # False: the panel stays usable without a model that has it
    busy_changed = Signal(bool)

    def __init__(self, engine: Engine, settings: QSettings, messages: MessageBar) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.messages = messages
        self.info: CheckpointInfo | None = None

    def accepts(self, capabilities: list[str]) -> bool:
        """Whether a model with these capabilities can serve this panel."""
        return self.capability in capabilities

    def set_model(self, info: CheckpointInfo | None) -> None:
        """Called with the selected checkpoint when it has this panel's capability, else
        None; calls model_changed() when a different model arrives."""
        changed = info is not None and (self.info is None or info.path != self.info.path)
        self.info = info
        if changed:
            self.model_changed(info)

    def model_changed(self, info: CheckpointInfo) -> None:
        """Resets the panel for a newly selected model."""

    def save_dialog(self) -> None:
        """File > Save on this tab: asks where, then saves what the panel shows (if any)."""

    def save_settings(self) -> None:
        """Remembers the panel's choices in settings when the window closes."""

    def current_image(self) -> tuple[np.ndarray, dict[str, Any] | None] | None:
        """(uint8 HWC pixels, sample record or None) for Save and Copy; None if nothing."""
        return None

    def for_model(self, callback):
        """Wraps a job callback so it is dropped if the user changes model before it runs:
        a result computed by one model must never land in another's view."""
        path = self.info.path if self.info is not None else None

        def guarded(*args):
            if self.info is not None and self.info.path == path:
                callback(*args)
        return guarded

    def show_error(self, text: str) -> None:
        self.messages.show_message(text, "error")

    def write_png(self, path: Path, pixels: np.ndarray, record: dict[str, Any] | None) -> bool:
        """Writes pixels as a PNG with their record; a failure becomes a message (False)."""
        from genplay.core.errors import GenplayError

        try:
            save_png(path, pixels, record)
        except (GenplayError, OSError) as exc:
            self.show_error(f"Could not save {path.name}: {exc}")
            return False
        return True
