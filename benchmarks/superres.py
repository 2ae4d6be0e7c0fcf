"""Super-resolution, measured: SR networks, diffusion-guided SR and bicubic, x2 and x4.

    python -m benchmarks.superres [--dir checkpoints] [--net-fashion PATH] [--net-mnist PATH]
        [--net-photo PATH] [--diffusion-fashion PATH] [--diffusion-mnist PATH]
        [--limit N] [--guided-images 200] [--candidates 4] [--guided-steps S]
        [--speed-side 1200] [--repeats 3] [--skip domains|guided|photos|speed]
        [--threads 1] [--data-root PATH] [--json benchmarks/results/superres.json]

Every figure comes from the one degradation genplay uses everywhere (core/resize.py):
an image is shrunk by the scale with antialiased bicubic (`resize.downscale`), rounded to
8 bits as a saved low-resolution image would be, and each method enlarges it back. PSNR
and SSIM (core/metrics.py) compare the 8-bit result with the 8-bit original, per image,
then are averaged over the images; an exact reproduction counts as 100 dB rather than
infinity. "vs bicubic" is the method's mean minus bicubic's on the same images.

Domains (Fashion-MNIST and MNIST, test split, 28x28; x2 is 14 -> 28, x4 is 7 -> 28):
- bicubic (`resize.upscale_bicubic`) and the SR network (a superres checkpoint:
  --net-fashion / --net-mnist, else superres-<dataset> in --dir) on the whole test split
  (or its first --limit images);
- diffusion-guided SR (ops.guided_superres; diffusion-<dataset> in --dir, or
  --diffusion-fashion / --diffusion-mnist) on the first --guided-images images only,
  since it takes ~0.5-1 s an image (4 candidates, one thread). It makes --candidates
  images per input (seed + image index; the default steps of
  `guided_superres.default_steps`); two rows: candidate 0 (a sample, what a user sees
  first) and the average image of the candidates. PSNR and, less,
  SSIM favour the blurry average over any one sharp candidate: a sample puts detail where
  the input allows it, and detail in a slightly wrong place costs more than no detail, so
  the average's figure is not the quality of what the model draws. Bicubic and the SR
  network are measured again on that same subset, so those rows compare with the guided
  rows; the subset is at the diffusion model's image size.

Photos: the photo upscaler (superres-photo, 3 channels; --net-photo) on the held-out
photographs of the "photos" dataset, `data.PHOTOS_TEST` (chelsea, coffee, rocket from
scikit-image's sample data): never cut into training patches. Each photo is used whole,
cropped to a multiple of the scale and shrunk (`ops.superres.simulate`), and upscaled
through `ops.superres.upscale_steps` with its default tiles, as the panel and the CLI
do; a row per photo and the mean, each beside bicubic.

Speed (CPU, --threads threads): seconds per megapixel of OUTPUT of bicubic, the domain SR
network (on gray) and the photo upscaler (on colour) through `ops.superres.upscale_steps`
with its default tiles, on a photo-sized input (--speed-side, 4:3, noise: the time does
not depend on the content), the median of --repeats runs after a warm-up; and the seconds
per image (all candidates) of guided SR, the mean over the guided subset after a warm-up.

Targets, printed PASS/FAIL beside the measurements: the SR network x4 on Fashion-MNIST at
least +3 dB PSNR over bicubic on the test split, and the photo upscaler's PSNR above
bicubic's on every held-out photo at both x2 and x4.

A checkpoint, dataset or scikit-image that is missing skips its rows with a note, so the
script runs on any checkout. Everything runs under torch.no_grad.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import report
from genplay import __version__
from genplay.core import checkpoints, data, runtime
from genplay.core.errors import GenplayError
from genplay.core.events import final_value
from genplay.core.images import to_uint8_hwc
from genplay.core.metrics import psnr, ssim
from genplay.core.models.capabilities import Upscaler
from genplay.core.ops import superres
from genplay.core.ops.guided_superres import default_steps, guided_method, guided_upscale_steps
from genplay.core.ops.sketch import MAX_CANDIDATES
from genplay.core.resize import downscale, modcrop, upscale_bicubic

DATASETS = ("fashion-mnist", "mnist")
SHORT = {"fashion-mnist": "fashion", "mnist": "mnist"}  # option names: --net-fashion
SCALES = superres.SCALES
DOMAIN_SIZE = 28
PSNR_CAP = 100.0  # dB for an exact reproduction, as models.superres.psnr_per_image counts it
BATCH = 1000
PARTS = ("domains", "guided", "photos", "speed")

TARGET_GAIN_X4 = 3.0  # dB over bicubic, SR network x4 on Fashion-MNIST
TARGET_DATASET = "fashion-mnist"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- measuring ----------------------------------------------------------------------------
def _quantise(x: torch.Tensor) -> torch.Tensor:
    """Float images rounded to the 8-bit levels a saved image has."""
    return torch.round(x.clamp(0.0, 1.0) * 255) / 255


def image_scores(outputs: np.ndarray, references: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PSNR (capped at PSNR_CAP) and SSIM of each uint8 (N, H, W, C) output against its
    reference."""
    p = np.array([min(psnr(a, b), PSNR_CAP) for a, b in zip(outputs, references)])
    s = np.array([ssim(a, b) for a, b in zip(outputs, references)])
    return p, s


