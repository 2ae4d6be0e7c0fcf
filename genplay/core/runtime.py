"""How many threads PyTorch may use.

PyTorch's CPU kernels slow down 10-150x when their threads outnumber the cores
that are really free (they spin waiting for each other), so genplay sizes its
thread pool to the free cores instead of taking them all.
"""

from __future__ import annotations

import os

import torch


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def busy_cores() -> int:
    """Cores kept busy by other processes right now (Linux; 0 elsewhere)."""
    try:
        with open("/proc/loadavg") as f:
            fields = f.read().split()
        running = int(fields[3].split("/")[0]) - 1  # minus this process
        return max(0, min(running, round(float(fields[0]))))
    except (OSError, ValueError, IndexError):
        return 0


def choose_threads(requested: int | None = None) -> int:
    """GENPLAY_THREADS or an explicit request wins; else the cores free now (at least 1)."""
    if requested:
        return max(1, requested)
    env = os.environ.get("GENPLAY_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, available_cores() - busy_cores())


def set_threads(requested: int | None = None) -> int:
    n = choose_threads(requested)
    torch.set_num_threads(n)
    return n


def gpu_count() -> int:
    """CUDA GPUs here (0 without CUDA): a run can take one process on each."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def available_devices() -> list[str]:
    """Devices PyTorch can run on here, the CPU always included (first)."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN has bfloat16 kernels for this CPU (its own check: AVX-512 or later on
    x86, BF16 instructions on Arm). Without them bfloat16 is emulated, and bf16 autocast
    trained 9-20 times slower than float32 on an AVX2 CPU
    (benchmarks/results/train-throughput-bf16-avx2.txt). A PyTorch that cannot say is
    taken at its word: True."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True
