"""Training throughput, measured: images per second of every trainable family on the CPU.

    python -m benchmarks.train_throughput [--families vae,gan,...] [--seconds 30]
        [--warmup 3] [--threads 1] [--size 28|32|64] [--channels 1|3] [--data NAME|FOLDER]
        [--data-root PATH] [--set [FAMILY.]NAME=VALUE ...] [--nproc 1 2]
        [--device cpu|cuda] [--precision fp32 bf16] [--channels-last]
        [--json benchmarks/results/train-throughput.json]

Every family the registry knows and `genplay train` accepts (the generative families and
the classifier behind FID/KID) is trained with its DEFAULT config (the family's config
defaults at --size and --channels; --set changes a field, for one family with a
FAMILY. prefix) by the project's own training loop, `core.train.train`, exactly as
`genplay train FAMILY --data DATA --minutes M` runs it, into a temporary folder that is
deleted afterwards. The data: --data, by default Fashion-MNIST (from --data-root or the
usual places, fitted to --size and --channels as training fits it) for gray and the
"photos" dataset (random patches of scikit-image's photographs) for colour; the classifier
needs labels, so a dataset without them skips its row with a note.

The first --warmup steps (allocations, first-call costs) are left out: the loop's clock
stands still until they are done, so its --seconds budget is all steady state. images/s
is the images of the measured steps over their wall-clock time, each step timed from the
loop's progress event before it to its own, which includes everything the loop does per
step (batching, the optimiser, the EMA copy). Steps that an end-of-epoch validation pass
or checkpoint save fell before are left out of the figure (their seconds are reported).
Previews and periodic saves are off. "s / epoch" is one epoch of the loop (the training
split less the 5% it holds out for validation, in whole batches) at that rate:
extrapolated, not measured, and without the validation pass and save that end an epoch.

--nproc 1 2 measures each family once per process count: N processes of one gloo group on
this machine (core.distributed, as `genplay train --nproc N` runs them), --threads each,
the same global batch split among them. images/s is then the whole batch's images per
second, and the scaling efficiency is images/s over N times the one-process figure (1:
perfect; below 1: time lost to averaging gradients and to processes waiting for each
other, or to cores the processes share).

On a GPU (--device cuda): --precision fp32 bf16 measures each family without and with
bf16 autocast, and --nproc 1 2 4 8 the scaling over that many GPUs (process k on GPU k).
On a CPU for which oneDNN has no bfloat16 kernels (x86 with AVX2 only: no AVX-512) the
loop trains a bf16 run in fp32, and the precision column says "bf16, trained in fp32":
emulated bfloat16 trained 9-20 times slower than fp32 there
(benchmarks/results/train-throughput-bf16-avx2.txt, measured before that fallback).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import report
from genplay import __version__
from genplay.cli.common import parse_sets
from genplay.core import checkpoints, registry, runtime
from genplay.core.data import PHOTOS
from genplay.core.errors import GenplayError
from genplay.core.events import Progress
from genplay.core.train import TrainSettings, train

SIZES = (28, 32, 64)
DEFAULT_DATA = {1: "fashion-mnist", 3: PHOTOS}
FEW_STEPS = 5  # fewer measured steps than this get a note


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class WarmUpClock:
    """The training loop's clock: stands at 0 until start(), then counts seconds, so the
    loop's time budget (and its rate) covers the steady state only."""

    def __init__(self) -> None:
        self._t0: float | None = None

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def __call__(self) -> float:
        return 0.0 if self._t0 is None else time.perf_counter() - self._t0