def _enlarge_all(run, lowres: torch.Tensor) -> np.ndarray:
    """run over (N, C, h, w) in batches -> uint8 (N, H, W, C)."""
    parts = [to_uint8_hwc(run(lowres[i:i + BATCH]).float().numpy())
             for i in range(0, len(lowres), BATCH)]
    return np.concatenate(parts)


def _row(part: str, name: str, scale: int, size, method: str, checkpoint: str | None,
         scores: tuple[np.ndarray, np.ndarray], baseline: tuple[np.ndarray, np.ndarray],
         **extra: Any) -> dict[str, Any]:
    p, s = scores
    return {"part": part, "data": name, "scale": scale, "size": size, "images": len(p),
            "method": method, "checkpoint": checkpoint,
            "psnr": float(p.mean()), "ssim": float(s.mean()),
            "psnr_gain": float(p.mean() - baseline[0].mean()),
            "ssim_gain": float(s.mean() - baseline[1].mean()), **extra}


def domain_rows(dataset: str, images: torch.Tensor, scale: int, net, net_name: str | None,
                subset: str) -> list[dict[str, Any]]:
    """Bicubic and (if given) the SR network on uint8 (N, C, H, W) images."""
    reference = modcrop(images.float() / 255, scale)
    lowres = _quantise(downscale(reference, scale))
    ref_u8 = to_uint8_hwc(reference.numpy())
    bicubic = image_scores(_enlarge_all(lambda x: upscale_bicubic(x, scale), lowres), ref_u8)
    size = reference.shape[-1]
    rows = [_row("domain", dataset, scale, size, "bicubic", None, bicubic, bicubic,
                 subset=subset)]
    if net is not None:
        scores = image_scores(_enlarge_all(lambda x: net.upscale(x, scale), lowres), ref_u8)
        rows.append(_row("domain", dataset, scale, size, "net", net_name, scores, bicubic,
                         subset=subset))
    return rows


