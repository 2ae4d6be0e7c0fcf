"""The desktop app (PySide6 + pyqtgraph). It may import genplay.core; nothing but the app
entry point imports it, and genplay.core never imports Qt (see pyproject's import-linter
contracts)."""
