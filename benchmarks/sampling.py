"""Sampling speed of every shipped generative checkpoint on this machine.

    python -m benchmarks.sampling [--dir checkpoints] [--json benchmarks/results/sampling.json]

Prints, per model: images/s when sampling batches of 64, and the latency of one
batch-1 decode (latent models) or batch-1 sample (others), p50 and p95 over many
repeats. Timings are noisy on a shared machine; compare rows taken in one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=str(checkpoints.default_checkpoint_dir()))
    parser.add_argument("--json", default="benchmarks/results/sampling.json")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    threads = runtime.set_threads(args.threads)
    found, _ = checkpoints.scan(args.dir)
    rows = []
    for info in found:
        if "sampler" not in info.capabilities:
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
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "torch": torch.__version__,
                               "genplay": __version__, "rows": rows}, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