def measure_family(family: str, data: str, data_root: str | None, size: int, channels: int,
                   overrides: dict[str, Any], seconds: float, warmup: int,
                   scratch: Path, device: str = "cpu", precision: str = "fp32",
                   channels_last: bool = False) -> dict[str, Any] | None:
    """Trains one family for warmup steps and then `seconds`; returns its row (None in a
    process other than the first of several, which only trains)."""
    from genplay.core.distributed import world_from_env

    out = scratch / family
    clock = WarmUpClock()
    settings = TrainSettings(
        family=family, data=data, out=out, minutes=seconds / 60, size=size,
        channels=channels, overrides=overrides, data_root=data_root, preview_every=0,
        save_every_s=math.inf, recipe="benchmarks.train_throughput", device=device,
        precision=precision, channels_last=channels_last)
    started = time.perf_counter()
    last_step, last_time, interrupted = 0, None, False
    measured_steps, measured_seconds = 0, 0.0
    excluded_steps, excluded_seconds = 0, 0.0
    startup_seconds = None  # loading the data, building the model, the warm-up steps
    losses: dict[str, float] = {}
    for event in train(settings, clock=clock):
        now = time.perf_counter()
        if not isinstance(event, Progress) or event.step != last_step + 1:
            # validation, a save, a message: the next step's time holds it, so it is not
            # a training step's time
            interrupted = True
            continue
        last_step, losses = event.step, event.losses
        if last_time is not None:
            if interrupted:
                excluded_steps += 1
                excluded_seconds += now - last_time
            else:
                measured_steps += 1
                measured_seconds += now - last_time
            last_time = now
        elif event.step == warmup:  # from here on the loop's clock runs
            startup_seconds = now - started
            clock.start()
            last_time = now
        interrupted = False
    if not world_from_env().main:
        return None
    info = checkpoints.read_info(out)
    model = checkpoints.build_model(info)
    batch = min(int(info.config["batch_size"]), int(info.training["train_images"]))
    epoch_images = int(info.training["train_images"]) // batch * batch
    rate = measured_steps * batch / measured_seconds if measured_seconds > 0 else None
    return {
        "family": family, "image_size": int(info.config["image_size"]),
        "channels": int(info.config["channels"]),
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch_size": batch, "warmup_steps": min(warmup, last_step),
        "startup_seconds": startup_seconds, "steps": measured_steps,
        "seconds": measured_seconds, "images_per_s": rate,
        "excluded_steps": excluded_steps, "excluded_seconds": excluded_seconds,
        "train_images": int(info.training["train_images"]), "epoch_images": epoch_images,
        "epoch_seconds_extrapolated": epoch_images / rate if rate else None,
        "last_losses": losses,
        # what it trained in: bf16 asked for on a CPU that would emulate it is fp32
        "trained_precision": info.training.get("precision", "fp32"),
    }


def _process(rank: int, nproc: int, port: int, threads: int, arguments: dict[str, Any],
             out: str) -> None:
    """One of nproc processes measuring a family (torch.multiprocessing spawns it)."""
    import json
    import os

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(nproc), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    runtime.set_threads(threads)
    row = measure_family(**arguments)
    if row is not None:
        Path(out).write_text(json.dumps(row), encoding="utf-8")
    from genplay.core.distributed import leave

    leave(0)  # the group is left: without the teardown that can abort a process


def measure(nproc: int, threads: int, arguments: dict[str, Any]) -> dict[str, Any]:
    """measure_family(**arguments) in this process (nproc 1) or in nproc processes of one
    group."""
    if nproc == 1:
        return measure_family(**arguments)
    import json
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = Path(arguments["scratch"]) / "row.json"
    try:
        mp.spawn(_process, args=(nproc, port, threads, arguments, str(out)), nprocs=nproc)
    except mp.ProcessRaisedException as exc:  # the family's error, as one process said it
        last = str(exc).strip().splitlines()[-1]
        raise GenplayError(last.partition(": ")[2] or last) from None
    return json.loads(out.read_text(encoding="utf-8"))


