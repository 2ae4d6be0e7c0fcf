"""The muted note every panel puts under its controls: a state, a hint, not a value."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

MUTED = "color: palette(placeholder-text);"  # also for <span style=...> in rich text


def muted_label(text: str = "") -> QLabel:
    """A word-wrapped label in the placeholder colour."""
    label = QLabel(text, wordWrap=True)
    label.setStyleSheet(MUTED)
    return label


_BREAK_AFTER = "/\\_.-,;:=&?"
ZERO_WIDTH_SPACE = "\u200b"


def breakable(text: str, longest: int = 24) -> str:
    """Plain text that a word-wrapped label can break anywhere a long path or name needs:
    a zero-width space after each separator in a word longer than longest characters, so
    a long path wraps instead of widening the label (and the window with it)."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > longest:
            word = "".join(c + ZERO_WIDTH_SPACE if c in _BREAK_AFTER else c for c in word)
            # a run with no separator at all: a break opportunity every `longest` characters
            parts = word.split(ZERO_WIDTH_SPACE)
            words[i] = ZERO_WIDTH_SPACE.join(
                ZERO_WIDTH_SPACE.join(p[k:k + longest] for k in range(0, len(p), longest))
                for p in parts)
    return " ".join(words)
