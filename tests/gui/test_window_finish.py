"""The main window as a new user meets it: its title, the first model, the welcome, the
model list, messages kept with their tab, its width on a laptop, and how images scale."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication, QLabel

from tests.conftest import TINY_CONFIGS
from tests.gui.conftest import select


def shown_title(window) -> str:
    """The title a window manager shows: Qt appends the application's display name."""
    title, name = window.windowTitle(), QApplication.applicationDisplayName()
    return title if not name or title.endswith(name) else f"{title} — {name}"


def models_with_metrics(tmp_path, tiny_checkpoints, metrics: dict[str, dict]):
    """A checkpoint folder holding copies of some tiny models with the given metrics."""
    for name, values in metrics.items():
        shutil.copytree(tiny_checkpoints / name, tmp_path / name)
        (tmp_path / name / "metrics.json").write_text(json.dumps(values))
    return tmp_path


@pytest.fixture
def open_window(qtbot, settings):
    from genplay.gui.main_window import MainWindow

    windows = []

    def build(folder):
        w = MainWindow(checkpoint_dirs=[folder], settings=settings)
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.current is not None, timeout=20000)
        windows.append(w)
        return w

    yield build
    for w in windows:
        w.close()


def test_the_title_names_the_model_once(qtbot, window):
    app = QApplication.instance()
    before = app.applicationDisplayName()
    app.setApplicationDisplayName("genplay")  # as create_app does
    try:
        select(qtbot, window, "gan-tiny")
        assert shown_title(window) == "gan-tiny — genplay"
    finally:
        app.setApplicationDisplayName(before)


def test_the_first_model_is_a_quick_sampler_with_good_samples(qtbot, tmp_path, tiny_checkpoints,
                                                              open_window):
    folder = models_with_metrics(tmp_path / "a", tiny_checkpoints, {
        "diffusion-tiny": {"fid": 5.0}, "gan-tiny": {"fid": 10.0}, "vae-tiny": {"fid": 12.0}})
    assert open_window(folder).current.name == "gan-tiny"  # not the slow diffusion model
    folder = models_with_metrics(tmp_path / "b", tiny_checkpoints, {
        "diffusion-tiny": {"fid": 5.0}, "gan-tiny": {"fid": 40.0}, "vae-tiny": {"fid": 12.0}})
    assert open_window(folder).current.name == "vae-tiny"  # the GAN's samples are weak


def test_the_model_list_speaks_plainly_and_keeps_helpers_apart(qtbot, tmp_path,
                                                             tiny_checkpoints, open_window):
    folder = models_with_metrics(tmp_path, tiny_checkpoints, {
        "gan-tiny": {"fid": 10.0, "kid": 0.3}, "flow-tiny": {"fid": 187.0, "bpd": 1.59},
        "classifier-tiny": {"test_accuracy": 0.98}, "vae-tiny": {"fid": 20.0}})
    window = open_window(folder)
    window.resize(1280, 800)
    models = window.model_list
    texts = [models.item(r).text() for r in range(models.count())]
    helpers = next(r for r, t in enumerate(texts) if "Helper networks" in t)
    classifier = next(r for r, t in enumerate(texts) if t.startswith("classifier-tiny"))
    assert classifier > helpers > max(r for r, t in enumerate(texts)
                                      if t.startswith(("gan", "flow", "vae")))
    assert models.item(classifier).isHidden()  # folded away until asked for
    header = models.visualItemRect(models.item(helpers)).center()
    qtbot.mouseClick(models.viewport(), Qt.MouseButton.LeftButton, pos=header)
    assert not models.item(classifier).isHidden()
    assert models.currentItem().data(Qt.ItemDataRole.UserRole)  # a header is never current
    gan = models.item_for(folder / "gan-tiny")
    assert "sample quality 10.0 (FID, lower is better)" in gan.text()
    assert "FID (Fréchet distance)" in gan.toolTip() and "KID 0.300" in gan.toolTip()
    # the arrow keys step over the section headers from one model to the next
    models.setCurrentItem(models.model_items()[-2])  # the last model before the helpers
    models.setFocus()
    qtbot.keyClick(models, Qt.Key.Key_Down)
    assert window.current.name == "classifier-tiny"
    qtbot.keyClick(models, Qt.Key.Key_Up)
    assert window.current.name == models.model_items()[-2].text().split("\n")[0]
    flow = models.item_for(folder / "flow-tiny")
    assert "weak samples" in flow.text() and "more than 2.5 times" in flow.toolTip()
    assert "bits/dim" in flow.text() and "weak samples" not in gan.text()
    # nothing is cut off: each row is as tall as its text wrapped at the list's width,
    # also when the list is made narrow
    delegate = models.itemDelegate()
    for width in (300, 170):
        window.splitter.setSizes([width, 1280 - width])
        qtbot.wait(50)
        for item in models.model_items():
            index = models.indexFromItem(item)
            need = delegate.sizeHint(_option(models), index).height()
            assert models.visualItemRect(item).height() >= need


