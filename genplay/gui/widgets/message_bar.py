"""A strip at the top of the window for errors and notices: readable, dismissible, non-modal.

Errors from the engine (a bad image, a broken checkpoint) land here instead of a
dialog that blocks the user, and never as a crash.

A message belongs to where it came from. Each panel gets a ``MessageChannel`` (the same
``show_message`` call) that marks its messages as its own: a panel's error is kept with
that panel's tab, shown while the tab is, until the user closes it, acts in that panel
again or changes model (the main window says when). Notices (``"info"``) time out, and
so do the window's own errors, so nothing stays on every tab for good.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from genplay.gui.widgets.labels import breakable

_STYLES = {
    "error": "background: #f8d7da; color: #58151c; border: 1px solid #f1aeb5;",
    "info": "background: #cfe2ff; color: #052c65; border: 1px solid #9ec5fe;",
}
INFO_TIMEOUT_MS = 6000  # a notice ("Saved ...") goes by itself after this long
WINDOW_ERROR_TIMEOUT_MS = 30000  # an error no panel owns (a checkpoint folder unreadable)


class MessageBar(QFrame):
    """The one visible bar; messages come from channels (a source each) or from the window
    (source None)."""

    sources_changed = Signal()  # the set of sources holding an error changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕", autoRaise=True, toolTip="Dismiss")
        close.clicked.connect(self.dismiss)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self, singleShot=True, timeout=self.hide)
        self.kind = ""
        self._text = ""
        self._kept: dict[Any, str] = {}  # source -> its error, kept with its page
        self._titles: dict[Any, str] = {}
        self._page: Any = None  # the source whose page is on screen
        self._shown: Any = None  # the source of the message on display (None: the window)
        self.hide()

    def name_source(self, source: Any, title: str) -> None:
        """The name a source's messages carry when they arrive while another page shows."""
        self._titles[source] = title

    def show_message(self, text: str, kind: str = "error", timeout_ms: int = 0,
                     source: Any = None) -> None:
        """Shows text now. An error from a source is kept with that source's page (until
        cleared; on another page it shows for WINDOW_ERROR_TIMEOUT_MS); a notice times out
        (timeout_ms, else INFO_TIMEOUT_MS), as does an error without a source."""
        if kind == "error" and source is not None:
            self._kept[source] = text
            self.sources_changed.emit()
            if source != self._page:  # raised behind another tab: shown there for a while
                timeout_ms = WINDOW_ERROR_TIMEOUT_MS
        elif not timeout_ms:
            timeout_ms = INFO_TIMEOUT_MS if kind != "error" else WINDOW_ERROR_TIMEOUT_MS
        self._display(text, kind, source)
        if timeout_ms:
            self._timer.start(timeout_ms)

    def _display(self, text: str, kind: str, source: Any) -> None:
        self._timer.stop()
        self.kind, self._shown = kind, source
        if source is not None and source != self._page and source in self._titles:
            text = f"{self._titles[source]}: {text}"  # it came from a tab not on screen
        self._text = text
        self.setStyleSheet(f"QFrame#messageBar {{{_STYLES[kind]} border-radius: 4px;}}"
                           f"QLabel {{{_STYLES[kind].split(' border')[0]} border: none;}}")
        self.label.setText(breakable(text))
        self.label.setToolTip(text if len(text) > 200 else "")
        self.show()

    def set_page(self, source: Any) -> None:
        """The page of source is now on screen: its kept error shows; a message from another
        page goes (it stays kept with that page)."""
        self._page = source
        if source in self._kept:
            self._display(self._kept[source], "error", source)
        elif self._shown is not None and self._shown != source:
            self.hide()

    def clear(self, source: Any) -> None:
        """Forgets the error of source (the user acted there again); hides it if shown."""
        if self._kept.pop(source, None) is not None:
            self.sources_changed.emit()
        if self._shown is not None and self._shown == source and self.isVisible():
            self.hide()

    def clear_sources(self) -> None:
        """Forgets every page's error (another model is selected); the window's stay."""
        if self._kept:
            self._kept.clear()
            self.sources_changed.emit()
        if self._shown is not None:
            self.hide()

    def dismiss(self) -> None:
        """The close button: the message goes, and its page forgets it."""
        self.hide()
        if self._shown is not None:
            self.clear(self._shown)

    def has_kept(self, source: Any = None) -> bool:
        return bool(self._kept) if source is None else source in self._kept

    def text(self) -> str:
        return self._text if self.isVisible() else ""


class MessageChannel:
    """A panel's view of the message bar: the bar's calls, with its messages marked as the
    panel's own."""

    def __init__(self, bar: MessageBar, source: Any) -> None:
        self.bar = bar
        self.source = source

    def show_message(self, text: str, kind: str = "error", timeout_ms: int = 0) -> None:
        self.bar.show_message(text, kind, timeout_ms, source=self.source)

    def clear(self) -> None:
        self.bar.clear(self.source)

    # what a panel (or a test) reads of the bar
    @property
    def kind(self) -> str:
        return self.bar.kind

    @property
    def label(self) -> QLabel:
        return self.bar.label

    def text(self) -> str:
        return self.bar.text()

    def isVisible(self) -> bool:  # noqa: N802 (the bar's Qt name)
        return self.bar.isVisible()

    def hide(self) -> None:
        self.bar.hide()
