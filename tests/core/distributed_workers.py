"""What the distributed tests run in each process (torch.multiprocessing spawns them by
importing this module): one process of a gloo group on this machine's CPU."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import torch

REAL = {name: getattr(torch, name) for name in ("randn", "rand", "randint")}


def join(rank: int, world: int, port: int) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)


def _size(args, kwargs, skip: int = 0):
    if "size" in kwargs:
        size = kwargs.pop("size")
    elif len(args) > skip and isinstance(args[skip], (tuple, list, torch.Size)):
        size, args = args[skip], args[:skip]
    else:
        size, args = args[skip:], args[:skip]
    return tuple(int(s) for s in size), args


@contextmanager
def sharded_draws(rank: int, world: int):
    """torch.randn, rand and randint (what the families' train steps draw from) made to
    give each process its rows of one draw for the whole batch: process r of w drawing n
    rows gets rows r*n..(r+1)*n of what a single process drawing w*n rows gets. So a
    step split over processes draws what one process drawing the whole batch draws, and
    the two can be compared exactly."""
    calls = [0]

    def sharded(name):
        def draw(*args, **kwargs):
            kwargs.pop("generator", None)
            device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
            skip = 2 if name == "randint" else 0
            size, bounds = _size(args, kwargs, skip)
            calls[0] += 1
            whole = (size[0] * world, *size[1:]) if size else size
            g = torch.Generator().manual_seed(1000 + calls[0])
            values = REAL[name](*bounds, whole, generator=g)
            if size:
                values = values[rank * size[0]:(rank + 1) * size[0]]
            values = values.to(device) if device is not None else values
            return values.to(dtype) if dtype is not None else values
        return draw

    saved = {name: getattr(torch, name) for name in REAL}
    for name in REAL:
        setattr(torch, name, sharded(name))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch, name, fn)


def one_step(family: str, config: dict, rank: int, world: int, batch: torch.Tensor,
             out: str | None = None) -> dict[str, torch.Tensor]:
    """One train step of a freshly built model (seeded: the same on every process) on this
    process's share of the batch, gradients averaged across the group; the weights and
    gradients after it (written to out by rank 0)."""
    from genplay.core import distributed, registry

    torch.manual_seed(0)
    model = registry.build(family, **config)
    optimizers = model.configure_optimizers()
    averaging = None
    if world > 1:
        distributed.global_batch_norm(model)
        averaging = distributed.GradientAverage(model.parameters(), distributed.World(
            rank, world, rank))
    share = len(batch) // world
    mine = batch[rank * share:(rank + 1) * share]
    with sharded_draws(rank, world):
        model.train_step(mine, None, optimizers, 1)
    if averaging is not None:
        averaging.remove()
    found = {f"weight:{k}": v.detach().clone() for k, v in model.state_dict().items()}
    found |= {f"grad:{k}": p.grad.detach().clone() for k, p in model.named_parameters()
              if p.grad is not None}
    if out is not None and rank == 0:
        torch.save(found, out)
    return found


def step_worker(rank: int, world: int, port: int, configs: dict[str, dict],
                batch: torch.Tensor, out: str) -> None:
    """one_step of each family in configs; rank 0 writes {family: what it found}."""
    import torch.distributed as dist

    join(rank, world, port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        found = {family: one_step(family, config, rank, world, batch)
                 for family, config in configs.items()}
        if rank == 0:
            torch.save(found, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    from genplay.core.distributed import leave

    leave(0)


def train_worker(rank: int, world: int, port: int, settings_kwargs: dict,
                 stop_at: int | None = None) -> None:
    """A whole `genplay train` run as one process of the group; with stop_at, rank 1 asks
    it to stop (as a Ctrl-C does) once it has taken that many steps."""
    from genplay.core.events import Progress
    from genplay.core.train import TrainSettings, train

    join(rank, world, port)
    settings = TrainSettings(**{**settings_kwargs, "out": Path(settings_kwargs["out"])})
    taken = [0]

    def stop() -> bool:
        return stop_at is not None and rank == 1 and taken[0] >= stop_at

    for event in train(settings, stop_requested=stop):
        if isinstance(event, Progress) and event.message == "":
            taken[0] = event.step
    from genplay.core.distributed import leave

    leave(0)


def score_worker(rank: int, world: int, port: int, argv: list[str], out: str) -> None:
    """`genplay score ARGV` as one process of the group, its standard output to out-RANK."""
    import contextlib

    from genplay.cli import main

    join(rank, world, port)
    with open(f"{out}-{rank}", "w", encoding="utf-8") as fh, contextlib.redirect_stdout(fh):
        code = main(argv)  # under a group it ends the process itself (distributed.leave)
    if code != 0:
        raise SystemExit(code)
