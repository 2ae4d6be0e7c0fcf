"""Renders the real main window off-screen and saves a screenshot of each panel.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--size WxH ...] [--all-sizes]
                                                            [--out docs/images] [--model NAME]
                                                            [--emoji]

Used for the README's pictures and to look at the app as a user sees it. Each size is a
fresh window with fresh settings (so the first picture is a first start). The README's
size, 1280x800, is written into --out itself (the README links those files); any other
size into a folder of its own, e.g. docs/images/1920x1080/.

With --emoji, the colour tour instead (the emoji checkpoints and the emoji dataset, which
`genplay data get emoji` fetches): Sampling asked for Food & Drink and enlarged to 64 px,
the Nearest training images of its first sample, the emoji GAN's sliders, a yellow circle
with two dots on the Sketch panel's palette, a test emoji enlarged by the emoji upscaler,
and the Outlier panel scoring test emoji beside a photo, garments, a doodle and two emoji
in EmojiOne's style, which no model trained on (where `genplay data get emojione` has
fetched it); each picture named *-emoji.png.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as scripts/screenshots.py
from benchmarks.common import DRAWINGS, SHAPES, draw_shape  # noqa: E402

README_SIZE = "1280x800"
DOC_SIZES = ("1280x800", "1920x1080")


def window_size(text: str) -> tuple[int, int]:
    """'1280x800' -> (1280, 800), for argparse."""
    match = re.fullmatch(r"(\d{3,5})[x×](\d{3,5})", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1280x800")
    return int(match[1]), int(match[2])


def folder_for(out: Path, size: tuple[int, int]) -> Path:
    name = f"{size[0]}x{size[1]}"
    return out if name == README_SIZE else out / name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/images")
    parser.add_argument("--size", type=window_size, nargs="+", default=[window_size(README_SIZE)],
                        metavar="WxH", help=f"window sizes (default {README_SIZE})")
    parser.add_argument("--all-sizes", action="store_true",
                        help=f"the documentation's sizes: {', '.join(DOC_SIZES)}")
    parser.add_argument("--training-family", default="vae",
                        help="the run the Training picture shows ('' for none)")
    parser.add_argument("--training-data", default="fashion-mnist")
    parser.add_argument("--model", default="gan-fashion-mnist")
    parser.add_argument("--image-a",
                        default="resources/samples/fashion-mnist/9-ankle-boot-test0000.png")
    parser.add_argument("--image-b",
                        default="resources/samples/fashion-mnist/0-t-shirt-top-test0019.png")
    parser.add_argument("--sketch-model", default="diffusion-fashion-mnist")
    parser.add_argument("--sketch-shape", choices=sorted(SHAPES), default="t-shirt")
    parser.add_argument("--superres-model", default="diffusion-mnist")
    parser.add_argument("--superres-method", default="diffusion",
                        choices=["net", "diffusion", "photo", "bicubic"])
    parser.add_argument("--superres-image", default="resources/samples/mnist/3-3-test0011.png")
    parser.add_argument("--outlier-model", default="pixelcnn-fashion-mnist")
    parser.add_argument("--score-folders", nargs="+", help="folders for the Outlier panel",
                        default=["resources/samples/fashion-mnist", "resources/samples/mnist"])
    parser.add_argument("--emoji", action="store_true", help="the colour tour (see above)")
    args = parser.parse_args()
    sizes = [window_size(s) for s in DOC_SIZES] if args.all_sizes else args.size

    from genplay.gui.app import create_app

    app = create_app()
    for size in sizes:
        out = folder_for(Path(args.out), size)
        out.mkdir(parents=True, exist_ok=True)
        (render_emoji if args.emoji else render)(app, args, size, out)
        print(f"screenshots at {size[0]}x{size[1]} in {out}")


# Each step's wait: on a 2-core AVX2 CPU the nearest-images features of the emoji training
# split took over the app's usual 120 s.
WAIT_S = 600.0


def open_window(app, size: tuple[int, int]):
    """A fresh main window with fresh settings, and a wait(condition) that lets it work."""
    from genplay.gui.app import process_events_until
    from genplay.gui.main_window import MainWindow

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.resize(*size)
    window.show()

    def wait(condition):
        process_events_until(condition, timeout_s=WAIT_S, poll_s=0.01)
        for _ in range(20):  # let layouts and repaints settle before the grab
            app.processEvents()

    wait(lambda: bool(window.infos))
    return window, wait


def render(app, args, size: tuple[int, int], out: Path) -> None:
    window, wait = open_window(app, size)
    wait(lambda: window.current is not None and window.sampling.generate_button.isEnabled())
    window.grab().save(str(out / "first-start.png"))  # the model a first start picks
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
    if args.training_family:
        train(window, args, out, wait)
    window.close()


def emoji_files(folder: Path) -> tuple[Path, Path]:
    """A few test emoji as PNG files in folder/emoji, and a folder of what is not emoji
    (the photos and garments of resources/samples, and a doodle drawn dark on white)
    with two emoji of the unseen EmojiOne style where that dataset is here."""
    from PIL import Image, ImageDraw

    from genplay.core.data import load_dataset
    from genplay.core.errors import DatasetError

    test = load_dataset("emoji", "test", size=64, channels=3)
    emoji, others = folder / "emoji", folder / "not-emoji"
    emoji.mkdir(parents=True)
    others.mkdir()
    for k in range(0, len(test.images), len(test.images) // 8)[:8]:
        Image.fromarray(test.images[k].permute(1, 2, 0).numpy()).save(emoji / f"test{k:04d}.png")
    for sample in ("photos/chelsea-120x90.png", "photos/coffee-150x100.png",
                   "fashion-mnist/7-sneaker-test0009.png", "fashion-mnist/8-bag-test0018.png"):
        path = Path("resources/samples") / sample
        (others / path.name).write_bytes(path.read_bytes())
    doodle = Image.new("RGB", (200, 200), "white")
    pen = ImageDraw.Draw(doodle)
    pen.line([(30, 150), (70, 40), (110, 150), (150, 40), (180, 120)], fill="black", width=6)
    doodle.save(others / "doodle.png")
    try:
        unseen = load_dataset("emojione", "test", size=64, channels=3)
    except DatasetError as exc:
        print(f"no EmojiOne pictures: {exc}", file=sys.stderr)
    else:
        for k in (0, 1):
            Image.fromarray(unseen.images[k].permute(1, 2, 0).numpy()).save(
                others / f"emojione{k:04d}.png")
    return emoji, others


def render_emoji(app, args, size: tuple[int, int], out: Path) -> None:
    window, wait = open_window(app, size)

    def pick(name):
        window.select_model(next(i.path for i in window.infos if i.name == name))
        wait(lambda: window.current is not None and window.current.name == name)

    emoji, others = emoji_files(Path(tempfile.mkdtemp()))
    pick("diffusion-emoji-32")
    sampling = window.sampling
    wait(lambda: sampling.generate_button.isEnabled())
    sampling._option_boxes["class"].setCurrentText("Food & Drink")
    sampling._option_boxes["guidance"].setValue(3.0)
    sampling.count.setValue(24)
    sampling.generate()
    wait(lambda: sampling.images is not None and not window.engine.is_busy())
    window.grab().save(str(out / "sampling-emoji.png"))
    # is the first sample new or a near-copy? (its right-click menu's Nearest training images)
    sampling.show_nearest(0)
    wait(lambda: sampling.dialog is not None and "features" in sampling.dialog.views
         and not window.engine.is_busy())
    sampling.dialog.grab().save(str(out / "nearest-emoji.png"))
    sampling.dialog.close()

    pick("gan-emoji-64")
    latent = window.latent
    window.tabs.setCurrentIndex(window.panels.index(latent))
    latent.tabs.setCurrentIndex(1)
    wait(lambda: latent.directions is not None and latent.live.pixels() is not None)
    latent.base_seed.setValue(57)  # a face (the emoji classifier's pick of seeds 0-59)
    wait(lambda: not window.engine.is_busy())
    latent.direction_sliders[1].setValue(100)  # its mouth opens
    wait(lambda: not window.engine.is_busy())
    window.grab().save(str(out / "sliders-emoji.png"))

    pick("sketch-diffusion-emoji-32")
    sketch = window.sketch
    window.tabs.setCurrentIndex(window.panels.index(sketch))
    wait(lambda: sketch.facts is not None)
    sketch.live.setChecked(True)
    sketch.count.setValue(6)
    draw_shape(sketch.canvas, DRAWINGS["emoji"]["Smileys & Emotion"])
    sketch.choose_ink("Yellow")  # the ink last used, as after drawing the dots
    wait(lambda: sketch.images is not None and not window.engine.is_busy())
    window.grab().save(str(out / "sketch-emoji.png"))

    pick("superres-emoji")
    superres = window.superres
    window.tabs.setCurrentIndex(window.panels.index(superres))
    wait(lambda: superres.facts is not None and superres.method_names is not None)
    superres.simulate.setChecked(True)
    superres.load_file(str(next(emoji.glob("*.png"))))
    wait(lambda: superres.source is not None)
    superres.upscale()
    wait(lambda: superres.result is not None and not window.engine.is_busy())
    window.grab().save(str(out / "superres-emoji.png"))

    pick("pixelcnn-emoji-32")
    outliers = window.outliers
    window.tabs.setCurrentIndex(window.panels.index(outliers))
    wait(lambda: outliers.facts is not None)
    outliers.add_paths([str(emoji), str(others)])
    wait(lambda: not outliers._jobs and len(outliers.table_model.files) > 0)
    outliers.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    outliers.table.selectRow(0)
    wait(lambda: outliers.heat is not None or not outliers.facts["pixel_note"])
    window.grab().save(str(out / "outliers-emoji.png"))
    # the same images by the distance to the nearest training emoji in the classifier's
    # features (the model opens on its bits profile)
    outliers.method.setCurrentIndex(outliers.method.findText("Feature distance"))
    outliers.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    outliers.table.selectRow(0)
    wait(lambda: outliers.heat is not None or not outliers.facts["pixel_note"])
    window.grab().save(str(out / "outliers-emoji-features.png"))
    window.close()


def train(window, args, out: Path, wait) -> None:
    """A short run of the Training panel, grabbed once its samples and curves show."""
    training = window.training
    window.tabs.setCurrentIndex(window.panels.index(training))
    training.set_output_root(Path(tempfile.mkdtemp()))
    wait(lambda: training.family_combo.findText(args.training_family) >= 0
         and training.dataset_combo.findText(args.training_data) >= 0)
    training.family_combo.setCurrentText(args.training_family)
    training.dataset_combo.setCurrentText(args.training_data)
    training.budget_unit.setCurrentText("minutes")
    training.budget_spin.setValue(2)
    if not training.start():
        print(f"training did not start: {window.messages.text()}")
        return
    started = time.monotonic()
    wait(lambda: training.samples_view.pixels() is not None
         and time.monotonic() - started > 25 or not training.is_running())
    window.grab().save(str(out / "training.png"))
    training.stop()
    wait(lambda: not training.is_running())


if __name__ == "__main__":
    main()
