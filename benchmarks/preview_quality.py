"""How good are a diffusion model's quick slider previews, and how quick?

    python -m benchmarks.preview_quality checkpoints/diffusion-mnist [--n 1000]
        [--steps 2 3 4 5 8] [--threads 1] [--seed 0]
        [--json benchmarks/results/preview-quality-NAME.json]

While a latent slider (or the Interpolation tab's position slider) is dragged, a
diffusion model's latent is decoded in a few UniPC steps (``preview_decode``) instead of
its full decode (``decode``: 25 DDIM steps). For `--n` latents drawn from the prior this
prints, per preview step count: the RMS pixel difference from the full image, the share
of previews the dataset's classifier (the FID feature network) reads as the same class
as the full image, the previews' FID against the test split (is the preview a
recognisable image of the data?), and the median time of one preview at batch 1 (the
slider's case). The full decode's row is the reference: its RMS is 0, its agreement 1.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import numpy as np
import torch

from benchmarks.common import report
from benchmarks.diffusion import _Judge
from genplay import __version__
from genplay.core import checkpoints, runtime
from genplay.core.errors import GenplayError

BATCH = 100


@torch.no_grad()
def _decoded(decode, z: torch.Tensor) -> np.ndarray:
    return torch.cat([decode(z[i:i + BATCH]) for i in range(0, len(z), BATCH)]
                     ).clamp(0, 1).numpy()


@torch.no_grad()
def _batch1_ms(decode, z: torch.Tensor, repeats: int = 20) -> float:
    times = []
    for i in range(repeats + 2):
        start = time.perf_counter()
        decode(z[i % len(z)][None])
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times[2:])  # the first two warm up


@torch.no_grad()
def _classes(judge: _Judge, images: np.ndarray) -> np.ndarray:
    return torch.cat([judge.net(torch.from_numpy(images[i:i + 500])).argmax(1)
                      for i in range(0, len(images), 500)]).numpy()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 3, 4, 5, 8])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="the data folder (default: genplay's)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    runtime.set_threads(args.threads)
    model, info = checkpoints.load(args.checkpoint)
    if not hasattr(model, "preview_decode"):
        raise GenplayError(f"{info.name} has no quick preview decode")
    judge = _Judge(info, args.data)
    z = model.prior_sample(args.n, torch.Generator().manual_seed(args.seed))
    full = _decoded(model.decode, z)
    full_classes = _classes(judge, full)
    rows = [{"decode": f"full ({model.latent_steps} DDIM steps)", "steps": model.latent_steps,
             "rms": 0.0, "same_class": 1.0, **judge.realism(full),
             "ms_batch1": _batch1_ms(model.decode, z)}]
    for steps in args.steps:
        def decode(x, steps=steps):
            return model.preview_decode(x, steps)

        images = _decoded(decode, z)
        rms = np.sqrt(((images - full) ** 2).reshape(len(z), -1).mean(1)).mean()
        rows.append({"decode": f"preview ({steps} UniPC steps)", "steps": steps,
                     "rms": float(rms),
                     "same_class": float((_classes(judge, images) == full_classes).mean()),
                     **judge.realism(images), "ms_batch1": _batch1_ms(decode, z)})
        print(f"{steps} steps: FID {rows[-1]['fid']:.2f}", flush=True)
    result = {"checkpoint": info.name, "classifier": judge.net_info.name, "n": args.n,
              "seed": args.seed, "rows": rows, "floor": judge.floor(args.n),
              "classifier_test_accuracy": judge.net_info.metrics.get("test_accuracy"),
              "threads": args.threads, "machine": platform.machine(),
              "genplay_version": __version__}
    return report(result, format_table(result), args.json)


def format_table(result: dict[str, Any]) -> str:
    lines = [f"# Slider previews — {result['checkpoint']} ({result['n']} latents from the "
             f"prior, {result['threads']} thread(s); classes read by {result['classifier']})",
             "", "| decode | RMS to full | same class as full | FID | ms at batch 1 |",
             "|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['decode']} | {r['rms']:.3f} | {r['same_class']:.1%} | "
                     f"{r['fid']:.2f} | {r['ms_batch1']:.1f} |")
    lines.append(f"| real training images | – | – | {result['floor']['fid']:.2f} | – |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