def _option(view):
    from PySide6.QtWidgets import QStyleOptionViewItem

    option = QStyleOptionViewItem()
    option.initFrom(view)
    return option


def test_an_error_stays_with_the_tab_it_came_from(qtbot, window):
    select(qtbot, window, "vae-tiny")
    latent = window.panels.index(window.latent)
    window.tabs.setCurrentIndex(latent)
    window.latent.messages.show_message("holiday.jpg could not be read", "error")
    assert window.messages.isVisible() and "holiday.jpg" in window.messages.text()
    window.tabs.setCurrentIndex(0)
    assert not window.messages.isVisible()  # not on every tab
    assert not window.tabs.tabIcon(latent).isNull()  # the tab it belongs to is marked
    window.tabs.setCurrentIndex(latent)
    assert "holiday.jpg" in window.messages.text()  # back with its tab
    # acting in the panel again answers it
    qtbot.mouseClick(window.latent, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert not window.messages.isVisible() and window.tabs.tabIcon(latent).isNull()
    window.latent.messages.show_message("holiday.jpg could not be read", "error")
    select(qtbot, window, "gan-tiny")  # another model: the old model's errors go
    window.tabs.setCurrentIndex(latent)
    assert not window.messages.isVisible()
    # an error from a tab not on screen says where it came from
    window.tabs.setCurrentIndex(0)
    window.outliers.messages.show_message("scores could not be written", "error")
    assert window.messages.text().startswith("Outliers: scores could not be written")
    assert window.messages._timer.isActive()  # not for good on a tab it does not concern
    window.tabs.setCurrentIndex(1)
    assert not window.messages.isVisible()
    # a notice goes by itself
    from genplay.gui.widgets.message_bar import INFO_TIMEOUT_MS

    window.sampling.messages.show_message("Saved a.png", "info")
    assert window.messages._timer.isActive()
    assert window.messages._timer.interval() == INFO_TIMEOUT_MS


def test_a_job_error_goes_with_the_tab_the_job_started_on(qtbot, window):
    def broken():
        raise RuntimeError("boom")

    qtbot.waitUntil(lambda: not window.engine.is_busy(), timeout=20000)
    window.tabs.setCurrentIndex(1)
    window.engine.submit(broken, label="a job that fails")
    qtbot.waitUntil(lambda: "boom" in window.messages.text(), timeout=10000)
    window.tabs.setCurrentIndex(0)
    assert not window.messages.isVisible()
    window.tabs.setCurrentIndex(1)
    assert "boom" in window.messages.text()


def test_the_window_fits_a_laptop_and_never_widens_itself(qtbot, window):
    select(qtbot, window, "gan-tiny")
    window.resize(1280, 800)
    qtbot.wait(50)
    for i in range(window.tabs.count()):  # every panel, as a user clicks through them
        window.tabs.setCurrentIndex(i)
        qtbot.wait(20)
    assert window.minimumSizeHint().width() <= 1000
    window.resize(1000, 700)
    qtbot.waitUntil(lambda: window.width() == 1000)
    # a label that does not wrap (a long caption) cannot push the window past the screen
    window.resize(1280, 800)
    window.tabs.setCurrentIndex(0)
    window.sampling.layout().addWidget(QLabel("a caption that does not wrap " * 20))
    qtbot.wait(100)
    assert window.width() == 1280 and window.minimumSizeHint().width() <= 1000


def grid(rows: int, cols: int, tile: int = 8, pad: int = 2) -> np.ndarray:
    h, w = pad + rows * (tile + pad), pad + cols * (tile + pad)
    return np.zeros((h, w, 1), np.uint8)


def test_images_fill_the_view_and_tiles_are_exact_at_a_fractional_zoom(qtbot):
    from genplay.gui.widgets.pixel_view import PixelView

    view = PixelView()
    qtbot.addWidget(view)
    view.resize(171, 300)
    view.show()
    view.set_grid(grid(2, 3), 8, 8, 2, 6, tooltips=[f"tile {i}" for i in range(6)])
    rect = view.image_rect()
    assert rect.width() == pytest.approx(171, abs=1)  # fills the width: 171 / 32 = 5.34x
    assert view.zoom() != int(view.zoom())
    sx, sy = rect.width() / 32, rect.height() / 22

    def at(px: float, py: float) -> int | None:  # image pixel -> tile under the mouse
        return view.tile_at(QPointF(rect.x() + px * sx, rect.y() + py * sy))

    for index in range(6):
        row, col = divmod(index, 3)
        left, top = 2 + col * 10, 2 + row * 10
        assert at(left + 4, top + 4) == index  # the centre
        assert at(left + 0.02, top + 0.02) == index  # just inside the corners
        assert at(left + 7.98, top + 7.98) == index
        assert at(left - 0.5, top + 4) is None  # the padding between tiles
        assert at(left + 8.5, top + 4) is None
    clicked = []
    view.tile_clicked.connect(clicked.append)
    point = QPointF(rect.x() + 26 * sx, rect.y() + 16 * sy).toPoint()  # tile 5
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)
    assert clicked == [5]


