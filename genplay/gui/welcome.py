"""What a new user sees first: a card in the Sampling panel's empty image area saying what
to try, with a Generate button; it goes with the first samples (or Close) and does not
come back once the user has had a result."""

from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

SETTING = "welcome/done"

# (tab title, what to try there): the titles are links to the tabs
IDEAS = (
    ("Latent space", "drag a slider to morph a sample, or blend two images into each other"),
    ("Sketch", "draw a rough shape and watch the model turn it into an image"),
    ("Super-resolution", "enlarge a small picture, and compare methods side by side"),
    ("Outliers", "drop your own pictures to see which ones the model finds strange"),
    ("Training", "teach a new model on a dataset, and watch its samples improve"),
)


class Welcome(QFrame):
    """The card; the main window places it and acts on its signals."""

    generate_requested = Signal()
    tab_requested = Signal(str)  # a panel's title
    closed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("welcome")
        self.setStyleSheet("QFrame#welcome { background: palette(window); "
                           "border: 1px solid palette(mid); border-radius: 8px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 18)
        layout.setSpacing(10)
        title = QLabel("<h2 style='margin:0'>Welcome to genplay</h2>")
        self.intro = QLabel(wordWrap=True)
        ideas = "".join(f"<li><a href='{html.escape(tab)}'>{html.escape(tab)}</a>: "
                        f"{html.escape(text)}</li>" for tab, text in IDEAS)
        self.ideas = QLabel(f"Then try the other tabs:<ul style='margin-left:-20px'>{ideas}</ul>"
                            "Every model is listed on the left with how good its samples "
                            "measured; hover one for details.", wordWrap=True)
        self.ideas.setTextFormat(Qt.TextFormat.RichText)
        self.ideas.linkActivated.connect(self.tab_requested.emit)
        self.generate_button = QPushButton("Generate samples")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate_requested.emit)
        close = QPushButton("Close")
        close.clicked.connect(self.closed.emit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addStretch()
        buttons.addWidget(close)
        for widget in (title, self.intro, self.ideas):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.set_model_name("")

    def set_model_name(self, name: str) -> None:
        model = f"<b>{html.escape(name)}</b>" if name else "The selected model"
        self.intro.setText(f"{model} is ready. Press <b>Generate</b> to draw a grid of new "
                           "images: hover one for its seed, click it to enlarge, right-click "
                           "for more.")

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().sizeHint()
        hint.setWidth(480)
        return hint
