"""A main window on the tiny checkpoints, with its own throw-away settings."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from tests.conftest import TINY_CONFIGS


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def standalone(qtbot, settings):
    """Builds one panel on its own: standalone(PanelClass) -> the shown panel, with its own
    engine and message bar (shut down after the test)."""
    from genplay.gui.engine import Engine
    from genplay.gui.widgets.message_bar import MessageBar

    engine = Engine()
    messages = MessageBar()
    qtbot.addWidget(messages)

    def build(panel_class):
        panel = panel_class(engine, settings, messages)
        qtbot.addWidget(panel)
        return panel

    yield build
    engine.shutdown(5000)


@pytest.fixture
def laptop_panel(qtbot, standalone):
    """laptop_panel(PanelClass) -> the panel on its own, shown at the size a 1280x800 window
    gives a tab (950x600) and exposed."""
    def build(panel_class, size=(950, 600)):
        panel = standalone(panel_class)
        panel.resize(*size)
        panel.show()
        qtbot.waitExposed(panel)
        return panel
    return build


def scored_copies(root, tiny_checkpoints, scored=(), unscored=()):
    """Copies tiny checkpoints into root, measuring the reference scores of those named in
    scored (genplay eval --scores-only); returns root."""
    import shutil

    from genplay.cli import main

    for name in (*scored, *unscored):
        shutil.copytree(tiny_checkpoints / name, root / name)
    for name in scored:
        assert main(["eval", str(root / name), "--scores-only"]) == 0
    return root


@pytest.fixture
def window(qtbot, tiny_checkpoints, settings):
    w = shown_window(qtbot, tiny_checkpoints, settings, len(TINY_CONFIGS))
    yield w
    w.close()


def shown_window(qtbot, root, settings, count, size=None):
    """A main window on the checkpoints below root, shown (at size, if given), once its
    list holds count models."""
    from genplay.gui.main_window import MainWindow

    w = MainWindow(checkpoint_dirs=[root], settings=settings)
    qtbot.addWidget(w)
    if size is not None:
        w.resize(*size)
    w.show()
    qtbot.waitUntil(lambda: len(w.infos) == count, timeout=20000)
    return w


def select(qtbot, window, name):
    window.select_model(next(i.path for i in window.infos if i.name == name))
    qtbot.waitUntil(lambda: window.current is not None and window.current.name == name)
    if "sampler" in window.current.capabilities:
        qtbot.waitUntil(window.sampling.generate_button.isEnabled, timeout=20000)
