"""The model picker: checkpoints grouped by dataset, best samples first, each with what it
is and how good it measured in plain words; the helper networks (the classifiers that
measure the others) in a section of their own, folded away.

Each entry is drawn as wrapped rich text at the list's width, so nothing is cut off at
any width, and its tooltip explains every figure it shows.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette, QTextDocument
from PySide6.QtWidgets import (
    QListView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

if TYPE_CHECKING:
    from genplay.core.checkpoints import CheckpointInfo

PATH_ROLE = Qt.ItemDataRole.UserRole  # the checkpoint folder, as a string
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1  # {"name", "badges", "lines"} or {"header", "key"}
HELPERS = "helpers"  # the section key of the helper networks

FAMILY_WORDS = {"gan": "GAN", "vae": "VAE", "flow": "normalizing flow", "pixelcnn": "PixelCNN",
                "diffusion": "diffusion model", "ebm": "energy-based model",
                "superres": "upscaler", "classifier": "classifier",
                "sketch-diffusion": "sketch-to-image diffusion model",
                "diffusers": "diffusion model (diffusers)", "rrdbnet": "upscaler (ESRGAN)",
                "srvgg": "upscaler (Real-ESRGAN compact)", "spandrel": "upscaler (spandrel)"}
HELPER_NOTE = ("Classifiers genplay uses to measure the generative models (sample quality, "
               "FID and KID, is measured in their features). No panel draws with them.")
PAD_X, PAD_Y = 8, 5


def dataset_title(dataset: str) -> str:
    from genplay.core.datasets import CATALOGUE

    if not dataset:  # models of other formats (diffusers, ESRGAN-family) say no dataset
        return "Other models"
    name = Path(dataset).name
    return CATALOGUE[name].title if name in CATALOGUE else name[:1].upper() + name[1:]


def describe(info: CheckpointInfo, weak_best: float | None) -> tuple[dict, str]:
    """(the entry the delegate draws, its tooltip) for one checkpoint; weak_best: the best
    FID of its dataset when its own is far worse, else None."""
    from genplay.core.checkpoints import WEAK_FID_FACTOR

    kind = FAMILY_WORDS.get(info.family, info.family)
    if "sampler" in info.capabilities:
        kind += " · quick to sample" if info.samples_in_one_pass else " · slow to sample"
    labels = info.metric_labels()
    lines = [kind] + ([info.architecture] if info.architecture else [])
    lines += [label for label, _ in labels]
    tips = [str(info.path), f"can: {', '.join(info.capabilities) or 'helper network'}"]
    if info.format == "genplay":
        tips.append(f"trained by: {info.recipe}")
    else:
        tips.append(f"a {info.format} model{f' from {info.recipe}' if info.recipe else ''}; "
                    "genplay opens it as it is and does not train it")
        tips += info.notes
    if "sampler" in info.capabilities:
        tips.append("Draws samples in one pass of its network: quick." if info.samples_in_one_pass
                    else "Draws samples step by step: seconds for a grid on a CPU.")
    tips += [f"\n{label}: {meaning}" for label, meaning in labels]
    badges = []
    if weak_best is not None:
        badges.append("weak samples")
        tips.append(f"\nWeak samples: its FID ({info.best_fid:.1f}) is more than "
                    f"{WEAK_FID_FACTOR:g} times the best FID drawn with no class among the "
                    f"{dataset_title(info.dataset)} models of its size "
                    f"({info.image_shape[-1]} px) here "
                    f"({weak_best:.1f}); expect broken or blurry images.")
    if info.metrics_error:
        lines.append("its measurements could not be read")
        tips.append(f"\n{info.metrics_error}")
    elif not labels:
        lines.append("not measured yet")
    return {"name": info.name, "badges": badges, "lines": lines}, "\n".join(tips)


def first_model(infos: list[CheckpointInfo]) -> CheckpointInfo | None:
    """The model a first start shows: the best samples (lowest FID) among the samplers that
    draw in one pass and are not weak. The lowest FID alone picked a diffusion model, whose
    first Generate takes 5-19 s on a CPU; a GAN's takes 0.16 s, and a new user's first
    press should answer at once. Failing that, the best sampler, then anything usable."""
    from genplay.core.checkpoints import weak_samplers

    weak = weak_samplers(infos)

    def quality(info: CheckpointInfo) -> float:
        return info.best_fid if info.best_fid is not None else float("inf")

    samplers = sorted((i for i in infos if "sampler" in i.capabilities), key=quality)
    quick = [i for i in samplers if i.samples_in_one_pass and i.path not in weak]
    usable = [i for i in infos if i.capabilities]
    return next(iter(quick or samplers or usable), None)


def _nowrap(text: str) -> str:
    return html.escape(text).replace(" ", "&nbsp;")


class _EntryDelegate(QStyledItemDelegate):
    """Draws an entry as rich text wrapped to the list's width (its height follows)."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self.view = view

    def _html(self, entry: dict, selected: bool, palette: QPalette) -> str:
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text = palette.color(role).name()
        muted = text if selected else palette.color(QPalette.ColorRole.PlaceholderText).name()
        if "header" in entry:
            return (f"<div style='color:{muted}; font-weight:600'>"
                    f"{html.escape(entry['header'])}</div>")
        badges = "".join(
            f" <span style='background:#f8d7da; color:#58151c'>&nbsp;{_nowrap(b)}&nbsp;</span>"
            for b in entry["badges"])
        lines = "".join(f"<br><span style='color:{muted}'>{html.escape(line)}</span>"
                        for line in entry["lines"])
        return f"<div style='color:{text}'><b>{html.escape(entry['name'])}</b>{badges}{lines}</div>"

    def _document(self, option: QStyleOptionViewItem, entry: dict,
                  selected: bool) -> QTextDocument:
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultFont(option.font)
        doc.setHtml(self._html(entry, selected, option.palette))
        doc.setTextWidth(max(40, self.view.viewport().width() - 2 * PAD_X
                             - 2 * self.view.spacing()))
        return doc

    def paint(self, painter, option, index) -> None:
        entry = index.data(ENTRY_ROLE)
        if not entry:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else self.view.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        doc = self._document(option, entry, selected)
        top = option.rect.height() - int(doc.size().height()) - PAD_Y  # below a section gap
        painter.save()
        painter.translate(option.rect.x() + PAD_X, option.rect.y() + top)
        doc.drawContents(painter)
        painter.restore()

    def sizeHint(self, option, index) -> QSize:
        entry = index.data(ENTRY_ROLE)
        if not entry:
            return super().sizeHint(option, index)
        doc = self._document(option, entry, False)
        gap = 10 if "header" in entry and index.row() > 0 else 0  # room above a section
        return QSize(int(doc.idealWidth()) + 2 * PAD_X,
                     int(doc.size().height()) + 2 * PAD_Y + gap)


