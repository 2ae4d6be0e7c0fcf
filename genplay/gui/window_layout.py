"""How the main window shares its width: it opens at a laptop's size, a panel can never
make it wider (a panel needing more room than there is scrolls), and a narrow window takes
the room from the model list before any panel has to scroll."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFrame,
    QMainWindow,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

DEFAULT_SIZE = (1280, 800)
# The panel area's width never goes below what its panel needs, up to this: a narrow
# window takes the room from the model list first, and only a panel needing more scrolls.
PANEL_ROOM = 760


def first_size(window: QMainWindow) -> tuple[int, int]:
    """1280x800, or less on a smaller screen (a 1366x768 laptop keeps its taskbar)."""
    width, height = DEFAULT_SIZE
    screen = window.screen().availableGeometry() if window.screen() else None
    if screen is not None and screen.width() >= 1000:  # off-screen Qt says 800x600
        width, height = min(width, screen.width()), min(height, screen.height() - 30)
    return width, height


def scrolling(page: QWidget) -> QScrollArea:
    """A tab page that can never make the window wider or taller than its minimum: where a
    panel needs more room than the window has, it scrolls instead."""
    area = QScrollArea()
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(page)
    return area


def size_by_current(stack: QStackedWidget) -> None:
    """A stack is as large as its page on show, not its largest page: a hidden panel that
    needs 850 px must not make the short "cannot use this model" page scroll."""
    for i in range(stack.count()):
        page = stack.widget(i)
        policy = (QSizePolicy.Policy.Preferred if page is stack.currentWidget()
                  else QSizePolicy.Policy.Ignored)
        page.setSizePolicy(policy, policy)


def fit_panel_room(right: QWidget, tabs: QTabWidget) -> None:
    """Keeps the panel area (right, holding tabs) as wide as the panel on show needs, at
    most PANEL_ROOM: a narrower window then shrinks the model list first."""
    page = tabs.currentWidget()
    if not isinstance(page, QScrollArea) or page.widget() is None:
        return
    margins = right.layout().contentsMargins()
    need = min(PANEL_ROOM, page.widget().minimumSizeHint().width())
    need += margins.left() + margins.right() + 4  # the tab frame
    if right.minimumWidth() != need:
        right.setMinimumWidth(need)
