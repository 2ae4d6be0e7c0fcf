"""How the Sketch panel feels: from lifting the pen to seeing candidates.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.sketch_latency [--repeats 5]
        [--models diffusion-mnist vae-mnist ...] [--dir checkpoints]
        [--json benchmarks/results/sketch_latency.json]

In the real main window on this machine's CPU, for every shipped model the Sketch
panel serves (or those named): a shape is drawn on the canvas with simulated mouse
drags, Live mode on. Measured per candidate count (1, 4, 16):
- pen-up to candidates: from the release of the last stroke to the candidates being
  shown; it includes Live's pause (350 ms), which waits to see if the user draws on;
- generation: the engine's part alone (Generate pressed, candidates shown);
- stall: the longest gap of a 5 ms UI heartbeat while the candidates are made, the
  worst freeze a user drawing at that moment would feel.
Median over --repeats runs; each run uses a new seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings

from benchmarks.common import SHAPES, draw_shape
from benchmarks.gui_latency import Heartbeat

COUNTS = (1, 4, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="*", help="checkpoint names (default: all)")
    parser.add_argument("--dir", help="checkpoint folder (default: the shipped checkpoints/)")
    parser.add_argument("--json", default="benchmarks/results/sketch_latency.json")
    args = parser.parse_args()

    from genplay.gui.app import create_app
    from genplay.gui.app import process_events_until as _wait
    from genplay.gui.main_window import MainWindow

    _app = create_app()  # held: the QApplication must outlive the window
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(checkpoint_dirs=[Path(args.dir)] if args.dir else None,
                        settings=settings)
    window.resize(1180, 760)
    window.show()
    _wait(lambda: bool(window.infos))
    panel = window.sketch
    infos = [i for i in window.infos if panel.accepts(i.capabilities)
             and (not args.models or i.name in args.models)]
    rows = []
    for info in sorted(infos, key=lambda i: i.name):
        window.select_model(info.path)
        window.tabs.setCurrentIndex(window.panels.index(panel))
        _wait(lambda path=info.path: panel.facts is not None and panel.info.path == path)
        _wait(lambda: not window.engine.is_busy())
        shape = SHAPES["three" if info.dataset == "mnist" else "shirt"]
        for count in COUNTS:
            panel.count.setValue(count)
            pen_up, generation, stalls = [], [], []
            for repeat in range(args.repeats):
                panel.seed.setValue(repeat)
                panel.live.setChecked(True)
                panel.canvas.clear()
                _wait(lambda: not window.engine.is_busy())
                panel.live_timer.stop()
                panel.images = None
                draw_shape(panel.canvas, shape)
                released = time.perf_counter()
                _wait(lambda: panel.images is not None)
                pen_up.append(time.perf_counter() - released)
                panel.images = None
                panel.live.setChecked(False)
                with Heartbeat() as beat:
                    start = time.perf_counter()
                    panel.generate()
                    _wait(lambda: panel.images is not None)
                    generation.append(time.perf_counter() - start)
                stalls.append(beat.longest)
            rows.append({"model": info.name, "family": info.family,
                         "method": panel.facts["method"], "candidates": count,
                         "steps": panel.steps.value(), "strength": panel.strength.value() / 100,
                         "pen_up_to_candidates_s": statistics.median(pen_up),
                         "generation_s": statistics.median(generation),
                         "stall_ms_max": max(stalls)})
            r = rows[-1]
            print(f"{r['model']:<22} {r['method']:<7} {count:>3} candidates: pen-up to images "
                  f"{r['pen_up_to_candidates_s']:.2f} s, generation {r['generation_s']:.2f} s, "
                  f"worst stall {r['stall_ms_max']:.0f} ms", flush=True)
    window.close()
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
