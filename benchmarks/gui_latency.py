"""How the app feels: slider-to-image latency and the longest UI stall during long jobs.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.gui_latency [--changes 200]

For every shipped model with a latent space, in the real main window on this
machine's CPU:
- slider latency: a principal-direction slider is dragged (held down and moved); the
  time until the new image is painted in the view (set_image + a synchronous
  repaint), p50/p95 over N changes, each waited for before the next. A model whose
  full decode is slow (diffusion) paints quick previews while the slider is held
  ("preview" says so; "steps": their median sampler steps, as many as the machine
  runs within the preview budget); letting go paints the full image, timed as "release";
- between: the same for the Interpolation tab's position slider, after interpolating
  8 frames between seeds 0 and 1 ("strip quick s": until a slow model's quick frames
  show; "strip s": until the full ones do);
- sketch (`--sketch`): strokes drawn at a hand's pace (a move every 40 ms) on the
  Sketch panel in Live mode, with its default method and 4 candidates: how long after
  the pen goes down the first candidates show, the time between candidates shown while
  it moves (quick previews where the model samples in steps), and how long after the
  pen is lifted the full candidates show (the 350 ms pause included);
- stall: a 5 ms heartbeat timer runs on the UI thread while a long job runs in the
  engine (a 256-sample grid; encoding an image, by optimisation for GANs); the
  longest gap between beats, minus the 5 ms period, is the worst freeze a user sees.
Targets: p95 <= 16 ms for VAE and GAN at 28x28, stall <= 50 ms (issue 3); a diffusion
model's slider p95 <= 60 ms while dragged (issue 24). `--models` measures only the named
models and replaces their rows in the --json file, keeping the others.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QElapsedTimer, QSettings, QTimer

from benchmarks.common import percentile

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "samples"


class Heartbeat:
    """Records the longest gap between ticks of a 5 ms timer on the UI thread."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer(interval=5, timeout=self._tick)
        self.longest = 0.0
        self.last = 0

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.longest = max(self.longest, (now - self.last) / 1e6 - 5.0)
        self.last = now

    def __enter__(self):
        self.clock.start()
        self.last = self.clock.nsecsElapsed()
        self.longest = 0.0
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()


_STARTUP = """
import time, sys
from PySide6.QtCore import QTimer
from genplay.gui.app import create_app
app = create_app()
from genplay.gui.main_window import MainWindow
w = MainWindow()
w.show()
app.processEvents()
print("shown", flush=True)
QTimer.singleShot(0, w.close)
app.exec()
"""


