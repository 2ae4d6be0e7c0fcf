"""Sampling speed of every shipped generative checkpoint on this machine.

    python -m benchmarks.sampling [--dir checkpoints] [--json benchmarks/results/sampling.json]
        [--diffusers PIPELINE_FOLDER ...] [--tiny-diffusers]

Prints, per model: images/s when sampling batches of 64, and the latency of one
batch-1 decode (latent models) or batch-1 sample (others), p50 and p95 over many
repeats. Timings are noisy on a shared machine; compare rows taken in one run.

Opened diffusers pipelines get rows of their own (images are up to 256x256, a network
evaluation takes up to seconds on a CPU): milliseconds per network evaluation at batch 1
and 8, and images/s for a batch of 8 at 20 steps, on the device genplay would use (the
GPU in bf16/fp16 where there is one). --tiny-diffusers times randomly initialised
pipelines (benchmarks/diffusers_model.py) of the google/ddpm-cifar10-32 and
ddpm-*-256 block layouts with narrow widths: what CI can run. For a real pipeline:
`genplay pull hf://google/ddpm-cifar10-32`, then
`--diffusers ~/.genplay/models/google--ddpm-cifar10-32`.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import percentile
from genplay import __version__
from genplay.core import checkpoints, runtime
from genplay.core.models.capabilities import Latent, Sampler


@torch.no_grad()
def measure(model, batches: int = 10, latency_repeats: int = 200) -> dict[str, float]:
    generator = torch.Generator().manual_seed(0)
    model.sample(64, generator=generator)  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        model.sample(64, generator=generator)
    images_per_s = 64 * batches / (time.perf_counter() - start)
    if isinstance(model, Latent):
        z = model.prior_sample(1, generator)

        def one():
            return model.decode(z)
    else:
        def one():
            return model.sample(1, generator=generator)
    for _ in range(10):
        one()
    times = []
    for _ in range(latency_repeats):
        t = time.perf_counter()
        one()
        times.append((time.perf_counter() - t) * 1000)
    return {"images_per_s": images_per_s, "latency_ms_p50": statistics.median(times),
            "latency_ms_p95": percentile(times, 0.95),
            "latency_of": "decode" if isinstance(model, Latent) else "sample"}


@torch.no_grad()
def measure_pipeline(model, batch: int = 8, steps: int = 20) -> dict[str, float]:
    """Network evaluations (ms) at batch 1 and `batch`, and images/s of a whole sample."""
    generator = torch.Generator().manual_seed(0)
    denoise = model.denoiser()
    row: dict[str, float] = {}
    for n in (1, batch):
        x = model.prior_sample(n, generator)
        t = torch.full((n,), model.schedule.timesteps // 2, device=x.device)
        denoise(x, t)  # warm-up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            denoise(x, t)
            if x.device.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1000)
        row[f"ms_per_step_b{n}"] = statistics.median(times)
    start = time.perf_counter()
    model.sample(batch, generator=generator, steps=steps)
    row["images_per_s"] = batch / (time.perf_counter() - start)
    row["steps"] = steps
    return row


def pipeline_rows(folders: list[Path], device: str) -> list[dict]:
    rows = []
    for folder in folders:
        model, info = checkpoints.load(folder, device=device)
        rows.append({"model": folder.name, "family": info.family, "device": device,
                     "architecture": info.architecture, **measure_pipeline(model)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=str(checkpoints.default_checkpoint_dir()))
    parser.add_argument("--json", default="benchmarks/results/sampling.json")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--diffusers", action="append", default=[], metavar="FOLDER",
                        help="also time this diffusers pipeline folder (repeatable)")
    parser.add_argument("--tiny-diffusers", action="store_true",
                        help="also time random 32x32 and 256x256 pipelines built here")
    parser.add_argument("--skip-shipped", action="store_true",
                        help="time only the diffusers pipelines")
    args = parser.parse_args()
    threads = runtime.set_threads(args.threads)
    found, _ = ([], []) if args.skip_shipped else checkpoints.scan(args.dir)
    rows = []
    for info in found:
        if "sampler" not in info.capabilities or info.format != "genplay":
            continue
        model, _ = checkpoints.load(info.path)
        assert isinstance(model, Sampler)
        rows.append({"model": info.name, "family": info.family, **measure(model)})
    header = f"{'model':<24} {'family':<7} {'img/s (b=64)':>13} {'p50 ms (b=1)':>13} {'p95 ms':>8}"
    print(f"genplay {__version__}, torch {torch.__version__}, {threads} thread(s), "
          f"{platform.processor() or platform.machine()}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<24} {r['family']:<7} {r['images_per_s']:>13.0f} "
              f"{r['latency_ms_p50']:>13.2f} {r['latency_ms_p95']:>8.2f}")
    folders = [Path(f) for f in args.diffusers]
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny_diffusers:
            from benchmarks.diffusers_model import build

            folders.append(build(Path(tmp) / "random-ddpm-32", 32, 3, (32, 64, 64, 64)))
            folders.append(build(Path(tmp) / "random-ddpm-256", 256, 3))
        device = runtime.available_devices()[-1]  # the GPU where there is one
        pipelines = pipeline_rows(folders, device)
    if pipelines:
        header = (f"{'diffusers pipeline':<24} {'device':<6} {'ms/step b=1':>12} "
                  f"{'ms/step b=8':>12} {'img/s (b=8, 20 steps)':>22}")
        print(header)
        print("-" * len(header))
        for r in pipelines:
            print(f"{r['model']:<24} {r['device']:<6} {r['ms_per_step_b1']:>12.1f} "
                  f"{r['ms_per_step_b8']:>12.1f} {r['images_per_s']:>22.2f}")
            print(f"{'':<24} {r['architecture']}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "torch": torch.__version__,
                               "genplay": __version__, "rows": rows,
                               "diffusers_rows": pipelines}, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
