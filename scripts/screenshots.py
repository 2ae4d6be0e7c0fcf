"""Renders the real main window off-screen and saves a screenshot of each panel.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--out docs/images] [--model NAME]

Used for the README's pictures and to look at the app as a user sees it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as scripts/screenshots.py
from benchmarks.common import SHAPES, draw_shape  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/images")
    parser.add_argument("--model", default="vae-fashion-mnist")
    parser.add_argument("--image-a",
                        default="resources/samples/fashion-mnist/9-ankle-boot-test0000.png")
    parser.add_argument("--image-b",
                        default="resources/samples/fashion-mnist/0-t-shirt-top-test0019.png")
    parser.add_argument("--sketch-model", default="diffusion-mnist")
    parser.add_argument("--sketch-shape", choices=sorted(SHAPES), default="three")
    parser.add_argument("--superres-model", default="diffusion-mnist")
    parser.add_argument("--superres-method", default="diffusion",
                        choices=["net", "diffusion", "photo", "bicubic"])
    parser.add_argument("--superres-image", default="resources/samples/mnist/3-3-test0011.png")
    parser.add_argument("--outlier-model", default="pixelcnn-fashion-mnist")
    parser.add_argument("--score-folders", nargs="+", help="folders for the Outlier panel",
                        default=["resources/samples/fashion-mnist", "resources/samples/mnist"])
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from genplay.gui.app import create_app, process_events_until
    from genplay.gui.main_window import MainWindow

    app = create_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.resize(1180, 760)
    window.show()

    def wait(condition):
        process_events_until(condition, poll_s=0.01)
        for _ in range(20):  # let layouts and repaints settle before the grab
            app.processEvents()

    wait(lambda: bool(window.infos))
    window.select_model(next(i.path for i in window.infos if i.name == args.model))
    wait(lambda: window.sampling.generate_button.isEnabled())
    window.sampling.count.setValue(64)
    window.sampling.generate()
    wait(lambda: window.sampling.images is not None)
    window.grab().save(str(out / "sampling.png"))

    window.tabs.setCurrentIndex(1)
    latent = window.latent
    latent.encode_endpoint("A", args.image_a)
    latent.encode_endpoint("B", args.image_b)
    wait(lambda: latent.ends["A"].latent is not None and latent.ends["B"].latent is not None)
    latent.frame_count.setValue(10)
    latent.interpolate()
    wait(lambda: latent.frames is not None)
    window.grab().save(str(out / "interpolation.png"))
    latent.tabs.setCurrentIndex(1)
    wait(lambda: latent.directions is not None and latent.live.pixels() is not None)
    latent.direction_sliders[0].setValue(150)
    latent.direction_sliders[1].setValue(-100)
    wait(lambda: not window.engine.is_busy())
    window.grab().save(str(out / "sliders.png"))

    window.select_model(next(i.path for i in window.infos if i.name == args.sketch_model))
    sketch = window.sketch
    window.tabs.setCurrentIndex(window.panels.index(sketch))
    wait(lambda: sketch.facts is not None)
    sketch.live.setChecked(True)
    draw_shape(sketch.canvas, SHAPES[args.sketch_shape])
    wait(lambda: sketch.images is not None and not window.engine.is_busy())
    window.grab().save(str(out / "sketch.png"))

    window.select_model(next(i.path for i in window.infos if i.name == args.superres_model))
    superres = window.superres
    window.tabs.setCurrentIndex(window.panels.index(superres))
    wait(lambda: superres.facts is not None and superres.method_names is not None)
    superres.simulate.setChecked(True)
    if not superres.set_method(args.superres_method):
        raise SystemExit(f"{args.superres_model} cannot upscale by {args.superres_method}")
    superres.load_file(args.superres_image)
    wait(lambda: superres.source is not None)
    superres.upscale()
    wait(lambda: superres.result is not None and not window.engine.is_busy())
    superres.select(min(1, len(superres.result["images"]) - 1))  # shows that one can choose
    wait(lambda: True)
    window.grab().save(str(out / "superres.png"))

    window.select_model(next(i.path for i in window.infos if i.name == args.outlier_model))
    window.tabs.setCurrentIndex(window.panels.index(window.outliers))
    outliers = window.outliers
    wait(lambda: outliers.facts is not None)
    outliers.add_paths(args.score_folders)
    wait(lambda: not outliers._jobs and len(outliers.table_model.files) > 0)
    outliers.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    outliers.table.selectRow(0)
    wait(lambda: outliers.heat is not None or not outliers.facts["pixel_note"])
    window.grab().save(str(out / "outliers.png"))
    window.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