def guided_rows(dataset: str, images: torch.Tensor, scale: int, model, name: str,
                candidates: int, steps: int | None, seed: int
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Candidate 0 and the candidates' average image, each input on its own (seed + i),
    and the seconds per image."""
    reference = images.float() / 255
    lowres = _quantise(downscale(reference, scale))
    steps = steps or default_steps(scale)

    def enlarge(i: int) -> torch.Tensor:
        return final_value(guided_upscale_steps(model, lowres[i:i + 1], scale, n=candidates,
                                                seed=seed + i, steps=steps)).float()

    enlarge(0)  # warm-up, not timed: the first call pays for allocations
    first, mean, seconds = [], [], 0.0
    for i in range(len(lowres)):
        start = time.perf_counter()
        out = enlarge(i)
        seconds += time.perf_counter() - start
        first.append(out[0])
        mean.append(out.mean(dim=0))
        if (i + 1) % 25 == 0:
            _log(f"    {i + 1} of {len(lowres)} images, {seconds / (i + 1):.2f} s each")
    ref_u8 = to_uint8_hwc(reference.numpy())
    bicubic = image_scores(to_uint8_hwc(upscale_bicubic(lowres, scale).numpy()), ref_u8)
    size = reference.shape[-1]
    extra = {"subset": "guided", "candidates": candidates, "steps": steps}
    rows = [_row("domain", dataset, scale, size, "guided-candidate-0", name,
                 image_scores(to_uint8_hwc(torch.stack(first).numpy()), ref_u8), bicubic,
                 **extra),
            _row("domain", dataset, scale, size, "guided-mean", name,
                 image_scores(to_uint8_hwc(torch.stack(mean).numpy()), ref_u8), bicubic,
                 **extra)]
    speed = {"method": "guided", "checkpoint": name, "data": dataset, "scale": scale,
             "input_size": [size // scale, size // scale], "candidates": candidates,
             "steps": steps, "images": len(lowres), "seconds_per_image": seconds / len(lowres)}
    return rows, speed


def photo_rows(model, name: str) -> list[dict[str, Any]]:
    """The photo upscaler and bicubic on every held-out photo, whole, at each scale it has;
    then the mean over the photos."""
    photos = data.load_photos("test")
    rows = []
    for scale in SCALES:
        if scale not in model.scales:
            continue
        per_photo = []
        for photo, pixels in photos.items():
            lowres, reference = superres.simulate(pixels, scale)
            value = final_value(superres.upscale_steps(model, lowres, scale, "net",
                                                       reference=reference))
            net = {k: min(v, PSNR_CAP) if k == "psnr" else v
                   for k, v in value["metrics"][0].items()}
            base = {k: min(v, PSNR_CAP) if k == "psnr" else v
                    for k, v in value["baseline"].items()}
            size = [reference.shape[1], reference.shape[0]]
            per_photo.append((photo, size, net, base))
            _log(f"  {photo} x{scale}: {net['psnr']:.2f} dB (bicubic {base['psnr']:.2f})")
        for photo, size, net, base in per_photo + [_photo_mean(per_photo)]:
            b = (np.array([base["psnr"]]), np.array([base["ssim"]]))
            n = (np.array([net["psnr"]]), np.array([net["ssim"]]))
            images = len(per_photo) if photo == "mean" else 1
            rows.append({**_row("photo", photo, scale, size, "bicubic", None, b, b),
                         "images": images})
            rows.append({**_row("photo", photo, scale, size, "net", name, n, b),
                         "images": images})
    return rows


def _photo_mean(per_photo):
    def mean(i: int, key: str) -> float:
        return float(np.mean([p[i][key] for p in per_photo]))
    return ("mean", None, {"psnr": mean(2, "psnr"), "ssim": mean(2, "ssim")},
            {"psnr": mean(3, "psnr"), "ssim": mean(3, "ssim")})


def speed_row(model, name: str | None, method: str, channels: int, side: int, scale: int,
              repeats: int) -> dict[str, Any]:
    """Median seconds per output megapixel of upscale_steps (default tiles) on a 4:3 noise
    image `side` pixels wide."""
    width, height = side, max(1, side * 3 // 4)
    rng = np.random.default_rng(0)
    shape = (height, width) if channels == 1 else (height, width, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    final_value(superres.upscale_steps(model, pixels[:64, :64], scale, method))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        final_value(superres.upscale_steps(model, pixels, scale, method))
        times.append(time.perf_counter() - start)
    megapixels = width * scale * height * scale / 1e6
    return {"method": method, "checkpoint": name, "channels": channels,
            "input_size": [width, height], "scale": scale, "output_megapixels": megapixels,
            "seconds": times, "seconds_per_megapixel": statistics.median(times) / megapixels}


# --- checkpoints ----------------------------------------------------------------------------
class _Checkpoints:
    """Finds and loads the checkpoints; what is missing or unusable becomes a note."""

    def __init__(self, directory: str, explicit: dict[str, str | None],
                 notes: list[str]) -> None:
        self.directory = Path(directory)
        self.explicit = explicit
        self.notes = notes
        self.used: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, tuple[Any, Any] | None] = {}

    def get(self, name: str, wanted: str, dataset: str | None = None):
        """(model, info) of checkpoint `name` (or the path given for it), or None.
        wanted: "upscaler" or "diffusion"."""
        if name in self._cache:
            return self._cache[name]
        path = self.explicit.get(name)
        folder = Path(path) if path else self.directory / name
        loaded = None
        if not (folder / checkpoints.CONFIG_FILE).is_file():
            self.notes.append(f"{name}: no checkpoint at {folder}; its rows are skipped")
        else:
            try:
                model, info = checkpoints.load(folder)
            except GenplayError as exc:
                self.notes.append(f"{name}: cannot load {folder} ({exc}); its rows are skipped")
            else:
                usable = (isinstance(model, Upscaler) if wanted == "upscaler"
                          else guided_method(model) == "diffusion")
                if not usable:
                    kind = "an SR network" if wanted == "upscaler" else "a diffusion model"
                    self.notes.append(f"{name}: {folder} is a {info.family} model, not {kind}; "
                                      "its rows are skipped")
                else:
                    if dataset and info.dataset != dataset:
                        self.notes.append(f"{name}: {folder} was trained on {info.dataset!r}, "
                                          f"not {dataset!r}")
                    loaded = (model, info)
                    self.used[name] = {"path": str(folder), "family": info.family,
                                       "dataset": info.dataset,
                                       "image_shape": list(info.image_shape),
                                       "hash": checkpoints.weights_hash(folder)}
        self._cache[name] = loaded
        return loaded


# --- the run --------------------------------------------------------------------------------
def run(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    notes: list[str] = []
    explicit = {}
    for dataset in DATASETS:
        explicit[f"superres-{dataset}"] = getattr(args, f"net_{SHORT[dataset]}")
        explicit[f"diffusion-{dataset}"] = getattr(args, f"diffusion_{SHORT[dataset]}")
    explicit["superres-photo"] = args.net_photo
    for name, path in explicit.items():
        if path and not Path(path).is_dir():
            raise SystemExit(f"{path}: no such checkpoint folder (given for {name})")
    found = _Checkpoints(args.dir, explicit, notes)
    skip = set(args.skip)
    quality: list[dict[str, Any]] = []
    speed: list[dict[str, Any]] = []
    # wall-clock seconds each part took, so a run can be planned from a smaller one
    seconds = {part: 0.0 for part in PARTS}

    for dataset in DATASETS if {"domains", "guided"} - skip else ():
        try:
            test = data.load_dataset(dataset, "test", size=DOMAIN_SIZE, channels=1,
                                     root=args.data_root)
        except GenplayError as exc:
            notes.append(f"{dataset}: no test split ({str(exc).splitlines()[0]}); "
                         "its rows are skipped")
            continue
        count = min(len(test), args.limit or len(test))
        images = test.images[:count]
        net = found.get(f"superres-{dataset}", "upscaler", dataset)
        if net is not None and net[1].image_shape[0] != 1:
            notes.append(f"superres-{dataset}: a {net[1].image_shape[0]}-channel network; "
                         f"{dataset} is gray, so its rows are skipped")
            net = None
        diffusion = None
        if "guided" not in skip and args.guided_images > 0:
            diffusion = found.get(f"diffusion-{dataset}", "diffusion", dataset)
        for scale in SCALES:
            model, name = (net[0], net[1].name) if net else (None, None)
            if model is not None and scale not in model.scales:
                notes.append(f"{name} has no x{scale}; its x{scale} rows are skipped")
                model, name = None, None
            if "domains" not in skip:
                _log(f"{dataset} x{scale}: bicubic{' and ' + name if name else ''}, "
                     f"{count} images")
                start = time.perf_counter()
                quality += domain_rows(dataset, images, scale, model, name, "all")
                seconds["domains"] += time.perf_counter() - start
            if diffusion is None:
                continue
            dmodel, dinfo = diffusion
            c, size = dinfo.image_shape[0], dinfo.image_shape[1]
            if size % scale:
                notes.append(f"{dinfo.name}: {size}x{size} images do not shrink {scale}x")
                continue
            start = time.perf_counter()
            subset = data.fit_images(images[:min(count, args.guided_images)], size, c)
            _log(f"{dataset} x{scale}: guided by {dinfo.name}, {len(subset)} images, "
                 f"{args.candidates} candidates each")
            quality += domain_rows(dataset, subset, scale, model, name, "guided")
            rows, timing = guided_rows(dataset, subset, scale, dmodel, dinfo.name,
                                       args.candidates, args.guided_steps, args.seed)
            quality += rows
            speed.append(timing)
            seconds["guided"] += time.perf_counter() - start

    photo = None
    if "photos" not in skip or "speed" not in skip:
        photo = found.get("superres-photo", "upscaler")
        if photo is not None and photo[1].image_shape[0] != 3:
            notes.append(f"superres-photo: a {photo[1].image_shape[0]}-channel network, not "
                         "a colour one; its rows are skipped")
            photo = None
    if "photos" not in skip and photo is not None:
        try:
            data.photos_folder()
        except GenplayError as exc:
            notes.append(f"photos: {exc}; the photo rows are skipped")
        else:
            _log(f"held-out photos ({', '.join(data.PHOTOS_TEST)}): {photo[1].name}")
            start = time.perf_counter()
            quality += photo_rows(photo[0], photo[1].name)
            seconds["photos"] = time.perf_counter() - start

    if "speed" not in skip:
        start = time.perf_counter()
        timed = [(None, None, "bicubic", 1), (None, None, "bicubic", 3)]
        # One domain network stands for both (they are built alike): the first found.
        nets = [found.get(f"superres-{d}", "upscaler", d) for d in DATASETS]
        gray = [n for n in nets if n is not None and n[1].image_shape[0] == 1]
        if gray:
            timed.append((gray[0][0], gray[0][1].name, "net", 1))
        if photo is not None:
            timed.append((photo[0], photo[1].name, "net", 3))
        for model, name, method, channels in timed:
            for scale in SCALES:
                if model is not None and scale not in model.scales:
                    continue
                _log(f"speed: {name or method} x{scale}, {channels} channel(s)")
                speed.append(speed_row(model, name, method, channels, args.speed_side, scale,
                                       args.repeats))
        seconds["speed"] = time.perf_counter() - start

    return {"genplay": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": platform.processor() or platform.machine(),
            "platform": platform.platform(), "threads": threads, "seed": args.seed,
            "limit": args.limit, "guided_images": args.guided_images,
            "candidates": args.candidates, "guided_steps": args.guided_steps,
            "speed_side": args.speed_side, "repeats": args.repeats, "psnr_cap_db": PSNR_CAP,
            "photos_test": list(data.PHOTOS_TEST), "checkpoints": found.used,
            "quality": quality, "speed": speed, "targets": targets(quality),
            "notes": notes, "part_seconds": seconds}


def targets(quality: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets, judged from the rows (passed None: not measured)."""
    net_x4 = [r for r in quality if r["part"] == "domain" and r["data"] == TARGET_DATASET
              and r["scale"] == 4 and r["method"] == "net" and r["subset"] == "all"]
    out = [{"name": "SR network x4 on Fashion-MNIST",
            "target": f">= +{TARGET_GAIN_X4:.0f} dB PSNR over bicubic (test split)",
            "measured": net_x4[0]["psnr_gain"] if net_x4 else None,
            "images": net_x4[0]["images"] if net_x4 else None,
            "passed": net_x4[0]["psnr_gain"] >= TARGET_GAIN_X4 if net_x4 else None}]
    for scale in SCALES:
        gains = [r["psnr_gain"] for r in quality if r["part"] == "photo" and r["scale"] == scale
                 and r["method"] == "net" and r["data"] != "mean"]
        out.append({"name": f"photo upscaler x{scale} on the held-out photos",
                    "target": "PSNR above bicubic on every photo",
                    "measured": min(gains) if gains else None,
                    "mean": float(np.mean(gains)) if gains else None,
                    "images": len(gains) or None,
                    "passed": min(gains) > 0 if gains else None})
    return out


# --- the tables -----------------------------------------------------------------------------
_METHOD_NAMES = {"bicubic": "bicubic", "net": "SR network",
                 "guided-candidate-0": "guided, candidate 0", "guided-mean": "guided, mean of {n}"}


def _cell(value: float, digits: int, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def format_tables(result: dict[str, Any]) -> str:
    limit = f", first {result['limit']} test images" if result["limit"] else ""
    lines = [f"# Super-resolution: genplay {result['genplay']}, torch {result['torch']}, "
             f"{result['threads']} thread(s), {result['machine']} ({result['platform']}){limit}",
             "", "PSNR (dB) and SSIM of 8-bit images, per image, averaged; vs bicubic = minus "
             "bicubic's on the same images. Guided rows: a smaller subset (bicubic and SR "
             "network repeated on it); PSNR favours the blurry mean of the candidates.", "",
             "| data | scale | images | method | checkpoint | PSNR | vs bicubic | SSIM | "
             "vs bicubic |", "|---|---|---|---|---|---|---|---|---|"]
    for r in result["quality"]:
        if r["part"] == "domain":
            data_cell = f"{r['data']} test ({r['size'] // r['scale']} -> {r['size']})"
            images = f"{r['images']}" + (" (subset)" if r["subset"] == "guided" else "")
        else:
            data_cell = (f"held-out photos, mean of {r['images']}" if r["data"] == "mean" else
                         f"photo {r['data']} ({r['size'][0]}x{r['size'][1]})")
            images = str(r["images"])
        method = _METHOD_NAMES[r["method"]].format(n=r.get("candidates"))
        if r["part"] == "photo" and r["method"] == "net":
            method = "photo upscaler"
        base = r["method"] == "bicubic"
        lines.append(f"| {data_cell} | x{r['scale']} | {images} | {method} | "
                     f"{r['checkpoint'] or '–'} | {_cell(r['psnr'], 2)} | "
                     f"{'–' if base else _cell(r['psnr_gain'], 2, True)} | "
                     f"{_cell(r['ssim'], 4)} | {'–' if base else _cell(r['ssim_gain'], 4, True)} |")
    if result["speed"]:
        lines += ["", f"Speed on the CPU: upscale_steps with its default tiles (median of "
                      f"{result['repeats']}; noise input), guided SR per image (all candidates, "
                      "mean over the subset).", "",
                  "| method | checkpoint | input | scale | s / output MP | s / image |",
                  "|---|---|---|---|---|---|"]
        # the photo-sized inputs first, then guided SR
        for r in sorted(result["speed"], key=lambda r: r["method"] == "guided"):
            w, h = r["input_size"]
            if r["method"] == "guided":
                what = f"guided, {r['candidates']} candidates, {r['steps']} steps"
                lines.append(f"| {what} | {r['checkpoint']} | {w}x{h} | x{r['scale']} | – | "
                             f"{r['seconds_per_image']:.3f} |")
            else:
                kind = "gray" if r["channels"] == 1 else "colour"
                what = "bicubic" if r["method"] == "bicubic" else "SR network"
                lines.append(f"| {what} | {r['checkpoint'] or '–'} | {w}x{h} {kind} | "
                             f"x{r['scale']} | {r['seconds_per_megapixel']:.3f} | – |")
    lines += ["", "Targets:"]
    for t in result["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[t["passed"]]
        if t["measured"] is None:
            measured = "not measured"
        elif "mean" in t:
            measured = (f"worst photo {t['measured']:+.2f} dB, mean {t['mean']:+.2f} dB over "
                        f"{t['images']} photos")
        else:
            measured = f"{t['measured']:+.2f} dB over {t['images']} images"
        lines.append(f"  {verdict} {t['name']}: {t['target']}; measured {measured}")
    if result["notes"]:
        lines += ["", "Notes:"] + [f"  {n}" for n in result["notes"]]
    took = ", ".join(f"{part} {s:.0f} s" for part, s in result["part_seconds"].items() if s)
    if took:
        lines += ["", f"Run time: {took}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=str(checkpoints.default_checkpoint_dir()),
                        help="where superres-<dataset>, superres-photo and diffusion-<dataset> "
                             "are looked for")
    for dataset in DATASETS:
        short = SHORT[dataset]
        parser.add_argument(f"--net-{short}", help=f"the SR network for {dataset}")
        parser.add_argument(f"--diffusion-{short}", help=f"the diffusion model for {dataset}")
    parser.add_argument("--net-photo", help="the photo upscaler (3 channels)")
    parser.add_argument("--limit", type=int, default=None,
                        help="the first N test images of each domain (default: all)")
    parser.add_argument("--guided-images", type=int, default=200,
                        help="test images for guided SR (and bicubic/net beside it); 0: none")
    parser.add_argument("--candidates", type=int, default=4, help="guided SR images per input")
    parser.add_argument("--guided-steps", type=int, default=None,
                        help="diffusion steps (default: guided_superres.default_steps)")
    parser.add_argument("--speed-side", type=int, default=1200,
                        help="width of the 4:3 input timed (default 1200: 1200x900, 1.1 MP)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per speed row")
    parser.add_argument("--skip", action="append", default=[], choices=PARTS,
                        help="leave out a part (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-root", help="a folder holding fashion-mnist/ and mnist/")
    parser.add_argument("--json", help="write the figures here (and a .txt with the table)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.guided_images < 0 or args.repeats < 1 or args.speed_side < 8:
        parser.error("--guided-images >= 0, --repeats >= 1 and --speed-side >= 8")
    if not 1 <= args.candidates <= MAX_CANDIDATES:
        parser.error(f"--candidates must be from 1 to {MAX_CANDIDATES}")
    threads = runtime.set_threads(args.threads)
    with torch.no_grad():
        result = run(args, threads)
    return report(result, format_tables(result), args.json)


if __name__ == "__main__":
    main()
