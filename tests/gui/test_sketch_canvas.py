"""The sketch canvas as a user drives it with the mouse: strokes land where the pointer is
(through the letterbox), undo and redo, clear, eraser, loading a guide image, smoothing,
area-averaged model-size views, shortcuts, and input that must not break it."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence, QMouseEvent, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from genplay.gui.widgets.sketch_canvas import SketchCanvas

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def canvas(qtbot):
    return shown_canvas(qtbot, 300, 300)


def shown_canvas(qtbot, width: int, height: int, **kwargs) -> SketchCanvas:
    c = SketchCanvas(**kwargs)
    qtbot.addWidget(c)
    c.setFixedSize(width, height)
    c.show()
    qtbot.waitExposed(c)
    return c


def draw_stroke(widget: QWidget, points, step: float | None = None) -> None:
    """Press at the first point, move through the others, release at the last.

    With `step`, moves are sent every `step` widget pixels along each segment, as a real
    mouse would report them; without, only the given points are visited.
    """
    points = [QPointF(*p) for p in points]
    QTest.mousePress(widget, LEFT, NO_MOD, points[0].toPoint())
    for start, end in zip(points, points[1:]):
        length = (end - start).manhattanLength()
        count = max(1, int(length / step)) if step else 1
        for i in range(1, count + 1):
            QTest.mouseMove(widget, (start + (end - start) * (i / count)).toPoint())
    QTest.mouseRelease(widget, LEFT, NO_MOD, points[-1].toPoint())


def click(widget: QWidget, x: float, y: float) -> None:
    draw_stroke(widget, [(x, y)])


def counter(signal) -> list[int]:
    calls = [0]
    signal.connect(lambda: calls.__setitem__(0, calls[0] + 1))
    return calls


def ink_box(pixels: np.ndarray, level: int = 128) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the pixels brighter than `level`, inclusive."""
    rows, cols = np.nonzero(pixels > level)
    assert rows.size, "nothing was drawn"
    return rows.min(), cols.min(), rows.max(), cols.max()


def test_defaults(canvas):
    assert canvas.canvas_size() == 280 and canvas.model_size() == 28
    assert canvas.pen_width() == pytest.approx(22)
    assert canvas.ink() == 255 and not canvas.eraser()
    assert canvas.is_empty() and not canvas.can_undo() and not canvas.can_redo()
    assert SketchCanvas.HISTORY == 100
    assert canvas.focusPolicy() == Qt.FocusPolicy.StrongFocus
    assert canvas.sizeHint().width() == 320 and canvas.minimumSizeHint().width() == 160


def test_horizontal_stroke_inks_the_middle_row_and_leaves_corners_black(canvas):
    started, changed = counter(canvas.stroke_started), counter(canvas.changed)
    history = counter(canvas.history_changed)
    draw_stroke(canvas, [(30, 150), (270, 150)], step=5)
    small = canvas.image_array(28)
    assert small.shape == (28, 28) and small.dtype == np.uint8
    assert (small[14, 4:24] > 200).all()  # along the line
    for row, col in [(0, 0), (0, 27), (27, 0), (27, 27), (3, 14), (24, 14)]:
        assert small[row, col] == 0
    assert (started[0], changed[0], history[0]) == (1, 1, 1)
    assert canvas.can_undo() and not canvas.is_empty()
    draw_stroke(canvas, [(150, 30), (150, 270)], step=5)
    assert (started[0], changed[0]) == (2, 2)
    assert (canvas.image_array(28)[4:24, 14] > 200).all()


def test_stroke_moved_is_throttled(canvas):
    moved = counter(canvas.stroke_moved)
    began = time.monotonic()
    draw_stroke(canvas, [(30, 150), (270, 150), (30, 160)], step=4)  # 120 moves
    elapsed_ms = (time.monotonic() - began) * 1000
    assert 1 <= moved[0] <= elapsed_ms / 30 + 1


