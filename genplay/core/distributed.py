"""Training on several processes with torch.distributed: the world a process is part of,
and the collectives the training loop needs.

`genplay train --nproc N` (or `torchrun ... -m genplay train ...` on several machines)
starts N processes that torchrun describes in the environment (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR/PORT). Each process holds the whole model (replicated: weights,
optimiser moments, EMA, a GAN's two networks, an EBM's net) and trains on its share of
each global batch; gradients are averaged across the processes during the backward pass,
before a family clips them and steps its optimisers, so every replica takes the same step
a single process would take on the global batch.

Gradients are averaged by hooks on the parameters (`GradientAverage`: at the end of each
backward pass one all-reduce of all the gradients it accumulated, the reduction
DistributedDataParallel makes, in one bucket) rather than by wrapping the model in
DistributedDataParallel: DDP reduces only the gradients of a backward pass that follows
its own forward, while every genplay family runs its own step (a GAN's two optimisers
over three discriminator passes, the R1 penalty's double backward, an EBM's Langevin
chains that differentiate the energy by its input; StyleGAN2-ADA averages its gradients
by hand for the same reasons). The hook works for every family unchanged.

Batch normalisation (the GAN's generator, the classifier) normalises by the statistics of
the whole batch over all processes (`GlobalBatchNorm2d`, as torch's SyncBatchNorm does on
GPUs, which it does not support on CPUs), so that too is the single-process step.

What is not replicated: each process draws its own noise (seeded by seed, step and rank,
so a run, resumed or not and on any number of processes, draws the same at the same
step), an EBM keeps its own replay buffer of chains (a shard: each process's chains come
from its own noise and batches), and only rank 0 writes checkpoints and draws previews.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1: alone)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def alone(self) -> bool:
        return self.size == 1


def world_from_env(environ: dict[str, str] | None = None) -> World:
    """The world torchrun describes in the environment; alone without it."""
    env = os.environ if environ is None else environ
    try:
        size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        return World()
    if size < 1 or not 0 <= rank < size:
        return World()
    return World(rank, size, local)


def start(world: World, device: torch.device) -> bool:
    """Joins the process group (NCCL for CUDA, gloo otherwise) unless alone or joined
    already; True if this call joined it (and stop() should leave it)."""
    if world.alone or dist.is_initialized():
        return False
    from datetime import timedelta

    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(world.local_rank)
    given = os.environ.get("GENPLAY_GROUP_TIMEOUT_S", "")
    seconds = int(given) if given.isdigit() and int(given) > 0 else 1800
    dist.init_process_group(backend, rank=world.rank, world_size=world.size,
                            timeout=timedelta(seconds=seconds))
    return True


def stop(finished: bool = True) -> None:
    """Leaves the process group. finished: every process got here the same way (the run
    ended, or stopped by agreement), so they wait for each other first: a process that
    leaves while another still talks to it can bring that one down (gloo aborts). After
    an error in this process, the others are not waited for."""
    if dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def leave(code: int) -> NoReturn:
    """Ends a process of a group that has left it, without the interpreter's teardown:
    gloo's threads can still be joinable when its objects are destroyed at exit, and that
    aborts the process (SIGABRT, about one run in five on a loaded machine) after its work
    is done and saved. Output is flushed first."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def step_seed(seed: int, step: int, rank: int) -> int:
    """The seed of one process's random draws at one step: a resumed run draws what an
    uninterrupted one would, and no two processes draw alike."""
    return (seed * 1_000_003 + step) * 1_009 + rank