class ModelList(QListWidget):
    """The list of checkpoints; rows of section headers carry no path."""

    def __init__(self) -> None:
        super().__init__()
        self.setItemDelegate(_EntryDelegate(self))
        self.setWordWrap(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)  # heights follow the width
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setSpacing(1)
        self.helpers_open = False

    def set_models(self, infos: list[CheckpointInfo]) -> None:
        """Fills the list: a section per dataset (best FID first), then the helpers."""
        from genplay.core.checkpoints import weak_samplers

        weak = weak_samplers(infos)
        sections: dict[str, list[CheckpointInfo]] = {}
        for info in infos:
            key = info.dataset if info.capabilities else HELPERS
            sections.setdefault(key, []).append(info)
        order = sorted((k for k in sections if k != HELPERS), key=dataset_title)
        self.clear()
        for key in [*order, *([HELPERS] if HELPERS in sections else [])]:
            members = sorted(sections[key], key=lambda i: (
                "sampler" not in i.capabilities, i.fid if i.fid is not None else float("inf"),
                i.name))
            self._add_header(key, len(members))
            for info in members:
                entry, tip = describe(info, weak.get(info.path))
                item = QListWidgetItem("\n".join([entry["name"], *entry["badges"],
                                                  *entry["lines"]]))
                item.setData(PATH_ROLE, str(info.path))
                item.setData(ENTRY_ROLE, entry)
                item.setToolTip(tip)
                self.addItem(item)
                item.setHidden(key == HELPERS and not self.helpers_open)

    def _header_text(self, key: str, count: int) -> str:
        if key != HELPERS:
            return dataset_title(key)
        return f"{'▾' if self.helpers_open else '▸'} Helper networks ({count})"

    def _add_header(self, key: str, count: int) -> None:
        text = self._header_text(key, count)
        item = QListWidgetItem(text)
        item.setData(ENTRY_ROLE, {"header": text, "key": key, "count": count})
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a click opens a section; never selected
        if key == HELPERS:
            item.setToolTip(HELPER_NOTE + "\nClick to show or hide them.")
        self.addItem(item)

    def _is_model(self, row: int) -> bool:
        item = self.item(row)
        return item is not None and bool(item.data(PATH_ROLE)) and not item.isHidden()

    def mousePressEvent(self, event) -> None:
        """A click on a section header never selects it; the helpers' header folds them."""
        item = self.itemAt(event.position().toPoint())
        if item is not None and (item.data(ENTRY_ROLE) or {}).get("header"):
            if item.data(ENTRY_ROLE)["key"] == HELPERS:
                self.show_helpers(not self.helpers_open)
            return
        super().mousePressEvent(event)

    def moveCursor(self, action, modifiers):  # noqa: N802 (Qt's name)
        """The arrow keys step over section headers to the next model that way."""
        index = super().moveCursor(action, modifiers)
        if not index.isValid() or self._is_model(index.row()) or self.count() == 0:
            return index
        here = self.currentRow()
        down = index.row() > here
        ways = (range(index.row() + 1, self.count()), range(index.row() - 1, -1, -1))
        for rows in ways if down else ways[::-1]:
            row = next((r for r in rows if self._is_model(r)), None)
            if row is not None:
                return self.model().index(row, 0)
        return self.currentIndex()

    def show_helpers(self, show: bool) -> None:
        self.helpers_open = show
        inside = False
        for row in range(self.count()):
            item = self.item(row)
            entry = item.data(ENTRY_ROLE) or {}
            if "header" in entry:
                inside = entry["key"] == HELPERS
                if inside:
                    text = self._header_text(HELPERS, entry["count"])
                    item.setText(text)
                    item.setData(ENTRY_ROLE, {**entry, "header": text})
            elif inside:
                item.setHidden(not show)

    def item_for(self, path: Path | str) -> QListWidgetItem | None:
        for row in range(self.count()):
            item = self.item(row)
            if item.data(PATH_ROLE) == str(path):
                return item
        return None

    def select_path(self, path: Path | str) -> bool:
        item = self.item_for(path)
        if item is None:
            return False
        if item.isHidden():
            self.show_helpers(True)
        self.setCurrentItem(item)
        return True

    def model_items(self) -> list[QListWidgetItem]:
        """The rows that are checkpoints (not section headers)."""
        return [self.item(r) for r in range(self.count()) if self.item(r).data(PATH_ROLE)]

    def mark_failed(self, path: Path | str, name: str, message: str) -> None:
        item = self.item_for(path)
        if item is None:
            return
        item.setText(f"{name}\ncould not be loaded")
        first = message.splitlines()[0][:160] if message else ""
        item.setData(ENTRY_ROLE, {"name": name, "badges": ["could not be loaded"],
                                  "lines": [first]})
        item.setToolTip(f"{path}\n{message}")

    def set_message(self, text: str) -> None:
        """A single line in place of the models ("Looking for checkpoints…")."""
        self.clear()
        self.addItem(text)
