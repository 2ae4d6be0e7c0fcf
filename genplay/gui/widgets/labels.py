"""The muted note every panel puts under its controls: a state, a hint, not a value."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

MUTED = "color: palette(placeholder-text);"  # also for <span style=...> in rich text


def muted_label(text: str = "") -> QLabel:
    """A word-wrapped label in the placeholder colour."""
    label = QLabel(text, wordWrap=True)
    label.setStyleSheet(MUTED)
    return label