@pytest.mark.parametrize("width, height", [(400, 200), (200, 400), (300, 300)])
def test_strokes_land_under_the_pointer_through_the_letterbox(qtbot, width, height):
    c = shown_canvas(qtbot, width, height)
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    scale = 280 / side

    # A short horizontal stroke in the top-left quarter of the shown square.
    a, b = (left + 0.15 * side, top + 0.25 * side), (left + 0.35 * side, top + 0.25 * side)
    draw_stroke(c, [a, b], step=3)
    pixels = c.canvas_array()
    assert pixels[:140, :140].sum() > 0
    assert pixels[140:, :].sum() == 0 and pixels[:, 140:].sum() == 0
    r0, c0, r1, c1 = ink_box(pixels)
    radius = c.pen_width() / 2
    assert abs(c0 - ((a[0] - left) * scale - radius)) <= 4
    assert abs(c1 - ((b[0] - left) * scale + radius)) <= 4
    assert abs((r0 + r1) / 2 - (a[1] - top) * scale) <= 4


def test_the_widget_shows_the_drawing_where_it_was_drawn(qtbot):
    c = shown_canvas(qtbot, 400, 200)
    draw_stroke(c, [(150, 100), (250, 100)], step=5)
    shot = c.grab().toImage()
    assert shot.pixelColor(200, 100).lightness() > 200  # the stroke, on screen
    assert shot.pixelColor(200, 40).lightness() < 60  # the black drawing beside it
    assert shot.pixelColor(200, 160).lightness() < 60


def test_a_click_draws_a_round_dot(canvas):
    changed = counter(canvas.changed)
    click(canvas, 150, 150)
    pixels = canvas.canvas_array()
    centre = round(149 * 280 / 298)
    assert pixels[centre, centre] == 255
    area = (pixels / 255).sum()
    radius = canvas.pen_width() / 2
    assert area == pytest.approx(np.pi * radius**2, rel=0.1)
    r0, c0, r1, c1 = ink_box(pixels, level=0)
    assert r1 - r0 == pytest.approx(2 * radius, abs=2) and c1 - c0 == pytest.approx(2 * radius,
                                                                                     abs=2)
    assert changed[0] == 1 and canvas.can_undo()


def test_undo_restores_exactly_and_redo_brings_the_stroke_back(canvas):
    draw_stroke(canvas, [(40, 60), (260, 60)], step=5)
    first = canvas.canvas_array()
    draw_stroke(canvas, [(40, 200), (260, 220)], step=5)
    second = canvas.canvas_array()
    assert not np.array_equal(first, second)

    changed, history = counter(canvas.changed), counter(canvas.history_changed)
    canvas.undo()
    np.testing.assert_array_equal(canvas.canvas_array(), first)
    assert canvas.can_redo() and changed[0] == 1 and history[0] == 1
    canvas.redo()
    np.testing.assert_array_equal(canvas.canvas_array(), second)
    assert not canvas.can_redo() and changed[0] == 2 and history[0] == 2
    canvas.undo()
    canvas.undo()
    assert canvas.is_empty() and not canvas.can_undo()
    canvas.undo()  # nothing left: harmless, no signal
    assert changed[0] == 4


def test_a_new_stroke_after_undo_empties_the_redo_stack(canvas):
    click(canvas, 80, 80)
    click(canvas, 200, 200)
    canvas.undo()
    assert canvas.can_redo()
    click(canvas, 80, 200)
    assert not canvas.can_redo()
    canvas.redo()  # harmless
    assert canvas.canvas_array()[190, 190] == 0  # the undone dot stays undone