def run(args: argparse.Namespace, families: list[str], overrides: dict[str, dict[str, Any]],
        threads: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    runs = [(f, n, p) for f in families for p in args.precision for n in args.nproc]
    for family, nproc, precision in runs:
        _log(f"{family}: {args.warmup} warm-up steps, then {args.seconds:g} s on {args.data} "
             f"({args.size}x{args.size}, {args.channels} channel(s), {nproc} process(es) of "
             f"{threads} thread(s), {args.device}, {precision})")
        with tempfile.TemporaryDirectory(prefix=f"genplay-throughput-{family}-") as scratch:
            try:
                row = measure(nproc, threads, {
                    "family": family, "data": args.data, "data_root": args.data_root,
                    "size": args.size, "channels": args.channels,
                    "overrides": overrides.get(family, {}), "seconds": args.seconds,
                    "warmup": args.warmup, "scratch": Path(scratch), "device": args.device,
                    "precision": precision, "channels_last": args.channels_last})
            except (GenplayError, ValueError) as exc:
                # the classifier on unlabelled data, a config that does not fit the size
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                notes.append(f"{family}: not measured ({first})")
                _log(f"  skipped: {first}")
                continue
        row["processes"], row["precision"] = nproc, precision
        one = next((r for r in rows if r["family"] == family and r["processes"] == 1
                    and r["precision"] == precision), None)
        row["scaling_efficiency"] = (row["images_per_s"] / (nproc * one["images_per_s"])
                                     if one and one["images_per_s"] and row["images_per_s"]
                                     else None)
        rows.append(row)
        figure = f"{row['images_per_s']:.1f}" if row["images_per_s"] else "–"
        _log(f"  {row['steps']} steps in {row['seconds']:.1f} s: {figure} images/s")
        if row["steps"] < FEW_STEPS:
            notes.append(f"{family}: only {row['steps']} step(s) measured, a rough figure; "
                         "give more --seconds")
        if (row["image_size"], row["channels"]) != (args.size, args.channels):
            notes.append(f"{family}: {row['image_size']}x{row['image_size']}, "
                         f"{row['channels']} channel(s) (--set)")
    return {"genplay": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": platform.processor() or platform.machine(),
            "platform": platform.platform(), "device": _device_name(args.device),
            "threads": threads, "processes": list(args.nproc),
            "channels_last": args.channels_last,
            "data": args.data, "size": args.size, "channels": args.channels,
            "seconds_budget": args.seconds, "warmup_steps": args.warmup,
            "overrides": overrides, "rows": rows, "notes": notes}


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return device.upper() if device == "cpu" else device


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _precision(row: dict[str, Any]) -> str:
    asked = row.get("precision", "fp32")
    trained = row.get("trained_precision", asked)
    return asked if trained == asked else f"{asked}, trained in {trained}"


def format_table(result: dict[str, Any]) -> str:
    lines = [f"# Training throughput: genplay {result['genplay']}, torch {result['torch']}, "
             f"{result['device']}, {result['threads']} thread(s) per process, "
             f"{result['machine']} ({result['platform']}, {os.cpu_count()} cores)",
             "", f"Default config of each family, {result['size']}x{result['size']}, "
                 f"{result['channels']} channel(s), on {result['data']}; core/train.py's loop; "
                 f"images/s over ~{result['seconds_budget']:g} s of steady state after "
                 f"{result['warmup_steps']} warm-up steps. s / epoch is EXTRAPOLATED from "
                 "that rate to one epoch of the loop (epoch images = the training split less "
                 "the 5% held out for validation), without the validation pass and save that "
                 "end each epoch.", "",
             "| family | processes | precision | parameters | batch size | steps | images/s "
             "| scaling efficiency | epoch images | s / epoch (extrapolated) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        efficiency = r.get("scaling_efficiency")
        lines.append(f"| {r['family']} | {r.get('processes', 1)} | "
                     f"{_precision(r)} | {r['parameters']:,} | "
                     f"{r['batch_size']} | {r['steps']} | {_number(r['images_per_s'])} | "
                     f"{'–' if efficiency is None else f'{efficiency:.2f}'} | "
                     f"{r['epoch_images']:,} | {_number(r['epoch_seconds_extrapolated'])} |")
    if result["notes"]:
        lines += ["", "Notes:"] + [f"  {n}" for n in result["notes"]]
    return "\n".join(lines)


def _split_sets(pairs: list[str], families: list[str],
                known: list[str]) -> dict[str, dict[str, Any]]:
    """--set NAME=VALUE for every family measured, FAMILY.NAME=VALUE for one (ignored when
    that family is not measured, so one command line serves any --families)."""
    per_family: dict[str, dict[str, Any]] = {f: {} for f in families}
    for key, value in parse_sets(pairs).items():
        family, dot, name = key.rpartition(".")
        if dot and family not in known:
            raise GenplayError(f"--set {key}=...: no family {family!r}")
        for target, fields in per_family.items():
            if not dot or target == family:
                fields[name] = value
    return per_family


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    known = registry.families()
    parser.add_argument("--families", default=",".join(known),
                        help=f"comma-separated (default: all of {', '.join(known)})")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="steady-state seconds per family, after the warm-up")
    parser.add_argument("--warmup", type=int, default=3, help="steps left out of the figure")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, default=28, choices=SIZES)
    parser.add_argument("--channels", type=int, default=1, choices=(1, 3))
    parser.add_argument("--data", help="a dataset name or a folder of images (default: "
                                        "fashion-mnist for gray, photos for colour)")
    parser.add_argument("--data-root", help="a folder holding fashion-mnist/ and mnist/")
    parser.add_argument("--set", action="append", default=[], metavar="[FAMILY.]NAME=VALUE",
                        help="change a config field (of one family with FAMILY.)")
    parser.add_argument("--nproc", type=int, nargs="+", default=[1],
                        help="process counts to measure each family with (e.g. 1 2)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (process k: GPU k)")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=("fp32", "bf16"))
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--json", help="write the figures here (and a .txt with the table)")
    args = parser.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in known]
    if unknown or not families:
        parser.error(f"--families: unknown {', '.join(unknown) or '(none given)'}; "
                     f"known: {', '.join(known)}")
    if args.seconds <= 0 or args.warmup < 1:
        parser.error("--seconds must be above 0 and --warmup at least 1")
    args.data = args.data or DEFAULT_DATA[args.channels]
    try:
        overrides = _split_sets(args.set, families, known)
    except GenplayError as exc:
        parser.error(str(exc))
    threads = runtime.set_threads(args.threads)
    result = run(args, families, overrides, threads)
    return report(result, format_table(result), args.json)


if __name__ == "__main__":
    main()
