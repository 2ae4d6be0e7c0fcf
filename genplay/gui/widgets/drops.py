"""Accepting files dropped from the desktop, for any widget that wants them."""

from __future__ import annotations


class AcceptsFileDrops:
    """Mixin for a QWidget: accepts drops of local files and calls ``files_dropped(paths)``.

    Put it before the Qt class in the bases and call ``setAcceptDrops(True)``.
    """

    def files_dropped(self, paths: list[str]) -> None:
        raise NotImplementedError

    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.files_dropped(paths)