def measure_startup(repeats: int = 3) -> list[float]:
    """Seconds from starting a fresh Python process to the main window being shown."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "XDG_CONFIG_HOME": tempfile.mkdtemp()}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _STARTUP], stdout=subprocess.PIPE,
                                text=True, env=env)
        for line in proc.stdout:
            if line.startswith("shown"):
                times.append(time.perf_counter() - start)
                break
        proc.wait(timeout=60)
    return times


def drag_latencies(slider, decoder, view, changes: int, wait, span: int, step: int
                   ) -> tuple[list[float], int, float, float | None]:
    """Holds slider down and moves it `changes` times (each image painted in view waited
    for); returns (ms from each move to its painted image, how many were previews, ms
    from letting go to the full image, the previews' median sampler steps)."""
    painted: list[float] = []
    original = view.set_image

    def timed_set_image(pixels):
        original(pixels)
        view.repaint()
        painted.append(time.perf_counter())

    view.set_image = timed_set_image
    latencies, previews, steps = [], 0, []
    slider.setSliderDown(True)  # held, as under the mouse: a slow decoder previews
    try:
        for i in range(changes):
            painted.clear()
            start = time.perf_counter()
            slider.setValue((i % span) * step + slider.minimum())
            wait(lambda: bool(painted))
            latencies.append((painted[0] - start) * 1000)
            previews += decoder.showing_preview
            if decoder.showing_preview:
                steps.append(decoder.shown_steps)
            wait(lambda: not decoder.busy())
        painted.clear()
        start = time.perf_counter()
        slider.setSliderDown(False)  # let go: the full image where previews were shown
        if previews:
            wait(lambda: bool(painted) and not decoder.showing_preview)
        release_ms = (painted[-1] - start) * 1000 if painted else 0.0
    finally:
        view.set_image = original
    return latencies, previews, release_ms, statistics.median(steps) if steps else None


def measure_between(latent, changes: int, wait) -> dict[str, float]:
    """The Interpolation tab: 8 frames between seeds 0 and 1, then its position slider."""
    from genplay.gui.panels.latent_interpolation import POSITIONS

    latent.tabs.setCurrentIndex(0)
    for end, seed in (("A", 0), ("B", 1)):
        latent.ends[end].source.setCurrentIndex(0)
        latent.ends[end].seed.setValue(seed)
    latent.frame_count.setValue(8)
    latent.frames = None
    quick: list[float] = []
    real_quick = latent._show_quick_frames
    latent._show_quick_frames = lambda frames: (real_quick(frames),
                                                quick.append(time.perf_counter()))
    start = time.perf_counter()
    latent.interpolate()
    wait(lambda: latent.frames is not None)
    strip_s = time.perf_counter() - start
    latent._show_quick_frames = real_quick
    wait(lambda: not latent.engine.is_busy())
    latent._play(False)  # held at the end, so the first move is a change
    latent._set_position_quietly(POSITIONS)
    latencies, previews, release_ms, steps = drag_latencies(
        latent.position, latent.between_decoder, latent.animation, changes, wait,
        span=50, step=POSITIONS // 50)
    return {"between_ms_p50": statistics.median(latencies),
            "between_ms_p95": percentile(latencies, 0.95), "between_preview": previews / changes,
            "between_preview_steps": steps,
            "between_release_ms": release_ms,
            "strip_quick_s": (quick[0] - start) if quick else None, "strip_s": strip_s}


def measure_sketch(window, info, wait, strokes: int = 5, moves: int = 25,
                   move_ms: int = 40) -> dict[str, Any]:
    """Strokes on the Sketch panel in Live mode (see the module docstring)."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    panel = window.sketch
    window.tabs.setCurrentIndex(window.panels.index(panel))
    wait(lambda: panel.facts is not None and panel.generate_button.isEnabled())
    panel.live.setChecked(True)
    panel.count.setValue(4)
    shown: list[float] = []
    real_show = panel.view.show_candidates

    def timed_show(images, tooltips=None):
        real_show(images, tooltips)
        panel.view.repaint()
        shown.append(time.perf_counter())

    panel.view.show_candidates = timed_show
    first, gaps, full = [], [], []
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    w, h = panel.canvas.width(), panel.canvas.height()
    try:
        for k in range(strokes):
            panel.canvas.clear()
            wait(lambda: not window.engine.is_busy())
            shown.clear()
            points = [QPoint(int(w * (0.25 + 0.5 * i / moves)),
                             int(h * (0.5 + 0.3 * ((-1) ** k) * (i / moves - 0.5))))
                      for i in range(moves + 1)]
            down = time.perf_counter()
            QTest.mousePress(panel.canvas, left, none, points[0])
            for point in points[1:]:
                QTest.mouseMove(panel.canvas, point)
                end = time.perf_counter() + move_ms / 1000
                wait(lambda end=end: time.perf_counter() >= end)
            during = list(shown)
            panel.images = None
            up = time.perf_counter()
            QTest.mouseRelease(panel.canvas, left, none, points[-1])
            wait(lambda: panel.images is not None)
            full.append(shown[-1] - up)
            if during:
                first.append(during[0] - down)
                gaps += [b - a for a, b in zip(during, during[1:])]
    finally:
        panel.view.show_candidates = real_show
    return {"sketch_method": panel.facts["method"], "sketch_model": panel.target().name
            if panel.target() else info.name,
            "sketch_first_ms": 1000 * statistics.median(first) if first else None,
            "sketch_gap_ms_p50": 1000 * statistics.median(gaps) if gaps else None,
            "sketch_gap_ms_p95": 1000 * percentile(gaps, 0.95) if gaps else None,
            "sketch_full_ms": 1000 * statistics.median(full)}


def steps_text(steps: float | None) -> str:
    return "-" if steps is None else f"{steps:g}"


def print_between(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'model':<24} {'between p50':>11} {'p95 ms':>7} {'preview':>8} {'steps':>5} "
          f"{'release ms':>10} {'strip quick s':>13} {'strip s':>8}")
    for r in rows:
        if "between_ms_p95" in r:
            quick = "-" if r["strip_quick_s"] is None else f"{r['strip_quick_s']:.2f}"
            print(f"{r['model']:<24} {r['between_ms_p50']:>11.2f} {r['between_ms_p95']:>7.2f} "
                  f"{r['between_preview']:>8.0%} {steps_text(r['between_preview_steps']):>5} "
                  f"{r['between_release_ms']:>10.1f} "
                  f"{quick:>13} {r['strip_s']:>8.2f}")


def print_sketch(rows: list[dict[str, Any]]) -> None:
    sketched = [r for r in rows if "sketch_full_ms" in r]
    if not sketched:
        return
    print(f"\n{'model':<24} {'sketch with':<40} {'first ms':>8} {'gap p50':>8} "
          f"{'gap p95':>8} {'full ms':>8}")

    def ms(value):
        return "-" if value is None else f"{value:.0f}"

    for r in sketched:
        how = f"{r['sketch_method']} ({r['sketch_model']})"
        print(f"{r['model']:<24} {how:<40} {ms(r['sketch_first_ms']):>8} "
              f"{ms(r['sketch_gap_ms_p50']):>8} {ms(r['sketch_gap_ms_p95']):>8} "
              f"{ms(r['sketch_full_ms']):>8}")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--json", default="benchmarks/results/gui_latency.json")
    parser.add_argument("--models", nargs="*", help="only these shipped models (by name)")
    parser.add_argument("--sketch", action="store_true",
                        help="also draw strokes in the Sketch panel (Live mode)")
    args = parser.parse_args()

    from genplay.gui.app import create_app
    from genplay.gui.app import process_events_until as _wait
    from genplay.gui.main_window import MainWindow

    startup = measure_startup()
    print(f"window shown after {statistics.median(startup):.2f} s "
          f"(median of {len(startup)} fresh processes; target 3 s)")
    _app = create_app()  # held: the QApplication must outlive the window
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.resize(1180, 760)
    window.show()
    _wait(lambda: bool(window.infos))
    rows = []
    latent = window.latent
    chosen = [i for i in window.infos if "latent" in i.capabilities
              and (not args.models or i.name in args.models)]
    for info in chosen:
        window.select_model(info.path)
        _wait(lambda: window.sampling.generate_button.isEnabled())
        window.tabs.setCurrentIndex(1)
        latent.tabs.setCurrentIndex(1)
        _wait(lambda: latent.directions is not None and latent.live.pixels() is not None)
        _wait(lambda: not window.engine.is_busy())
        latencies, previews, release_ms, steps = drag_latencies(
            latent.direction_sliders[0], latent.live_decoder, latent.live, args.changes,
            _wait, span=60, step=10)
        between = measure_between(latent, args.changes, _wait)
        sketch = measure_sketch(window, info, _wait) if args.sketch else {}

        window.tabs.setCurrentIndex(0)
        window.sampling.count.setValue(256)
        window.sampling.images = None
        with Heartbeat() as beat:
            start = time.perf_counter()
            window.sampling.generate()
            _wait(lambda: window.sampling.images is not None)
            grid_s = time.perf_counter() - start
        stall_grid = beat.longest
        image = RESOURCES / info.dataset / sorted(p.name for p in (RESOURCES / info.dataset)
                                                  .glob("*.png"))[0]
        window.tabs.setCurrentIndex(1)
        latent.tabs.setCurrentIndex(0)
        latent.ends["A"].latent = None
        with Heartbeat() as beat:
            start = time.perf_counter()
            latent.encode_endpoint("A", str(image))
            _wait(lambda: latent.ends["A"].latent is not None)
            encode_s = time.perf_counter() - start
        rows.append({
            "model": info.name, "family": info.family,
            "slider_ms_p50": statistics.median(latencies),
            "slider_ms_p95": percentile(latencies, 0.95),
            "preview": previews / args.changes, "preview_steps": steps,
            "release_ms": release_ms,
            "grid256_s": grid_s, "stall_ms_grid256": stall_grid,
            "encode_s": encode_s, "stall_ms_encode": beat.longest, **between, **sketch,
        })
    window.close()
    header = (f"{'model':<24} {'slider p50':>10} {'p95 ms':>7} {'preview':>8} {'steps':>5} "
              f"{'release ms':>10} {'grid256 s':>10} {'stall ms':>9} {'encode s':>9} "
              f"{'stall ms':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<24} {r['slider_ms_p50']:>10.2f} {r['slider_ms_p95']:>7.2f} "
              f"{r['preview']:>8.0%} {steps_text(r['preview_steps']):>5} "
              f"{r['release_ms']:>10.1f} "
              f"{r['grid256_s']:>10.2f} {r['stall_ms_grid256']:>9.1f} {r['encode_s']:>9.2f} "
              f"{r['stall_ms_encode']:>9.1f}")
    print_between(rows)
    print_sketch(rows)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.models and out.exists():  # the other models' rows stay
        measured = {r["model"] for r in rows}
        kept = [r for r in json.loads(out.read_text())["rows"] if r["model"] not in measured]
        rows = kept + rows
    out.write_text(json.dumps({"changes": args.changes, "startup_s": startup, "rows": rows,
                               "threads": torch_threads()}, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
