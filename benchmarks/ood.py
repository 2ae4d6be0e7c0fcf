"""Outlier detection by the likelihood checkpoints: Fashion-MNIST against MNIST, emoji
against Fashion-MNIST, photos, doodles and emoji in a fourth style.

    python -m benchmarks.ood [--dir checkpoints] [--limit N] [--threads T]
                             [--json benchmarks/results/ood.json] [--data-root PATH]

Every checkpoint with a density trained on fashion-mnist or mnist scores the test split
of its own dataset (inliers) and of the other one (outliers) by every outlier score it
can compute. Prints one row per model: the mean bits/dim of both splits (a Fashion-MNIST
model famously gives digits the lower bits/dim; an energy model, which has no bits/dim,
shows its mean energy in brackets and is scored by its energy), the AUROC of each
score (1 = outliers always score higher, 0.5 = chance, near 0 = inverted) and the
scoring speed. Each row also gives, per score, the share of the outliers flagged at 5%
false positives on the inliers and the outliers' median percentile among the inliers'
scores: where a set sits between the inliers and the strangest outliers.

The emoji models' outlier sets: Fashion-MNIST garments, tiles of held-out photos,
doodles (MNIST's handwritten test digits as dark strokes on white, as a pen draws on
paper) and emojione (EmojiOne 2, an emoji style no model trained on: `genplay data get
emojione`), which should sit between the test emoji and the rest.

Nothing about the outliers is fitted: the typicality score's centre is the mean bits/dim
stored with the checkpoint's reference scores (`genplay eval --scores-only`), else the
mean bits/dim of the in-distribution test split; the output says which.

--data-root names a folder holding one sub-folder per dataset (fashion-mnist/, mnist/);
without it the datasets are found where genplay always looks for them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import earlier_results
from genplay import __version__
from genplay.core import checkpoints, datasets, runtime
from genplay.core.data import PHOTOS, load_dataset
from genplay.core.errors import GenplayError
from genplay.core.events import Result, final_value
from genplay.core.ops import outlier_figures, outliers

# in-distribution dataset -> the datasets whose test splits serve as outliers (each at the
# model's size and channels: garments in colour are grey, photos are tiles of held-out ones)
DOODLES = "doodles"  # MNIST's test digits as dark strokes on white
OUT_DATASET = {"fashion-mnist": ("mnist",), "mnist": ("fashion-mnist",),
               "emoji": ("fashion-mnist", PHOTOS, DOODLES, "emojione")}
FLAG_FPR = 0.05  # the false-positive rate at which the share of outliers flagged is given
THROUGHPUT_BATCH = 256
THROUGHPUT_IMAGES = 2048
SOURCE_REFERENCE = "reference"  # the checkpoint's reference_scores.npz
SOURCE_IN_TEST = "in-test split"  # measured here on the (possibly limited) in-distribution test


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Datasets:
    """Test splits loaded once per (dataset, image shape); a missing one is remembered."""

    def __init__(self, data_root: str | None, limit: int | None) -> None:
        self.data_root = data_root
        self.limit = limit
        self._cache: dict[tuple[str, tuple[int, int, int]], np.ndarray | GenplayError] = {}

    def folder(self, name: str) -> Path:
        return datasets.find("mnist" if name == DOODLES else name, self.data_root, "test")

    def test_images(self, name: str, shape: tuple[int, int, int]) -> np.ndarray:
        """Float (N, C, H, W) images in [0, 1]; raises GenplayError if the data is missing."""
        if name == DOODLES:
            return 1.0 - self.test_images("mnist", shape)
        key = (name, tuple(shape))
        if key not in self._cache:
            try:
                data = load_dataset(name, "test", size=shape[1], channels=shape[0],
                                    root=self.data_root)
                if self.limit:
                    data = data.subset(torch.arange(min(self.limit, len(data))))
                self._cache[key] = data.as_float().numpy()
            except GenplayError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, GenplayError):
            raise value
        return value


def _typical_bpd(info: checkpoints.CheckpointInfo) -> tuple[float | None, str]:
    """(the typical bpd stored with the reference, or None; why it could not be used)."""
    try:
        _, typical = outliers.load_reference(info.path, checkpoints.weights_hash(info.path))
    except GenplayError as exc:
        return None, str(exc)
    if typical is None:
        return None, "the reference scores hold no typical bits/dim"
    return float(typical), ""


def _images_per_s(model, images: np.ndarray, methods: list[str],
                  typical_bpd: float | None, aids: dict[str, Any],
                  count: int = THROUGHPUT_IMAGES) -> float:
    """Scoring speed at batch 256 on up to `count` images, after one warm-up batch; aids:
    the model's background, bank and profile (score_many's keywords)."""
    images = images[:count]
    kwargs = {"batch_size": THROUGHPUT_BATCH, "typical_bpd": typical_bpd, **aids}
    final_value(outliers.score_many(model, images[:THROUGHPUT_BATCH], methods, **kwargs))
    start = time.perf_counter()
    final_value(outliers.score_many(model, images, methods, **kwargs))
    return len(images) / (time.perf_counter() - start)


def _mean(scores: dict[str, np.ndarray], method: str) -> float | None:
    return float(scores[method].mean()) if method in scores else None


def score_inliers(model, info: checkpoints.CheckpointInfo,
                  in_images: np.ndarray) -> dict[str, Any]:
    """A model's scores of its own test split and its scoring speed: measured once, for
    every outlier set it is compared with (measure_model)."""
    aids, _ = outliers.load_aids(info.path)
    methods, left_out = outliers.split_methods(model, **aids)
    skipped_methods = {m: "this model encodes in many steps (too slow for a split)"
                       for m in left_out}
    # typicality is measured against the reference's typical bpd where there is one,
    # else against the in-split's own mean bpd; never against anything of the outliers
    stored, note = _typical_bpd(info)
    source = SOURCE_REFERENCE if stored is not None else SOURCE_IN_TEST
    in_dataset = info.dataset
    _log(f"scoring {info.name} on {in_dataset} test ({len(in_images)} images)…")
    in_result = next(e for e in outliers.score_split(
        model, in_images, methods, typical_bpd=stored, **aids) if isinstance(e, Result))
    in_scores, typical = in_result.value, in_result.summary["typical_bpd"]
    speed_method = "bpd" if "bpd" in methods else methods[0]
    _log(f"timing {info.name}: {speed_method}, then all {len(methods)} scores…")
    speed = _images_per_s(model, in_images, [speed_method], typical, aids)
    speed_all = _images_per_s(model, in_images, methods, typical, aids)
    by_method = {m: _images_per_s(model, in_images, [m], typical, aids, count=512)
                 for m in methods}
    return {"aids": aids, "methods": methods,
            "skipped_methods": skipped_methods, "scores": in_scores, "typical": typical,
            "source": source, "note": note, "speed_method": speed_method, "speed": speed,
            "speed_all": speed_all, "by_method": by_method}


def measure_model(model, info: checkpoints.CheckpointInfo, in_images: np.ndarray,
                  got: dict[str, Any], out_images: np.ndarray,
                  out_dataset: str) -> dict[str, Any]:
    """AUROC of every score this model has, the mean bits/dim of both splits, the share of
    the outliers flagged at FLAG_FPR and their median percentile, and speed; got: what
    score_inliers measured of in_images."""
    methods, in_scores, typical = got["methods"], got["scores"], got["typical"]
    _log(f"scoring {info.name} on {out_dataset} test ({len(out_images)} images)…")
    out_scores = final_value(outliers.score_split(model, out_images, methods,
                                                  typical_bpd=typical, **got["aids"]))
    aurocs = {m: outlier_figures.auroc(in_scores[m], out_scores[m]) for m in methods}
    flagged = {m: float(np.mean(out_scores[m] > outlier_figures.threshold_at_fpr(
        in_scores[m], FLAG_FPR))) for m in methods}
    median_percentile = {m: float(np.median(outlier_figures.percentile_of(out_scores[m],
                                                                          in_scores[m])))
                         for m in methods}
    return {
        "model": info.name, "family": info.family, "path": str(info.path),
        "checkpoint_hash": checkpoints.weights_hash(info.path),
        "in_dataset": info.dataset, "out_dataset": out_dataset,
        "in_images": len(in_images), "out_images": len(out_images),
        # an energy model has no bits/dim: its rows show the mean energy of both splits
        "in_bpd": _mean(in_scores, "bpd"), "out_bpd": _mean(out_scores, "bpd"),
        "in_energy": _mean(in_scores, "energy"), "out_energy": _mean(out_scores, "energy"),
        "methods": methods, "skipped_methods": got["skipped_methods"],
        "auroc": aurocs, "best_method": max(aurocs, key=aurocs.get),
        "flag_fpr": FLAG_FPR, "flagged": flagged, "median_percentile": median_percentile,
        "typical_bpd": typical, "typical_bpd_source": got["source"],
        "typical_bpd_note": got["note"], "speed_method": got["speed_method"],
        "speed_images": min(len(in_images), THROUGHPUT_IMAGES),
        "speed_batch_size": THROUGHPUT_BATCH, "images_per_s": got["speed"],
        "images_per_s_all": got["speed_all"], "images_per_s_by_method": got["by_method"],
    }


def run(directory: str | Path, limit: int | None = None, data_root: str | None = None,
        threads: int | None = None, only: set[str] | None = None) -> dict[str, Any]:
    """Measures every density checkpoint of fashion-mnist or mnist below directory (or
    those named in `only`)."""
    threads = runtime.set_threads(threads)
    found, broken = checkpoints.scan(directory)
    skipped = [{"model": Path(folder).name, "reason": reason} for folder, reason in broken
               if only is None or Path(folder).name in only]
    datasets = _Datasets(data_root, limit)
    rows = []
    for info in found:
        if only is not None and info.name not in only:
            continue
        if "density" not in info.capabilities:
            continue
        if info.dataset not in OUT_DATASET:
            skipped.append({"model": info.name, "reason": f"dataset {info.dataset!r} has no "
                            f"out-distribution here (only {', '.join(OUT_DATASET)})"})
            continue
        model = inliers = None
        for out_name in OUT_DATASET[info.dataset]:
            try:
                if out_name != PHOTOS:
                    folder = datasets.folder(info.dataset)
                    if folder.resolve() == datasets.folder(out_name).resolve():  # IDX root
                        raise GenplayError(f"{info.dataset} and {out_name} are the same "
                                           f"folder {folder}")
                in_images = datasets.test_images(info.dataset, info.image_shape)
                out_images = datasets.test_images(out_name, info.image_shape)
                if model is None:
                    model, info = checkpoints.load(info.path)
            except GenplayError as exc:
                _log(f"skipping {info.name} -> {out_name}: {exc}")
                skipped.append({"model": info.name, "reason": f"{out_name}: {exc}"})
                continue
            if inliers is None:
                inliers = score_inliers(model, info, in_images)
            rows.append(measure_model(model, info, in_images, inliers, out_images, out_name))
    return {
        "genplay": __version__, "torch": torch.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(), "platform": platform.platform(),
        "threads": threads, "limit": limit, "methods": list(outliers.METHODS),
        "rows": rows, "skipped": skipped,
    }


def header_line(result: dict[str, Any]) -> str:
    limit = f", first {result['limit']} images of each split" if result["limit"] else ""
    return (f"genplay {result['genplay']}, torch {result['torch']}, {result['threads']} "
            f"thread(s), {result['machine']} ({result['platform']}){limit}")


def format_table(result: dict[str, Any]) -> str:
    """One markdown table, a row per (model, direction); '–' where a model lacks a score."""
    methods = result["methods"]
    columns = (["model", "family", "in -> out", "in bpd (energy)", "out bpd (energy)"]
               + [f"AUROC {m}" for m in methods] + ["img/s (bpd)", "img/s (all)"])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in result["rows"]:
        cells = [r["model"], r["family"], f"{r['in_dataset']} -> {r['out_dataset']}",
                 _level(r, "in"), _level(r, "out")]
        for m in methods:
            value = r["auroc"].get(m)
            text = "–" if value is None else f"{value:.3f}"
            cells.append(f"**{text}**" if m == r["best_method"] else text)
        cells += [f"{r['images_per_s']:.0f}", f"{r['images_per_s_all']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_flag_table(result: dict[str, Any]) -> str:
    """Per row and score: the share of the outliers flagged at the rows' false-positive
    rate on the inliers, and (in brackets) the outliers' median percentile among them."""
    methods = result["methods"]
    rows = [r for r in result["rows"] if "flagged" in r]  # rows of earlier runs lack it
    if not rows:
        return ""
    fpr = rows[0]["flag_fpr"]
    lines = [f"flagged at {fpr:.0%} false positives (median percentile of the outliers):", "",
             "| model | in -> out | " + " | ".join(methods) + " |",
             "|" + "---|" * (len(methods) + 2)]
    for r in rows:
        cells = [f"{r['flagged'][m]:.1%} ({r['median_percentile'][m]:.1f})"
                 if m in r["flagged"] else "–" for m in methods]
        lines.append(f"| {r['model']} | {r['in_dataset']} -> {r['out_dataset']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _level(row: dict[str, Any], split: str) -> str:
    """Mean bits/dim of a split, or for an energy model its mean energy in brackets."""
    if row.get(f"{split}_bpd") is not None:
        return f"{row[f'{split}_bpd']:.3f}"
    energy = row.get(f"{split}_energy")
    return "–" if energy is None else f"({energy:.3f})"


def format_speed_table(result: dict[str, Any]) -> str:
    """Scoring speed of each score alone (batch 256, 512 images), a row per model."""
    methods = result["methods"]
    lines = ["| model | " + " | ".join(f"img/s {m}" for m in methods) + " |",
             "|" + "---|" * (len(methods) + 1)]
    shown = set()
    for r in result["rows"]:  # a model is timed once, on its own test split
        if r["model"] in shown:
            continue
        shown.add(r["model"])
        speeds = r["images_per_s_by_method"]
        lines.append(f"| {r['model']} | " + " | ".join(
            f"{speeds[m]:.0f}" if m in speeds else "–" for m in methods) + " |")
    return "\n".join(lines)


def best_lines(result: dict[str, Any]) -> list[str]:
    return [f"best AUROC (bold above), {r['model']} {r['in_dataset']} -> {r['out_dataset']}: "
            f"{r['best_method']} {r['auroc'][r['best_method']]:.3f}" for r in result["rows"]]


def notes(result: dict[str, Any]) -> list[str]:
    lines = []
    for r in result["rows"]:
        if r["speed_method"] != "bpd":
            lines.append(f"{r['model']}: img/s (bpd) is of the {r['speed_method']} score")
        typical = ("no typical bpd (an energy model)" if r["typical_bpd"] is None else
                   f"typical bpd {r['typical_bpd']:.3f} from the {r['typical_bpd_source']}")
        lines.append(f"{r['model']}: {typical}, {r['in_images']} in / {r['out_images']} out "
                     "test images")
        for method, why in r["skipped_methods"].items():
            lines.append(f"{r['model']}: no {method} score: {why}")
    lines += [f"skipped {s['model']}: {s['reason'].splitlines()[0]}" for s in result["skipped"]]
    return lines


def merge_rows(before: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The earlier results with this run's rows (and skips) in place of the same models'."""
    names = {r["model"] for r in result["rows"]} | {s["model"] for s in result["skipped"]}
    rows = [r for r in before["rows"] if r["model"] not in names] + result["rows"]
    skipped = [s for s in before["skipped"] if s["model"] not in names] + result["skipped"]
    return {**result, "rows": sorted(rows, key=lambda r: r["model"]), "skipped": skipped}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=str(checkpoints.default_checkpoint_dir()))
    parser.add_argument("--limit", type=int, default=None,
                        help="keep the first N images of each test split")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default="benchmarks/results/ood.json")
    parser.add_argument("--data-root", default=None,
                        help="a folder holding fashion-mnist/ and mnist/")
    parser.add_argument("--models", help="measure only these checkpoints (comma-separated "
                        "names) and put their rows into the --json results already there")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    only = set(args.models.split(",")) if args.models else None
    before = None
    if only is not None:  # read before the scoring: only rows measured alike (threads,
        # limit) take the place of another run's, and a mismatch is refused at once
        measured = {"threads": runtime.set_threads(args.threads), "limit": args.limit}
        before = earlier_results(Path(args.json), measured, ("threads", "limit"), "--models")
    result = run(args.dir, args.limit, args.data_root, args.threads, only)
    if before is not None:
        result = merge_rows(before, result)
    print(header_line(result))
    print()
    print(format_table(result))
    print()
    print(format_speed_table(result))
    print()
    flags = format_flag_table(result)
    if flags:
        print(flags)
        print()
    for line in best_lines(result) + notes(result):
        print(line)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
