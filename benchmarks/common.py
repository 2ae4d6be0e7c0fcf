"""Small helpers the benchmark scripts share."""

from __future__ import annotations

import json
import math
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# Drawings made with the mouse on the Sketch panel's canvas: strokes of points in
# units of the canvas's side.
SHAPES = {
    "three": [[(0.3, 0.22), (0.45, 0.15), (0.62, 0.18), (0.66, 0.3), (0.55, 0.45), (0.45, 0.48)],
              [(0.45, 0.48), (0.62, 0.55), (0.68, 0.7), (0.6, 0.82), (0.42, 0.85), (0.3, 0.78)]],
    "shirt": [[(0.3, 0.15), (0.15, 0.3), (0.22, 0.42), (0.3, 0.36), (0.3, 0.85), (0.7, 0.85),
               (0.7, 0.36), (0.78, 0.42), (0.85, 0.3), (0.7, 0.15), (0.6, 0.15), (0.5, 0.22),
               (0.4, 0.15), (0.3, 0.15)],
              [(0.4, 0.3), (0.4, 0.75)], [(0.5, 0.3), (0.5, 0.75)], [(0.6, 0.3), (0.6, 0.75)]],
    "t-shirt": [[(0.38, 0.12), (0.5, 0.2), (0.62, 0.12), (0.85, 0.25), (0.78, 0.42),
                 (0.7, 0.38), (0.7, 0.88), (0.3, 0.88), (0.3, 0.38), (0.22, 0.42),
                 (0.15, 0.25), (0.38, 0.12)]],
}

# A few strokes each, as a new user draws the things a dataset holds with the mouse
# (Fashion-MNIST's shoes point left, as its photographs do), by the class meant.
DRAWINGS = {
    "fashion-mnist": {
        "T-shirt/top": SHAPES["t-shirt"],
        "Pullover": [[(0.38, 0.1), (0.5, 0.16), (0.62, 0.1), (0.8, 0.18), (0.9, 0.85),
                      (0.8, 0.87), (0.72, 0.4), (0.72, 0.9), (0.28, 0.9), (0.28, 0.4),
                      (0.2, 0.87), (0.1, 0.85), (0.2, 0.18), (0.38, 0.1)]],
        "Trouser": [[(0.32, 0.08), (0.68, 0.08), (0.72, 0.92), (0.56, 0.92), (0.5, 0.35),
                     (0.44, 0.92), (0.28, 0.92), (0.32, 0.08)]],
        "Dress": [[(0.4, 0.08), (0.6, 0.08), (0.62, 0.38), (0.78, 0.92), (0.22, 0.92),
                   (0.38, 0.38), (0.4, 0.08)]],
        "Sneaker": [[(0.08, 0.6), (0.1, 0.72), (0.92, 0.72), (0.92, 0.55), (0.75, 0.45),
                     (0.6, 0.35), (0.45, 0.45), (0.25, 0.5), (0.08, 0.6)]],
        "Bag": [[(0.15, 0.4), (0.85, 0.4), (0.9, 0.88), (0.1, 0.88), (0.15, 0.4)],
                [(0.32, 0.4), (0.35, 0.15), (0.65, 0.15), (0.68, 0.4)]],
        "Ankle boot": [[(0.45, 0.1), (0.8, 0.1), (0.85, 0.88), (0.1, 0.88), (0.1, 0.72),
                        (0.3, 0.62), (0.45, 0.5), (0.45, 0.1)]],
    },
    # Colour: a stroke ("Yellow", points) is drawn in that ink of the Sketch panel's
    # palette; plain strokes in white, the lines.
    "emoji": {
        "Smileys & Emotion": [  # the test: a yellow circle and two dots
            ("Yellow", [(0.5 + 0.36 * math.cos(a / 12 * math.tau),
                         0.5 + 0.36 * math.sin(a / 12 * math.tau)) for a in range(13)]),
            ("Yellow", [(0.38, 0.4), (0.385, 0.405)]), ("Yellow", [(0.62, 0.4), (0.625, 0.405)])],
        "Animals & Nature": [  # a tree: a green crown on a brown trunk
            ("Green", [(0.5, 0.1), (0.8, 0.65), (0.2, 0.65), (0.5, 0.1)]),
            ("Brown", [(0.5, 0.66), (0.5, 0.9)])],
        "Food & Drink": [  # an apple: red, a stalk and a leaf
            ("Red", [(0.5, 0.3), (0.72, 0.25), (0.82, 0.45), (0.72, 0.8), (0.5, 0.85),
                     (0.28, 0.8), (0.18, 0.45), (0.28, 0.25), (0.5, 0.3)]),
            ("Brown", [(0.5, 0.3), (0.52, 0.12)]), ("Green", [(0.55, 0.2), (0.68, 0.12)])],
        "Travel & Places": [  # a house: a red roof over brown walls
            ("Red", [(0.15, 0.45), (0.5, 0.15), (0.85, 0.45), (0.15, 0.45)]),
            ("Brown", [(0.25, 0.47), (0.25, 0.85), (0.75, 0.85), (0.75, 0.47)])],
        "Flags": [  # a pole and a blue flag
            [(0.2, 0.1), (0.2, 0.9)],
            ("Blue", [(0.22, 0.15), (0.8, 0.15), (0.8, 0.5), (0.22, 0.5), (0.22, 0.15)])],
    },
    "mnist": {
        "0": [[(0.5, 0.15), (0.3, 0.3), (0.27, 0.55), (0.35, 0.8), (0.55, 0.85), (0.7, 0.65),
               (0.72, 0.4), (0.62, 0.2), (0.5, 0.15)]],
        "1": [[(0.45, 0.2), (0.55, 0.12), (0.55, 0.88)]],
        "3": SHAPES["three"],
        "4": [[(0.55, 0.12), (0.25, 0.6), (0.75, 0.6)], [(0.62, 0.35), (0.62, 0.88)]],
        "7": [[(0.25, 0.18), (0.75, 0.18), (0.45, 0.88)]],
    },
}


