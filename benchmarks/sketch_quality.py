"""Sketch to image, measured: does the output follow the lines, is it the thing drawn, is
it realistic, and how fast (issue 21's benchmark of the sketch-conditioned model).

    python -m benchmarks.sketch_quality --data fashion-mnist
        --sketch-model runs/sketch-fashion-mnist [--n 1000] [--styles canny,edges,...]
        [--guidance 1,2,4] [--steps 20] [--sketch-steps S]
        [--base checkpoints/diffusion-DATA] [--vae checkpoints/vae-DATA] [--seed 0]
        [--threads T] [--data-root DIR] [--no-speed]
        [--json benchmarks/results/sketch-quality-DATA.json]
        [--plot docs/images/sketch-guidance-DATA.png]

The first `--n` test images are drawn as sketches in the style held out of the sketch
model's training (core/sketches.py HELD_OUT) and in each training style, every style
seeded. Each method makes one image from each sketch: SDEdit by the base diffusion model
at three strengths, latent fitting by the VAE, and the sketch model at three sketch
guidance scales; the diffusion methods once with no class and once given the true class
(class guidance 1, the images grouped by class). Per row:
- class agreement: the fraction the dataset's feature classifier reads as the class of
  the image the sketch came from;
- edge F1, faithfulness as ControlNet++ measures it: the output is drawn again by the
  same style's extractor with the same seed (so the same thresholds), and compared with
  the input sketch with a 1-pixel tolerance (a drawn pixel counts as right when an input
  ink pixel lies within 1 px, and an input pixel as found when a drawn one does), mean
  over images; beside it the exact F1 (no tolerance), which at 28x28 separates methods
  better, since a pixel either way covers much of a small image;
- realism: FID and KID against the whole test split in the feature classifier's space,
  as `genplay eval` measures them, beside the unconditional base model's (n samples,
  same sampler and steps) and that many real training images;
- seconds per image on this run's threads.
Two reference rows head each table: the source images themselves, and for each sketch
another test image (the chance level: a real image that ignores the lines).

The targets (issue 21, held-out style, no class given): class agreement at least 85%
(Fashion-MNIST) or 97% (MNIST), edge F1 at least 0.7, FID at most twice the unconditional
model's; each sketch guidance scale is checked. Then the figure the Sketch panel lives
by: pen-up to 4 candidates at the model's default settings on one thread (median of 5).
`--plot` draws edge F1 against FID over sketch guidance for the held-out style (Pillow),
with SDEdit's strengths and latent fitting for comparison.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import report
from benchmarks.diffusion import STRENGTHS, _fit_batch, _Judge, _sdedit_batch, sampler_table
from genplay import __version__
from genplay.core import checkpoints, runtime, sketches
from genplay.core.events import final_value
from genplay.core.models.base import CLASS_OPTION
from genplay.core.models.capabilities import default_sampler
from genplay.core.models.sketch_diffusion import DEFAULT_SKETCH_GUIDANCE
from genplay.core.ops.sketch import DEFAULT_STRENGTH, sketch_images

GUIDANCES = (1.0, DEFAULT_SKETCH_GUIDANCE, 4.0)
CLASS_GUIDANCE = 1.0  # the sampler's default: classifier-free guidance with the true class
TARGET_AGREEMENT = {"fashion-mnist": 0.85, "mnist": 0.97}
TARGET_F1 = 0.7
TARGET_FID_RATIO = 2.0  # over the unconditional base model's FID
PEN_UP_CANDIDATES = 4
PEN_UP_TARGET = 1.0  # seconds, on one free core
PEN_UP_REPEATS = 5


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- faithfulness -------------------------------------------------------------------------
@torch.no_grad()
def draw(images: torch.Tensor | np.ndarray, style: str, seed: int) -> torch.Tensor:
    """Sketches (N, 1, H, W) of images in one style: the same seed gives each image the
    same random settings (thresholds, blur, pen), so outputs are drawn as their inputs were."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    return sketches.sketch(x, style, torch.Generator().manual_seed(seed))


def faithfulness(images: np.ndarray, drawn: torch.Tensor, style: str, seed: int
                 ) -> dict[str, float]:
    """sketches.faithfulness of generated images as the methods return them (numpy)."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    return sketches.faithfulness(x, drawn, style, seed)


# --- the methods --------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """One row of a style's table: images (N, C, H, W) from sketches and true labels."""

    name: str
    setting: str
    class_given: bool
    run: Callable[[torch.Tensor, torch.Tensor], np.ndarray]