def test_crisp_pixels_is_one_setting_for_every_view(qtbot, window, settings):
    from genplay.gui.widgets.pixel_view import PixelView, crisp_pixels

    view = PixelView()
    qtbot.addWidget(view)
    view.resize(200, 100)
    view.set_image(np.array([[[0], [255]]], np.uint8))  # two pixels, black and white

    def greys() -> int:  # how many distinct grey levels the view draws across
        image = view.grab().toImage()
        rect = view.image_rect().toRect()
        row = [image.pixelColor(x, rect.center().y()).red()
               for x in range(rect.left() + 1, rect.right() - 1)]
        return len(set(row))

    assert not crisp_pixels() and greys() > 20  # smooth by default: a ramp
    try:
        window.crisp_action.trigger()
        assert crisp_pixels() and greys() <= 3  # two flat squares
        assert settings.value("view/crisp_pixels", False, bool)
    finally:
        window.set_crisp(False)
    assert greys() > 20


def test_the_welcome_says_what_to_try_until_the_first_samples(qtbot, window, settings,
                                                                tiny_checkpoints):
    from genplay.gui.main_window import MainWindow

    select(qtbot, window, "gan-tiny")
    welcome = window.welcome
    assert welcome is not None and welcome.isVisibleTo(window)
    assert "gan-tiny" in welcome.intro.text() and "Outliers" in welcome.ideas.text()
    welcome.tab_requested.emit("Sketch")
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Sketch"
    window.tabs.setCurrentIndex(0)
    welcome.generate_button.click()
    qtbot.waitUntil(lambda: window.sampling.images is not None, timeout=20000)
    qtbot.waitUntil(lambda: window.welcome is None, timeout=5000)
    assert settings.value("welcome/done", False, bool)
    again = MainWindow(checkpoint_dirs=[tiny_checkpoints], settings=settings)
    qtbot.addWidget(again)
    assert again.welcome is None  # a returning user is not welcomed again
    qtbot.waitUntil(lambda: len(again.infos) == len(TINY_CONFIGS), timeout=20000)
    again.close()