def draw_shape(canvas, strokes) -> None:
    """Drags the mouse along each stroke, in steps of a few pixels, as a hand would, each
    in its ink (a stroke ("Red", points) in the palette's red; plain strokes in white)."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    from genplay.gui.panels.sketch import COLOUR_INKS

    inks = dict(COLOUR_INKS)
    side = min(canvas.width(), canvas.height())
    x0, y0 = (canvas.width() - side) / 2, (canvas.height() - side) / 2
    for stroke in strokes:
        ink, stroke = stroke if isinstance(stroke, tuple) else ("White", stroke)
        canvas.set_ink_colour(inks[ink])
        points = [QPointF(x0 + u * side, y0 + v * side) for u, v in stroke]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         points[0].toPoint())
        for a, b in zip(points, points[1:]):
            n = max(1, int((b - a).manhattanLength() / 6))
            for i in range(1, n + 1):
                QTest.mouseMove(canvas, (a + (b - a) * (i / n)).toPoint())
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           points[-1].toPoint())


def write_results(path: str, result: dict, text: str) -> None:
    """The figures as JSON at path, and the printed tables beside it as .txt."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")


def report(result: dict, text: str, path: str | None) -> dict:
    """Prints the tables; writes them and the figures where --json says. Returns result."""
    print(text)
    if path:
        write_results(path, result, text)
    return result


def earlier_results(path: str | Path, result: dict, same: tuple[str, ...],
                    option: str) -> dict:
    """The figures an earlier run wrote at path, for `option` to add rows to: only when
    they were measured the same way as this run (equal values of the keys in `same`),
    so the rows compare. Anything else stops the run with a message."""
    try:
        before = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SystemExit(f"{option} needs the earlier results in {path}: {err}") from None
    for key in same:
        if before.get(key) != result[key]:
            raise SystemExit(f"{path} was measured with {key} {before.get(key)!r}, this run "
                             f"with {result[key]!r}: measure everything again instead")
    return before
