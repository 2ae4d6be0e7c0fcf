"""A strip at the top of the window for errors and notices: readable, dismissible, non-modal.

Errors from the engine (a bad image, a broken checkpoint) land here instead of a
dialog that blocks the user, and never as a crash.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

_STYLES = {
    "error": "background: #f8d7da; color: #58151c; border: 1px solid #f1aeb5;",
    "info": "background: #cfe2ff; color: #052c65; border: 1px solid #9ec5fe;",
}


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕", autoRaise=True, toolTip="Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self, singleShot=True, timeout=self.hide)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error", timeout_ms: int = 0) -> None:
        self.kind = kind
        self.setStyleSheet(f"QFrame#messageBar {{{_STYLES[kind]} border-radius: 4px;}}"
                           f"QLabel {{{_STYLES[kind].split(' border')[0]} border: none;}}")
        self.label.setText(text)
        self.show()
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
