"""How the app feels on a real-sized opened model: a diffusers pipeline of 256x256 images.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.large_model [--pipeline FOLDER]
        [--json benchmarks/results/large_model.json]

Without --pipeline it builds a random pipeline of the google/ddpm-*-256 block layout with
narrow widths (benchmarks/diffusers_model.py): its images and previews are 256x256 like
the real ones, its network about 25 times cheaper. In the real main window, with a 5 ms
heartbeat timer on the UI thread (benchmarks/gui_latency.Heartbeat), it measures:
- sampling 4 images: the time to the first step preview, the whole run, and the longest
  UI stall while previews of 4 256x256 images arrive after every step;
- cancel: from Cancel pressed during sampling to the job's end (one network evaluation
  at most: the loop stops at its next step);
- SDEdit of a drawing in the Sketch panel: the whole run and the longest stall.
Target (issue 20): stall under 50 ms, previews while it works, cancel within one step.
On a GPU, the network runs in bf16/fp16 (diffusers_unet.half_precision).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings

from benchmarks.common import report
from benchmarks.gui_latency import Heartbeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", help="a diffusers pipeline folder (default: a random "
                                           "256x256 one built here)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", default="benchmarks/results/large_model.json")
    args = parser.parse_args()

    from genplay.gui.app import create_app
    from genplay.gui.app import process_events_until as wait
    from genplay.gui.main_window import MainWindow

    root = Path(tempfile.mkdtemp())
    if args.pipeline:
        folder = Path(args.pipeline)
    else:
        from benchmarks.diffusers_model import build

        folder = build(root / "random-ddpm-256")
    _app = create_app()  # held: the QApplication must outlive the window
    (root / "none").mkdir()
    settings = QSettings(str(root / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(checkpoint_dirs=[root / "none"], settings=settings)
    window.resize(1280, 800)
    window.show()
    window.open_checkpoint(folder)
    wait(lambda: window.current is not None, timeout_s=120)
    sampling = window.sampling
    wait(sampling.generate_button.isEnabled, timeout_s=600)
    row: dict[str, float | str] = {"model": folder.name, "device": window.engine.device,
                                   "architecture": window.current.architecture}

    previews: list[float] = []
    original = sampling._show_preview

    def timed_preview(images):
        previews.append(time.perf_counter())
        original(images)

    sampling._show_preview = timed_preview
    sampling.count.setValue(4)
    sampling.set_options({"sampler": "ddim", "steps": args.steps})
    sampling.images = None
    with Heartbeat() as beat:
        start = time.perf_counter()
        sampling.generate()
        wait(lambda: sampling.images is not None, timeout_s=1800)
        row["sample4_s"] = time.perf_counter() - start
    row["sample4_first_preview_s"] = previews[0] - start if previews else float("nan")
    row["sample4_previews"] = len(previews)
    row["stall_ms_sample4"] = beat.longest

    # cancel while sampling: from the click to the job's end
    previews.clear()
    sampling.generate()
    wait(lambda: bool(previews), timeout_s=600)
    with Heartbeat() as beat:
        start = time.perf_counter()
        sampling.jobs.cancel_button.click()
        wait(lambda: sampling.generate_button.isEnabled(), timeout_s=600)
        row["cancel_s"] = time.perf_counter() - start
    row["stall_ms_cancel"] = beat.longest
    sampling._show_preview = original

    # SDEdit of a drawing
    sketch = window.sketch
    wait(lambda: sketch.facts is not None, timeout_s=600)
    drawing = np.zeros((64, 64), np.uint8)
    drawing[16:48, 28:36] = 255  # a bar
    sketch.canvas.load_image(drawing)
    sketch.steps.setValue(args.steps)
    with Heartbeat() as beat:
        start = time.perf_counter()
        sketch.images = None
        sketch.generate()
        wait(lambda: sketch.images is not None, timeout_s=1800)
        row["sketch_s"] = time.perf_counter() - start
    row["stall_ms_sketch"] = beat.longest
    window.close()

    text = "\n".join(f"{key:<26} {value:.3f}" if isinstance(value, float)
                     else f"{key:<26} {value}" for key, value in row.items())
    report(row, text, args.json)


if __name__ == "__main__":
    main()