def takes_class(model: Any) -> bool:
    """Whether the model draws a chosen class with classifier-free guidance."""
    names = {o.name for o in model.sample_options()}
    return CLASS_OPTION in names and "guidance" in names


def _by_class(model: Any, guides: torch.Tensor, labels: torch.Tensor, strength: float,
              seed: int, **opts: Any) -> np.ndarray:
    """condition_steps with each image's true class: one group of calls per class."""
    out = np.zeros(tuple(guides.shape), np.float32)
    for label in labels.unique().tolist():
        where = (labels == label).nonzero().squeeze(1)
        out[where.numpy()] = _sdedit_batch(model, guides[where], strength,
                                           seed + 7919 * (label + 1), **opts,
                                           **{CLASS_OPTION: int(label),
                                              "guidance": CLASS_GUIDANCE})
    return out


def _conditioned(model: Any, strength: float, seed: int, with_class: bool,
                 **opts: Any) -> Callable[[torch.Tensor, torch.Tensor], np.ndarray]:
    if with_class:
        return lambda guides, labels: _by_class(model, guides, labels, strength, seed, **opts)
    return lambda guides, labels: _sdedit_batch(model, guides, strength, seed, **opts)


def methods(sketch_model: Any, base: Any | None, vae: Any | None, vae_name: str,
            seed: int, steps: int, guidances: tuple[float, ...] = GUIDANCES,
            sketch_steps: int | None = None) -> list[Method]:
    """The rows of every style's table, in order: SDEdit (`steps` of a full schedule),
    latent fitting, the sketch model (sketch_steps; default its own)."""
    sketch_steps = sketch_steps or sketch_model.condition_default_steps
    rows: list[Method] = []
    if base is not None:
        for with_class in (False, True) if takes_class(base) else (False,):
            rows += [Method("SDEdit", f"strength {s}", with_class,
                            _conditioned(base, s, seed, with_class, steps=steps))
                     for s in STRENGTHS]
    if vae is not None:
        rows.append(Method(f"latent fit ({vae_name})", f"strength {DEFAULT_STRENGTH}", False,
                           lambda guides, labels: _fit_batch(vae, guides, DEFAULT_STRENGTH,
                                                             seed)))
    for with_class in (False, True) if takes_class(sketch_model) else (False,):
        rows += [Method("sketch model", f"guidance {w}", with_class,
                        _conditioned(sketch_model, 0.0, seed, with_class,
                                     steps=sketch_steps, sketch_guidance=w))
                 for w in guidances]
    return rows


def style_rows(style: str, plan: list[Method], judge: _Judge, n: int, seed: int
               ) -> list[dict[str, Any]]:
    """Every method on the first n test images drawn in `style`."""
    n = min(n, len(judge.test))
    originals = judge.test.as_float(slice(0, n))
    labels = judge.test.labels[:n]
    drawn = draw(originals, style, seed)
    guides = drawn.expand_as(originals).contiguous()  # the images' channels

    def row(method: str, setting: str, class_given: bool, images: np.ndarray,
            seconds: float | None) -> dict[str, Any]:
        return {"style": style, "method": method, "setting": setting,
                "class_given": class_given,
                "class_agreement": judge.agreement(images, labels),
                **faithfulness(images, drawn, style, seed),
                **judge.realism(images),
                "seconds_per_image": None if seconds is None else seconds / n}

    # References: the images the sketches came from, and for each sketch another test
    # image (the next one): what a method scores that ignores the lines but makes real
    # images, the chance level of agreement and edge F1.
    rows = [row("source images", "–", False, originals.numpy(), None),
            row("another test image", "–", False, originals.roll(1, 0).numpy(), None)]
    for m in plan:
        _log(f"  {style}: {m.name}, {m.setting}{', class given' if m.class_given else ''}")
        start = time.perf_counter()
        images = m.run(guides, labels)
        rows.append(row(m.name, m.setting, m.class_given, images, time.perf_counter() - start))
        r = rows[-1]
        _log(f"    agreement {r['class_agreement']:.1%}, edge F1 {r['edge_f1']:.3f}, "
             f"FID {r['fid']:.2f}")
    return rows


