"""How the app feels: slider-to-image latency and the longest UI stall during long jobs.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.gui_latency [--changes 200]

For every shipped model with a latent space, in the real main window on this
machine's CPU:
- slider latency: a principal-direction slider is dragged (held down and moved); the
  time until the new image is painted in the view (set_image + a synchronous
  repaint), p50/p95 over N changes, each waited for before the next. A model whose
  full decode is slow (diffusion) paints quick previews while the slider is held
  ("preview" says so); letting go paints the full image, timed as "release";
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


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--json", default="benchmarks/results/gui_latency.json")
    parser.add_argument("--models", nargs="*", help="only these shipped models (by name)")
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
    painted: list[float] = []
    original = latent.live.set_image

    def timed_set_image(pixels):
        original(pixels)
        latent.live.repaint()
        painted.append(time.perf_counter())

    chosen = [i for i in window.infos if "latent" in i.capabilities
              and (not args.models or i.name in args.models)]
    for info in chosen:
        window.select_model(info.path)
        _wait(lambda: window.sampling.generate_button.isEnabled())
        window.tabs.setCurrentIndex(1)
        latent.tabs.setCurrentIndex(1)
        _wait(lambda: latent.directions is not None and latent.live.pixels() is not None)
        _wait(lambda: not window.engine.is_busy())
        latent.live.set_image = timed_set_image
        slider = latent.direction_sliders[0]
        latencies = []
        previews = 0
        slider.setSliderDown(True)  # held, as under the mouse: a slow decoder previews
        for i in range(args.changes):
            painted.clear()
            start = time.perf_counter()
            slider.setValue((i % 60 - 30) * 10)
            _wait(lambda: bool(painted))
            latencies.append((painted[0] - start) * 1000)
            previews += latent.live_decoder.showing_preview
            _wait(lambda: not latent.live_decoder.busy())
        painted.clear()
        start = time.perf_counter()
        slider.setSliderDown(False)  # let go: the full image where previews were shown
        if previews:
            _wait(lambda: bool(painted) and not latent.live_decoder.showing_preview)
        release_ms = (painted[-1] - start) * 1000 if painted else 0.0
        latent.live.set_image = original

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
            "preview": previews / args.changes, "release_ms": release_ms,
            "grid256_s": grid_s, "stall_ms_grid256": stall_grid,
            "encode_s": encode_s, "stall_ms_encode": beat.longest,
        })
    window.close()
    header = (f"{'model':<24} {'slider p50':>10} {'p95 ms':>7} {'preview':>8} "
              f"{'release ms':>10} {'grid256 s':>10} {'stall ms':>9} {'encode s':>9} "
              f"{'stall ms':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<24} {r['slider_ms_p50']:>10.2f} {r['slider_ms_p95']:>7.2f} "
              f"{r['preview']:>8.0%} {r['release_ms']:>10.1f} "
              f"{r['grid256_s']:>10.2f} {r['stall_ms_grid256']:>9.1f} {r['encode_s']:>9.2f} "
              f"{r['stall_ms_encode']:>9.1f}")
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
