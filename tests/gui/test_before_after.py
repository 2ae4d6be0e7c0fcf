"""The before/after view: the divider follows the mouse and the keys, the two images stay
aligned under zoom and pan, and enlarged pixels stay crisp."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from genplay.gui.widgets.before_after import SIDE_BY_SIDE, BeforeAfterView

RED, BLUE = (220, 30, 30), (30, 60, 220)


def solid(h, w, colour):
    return np.broadcast_to(np.array(colour, np.uint8), (h, w, 3)).copy()


def grab_array(view) -> np.ndarray:
    image = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB888)
    h, w = image.height(), image.width()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h)
    return data.reshape(h, image.bytesPerLine())[:, :w * 3].reshape(h, w, 3).copy()


@pytest.fixture
def view(qtbot):
    v = BeforeAfterView()
    qtbot.addWidget(v)
    v.resize(400, 300)
    v.show()
    qtbot.waitExposed(v)
    return v


def colour_at(array, x, y):
    return tuple(int(c) for c in array[int(y), int(x)])


def test_dragging_the_divider_moves_the_split_and_what_is_drawn(qtbot, view):
    view.set_images(solid(7, 7, RED), solid(28, 28, BLUE), labels=("", ""))
    rect = view.image_rect()
    assert rect.width() == rect.height() == 300  # fit: fills the view's height
    y = rect.center().y() + 40  # below the handle
    start = view.divider_x()
    assert start == pytest.approx(rect.center().x())
    pixels = grab_array(view)
    assert colour_at(pixels, start - 20, y) == RED and colour_at(pixels, start + 20, y) == BLUE

    target = rect.left() + 0.25 * rect.width()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(round(start), round(y)))
    qtbot.mouseMove(view, QPoint(round((start + target) / 2), round(y)))
    qtbot.mouseMove(view, QPoint(round(target), round(y)))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(round(target), round(y)))
    assert view.split() == pytest.approx(0.25, abs=0.01)
    pixels = grab_array(view)
    # between the old and the new divider the "before" gave way to the "after"
    assert colour_at(pixels, target + 20, y) == BLUE
    assert colour_at(pixels, target - 20, y) == RED


def test_the_keyboard_moves_the_divider(qtbot, view):
    view.set_images(solid(4, 4, RED), solid(8, 8, BLUE))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.split() == pytest.approx(0.52)
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert view.split() == pytest.approx(0.42)
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.split() == 1.0
    pixels = grab_array(view)
    rect = view.image_rect()
    assert colour_at(pixels, rect.right() - 10, rect.center().y() + 30) == RED


def test_a_click_beside_the_divider_puts_it_there(qtbot, view):
    view.set_images(solid(4, 4, RED), solid(8, 8, BLUE))
    rect = view.image_rect()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton,
                     pos=QPoint(round(rect.left() + 0.8 * rect.width()), round(rect.top() + 5)))
    assert view.split() == pytest.approx(0.8, abs=0.01)


def checker_pair():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (7, 7, 3), dtype=np.uint8)
    return small, np.repeat(np.repeat(small, 4, axis=0), 4, axis=1)  # the same picture, x4


def test_zoom_and_pan_keep_both_halves_aligned_and_pixels_crisp(qtbot, view):
    small, big = checker_pair()
    view.set_images(small, big, labels=("", ""))
    view.zoom_in(QPointF(200, 150))
    view.zoom_in(QPointF(200, 150))
    assert view.zoom() > view.fit_zoom()
    view.pan_by(-37, 23)
    view.set_split(0.0)
    all_after = grab_array(view)
    view.set_split(1.0)
    all_before = grab_array(view)
    # The "before" is the small image stretched over the same rectangle: where both show
    # the same picture they must agree pixel for pixel (away from the divider and its
    # handle, at the edge).
    assert np.array_equal(all_after[:, 12:-12], all_before[:, 12:-12])
    # No smoothing: every colour drawn is one of the image's colours.
    drawn = {tuple(c) for c in all_after[:, 12:-12].reshape(-1, 3)}
    assert drawn <= {tuple(c) for c in small.reshape(-1, 3)}


def test_zooming_keeps_the_point_under_the_cursor(qtbot, view):
    small, big = checker_pair()
    view.set_images(small, big)
    view.zoom_in()
    view.zoom_in()  # larger than the view both ways, so nothing is re-centred
    anchor = QPointF(130, 100)
    before = view.to_image(anchor)
    view.zoom_in(anchor)
    after = view.to_image(anchor)
    assert after.x() == pytest.approx(before.x(), abs=0.2)
    assert after.y() == pytest.approx(before.y(), abs=0.2)
    view.fit()
    assert view.is_fit() and view.centre() == QPointF(14, 14)


def test_wheel_and_keys_zoom_and_fit(qtbot, view):
    small, big = checker_pair()
    view.set_images(small, big)
    fit = view.zoom()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.zoom() > fit
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.is_fit()
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert view.zoom() == 1.0


def test_side_by_side_panes_show_the_same_place(qtbot, view):
    small, big = checker_pair()
    view.set_mode(SIDE_BY_SIDE)
    view.set_images(small, big, labels=("", ""))
    view.zoom_in()
    view.zoom_in()
    view.pan_by(15, -11)
    left, right = view.panes()
    pixels = grab_array(view)
    a = pixels[:, int(left.left()):int(left.left()) + int(left.width())]
    b = pixels[:, int(right.left()):int(right.left()) + int(left.width())]
    assert np.array_equal(a, b)
    assert view.to_image(left.center()) == view.to_image(right.center())


def test_a_smaller_view_shrinks_the_image_and_a_new_size_refits(qtbot, view):
    view.set_images(solid(100, 150, RED), solid(400, 600, BLUE))
    assert view.zoom() < 1 and view.image_rect().width() <= view.width()
    grab_array(view)  # the shrunk copy is drawn without error
    view.set_images(solid(7, 7, RED), solid(14, 14, BLUE))
    assert view.is_fit() and view.zoom() == pytest.approx(300 / 14)  # fills the view


def checker(h, w, cell, a=RED, b=BLUE):
    y, x = np.mgrid[0:h, 0:w]
    on = ((y // cell + x // cell) % 2).astype(bool)
    return np.where(on[..., None], np.array(a, np.uint8), np.array(b, np.uint8))


def test_fit_fills_the_view_a_photo_is_smooth_and_a_small_result_crisp(qtbot, view):
    photo = checker(100, 150, 5)
    view.set_images(photo[::2, ::2], photo, labels=("", ""))
    rect = view.image_rect()
    assert rect.width() == pytest.approx(400, abs=1)  # 2.67x: no integer zoom, no empty band
    assert view.smooth()
    view.set_split(0.0)  # all result
    drawn = {tuple(c) for c in grab_array(view)[40:260, 20:380].reshape(-1, 3)}
    assert len(drawn - {RED, BLUE}) > 3  # blended edges: smooth scaling
    view.set_smooth(False)  # the user asks for crisp pixels
    assert not view.smooth()
    small = checker(14, 14, 1)
    view.set_smooth(None)
    view.set_images(small[::2, ::2], small, labels=("", ""))
    assert not view.smooth() and view.zoom() == pytest.approx(300 / 14)
    pixels = grab_array(view)
    rect = view.image_rect()
    for i in range(14):  # the middle of every image pixel is that pixel's colour
        x = rect.left() + (i + 0.5) * rect.width() / 14
        y = rect.top() + (3 + 0.5) * rect.height() / 14
        assert colour_at(pixels, x, y) == tuple(int(c) for c in small[3, i])