# --- targets ------------------------------------------------------------------------------
def targets(result: dict[str, Any]) -> dict[str, Any] | None:
    """Issue 21's targets checked for each sketch guidance scale on the held-out style with
    no class given; None when the held-out style was not measured."""
    rows = [r for r in result["rows"] if r["style"] == result["held_out"]
            and r["method"] == "sketch model" and not r["class_given"]]
    if not rows:
        return None
    agreement = TARGET_AGREEMENT.get(result["data"])
    fid_max = TARGET_FID_RATIO * result["unconditional"]["fid"]
    checks = []
    for r in rows:
        c = {"setting": r["setting"], "class_agreement": r["class_agreement"],
             "agreement_met": None if agreement is None else r["class_agreement"] >= agreement,
             "edge_f1": r["edge_f1"], "f1_met": r["edge_f1"] >= TARGET_F1,
             "fid": r["fid"], "fid_met": r["fid"] <= fid_max}
        c["all_met"] = all(c[k] is not False for k in ("agreement_met", "f1_met", "fid_met"))
        checks.append(c)
    default = f"guidance {DEFAULT_SKETCH_GUIDANCE}"
    at_default = next((c["all_met"] for c in checks if c["setting"] == default), None)
    chance = next(r["edge_f1"] for r in result["rows"] if r["style"] == result["held_out"]
                  and r["method"] == "another test image")
    return {"style": result["held_out"], "class_agreement": agreement, "edge_f1": TARGET_F1,
            "edge_f1_chance": chance,
            "fid_max": fid_max, "checks": checks, "met_at_default_guidance": at_default,
            "met_at": [c["setting"] for c in checks if c["all_met"]]}


