"""Small helpers the benchmark scripts share."""

from __future__ import annotations

import json
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
}


def draw_shape(canvas, strokes) -> None:
    """Drags the mouse along each stroke, in steps of a few pixels, as a hand would."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    side = min(canvas.width(), canvas.height())
    x0, y0 = (canvas.width() - side) / 2, (canvas.height() - side) / 2
    for stroke in strokes:
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