def test_fifty_undos_after_sixty_strokes_each_change_the_drawing(canvas):
    states = [canvas.canvas_array()]
    for i in range(60):
        x, y = 20 + (i % 10) * 26, 20 + (i // 10) * 45
        draw_stroke(canvas, [(x, y), (x + 15, y + 20)], step=5)
        states.append(canvas.canvas_array())
    for i in range(50):
        before = canvas.canvas_array()
        canvas.undo()
        after = canvas.canvas_array()
        assert not np.array_equal(before, after)
        np.testing.assert_array_equal(after, states[59 - i])
    assert canvas.can_undo()


def test_history_keeps_at_most_HISTORY_levels(canvas):
    extra = 5
    for i in range(SketchCanvas.HISTORY + extra):
        click(canvas, 15 + (i % 15) * 18, 15 + (i // 15) * 36)
    kept = canvas.canvas_array()
    undos = 0
    while canvas.can_undo():
        canvas.undo()
        undos += 1
    assert undos == SketchCanvas.HISTORY
    assert not canvas.is_empty()  # the oldest strokes can no longer be undone
    for _ in range(undos):
        canvas.redo()
    np.testing.assert_array_equal(canvas.canvas_array(), kept)


def test_clear_empties_and_is_undoable_but_clearing_empty_records_nothing(canvas):
    history = counter(canvas.history_changed)
    canvas.clear()
    assert not canvas.can_undo() and history[0] == 0
    draw_stroke(canvas, [(50, 50), (250, 250)], step=5)
    drawn = canvas.canvas_array()
    canvas.clear()
    assert canvas.is_empty() and canvas.image_array().sum() == 0
    canvas.clear()
    canvas.undo()
    np.testing.assert_array_equal(canvas.canvas_array(), drawn)
    canvas.redo()
    assert canvas.is_empty()


def test_the_eraser_paints_black_with_the_pen_width(canvas):
    draw_stroke(canvas, [(30, 150), (270, 150)], step=5)
    canvas.set_eraser(True)
    assert canvas.eraser()
    draw_stroke(canvas, [(150, 30), (150, 270)], step=5)
    pixels = canvas.canvas_array()
    assert (pixels[140, 135:146] == 0).all()  # erased where the strokes cross
    assert (pixels[140, 40:100] == 255).all()  # the rest of the line is still there
    canvas.set_eraser(False)
    draw_stroke(canvas, [(150, 30), (150, 270)], step=5)
    assert canvas.canvas_array()[140, 140] == 255


def test_black_ink_on_a_loaded_white_image_draws_black(canvas):
    canvas.load_image(np.full((28, 28), 255, np.uint8))
    assert canvas.canvas_array().min() == 255
    canvas.set_ink(0)
    assert canvas.ink() == 0
    draw_stroke(canvas, [(30, 150), (270, 150)], step=5)
    pixels = canvas.canvas_array()
    assert (pixels[140, 30:250] == 0).all()
    assert pixels[20, 20] == 255 and pixels[260, 260] == 255
    canvas.set_ink(-3)
    assert canvas.ink() == 0
    canvas.set_ink(300)
    assert canvas.ink() == 255


def test_load_image_fits_and_centres_and_is_undoable(canvas):
    draw_stroke(canvas, [(30, 30), (90, 90)], step=5)
    drawn = canvas.canvas_array()
    rgb = np.zeros((60, 100, 3), np.uint8)
    rgb[..., 1] = 255  # green: gray level 150 (ITU-R 601)
    changed = counter(canvas.changed)
    canvas.load_image(rgb)
    pixels = canvas.canvas_array()
    # 100 wide -> 280 wide, 60 tall -> 168 tall, centred: rows 56..223.
    assert pixels[:55].max() == 0 and pixels[225:].max() == 0
    assert np.all(np.abs(pixels[58:222].astype(int) - 150) <= 1)
    small = canvas.image_array(28)
    assert small.shape == (28, 28) and small.dtype == np.uint8
    assert small[14, 14] == pytest.approx(150, abs=1) and small[0, 14] == 0
    assert changed[0] == 1
    canvas.undo()
    np.testing.assert_array_equal(canvas.canvas_array(), drawn)


def test_load_image_takes_gray_single_channel_and_any_size(canvas):
    tall = np.zeros((90, 30, 1), np.uint8)
    tall[:, :, 0] = 200
    canvas.load_image(tall)
    pixels = canvas.canvas_array()
    assert pixels[:, :90].max() == 0 and pixels[:, 190:].max() == 0
    assert pixels[140, 140] == 200
    with pytest.raises(ValueError):
        canvas.load_image(np.zeros((4, 4, 2), np.uint8))
    assert canvas.can_undo()


def zigzag_drawing(qtbot, smoothing: float) -> np.ndarray:
    c = shown_canvas(qtbot, 300, 300)
    c.set_smoothing(smoothing)
    c.set_pen_width(8)
    draw_stroke(c, [(30, 250), (90, 50), (150, 250), (210, 50), (270, 250)], step=4)
    return c.canvas_array()


def test_smoothing_rounds_off_the_corners_of_a_zigzag(qtbot):
    raw, smoothed = zigzag_drawing(qtbot, 0), zigzag_drawing(qtbot, 0.9)
    peaks = [(round(49 * 280 / 298), round(x * 280 / 298)) for x in (89, 209)]
    for row, col in peaks:
        assert raw[row, col] == 255  # the raw path goes right through the peak
        assert smoothed[row - 4:row + 5, col - 4:col + 5].max() == 0  # the smooth one not
    assert not np.array_equal(zigzag_drawing(qtbot, 0.5), raw)
    # Both still start and end where the pointer was pressed and released.
    for drawing in (raw, smoothed):
        assert drawing[round(249 * 280 / 298), round(29 * 280 / 298)] == 255
        assert drawing[round(249 * 280 / 298), round(269 * 280 / 298)] == 255


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
def test_image_array_area_averages_to_any_size(canvas, size):
    draw_stroke(canvas, [(30, 40), (270, 260), (40, 250)], step=5)
    canvas.set_pen_width(5)
    draw_stroke(canvas, [(200, 40), (260, 90)], step=5)
    small = canvas.image_array(size)
    assert small.shape == (size, size) and small.dtype == np.uint8
    assert abs(small.mean() - canvas.canvas_array().mean()) <= 1


def test_set_model_size_sets_the_default_size_and_keeps_the_drawing(canvas):
    draw_stroke(canvas, [(30, 150), (270, 150)], step=5)
    drawn = canvas.canvas_array()
    canvas.set_model_size(32)
    assert canvas.image_array().shape == (32, 32)
    np.testing.assert_array_equal(canvas.canvas_array(), drawn)
    with pytest.raises(ValueError):
        canvas.set_model_size(0)


def test_a_canvas_size_with_padded_rows_reads_back_straight(qtbot):
    c = shown_canvas(qtbot, 300, 300, canvas_size=250, model_size=25)
    draw_stroke(c, [(150, 20), (150, 280)], step=5)  # vertical through the middle
    pixels = c.canvas_array()
    assert pixels.shape == (250, 250)
    profiles = pixels[30:220].astype(int)
    assert np.abs(profiles - profiles[0]).max() <= 3  # the same columns inked on every row
    assert pixels[125, 125] == 255 and c.image_array().shape == (25, 25)


def test_ctrl_z_undoes_and_ctrl_shift_z_and_ctrl_y_redo(canvas):
    draw_stroke(canvas, [(30, 150), (270, 150)], step=5)
    drawn = canvas.canvas_array()
    canvas.setFocus()
    ctrl = Qt.KeyboardModifier.ControlModifier
    QTest.keyClick(canvas, Qt.Key.Key_Z, ctrl)
    assert canvas.is_empty()
    QTest.keyClick(canvas, Qt.Key.Key_Z, ctrl | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(canvas.canvas_array(), drawn)
    QTest.keyClick(canvas, Qt.Key.Key_Z, ctrl)
    QTest.keyClick(canvas, Qt.Key.Key_Y, ctrl)
    np.testing.assert_array_equal(canvas.canvas_array(), drawn)


def test_ctrl_z_goes_to_the_canvas_before_a_window_shortcut(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    c, other = SketchCanvas(), QWidget()
    other.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    layout.addWidget(c)
    layout.addWidget(other)
    window_undo = counter(QShortcut(QKeySequence("Ctrl+Z"), window).activated)
    window.resize(320, 480)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    other.setFocus()
    QTest.keyClick(other, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window_undo[0] == 1  # elsewhere in the window, the window's Ctrl+Z works
    click(c, c.width() / 2, c.height() / 2)
    c.setFocus()
    QTest.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert c.is_empty() and window_undo[0] == 1


def test_odd_input_is_harmless(canvas):
    """Qt event handlers must never raise: a bad pen width, a release without a press..."""
    QTest.mouseRelease(canvas, LEFT, NO_MOD, QPoint(100, 100))
    QTest.mouseMove(canvas, QPoint(120, 120))
    QTest.mouseClick(canvas, Qt.MouseButton.RightButton, NO_MOD, QPoint(100, 100))
    assert canvas.is_empty() and not canvas.can_undo()

    for width in (float("nan"), 0, -5, 1e9, float("inf"), "thick"):
        canvas.set_pen_width(width)
        assert 1 <= canvas.pen_width() <= canvas.canvas_size()
        draw_stroke(canvas, [(100, 100), (200, 120)], step=10)
    canvas.set_smoothing(float("nan"))
    canvas.set_smoothing(7)
    assert canvas.smoothing() == 1
    draw_stroke(canvas, [(100, 100), (200, 120)], step=10)

    # Far outside the widget while the mouse is grabbed, and a second press with no release.
    canvas.set_pen_width(10)
    canvas.clear()
    QTest.mousePress(canvas, LEFT, NO_MOD, QPoint(10, 10))
    QApplication.sendEvent(canvas, QMouseEvent(
        QEvent.Type.MouseMove, QPointF(1e7, -1e7), QPointF(1e7, -1e7), Qt.MouseButton.NoButton,
        LEFT, NO_MOD))
    changed = counter(canvas.changed)
    QTest.mousePress(canvas, LEFT, NO_MOD, QPoint(290, 290))
    assert changed[0] == 1  # the first stroke was committed
    canvas.undo()  # during a stroke: it ends first, then is undone
    canvas.clear()
    QTest.mouseRelease(canvas, LEFT, NO_MOD, QPoint(290, 290))

    canvas.setFixedSize(1, 1)  # a zero-sized image rect must not divide by zero
    draw_stroke(canvas, [(0, 0), (1, 1)], step=1)


def test_hovering_shows_the_pen_size(canvas):
    def brightest_near(x: int, y: int = 150) -> int:
        shot = canvas.grab().toImage()
        return max(shot.pixelColor(x + dx, y).lightness() for dx in range(-2, 3))

    outline_x = 150 + round(canvas.pen_width() / 2 * 298 / 280)
    assert brightest_near(outline_x) < 20
    QTest.mouseMove(canvas, QPoint(150, 150))
    assert brightest_near(outline_x) > 100  # the outline, at the pen radius on screen
    assert brightest_near(150) < 20  # the inside stays clear
    canvas.set_pen_width(60)
    wide_x = 150 + round(30 * 298 / 280)
    assert brightest_near(wide_x) > 100 and brightest_near(outline_x) < 20
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))
    assert brightest_near(wide_x) < 20


# --- the mask layer (Fill a region) ---------------------------------------------------------
def test_in_mask_mode_strokes_paint_the_mask_and_leave_the_drawing(canvas):
    draw_stroke(canvas, [(150, 40), (150, 260)], step=10)  # a vertical bar: the picture
    picture = canvas.canvas_array()
    assert not canvas.has_mask() and not canvas.mask_mode()
    changed = counter(canvas.changed)
    canvas.set_mask_mode(True)
    canvas.set_ink(0)  # the ink colour is the picture's; the mask is painted whatever it is
    draw_stroke(canvas, [(40, 150), (260, 150)], step=10)  # a horizontal band: to fill
    assert changed[0] == 1
    assert np.array_equal(canvas.canvas_array(), picture)
    mask = canvas.mask_canvas_array()
    assert canvas.has_mask() and mask[150, 150] == 255 and mask[20, 20] == 0
    top, left, bottom, right = ink_box(mask)
    assert bottom - top < 40 and right - left > 180
    small = canvas.mask_array()
    assert small.shape == (28, 28) and small[14, 14] > 200 and small[2, 2] == 0
    assert canvas.mask_array(7).shape == (7, 7)
    canvas.set_eraser(True)
    draw_stroke(canvas, [(150, 130), (150, 170)], step=5)  # the eraser takes mask away
    assert canvas.mask_canvas_array()[150, 150] == 0
    assert np.array_equal(canvas.canvas_array(), picture)


def test_mask_strokes_and_clear_mask_undo_in_order_with_drawing_strokes(canvas):
    draw_stroke(canvas, [(60, 60), (240, 60)], step=10)
    drawn = canvas.canvas_array()
    canvas.set_mask_mode(True)
    draw_stroke(canvas, [(60, 200), (240, 200)], step=10)
    masked = canvas.mask_canvas_array()
    canvas.clear_mask()
    assert not canvas.has_mask()
    canvas.undo()  # brings the mask back
    assert np.array_equal(canvas.mask_canvas_array(), masked)
    canvas.undo()  # removes the mask stroke
    assert not canvas.has_mask() and np.array_equal(canvas.canvas_array(), drawn)
    canvas.undo()  # then the drawing stroke, though the canvas is still in mask mode
    assert canvas.is_empty()
    canvas.redo()
    canvas.redo()
    assert np.array_equal(canvas.mask_canvas_array(), masked)
    canvas.clear_mask()
    changed = counter(canvas.changed)
    canvas.clear_mask()  # nothing to clear: no step recorded
    assert changed[0] == 0
    canvas.set_mask_mode(False)
    draw_stroke(canvas, [(60, 120), (240, 120)], step=10)
    assert not canvas.has_mask()  # out of mask mode the pen draws again


def test_the_mask_shows_as_a_tint_only_in_mask_mode(canvas):
    canvas.set_mask_mode(True)
    draw_stroke(canvas, [(40, 150), (260, 150)], step=10)
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))  # no pen outline
    colour = canvas.grab().toImage().pixelColor(150, 150)
    assert colour.red() > colour.blue() + 60  # a warm wash over the black picture
    canvas.set_mask_mode(False)
    colour = canvas.grab().toImage().pixelColor(150, 150)
    assert colour.red() < 20 and canvas.has_mask()  # kept, but not in the way of drawing


def test_a_colour_canvas_keeps_the_inks_colours_and_a_grey_one_shows_their_luma(canvas):
    yellow = (252, 208, 40)
    assert not canvas.colour() and canvas.canvas_array().ndim == 2
    canvas.set_colour(True)
    canvas.set_ink_colour(yellow)
    assert canvas.ink_colour() == yellow and canvas.ink() == round(
        0.299 * 252 + 0.587 * 208 + 0.114 * 40)
    draw_stroke(canvas, [(60, 150), (240, 150)], step=4)
    pixels = canvas.canvas_array()
    assert pixels.shape == (280, 280, 3)
    assert tuple(pixels[140, 140]) == yellow  # the middle of the stroke
    assert tuple(pixels[20, 20]) == (0, 0, 0)
    small = canvas.image_array(32)
    assert small.shape == (32, 32, 3) and tuple(small[16, 16]) == yellow
    canvas.set_ink(255)  # white lines beside it
    draw_stroke(canvas, [(150, 40), (150, 100)], step=4)
    assert tuple(canvas.canvas_array()[50, 140]) == (255, 255, 255)
    canvas.set_colour(False)  # a grey model: the luma, the colours kept underneath
    grey = canvas.canvas_array()
    assert grey.shape == (280, 280)
    assert abs(int(grey[140, 140]) - round(0.299 * 252 + 0.587 * 208 + 0.114 * 40)) <= 1
    canvas.set_colour(True)
    assert tuple(canvas.canvas_array()[140, 140]) == yellow
    canvas.undo()  # the white stroke goes; the yellow one stays
    assert tuple(canvas.canvas_array()[50, 140]) == (0, 0, 0)
    assert tuple(canvas.canvas_array()[140, 140]) == yellow


def test_a_colour_picture_loads_in_colour(canvas):
    picture = np.zeros((10, 20, 3), np.uint8)
    picture[:, :10] = (200, 30, 30)
    canvas.set_colour(True)
    canvas.load_image(picture)
    pixels = canvas.canvas_array()
    assert tuple(pixels[140, 60]) == (200, 30, 30) and tuple(pixels[140, 220]) == (0, 0, 0)
    assert tuple(pixels[20, 140]) == (0, 0, 0)  # letterboxed on black