# --- speed --------------------------------------------------------------------------------
def pen_up_seconds(model: Any, guide: torch.Tensor, repeats: int = PEN_UP_REPEATS,
                   candidates: int = PEN_UP_CANDIDATES) -> dict[str, Any]:
    """Seconds to make `candidates` images for one drawing (1, C, H, W) as the Sketch
    panel asks at pen-up (sketch_images, the model's default settings), on one thread:
    the median of `repeats` runs after one to warm up."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        final_value(sketch_images(model, guide, candidates, seed=0))
        times = []
        for k in range(repeats):
            start = time.perf_counter()
            final_value(sketch_images(model, guide, candidates, seed=k))
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return {"candidates": candidates, "image_shape": list(model.image_shape),
            "sampler": default_sampler(model), "steps": model.condition_default_steps,
            "sketch_guidance": model.default_sketch_guidance, "threads": 1,
            "median_seconds": statistics.median(times), "seconds": times,
            "target_seconds": PEN_UP_TARGET}


# --- the tables ---------------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _mark(met: bool | None) -> str:
    return "–" if met is None else ("met" if met else "not met")


def format_tables(result: dict[str, Any]) -> str:
    u, floor = result["unconditional"], result["real_floor"]
    lines = [f"# Sketch to image — {result['data']} ({result['n']} test images per style, "
             f"seed {result['seed']}, {result['threads']} "
             f"thread{'' if result['threads'] == 1 else 's'})", "",
             f"Sketch model {result['sketch_model']}, SDEdit by {result['base'] or '–'}, "
             f"latent fitting by {result['vae'] or '–'}; {result['steps']} steps (SDEdit's "
             f"of a full schedule), {result.get('sketch_steps', result['steps'])} for the "
             "sketch model; "
             f"FID/KID in the space of {result['feature_net']}.",
             f"Unconditional {result['base'] or result['sketch_model']} ({u['sampler']}, "
             f"{u['steps']} steps, {result['n']} samples): FID {u['fid']:.2f}, "
             f"KID {u['kid']:.4f}. Real training images ({result['n']}): "
             f"FID {floor['fid']:.2f}, KID {floor['kid']:.4f}."]
    for style in result["styles"]:
        held = " (held out of training)" if style == result["held_out"] else ""
        lines += ["", f"## {style}{held}", "",
                  "| method | setting | class given | class agreement | edge F1 | F1 exact | FID "
                  "| KID | s / image |", "|---|---|---|---|---|---|---|---|---|"]
        for r in result["rows"]:
            if r["style"] != style:
                continue
            s = r["seconds_per_image"]
            lines.append(f"| {r['method']} | {r['setting']} | "
                         f"{'yes' if r['class_given'] else 'no'} | {_pct(r['class_agreement'])} "
                         f"| {r['edge_f1']:.3f} | {r['edge_f1_exact']:.3f} | {r['fid']:.2f} "
                         f"| {r['kid']:.4f} | "
                         f"{'–' if s is None else f'{s:.3f}'} |")
    t = result.get("targets")
    if t:
        goal = "–" if t["class_agreement"] is None else f">= {t['class_agreement']:.0%}"
        lines += ["", f"## Targets ({t['style']}, no class given)", "",
                  f"| sketch model | class agreement ({goal}) | edge F1 (>= {t['edge_f1']}) "
                  f"| FID (<= {TARGET_FID_RATIO:g} x {u['fid']:.2f} = {t['fid_max']:.2f}) "
                  "| all |", "|---|---|---|---|---|"]
        for c in t["checks"]:
            lines.append(f"| {c['setting']} | {_pct(c['class_agreement'])} "
                         f"{_mark(c['agreement_met'])} | {c['edge_f1']:.3f} "
                         f"{_mark(c['f1_met'])} | {c['fid']:.2f} {_mark(c['fid_met'])} | "
                         f"{_mark(c['all_met'])} |")
        lines += ["", f"At the default sketch guidance {DEFAULT_SKETCH_GUIDANCE}: "
                      f"{_mark(t['met_at_default_guidance'])}; all targets met at: "
                      f"{', '.join(t['met_at']) or 'none'}. Chance level of edge F1 (another "
                      f"test image for each sketch): {t['edge_f1_chance']:.3f}."]
    p = result.get("pen_up")
    if p:
        shape = "x".join(str(s) for s in p["image_shape"][1:])
        lines += ["", f"Pen-up to {p['candidates']} candidates at {shape} ({p['sampler']}, "
                      f"{p['steps']} steps, sketch guidance {p['sketch_guidance']}, one thread): "
                      f"median {p['median_seconds']:.2f} s of {len(p['seconds'])} "
                      f"(target < {p['target_seconds']:g} s: "
                      f"{_mark(p['median_seconds'] < p['target_seconds'])}). Generation "
                      "only: Live mode's pause before it asks is not included "
                      "(benchmarks/sketch_latency.py measures the whole path in the window)."]
    return "\n".join(lines)


# --- the plot (Pillow: matplotlib is not a dependency) -------------------------------------
def _log_ticks(low: float, high: float) -> list[float]:
    """1, 2, 5 times the powers of ten from low to high."""
    ticks = []
    for power in range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1):
        ticks += [m * 10.0 ** power for m in (1, 2, 5) if low <= m * 10.0 ** power <= high]
    return ticks


def plot_curve(result: dict[str, Any], path: str | Path) -> None:
    """Edge F1 against FID (a log scale: the methods' FIDs span two decades) for the
    held-out style: the sketch model over sketch guidance (with and without the class),
    SDEdit over strength and latent fitting, no class unless said; dashed lines mark the
    targets (F1 0.7, FID twice the unconditional)."""
    from PIL import Image, ImageDraw, ImageFont

    style = result["held_out"]
    rows = [r for r in result["rows"] if r["style"] == style]
    series = [
        ("sketch model", False, (31, 119, 180), "sketch model, no class"),
        ("sketch model", True, (255, 127, 14), "sketch model, class given"),
        ("SDEdit", False, (120, 120, 120), "SDEdit, no class"),
    ]
    lines = [(label, colour, [r for r in rows if r["method"] == name
                              and r["class_given"] == given])
             for name, given, colour, label in series]
    lines.append(("latent fitting", (44, 160, 44),
                  [r for r in rows if r["method"].startswith("latent fit")]))
    lines = [entry for entry in lines if entry[2]]
    fid_max = TARGET_FID_RATIO * result["unconditional"]["fid"]
    chance = (result.get("targets") or {}).get("edge_f1_chance")
    fids = [fid_max, result["unconditional"]["fid"]] + [r["fid"] for _, _, pts in lines
                                                        for r in pts]
    low, high = max(min(fids), 1e-3) / 1.1, max(max(fids), 1e-3) * 1.1  # FID can be ~0
    wide = _log_ticks(10.0 ** np.floor(np.log10(low)), 10.0 ** np.ceil(np.log10(high)))
    x_min = max(t for t in wide if t <= low)
    x_max = min(t for t in wide if t >= high)
    lowest = min([TARGET_F1] + ([chance] if chance is not None else [])
                 + [r["edge_f1"] for _, _, pts in lines for r in pts])
    y_min = min(0.6, np.floor(lowest * 10 - 0.5) / 10)  # room below the lowest line

    w, h, left, right, upper, lower = 900, 620, 80, 250, 50, 70
    image = Image.new("RGB", (w, h), "white")
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15)
    small = ImageFont.load_default(size=12)

    def xy(fid_value: float, f1: float) -> tuple[float, float]:
        along = np.log10(max(fid_value, x_min) / x_min) / np.log10(x_max / x_min)
        return (left + (w - left - right) * along,
                h - lower - (h - upper - lower) * (f1 - y_min) / (1 - y_min))

    def dashed(a: tuple[float, float], b: tuple[float, float], colour) -> None:
        length = float(np.hypot(b[0] - a[0], b[1] - a[1]))
        for s in np.arange(0, length, 10):
            t0, t1 = s / length, min(length, s + 5) / length
            pen.line([(a[0] + (b[0] - a[0]) * t0, a[1] + (b[1] - a[1]) * t0),
                      (a[0] + (b[0] - a[0]) * t1, a[1] + (b[1] - a[1]) * t1)], colour, 1)

    for tick in _log_ticks(x_min, x_max):  # the grid and the ticks
        x, _ = xy(tick, y_min)
        pen.line([(x, upper), (x, h - lower)], (235, 235, 235))
        pen.text((x, h - lower + 6), f"{tick:g}", "black", small, anchor="mt")
    for k in range(int(round((1 - y_min) * 10)) + 1):
        f1 = y_min + k / 10
        _, y = xy(x_min, f1)
        pen.line([(left, y), (w - right, y)], (235, 235, 235))
        pen.text((left - 6, y), f"{f1:.1f}", "black", small, anchor="rm")
    pen.rectangle([left, upper, w - right, h - lower], outline="black")
    dashed(xy(x_min, TARGET_F1), xy(x_max, TARGET_F1), (200, 0, 0))
    dashed(xy(fid_max, y_min), xy(fid_max, 1), (200, 0, 0))
    if chance is not None:
        dashed(xy(x_min, chance), xy(x_max, chance), (150, 150, 150))
        pen.text(xy(x_min, chance), f" another test image {chance:.2f}", (120, 120, 120),
                 small, anchor="lt")
    unconditional = result["unconditional"]["fid"]
    dashed(xy(unconditional, y_min), xy(unconditional, 1), (150, 150, 150))
    pen.text(xy(unconditional, y_min + 0.01), f" unconditional {unconditional:.1f}",
             (120, 120, 120), small, anchor="lb")
    pen.text(xy(fid_max, 1), f" FID target {fid_max:.1f}", (200, 0, 0), small, anchor="lt")
    pen.text(xy(x_max, TARGET_F1), f"F1 target {TARGET_F1} ", (200, 0, 0), small, anchor="rb")
    for _, colour, pts in lines:
        points = [xy(r["fid"], r["edge_f1"]) for r in pts]
        if len(points) > 1:
            pen.line(points, colour, 2)
        for k, ((x, y), r) in enumerate(zip(points, pts)):
            pen.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
            # labels alternately above and below, so points close together stay readable
            pen.text((x + 6, y - 4 if k % 2 == 0 else y + 4), r["setting"].split()[-1],
                     colour, small, anchor="lb" if k % 2 == 0 else "lt")
    for k, (label, colour, _) in enumerate(lines):  # the legend
        y = upper + 10 + 24 * k
        pen.line([(w - right + 16, y), (w - right + 40, y)], colour, 3)
        pen.text((w - right + 46, y), label, "black", small, anchor="lm")
    pen.text((w - right + 16, upper + 10 + 24 * len(lines)),
             "labels: sketch guidance\nor strength", "black", small, anchor="la")
    pen.text(((left + w - right) / 2, h - 18), "FID against the test split, log scale "
             "(lower: more realistic)", "black", font, anchor="mm")
    pen.text((w / 2, 22), f"{result['data']}: faithfulness and realism, {style} sketches "
             f"(held out), {result['n']} images", "black", font, anchor="mm")
    axis = Image.new("RGB", (h - upper - lower, 24), "white")
    ImageDraw.Draw(axis).text((axis.width / 2, 12), "edge F1 (higher: follows the lines)",
                              "black", font, anchor="mm")
    image.paste(axis.rotate(90, expand=True), (8, upper))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


# --- the command --------------------------------------------------------------------------
def _styles(text: str | None) -> list[str]:
    """The styles to measure, the held-out one first."""
    names = [s.strip() for s in text.split(",") if s.strip()] if text else [
        sketches.HELD_OUT, *sketches.TRAIN_STYLES]
    unknown = [s for s in names if s not in sketches.STYLES]
    if unknown:
        raise SystemExit(f"unknown sketch style {unknown[0]!r}: choose from "
                         f"{', '.join(sketches.STYLES)}")
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda s: s != sketches.HELD_OUT)


def _scales(text: str) -> tuple[float, ...]:
    """--guidance: comma-separated numbers."""
    try:
        return tuple(float(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated numbers: {text!r}") from None


def _optional(path: str | None, default: Path) -> tuple[Any, Any] | tuple[None, None]:
    """A checkpoint to compare with: the one given (which must load), else the shipped
    default where there is one."""
    if path == "none":
        return None, None
    if path is None and not (default / checkpoints.CONFIG_FILE).is_file():
        _log(f"  (no {default}: its rows are left out)")
        return None, None
    return checkpoints.load(path or default)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="the dataset (fashion-mnist, mnist ...)")
    parser.add_argument("--sketch-model", required=True, help="a sketch-diffusion checkpoint")
    parser.add_argument("--base", help="the diffusion model for SDEdit and the unconditional "
                                       "FID (default checkpoints/diffusion-DATA; none: leave out)")
    parser.add_argument("--vae", help="the model for latent fitting (default "
                                      "checkpoints/vae-DATA where it exists; none: leave out)")
    parser.add_argument("--n", type=int, default=1000, help="test images per style")
    parser.add_argument("--styles", help="comma-separated sketch styles (default: the held-out "
                                         "one and every training style)")
    parser.add_argument("--guidance", type=_scales, default=GUIDANCES,
                        help="the sketch model's sketch guidance scales, comma-separated")
    parser.add_argument("--steps", type=int, default=20, help="sampler steps (a full "
                        "schedule's, for SDEdit and the unconditional model)")
    parser.add_argument("--sketch-steps", type=int, help="the sketch model's steps (default "
                        "its own, as the Sketch panel starts with)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-root")
    parser.add_argument("--no-speed", action="store_true", help="skip the pen-up timing")
    parser.add_argument("--json", help="write the figures here (and a .txt with the tables)")
    parser.add_argument("--plot", help="draw the held-out style's F1-FID curve here (PNG)")
    args = parser.parse_args(argv)
    threads = runtime.set_threads(args.threads)
    guidances = args.guidance
    styles = _styles(args.styles)
    model, info = checkpoints.load(args.sketch_model)
    if info.dataset != args.data:
        raise SystemExit(f"{info.name} was trained on {info.dataset}, not {args.data}")
    if info.condition_method != "sketch":
        raise SystemExit(f"{info.name} is not a sketch-conditioned model")
    shipped = checkpoints.default_checkpoint_dir()
    base, base_info = _optional(args.base, shipped / f"diffusion-{args.data}")
    vae, vae_info = _optional(args.vae, shipped / f"vae-{args.data}")
    judge = _Judge(info, args.data_root)
    n = min(args.n, len(judge.test))
    result: dict[str, Any] = {
        "data": args.data, "sketch_model": info.name,
        "sketch_model_hash": checkpoints.weights_hash(info.path),
        "base": base_info.name if base_info else None,
        "vae": vae_info.name if vae_info else None, "feature_net": judge.net_info.name,
        "n": n, "seed": args.seed, "steps": args.steps,
        "sketch_steps": args.sketch_steps or model.condition_default_steps, "threads": threads,
        "guidances": list(guidances), "strengths": list(STRENGTHS),
        "class_guidance": CLASS_GUIDANCE, "tolerance_px": sketches.F1_TOLERANCE,
        "held_out": sketches.HELD_OUT, "styles": styles,
        "genplay_version": __version__, "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    reference = base if base is not None else model
    _log(f"{result['base'] or info.name}: {n} unconditional samples")
    (u,) = sampler_table(reference, judge, n, args.seed,
                         [(default_sampler(reference), args.steps)])
    result["unconditional"] = {k: u[k] for k in ("sampler", "steps", "fid", "kid")}
    result["real_floor"] = judge.floor(n)
    rows_of = methods(model, base, vae, result["vae"] or "", args.seed, args.steps, guidances,
                      result["sketch_steps"])
    result["rows"] = [r for style in styles for r in style_rows(style, rows_of, judge, n,
                                                                args.seed)]
    result["targets"] = targets(result)
    if not args.no_speed:
        _log(f"pen-up to {PEN_UP_CANDIDATES} candidates, one thread")
        guide = draw(judge.test.as_float(slice(0, 1)), sketches.HELD_OUT, args.seed)
        result["pen_up"] = pen_up_seconds(model, guide.expand(1, model.image_shape[0], -1, -1))
    if args.plot and sketches.HELD_OUT in styles:
        plot_curve(result, args.plot)
    return report(result, format_tables(result), args.json)


if __name__ == "__main__":
    main()
