"""Starting the desktop app: QApplication, settings, the main window."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def create_app(argv: Sequence[str] = ()) -> QApplication:
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("genplay")
    app.setOrganizationName("genplay")
    app.setApplicationDisplayName("genplay")
    icon = RESOURCES / "icons" / "genplay.png"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def process_events_until(condition, timeout_s: float = 120.0, poll_s: float = 0.0005) -> None:
    """Runs the event loop until condition() holds (scripts and benchmarks drive the
    real window this way); TimeoutError after timeout_s."""
    import time

    app = QApplication.instance()
    end = time.monotonic() + timeout_s
    while not condition():
        app.processEvents()
        if time.monotonic() > end:
            raise TimeoutError(f"the window did not get there within {timeout_s:g} s")
        time.sleep(poll_s)
    app.processEvents()


def run_app(argv: Sequence[str] = ()) -> int:
    """Opens the main window on the shipped checkpoints (plus any folders given); exit code
    2 with one line when the system cannot show a window (see gui.system)."""
    from genplay.gui.system import display_problem

    problem = display_problem() if QApplication.instance() is None else None
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    app = create_app(argv)
    from genplay.gui.main_window import MainWindow

    settings = QSettings()
    window = MainWindow(settings=settings)
    for arg in argv:
        if os.path.isdir(arg):
            window.open_checkpoint(Path(arg))
    window.show()
    return app.exec()
