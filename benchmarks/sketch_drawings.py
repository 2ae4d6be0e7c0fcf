"""What a new user gets from a few strokes: drawings made with the mouse, read back.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.sketch_drawings --data fashion-mnist
        [--sketch-model checkpoints/sketch-diffusion-DATA[-32]] [--seeds 5] [--threads 1]
        [--json benchmarks/results/sketch-drawings-DATA.json]
        [--sheet docs/images/sketch-drawings-DATA.png] [--class-guidance 1]

Each drawing of benchmarks/common.py DRAWINGS (a T-shirt, a pullover, a sneaker, a
handbag ... as a handful of strokes; digits for MNIST; for emoji, coloured shapes in the
palette's inks: a yellow circle with two dots, a green tree, a red apple ...) is drawn
with simulated mouse drags on the Sketch panel's own canvas widget, averaged down to the
model's size as the panel does, and given to the sketch model as the panel gives it at
pen-up: 4 candidates at the model's default steps and sketch guidance, no class chosen
(with `--class-guidance`, the class meant asked for as the panel's Class does), once per
seed. The dataset's feature classifier then says what each candidate is. Per drawing: the
share of candidates read as the class meant, what the others were read as, and the
median seconds for 4 candidates on this run's threads. `--sheet` draws each drawing beside
its first seeds' candidates (PNG), what a user would see.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import DRAWINGS, draw_shape, report
from genplay import __version__
from genplay.core import checkpoints, runtime
from genplay.core.checkpoints import find_feature_net
from genplay.core.events import final_value
from genplay.core.models.features import at_size
from genplay.core.ops.sketch import sketch_canvas

CANDIDATES = 4  # what the Sketch panel makes at pen-up by default


def drawn_pixels(strokes: list, model_size: int, colour: bool = False) -> np.ndarray:
    """The drawing as the Sketch panel hands it on: mouse drags on its canvas widget,
    area-averaged to the model's size (uint8 (H, W), light on dark; (H, W, 3) on the
    colour canvas of a colour model)."""
    from genplay.gui.app import create_app
    from genplay.gui.widgets.sketch_canvas import SketchCanvas

    _app = create_app()  # noqa: F841  (the QApplication must exist for the widget)
    canvas = SketchCanvas(model_size=model_size)
    canvas.set_colour(colour)
    canvas.resize(282, 282)  # 280 px of image inside a 1 px frame: one pixel per pixel
    canvas.show()
    draw_shape(canvas, strokes)
    pixels = canvas.image_array()
    canvas.close()
    return pixels


@torch.no_grad()
def read_back(model: Any, classifier: Any, class_names: list[str], pixels: np.ndarray,
              seeds: int, classifier_size: int, options: dict[str, Any]
              ) -> tuple[list[str], list[float], np.ndarray]:
    """(the classes read for every candidate, seconds per pen-up, the candidates); the
    classifier sees them at its own size."""
    final_value(sketch_canvas(model, pixels, 1, 0, 0.0, options))  # warm up
    reads, seconds, made = [], [], []
    for seed in range(seeds):
        start = time.perf_counter()
        images = final_value(sketch_canvas(model, pixels, CANDIDATES, seed, 0.0, options))
        seconds.append(time.perf_counter() - start)
        made.append(images)
        x = at_size(torch.from_numpy(images), classifier_size)
        predicted = classifier(x).argmax(dim=1).tolist()
        reads += [class_names[k] for k in predicted]
    return reads, seconds, np.concatenate(made)


def sheet(rows: list[tuple[str, np.ndarray, np.ndarray, list[str]]], path: str | Path,
          shown: int = 8, scale: int = 3) -> None:
    """Each drawing, then its first `shown` candidates, each with what it was read as."""
    from PIL import Image, ImageDraw, ImageFont

    size = rows[0][1].shape[0] * scale
    label_w, pad, text_h = 110, 6, 14
    w = label_w + (shown + 1) * (size + pad) + pad + 10
    h = pad + len(rows) * (size + text_h + pad)
    image = Image.new("RGB", (w, h), "white")
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=11)

    def tile(a: np.ndarray) -> Image.Image:
        """A uint8 (H, W[, 3]) drawing or a float (C, H, W) candidate, enlarged."""
        if a.dtype != np.uint8:
            a = np.clip(np.rint(np.moveaxis(a, 0, -1) * 255), 0, 255).astype(np.uint8)
        a = a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a
        return Image.fromarray(a).resize((size, size), Image.Resampling.NEAREST)

    for r, (meant, pixels, candidates, reads) in enumerate(rows):
        y = pad + r * (size + text_h + pad)
        pen.text((pad, y + size / 2), meant, "black", font, anchor="lm")
        image.paste(tile(pixels), (label_w, y))
        pen.text((label_w + size / 2, y + size + 1), "drawn", (90, 90, 90), font, anchor="mt")
        for k in range(min(shown, len(candidates))):
            x = label_w + (k + 1) * (size + pad) + 10
            image.paste(tile(candidates[k]), (x, y))
            colour = (0, 120, 0) if reads[k] == meant else (190, 0, 0)
            pen.text((x + size / 2, y + size + 1), reads[k], colour, font, anchor="mt")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, choices=sorted(DRAWINGS))
    parser.add_argument("--sketch-model",
                        help="default the shipped checkpoints/sketch-diffusion-DATA[-SIZE]")
    parser.add_argument("--classifier", help="default the dataset's shipped classifier")
    parser.add_argument("--seeds", type=int, default=5, help="pen-ups per drawing")
    parser.add_argument("--class-guidance", type=float,
                        help="ask for the class meant too (the panel's Class), this strong")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    parser.add_argument("--sheet", help="a PNG of the drawings and their candidates")
    args = parser.parse_args(argv)
    threads = runtime.set_threads(args.threads)
    shipped = checkpoints.default_checkpoint_dir()
    default = min(shipped.glob(f"sketch-diffusion-{args.data}*"), default=None)
    model, info = checkpoints.load(args.sketch_model or default
                                   or shipped / f"sketch-diffusion-{args.data}")
    if info.condition_method != "sketch":
        raise SystemExit(f"{info.name} is not a sketch-conditioned model")
    net_path = args.classifier or find_feature_net(args.data, info.path.parent)
    if net_path is None:
        raise SystemExit(f"no classifier for {args.data} to read the candidates with")
    classifier, net_info = checkpoints.load(net_path)
    names = list(net_info.class_names)
    drawings = DRAWINGS[args.data]
    unknown = sorted(set(drawings) - set(names))
    if unknown:
        raise SystemExit(f"{net_info.name} has no class {unknown[0]!r}")
    size = info.image_shape[1]
    result: dict[str, Any] = {
        "data": args.data, "sketch_model": info.name,
        "sketch_model_hash": checkpoints.weights_hash(info.path),
        "classifier": net_info.name, "candidates": CANDIDATES, "seeds": args.seeds,
        "steps": model.condition_default_steps,
        "sketch_guidance": model.default_sketch_guidance,
        "class_guidance": args.class_guidance, "threads": threads,
        "genplay_version": __version__, "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(), "rows": []}
    pictures = []
    for meant, strokes in drawings.items():
        pixels = drawn_pixels(strokes, size, colour=info.image_shape[0] == 3)
        options = ({} if args.class_guidance is None else
                   {"class": meant, "guidance": args.class_guidance})
        reads, seconds, made = read_back(model, classifier, names, pixels, args.seeds,
                                         net_info.image_shape[1], options)
        others = Counter(r for r in reads if r != meant)
        result["rows"].append({"drawn": meant, "read_as_meant": reads.count(meant) / len(reads),
                               "candidates": len(reads), "others": dict(others),
                               "median_seconds": statistics.median(seconds)})
        pictures.append((meant, pixels, made, reads))
    rows = result["rows"]
    result["read_as_meant"] = float(np.mean([r["read_as_meant"] for r in rows]))
    lines = [f"# A few strokes, read back — {args.data} ({info.name}, {CANDIDATES} candidates "
             f"x {args.seeds} seeds per drawing, {result['steps']} steps, sketch guidance "
             f"{result['sketch_guidance']:g}, "
             + ("no class chosen" if args.class_guidance is None else
                f"the class meant asked for at guidance {args.class_guidance:g}")
             + f", {threads} thread"
             f"{'' if threads == 1 else 's'})", "",
             "| drawn | read as meant | read otherwise | s per pen-up |", "|---|---|---|---|"]
    for r in rows:
        others = ", ".join(f"{k} {v}" for k, v in sorted(r["others"].items(),
                                                          key=lambda kv: -kv[1])) or "–"
        lines.append(f"| {r['drawn']} | {r['read_as_meant']:.0%} | {others} "
                     f"| {r['median_seconds']:.2f} |")
    lines += ["", f"All drawings: {result['read_as_meant']:.1%} of the candidates read as "
                  "the class meant."]
    if args.sheet:
        sheet(pictures, args.sheet)
    return report(result, "\n".join(lines), args.json)


if __name__ == "__main__":
    main()