class GradientAverage:
    """Averages the gradients over the processes at the end of every backward pass (see
    the module's docstring); remove() takes the hooks away.

    A hook on each parameter notes it as its gradient is accumulated; the first note of a
    backward pass queues a callback for its end (the autograd engine's, as DDP's reducer
    does), which all-reduces every noted gradient as one flat tensor, in the parameters'
    fixed order: one collective per backward pass, not one per parameter, done before
    the family's code after backward() (clipping, the optimiser's step) sees them."""

    def __init__(self, parameters: Iterable[torch.nn.Parameter], world: World) -> None:
        self.size = world.size
        params = [p for p in parameters if p.requires_grad]
        self.order = {id(p): i for i, p in enumerate(params)}
        self.pending: list[torch.nn.Parameter] = []
        self.handles = [p.register_post_accumulate_grad_hook(self._noted) for p in params]

    def _noted(self, parameter: torch.nn.Parameter) -> None:
        if not self.pending:
            torch.autograd.Variable._execution_engine.queue_callback(self._average)
        self.pending.append(parameter)

    def _average(self) -> None:
        params = sorted(self.pending, key=lambda p: self.order[id(p)])
        self.pending = []
        grads = [p.grad for p in params]
        flat = torch._utils._flatten_dense_tensors(grads)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(self.size)
        for grad, averaged in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
            grad.copy_(averaged)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


def gather_in_order(items: list, world: World) -> list:
    """On rank 0, the items every process made from its share (every size-th of a list,
    starting at its rank), put back in the list's order; [] on the others."""
    shares: list[list] | None = [[] for _ in range(world.size)] if world.main else None
    dist.gather_object(items, shares, dst=0)
    if not world.main:
        return []
    merged = []
    for i in range(max(len(share) for share in shares)):
        merged += [share[i] for share in shares if i < len(share)]
    return merged


def broadcast_state(module: torch.nn.Module) -> None:
    """Every process takes rank 0's weights and buffers (a fresh run's initialisation may
    differ by rank; a resumed one's does not, but this costs one broadcast)."""
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)


def _collective_device() -> torch.device:
    """Where the group's collectives take their tensors: NCCL's on this process's GPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def mean_over_ranks(sums: dict[str, float], count: int) -> tuple[dict[str, float], int]:
    """(the totals over all processes of per-process sums, the total count): validation
    figures averaged over the whole validation split, whichever process saw each image."""
    keys = sorted(sums)
    values = torch.tensor([float(sums[k]) for k in keys] + [float(count)], dtype=torch.float64,
                          device=_collective_device())
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    totals = values.cpu().tolist()
    return dict(zip(keys, totals[:-1])), int(totals[-1])


def mean_losses(losses: dict[str, float], world: World) -> dict[str, float]:
    """A step's loss terms averaged over the processes: the losses of the whole batch."""
    totals, _count = mean_over_ranks(losses, 1)
    return {k: v / world.size for k, v in totals.items()}


def agree(*flags: bool) -> tuple[bool, ...]:
    """Each flag true on every process if it is true on any, all in one collective (one
    process's Ctrl-C or budget running out ends the step loop on all of them at the same
    step; rank 0's clock saying a validation is due makes every process validate)."""
    values = torch.tensor([1.0 if f else 0.0 for f in flags], device=_collective_device())
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in values.tolist())


class _SumOverRanks(torch.autograd.Function):
    """A tensor summed over the processes; its gradient is summed over them likewise (each
    process's sum feeds every process's loss)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d that, training in a process group, normalises by the mean and variance
    of the whole batch over all processes (sums all-reduced, their gradients too) and keeps
    running statistics of them;
    otherwise it is BatchNorm2d itself. Its state dict is BatchNorm2d's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = (0, 2, 3)
        count = x.shape[0] * x.shape[2] * x.shape[3] * dist.get_world_size()
        total = _SumOverRanks.apply(x.sum(dim=dims))
        squares = _SumOverRanks.apply((x * x).sum(dim=dims))
        mean = total / count
        var = (squares / count - mean * mean).clamp_min(0.0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                            else self.momentum)
                unbiased = var * count / max(count - 1, 1)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean)
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased)
        shape = (1, -1, 1, 1)
        y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def global_batch_norm(module: nn.Module) -> int:
    """Makes every BatchNorm2d of module a GlobalBatchNorm2d in place (the same parameters
    and buffers: optimisers holding them are unaffected); returns how many."""
    count = 0
    for child in module.modules():
        if type(child) is nn.BatchNorm2d:
            child.__class__ = GlobalBatchNorm2d
            count += 1
    return count
