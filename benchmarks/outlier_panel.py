"""The Outlier panel with many files: speed, UI stalls, memory, and what it flags.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.outlier_panel [--model vae-fashion-mnist]
        [--images 10000]

Writes --images PNG files into a temporary folder, half from the test split of the
model's own dataset and half from the other dataset (Fashion-MNIST <-> MNIST; the
MNIST test split is cycled when it is shorter), adds the folder to the Outlier panel
of the real main window, and measures:
- seconds until every file is scored, and files/s (finding, loading, scoring, table);
- the longest UI stall while that runs (a 5 ms heartbeat on the UI thread);
- the process's resident memory before and after, and its peak;
- sorting the table by score, and moving the threshold line (ms per move);
- the share of each half flagged at the panel's default 5 % false-positive rate: the
  user's view of the model's outlier detection.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSettings, Qt

OTHER = {"fashion-mnist": "mnist", "mnist": "fashion-mnist"}


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def write_images(folder: Path, dataset: str, count: int, data_root: str | None) -> list[str]:
    from genplay.core.data import load_dataset

    data = load_dataset(dataset, "test", size=28, channels=1, root=data_root)
    pixels = data.images.numpy()  # uint8 (N, 1, 28, 28)
    names = []
    for i in range(count):
        name = folder / f"{dataset}-{i:05d}.png"
        Image.fromarray(np.asarray(pixels[i % len(pixels)]).reshape(28, 28)).save(name)
        names.append(str(name))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vae-fashion-mnist")
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--data-root")
    parser.add_argument("--json", default="benchmarks/results/outlier_panel.json")
    args = parser.parse_args()

    from benchmarks.gui_latency import Heartbeat
    from genplay.gui.app import create_app
    from genplay.gui.app import process_events_until as wait
    from genplay.gui.main_window import MainWindow

    _app = create_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.resize(1180, 760)
    window.show()
    wait(lambda: bool(window.infos))
    info = next(i for i in window.infos if i.name == args.model)
    window.select_model(info.path)
    panel = window.outliers
    window.tabs.setCurrentIndex(window.panels.index(panel))
    wait(lambda: panel.facts is not None)
    panel.fpr.setValue(5.0)

    folder = Path(tempfile.mkdtemp(prefix="genplay-outliers-"))
    inliers = write_images(folder, info.dataset, args.images // 2, args.data_root)
    outliers = write_images(folder, OTHER[info.dataset], args.images - len(inliers),
                            args.data_root)
    before = rss_mb()
    with Heartbeat() as beat:
        start = time.perf_counter()
        panel.add_paths([str(folder)])
        wait(lambda: not panel._jobs)
        seconds = time.perf_counter() - start
    after = rss_mb()
    model = panel.table_model
    assert len(model.files) == args.images, len(model.files)

    start = time.perf_counter()
    panel.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    wait(lambda: True)
    sort_ms = (time.perf_counter() - start) * 1000
    scores = model.current_scores()
    lo, hi = np.nanpercentile(scores, [5, 95])
    moves = []
    for value in np.linspace(lo, hi, 40):
        start = time.perf_counter()
        panel.histogram.line.setValue(float(value))
        window.repaint()
        moves.append((time.perf_counter() - start) * 1000)
    panel.fpr.setValue(5.0)
    flagged = dict(zip(model.files, model.flagged(), strict=True))
    share_in = float(np.mean([flagged[f] for f in inliers]))
    share_out = float(np.mean([flagged[f] for f in outliers]))
    row = {
        "model": info.name, "method": panel.current_method(), "images": args.images,
        "seconds": seconds, "files_per_s": args.images / seconds,
        "longest_stall_ms": beat.longest, "rss_mb_before": before, "rss_mb_after": after,
        "rss_mb_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
        "sort_ms": sort_ms, "threshold_move_ms_median": statistics.median(moves),
        "threshold_move_ms_max": max(moves), "fpr": 0.05,
        f"flagged_{info.dataset}": share_in, f"flagged_{OTHER[info.dataset]}": share_out,
    }
    window.close()
    for name in inliers + outliers:
        os.unlink(name)
    os.rmdir(folder)
    print(f"{info.name}, {panel.current_method()} score, {args.images} files "
          f"({len(inliers)} {info.dataset}, {len(outliers)} {OTHER[info.dataset]})")
    print(f"scored in {seconds:.1f} s ({row['files_per_s']:.0f} files/s); longest UI stall "
          f"{beat.longest:.1f} ms")
    print(f"memory: {before:.0f} MB before, {after:.0f} MB after, peak {row['rss_mb_peak']:.0f} MB")
    print(f"sort by score {sort_ms:.1f} ms; threshold move median "
          f"{row['threshold_move_ms_median']:.1f} ms, max {row['threshold_move_ms_max']:.1f} ms")
    print(f"flagged at 5% FPR: {share_in:.1%} of {info.dataset}, {share_out:.1%} of "
          f"{OTHER[info.dataset]}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
