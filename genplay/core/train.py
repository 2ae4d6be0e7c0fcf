"""One training loop for every family, as a generator of progress events.

The caller (CLI or GUI engine) iterates it and may stop at any yield: closing the
generator saves a checkpoint of the last completed step before it returns, so
Ctrl-C or Cancel never loses more than the step in flight, and never leaves a
broken checkpoint (every file is replaced atomically).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import pickle
import re
import stat
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genplay.core import checkpoints, distributed, registry, runtime
from genplay.core.data import dataset_names, load_dataset, train_val_split
from genplay.core.errors import CheckpointError, GenplayError
from genplay.core.events import Preview, Progress, Result, Saved, Validation
from genplay.core.files import kind_of
from genplay.core.images import to_uint8_hwc
from genplay.core.models.base import GenerativeModel
from genplay.core.models.blocks import EMA
from genplay.core.models.capabilities import Upscaler, has_capability
from genplay.core.runlock import LOCK_FILE, RunLock, leftovers


@dataclass
class TrainSettings:
    family: str
    data: str
    out: Path
    epochs: int | None = None
    minutes: float | None = None
    size: int = 28
    channels: int = 1
    seed: int = 0
    resume: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)  # config fields
    # A checkpoint to start from: its config fields are the defaults, its weights the
    # starting point (an input layer the new model widens gets zeros for the new inputs).
    init: Path | None = None
    data_root: str | None = None
    val_fraction: float = 0.05
    preview_every: int = 200  # steps
    # Seconds: a sample grid also after the first step of a session and whenever this long
    # has passed since the last grid, so a slow run shows samples early and often (the wait
    # is at least PREVIEW_COST_FACTOR times what the last grid took to draw). None: grids
    # every preview_every steps only (the CLI's way); preview_every 0: no grids at all.
    preview_every_s: float | None = None
    save_every_s: float = 300.0
    # An epoch of a small folder can take a fraction of a second: its validation pass and
    # save would then be most of the run. Epochs ending sooner than this after the last
    # validation skip both, except the first of a session and the last of the budget.
    validate_every_s: float = 20.0
    preview_count: int = 16
    recipe: str = ""
    # Replace each pixel of a training image, with this probability, by a uniformly random
    # value: a background model for the likelihood-ratio outlier score (Ren et al. 2019)
    # learns the statistics such noise does not destroy, and not the objects.
    perturb: float = 0.0
    # Where the model trains: "cpu", "cuda" (or "cuda:N"), "mps"; "auto" for the first
    # accelerator there is, else the CPU. Checkpoints are saved as CPU tensors either way.
    device: str = "cpu"
    # "bf16": the forward and backward passes under autocast in bfloat16 (Ampere and later
    # GPUs, recent CPUs), the weights and optimiser in float32; "fp32": none.
    precision: str = "fp32"
    channels_last: bool = False  # convolutions on NHWC tensors (faster on tensor cores)


PREVIEW_COST_FACTOR = 5  # timed grids take at most about a fifth of the run's time
PRECISIONS = ("fp32", "bf16")
BF16_EMULATED = ("--precision bf16: PyTorch has no bfloat16 kernels for this CPU (emulated, "
                 "it trains 9-20 times slower), so this run trains in fp32")


def check_precision(precision: str) -> None:
    if precision == "fp16":
        raise GenplayError("--precision fp16 needs a gradient scaler inside each family's "
                           "step, which genplay's families do not take yet: use bf16")
    if precision not in PRECISIONS:
        raise GenplayError(f"--precision {precision!r}: one of {', '.join(PRECISIONS)}")


def _build(settings: TrainSettings) -> GenerativeModel:
    cls = registry.get(settings.family)
    base = checkpoints.read_info(settings.init) if settings.init is not None else None
    known = {f.name for f in dataclasses.fields(cls.Config)}
    inherited = {k: v for k, v in (base.config if base else {}).items() if k in known}
    fields = {**inherited, "channels": settings.channels, "image_size": settings.size,
              **settings.overrides}
    try:
        model = cls(cls.Config.from_dict(fields))
    except (TypeError, ValueError) as exc:
        raise GenplayError(f"invalid settings for {settings.family}: {exc}") from None
    if base is not None:
        warm_start(model, base.path)
    return model


def warm_start(model: GenerativeModel, checkpoint: Path) -> None:
    """model's weights from a checkpoint's (another family's, or the same): every tensor of
    the same name and shape is copied; one the model has wider in its second dimension (a
    convolution taking more input channels) gets the checkpoint's values in the first
    ones and zeros in the rest, so the new inputs start switched off. Anything else that
    differs is a one-line error."""
    base, _ = checkpoints.load(checkpoint)
    theirs = base.state_dict()
    state = model.state_dict()
    missing = sorted(set(state) - set(theirs))
    if missing:
        raise GenplayError(f"{checkpoint} cannot start this model: it has no {missing[0]} "
                           f"(and {len(missing) - 1} more)" if len(missing) > 1 else
                           f"{checkpoint} cannot start this model: it has no {missing[0]}")
    for name, mine in state.items():
        value = theirs[name]
        if value.shape == mine.shape:
            mine.copy_(value)
        elif (value.dim() == mine.dim() >= 2 and value.shape[0] == mine.shape[0]
              and value.shape[2:] == mine.shape[2:] and value.shape[1] < mine.shape[1]):
            mine.zero_()
            mine[:, : value.shape[1]].copy_(value)
        else:
            raise GenplayError(f"{checkpoint} cannot start this model: {name} is "
                               f"{tuple(value.shape)} there, {tuple(mine.shape)} here")


class _Run:
    """The mutable state of one run, kept together so it can be saved and resumed."""

    def __init__(self, model: GenerativeModel, settings: TrainSettings) -> None:
        # on its device before the optimisers and the EMA take its parameters
        self.model = model.to(training_device(settings.device))
        self.settings = settings
        self.optimizers = model.configure_optimizers()
        decay = model.config.ema_decay
        self.ema = EMA(model, decay) if decay > 0 else None
        self.eval_model = copy.deepcopy(model).eval() if self.ema else model
        self.step = 0
        self.epoch = 0
        self.elapsed = 0.0  # seconds of training over all sessions
        self.lock: RunLock | None = None  # the folder's, held while the run writes there
        self.saved_step = -1  # the step of this session's last save

    def for_eval(self) -> GenerativeModel:
        """The weights to evaluate, preview and ship: the EMA copy where there is one."""
        if self.ema is not None:
            self.eval_model.load_state_dict(self.ema.state_dict())
            return self.eval_model
        return self.model.eval()  # train_step switches back to train mode

    def trainer_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "ema": self.ema.state_dict() if self.ema else {},
            "step": self.step, "epoch": self.epoch, "elapsed": self.elapsed,
            "torch_rng": torch.get_rng_state(),
        }

    def restore(self, state: Any) -> None:
        """Takes up a trainer state; ValueError (saying why) if it is not one of this run's:
        a state that loads but would fail, or train on nonsense, later is refused here."""
        if not isinstance(state, dict):
            raise ValueError(f"a {type(state).__name__}, not a trainer state")
        missing = sorted({"model", "optimizers", "ema", "step", "epoch", "elapsed",
                          "torch_rng"} - state.keys())
        if missing:
            raise ValueError(f"it has no {missing[0]}")
        for key in ("step", "epoch"):
            if type(state[key]) is not int or state[key] < 0:
                raise ValueError(f"its {key} is not a count")
        elapsed = state["elapsed"]
        if type(elapsed) not in (int, float) or not 0 <= elapsed < math.inf:
            raise ValueError("its elapsed time is not a number of seconds")
        weights = state["model"]
        if not isinstance(weights, dict) or not all(
                torch.is_tensor(t) and (not t.is_floating_point() or bool(torch.isfinite(t).all()))
                for t in weights.values()):
            raise ValueError("its weights are not all numbers")
        if not isinstance(state["optimizers"], dict) or set(state["optimizers"]) != set(
                self.optimizers):
            raise ValueError("its optimisers are not this model's")
        try:
            self.model.load_state_dict(weights)
            for key, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][key])
            if self.ema and state["ema"]:
                self.ema.load_state_dict(state["ema"])
            torch.set_rng_state(state["torch_rng"])
        except (RuntimeError, KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise ValueError("it does not fit this model") from None
        for opt in self.optimizers.values():  # load_state_dict leaves the shapes unchecked
            for group in opt.param_groups:
                for param in group["params"]:
                    for value in opt.state.get(param, {}).values():
                        if torch.is_tensor(value) and value.dim() and value.shape != param.shape:
                            raise ValueError("its optimiser state does not fit the model")
        self.step, self.epoch, self.elapsed = state["step"], state["epoch"], float(elapsed)


# What a run killed before its first save was whole (no config.json yet) may have left in
# its folder: a fresh run takes such a folder. "background" is a run of its own, trained
# into the folder (the likelihood-ratio score's background model).
KILLED_RUN_FILES = {checkpoints.WEIGHTS_FILE, checkpoints.TRAINER_STATE_FILE, LOCK_FILE,
                    "background"}
# The temporary files (core.files.atomic_write) of the run's own writes.
_OWN_FILES = "|".join(re.escape(name) for name in (
    checkpoints.CONFIG_FILE, checkpoints.WEIGHTS_FILE, checkpoints.TRAINER_STATE_FILE))
_TEMPORARY = re.compile(rf"\.({_OWN_FILES})\.[0-9a-f]{{12}}\.tmp")
_LOCK_ASIDE = re.compile(re.escape(LOCK_FILE) + r"\.[0-9a-f]{12}\.stale")
STATE_LIMIT = 4 * checkpoints.WEIGHTS_LIMIT  # the weights, the optimiser's moments, the EMA


def _killed_runs_file(name: str) -> bool:
    return (name in KILLED_RUN_FILES or bool(_TEMPORARY.fullmatch(name))
            or bool(_LOCK_ASIDE.fullmatch(name)))


def check_out_folder(settings: TrainSettings, lock: RunLock | None = None) -> None:
    """A fresh run goes into a new or empty folder, or one a killed run left before its
    first save was whole (no config.json yet): never over a checkpoint, nor into a folder
    of the user's own files (their config.json, notes, a metrics.json of another model).
    Reads only; lock: the folder's, when this run holds it (else a run that holds it is
    named)."""
    out = settings.out
    if out.exists() and not out.is_dir():
        raise GenplayError(f"{out}: not a folder")
    if not out.is_dir():
        if settings.resume:
            raise CheckpointError(f"{out}: nothing to resume (no such folder); start a fresh "
                                  "run instead")
        return
    if settings.resume:
        return  # _open_run says whether there is a run to resume
    if (out / checkpoints.CONFIG_FILE).exists() or (out / checkpoints.CONFIG_FILE).is_symlink():
        try:
            checkpoints.read_info(out)
        except CheckpointError:
            raise GenplayError(f"{out} holds a {checkpoints.CONFIG_FILE} that is not a genplay "
                               "checkpoint's; train into a new or empty folder") from None
        busy = None if lock is not None else RunLock(out).refusal()
        raise GenplayError(busy or f"{out} already holds a checkpoint; use --resume to "
                                   "continue it or choose another --out")
    try:
        names = [p.name for p in out.iterdir()]
    except OSError as exc:
        raise GenplayError(f"{out}: cannot be read ({exc.strerror or exc})") from None
    theirs = sorted(name for name in names if not _killed_runs_file(name))
    if theirs:
        raise GenplayError(f"{out} holds files that are not a genplay run's ("
                           f"{', '.join(theirs[:3])}{' …' if len(theirs) > 3 else ''}); train "
                           "into a new or empty folder")


def _sweep(out: Path) -> None:
    """Removes the temporary files of the saves a killed run was making (the folder's lock
    is held: no run is writing them now)."""
    for path in out.iterdir():
        if _TEMPORARY.fullmatch(path.name) and path.is_file():
            path.unlink(missing_ok=True)
    for path in leftovers(out):
        path.unlink(missing_ok=True)


def _load_trainer_state(path: Path) -> Any:
    """torch.load with weights_only=True (tensors, numbers, containers: never code); any
    failure is a one-line CheckpointError that never suggests loading it unsafely."""
    def refuse(reason: str) -> CheckpointError:
        return CheckpointError(f"{path} cannot be read safely ({reason}); start a fresh run, "
                               "or delete it to resume from the weights alone")

    try:
        st = os.stat(path)
    except OSError as exc:
        raise refuse(exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block torch.load forever
        raise refuse(f"not a regular file: {kind_of(st.st_mode)}")
    if st.st_size > STATE_LIMIT:
        raise refuse(f"{st.st_size / 2**30:.1f} GB, more than any genplay run's")
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols: noise here
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # its message advises weights_only=False: never shown
        raise refuse("it holds more than tensors and numbers: damaged, or not genplay's"
                     ) from None
    except Exception:  # noqa: BLE001 - a truncated zip, a stray file: all one to the user
        raise refuse("damaged: not a whole trainer state") from None


def _open_run(settings: TrainSettings) -> tuple[_Run, str]:
    """The run to train, and a note to show ("" or how it was resumed)."""
    state_path = settings.out / checkpoints.TRAINER_STATE_FILE
    if not settings.resume:
        torch.manual_seed(settings.seed)
        return _Run(_build(settings), settings), ""
    if not (settings.out / checkpoints.CONFIG_FILE).exists():
        raise CheckpointError(f"{settings.out}: nothing to resume (no whole checkpoint there); "
                              "start a fresh run instead")
    info = checkpoints.read_info(settings.out)
    if info.family != settings.family:
        raise CheckpointError(f"{settings.out} holds a {info.family}, not a {settings.family}")
    run = _Run(checkpoints.build_model(info), settings)
    weights_path = settings.out / checkpoints.WEIGHTS_FILE
    if not state_path.exists():
        # weights without the optimiser's state (a shipped model, or a save cut short):
        # go on from the weights, with a fresh optimiser and the counts the run recorded.
        if not weights_path.exists():
            raise CheckpointError(f"{settings.out}: neither {state_path.name} nor "
                                  f"{weights_path.name} to resume from; train a fresh run into "
                                  "another folder")
        checkpoints.load_weights(run.model, weights_path)
        if run.ema is not None:
            run.ema.load_state_dict(run.model.state_dict())
        counts = [info.training.get(k, 0) for k in ("steps", "epochs", "seconds")]
        if not all(type(c) in (int, float) and 0 <= c < math.inf for c in counts):
            counts = [0, 0, 0.0]  # counts of a hand-edited config.json: start them again
        run.step, run.epoch, run.elapsed = int(counts[0]), int(counts[1]), float(counts[2])
        torch.manual_seed(settings.seed + run.step)
        return run, (f"no {state_path.name}: resuming from the weights of step {run.step} "
                     "with a fresh optimiser")
    state = _load_trainer_state(state_path)
    try:
        run.restore(state)
    except ValueError as exc:
        raise CheckpointError(f"{state_path} cannot be used ({exc}); start a fresh run, or "
                              "delete it to resume from the weights alone") from None
    return run, ""


def _save(run: _Run, dataset: str, class_names: list[str] | None, summary: dict) -> Path:
    """Trainer state first, then weights, then config.json (each atomically): killed at any
    point, the folder either has no config.json (a fresh run may take it) or a whole
    checkpoint whose trainer state is as new as its weights or newer (resume reads the
    model from the trainer state)."""
    out = run.settings.out
    if run.lock is not None:
        run.lock.confirm()  # never write over a folder another run has taken

    def write_state(tmp: Path) -> None:
        try:
            torch.save(run.trainer_state(), tmp)
        except RuntimeError as exc:  # torch's way of saying a write failed (a full disk)
            raise OSError(str(exc).strip().splitlines()[0] if str(exc).strip() else
                          "write failed") from None

    try:
        checkpoints.atomic_write(out / checkpoints.TRAINER_STATE_FILE, write_state)
        checkpoints.save(
            run.for_eval(), out, dataset=dataset, recipe=run.settings.recipe,
            training={**summary, "steps": run.step, "epochs": run.epoch,
                      "seconds": round(run.elapsed, 1), "seed": run.settings.seed},
            class_names=class_names,
        )
    except OSError as exc:
        raise GenplayError(f"{out}: the checkpoint of step {run.step} could not be written "
                           f"({exc.strerror or exc}); the folder keeps its last whole "
                           "one") from None
    run.saved_step = run.step
    return out


def _set_lr(run: _Run, factor: float) -> None:
    for opt in run.optimizers.values():
        for group in opt.param_groups:
            group["lr"] = run.model.config.lr * factor


def training_device(name: str) -> torch.device:
    """The device a run trains on: name as torch spells it, or "auto" (CUDA, else Apple's
    MPS, else the CPU); GenplayError for one this machine does not have."""
    if name == "auto":
        from genplay.core.runtime import available_devices

        return torch.device(available_devices()[-1])
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GenplayError(f"unknown device {name!r}: cpu, cuda, mps or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GenplayError("no CUDA GPU here: train with --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GenplayError("no Apple GPU (MPS) here: train with --device cpu")
    return device


def _validate(model: GenerativeModel, val, batch_size: int,
              world: distributed.World | None = None) -> dict[str, float]:
    """The validation figures over the whole split; with several processes each takes its
    share (every size-th image) and the sums are added up across them."""
    world = world or distributed.World()
    totals: dict[str, float] = {}
    count = 0
    device = model.device
    mine = torch.arange(world.rank, len(val), world.size)
    for start in range(0, len(mine), batch_size):
        index = mine[start : start + batch_size]
        x = val.as_float(index).to(device)
        labels = None if val.labels is None else val.labels[index].to(device)
        for key, value in model.validation_metrics(x, labels).items():
            totals[key] = totals.get(key, 0.0) + value * x.shape[0]
        count += x.shape[0]
    if not world.alone:
        totals, count = distributed.mean_over_ranks(totals, count)
    return {k: v / max(count, 1) for k, v in totals.items()}


def perturb(x: torch.Tensor, rate: float, seed: int) -> torch.Tensor:
    """Each pixel (all its channels together) replaced, with probability rate, by a
    uniformly random 8-bit value; seeded, so a resumed run sees the same batches."""
    g = torch.Generator().manual_seed(seed)
    n, c, h, w = x.shape
    hit = torch.rand((n, 1, h, w), generator=g) < rate
    noise = torch.randint(0, 256, (n, c, h, w), generator=g).to(x.dtype) / 255.0
    return torch.where(hit, noise, x)


def train(settings: TrainSettings, *, clock: Callable[[], float] = time.monotonic,
          stop_requested: Callable[[], bool] | None = None,
          ) -> Iterator[Progress | Preview | Validation | Saved | Result]:
    """Trains until the budget is spent; yields events; closing it saves and stops.

    clock measures the budget, rates and save intervals; a caller that can pause the run
    (train_process) passes one that stands still while paused, so a pause spends no minutes.
    The run holds the folder's lock (core.runlock) from its start to its end, and first
    sweeps the temporary files of saves that a killed run left there.

    Started by torchrun (core.distributed), the process is one of several: each trains on
    its share of every batch, and only rank 0 checks, locks and writes the folder. There
    stop_requested (a Ctrl-C seen by this process) ends the run for all of them at the same
    step, saved, with "stopped" in the Result's summary: closing one process's generator
    alone would leave the others waiting for it.
    """
    if settings.epochs is None and settings.minutes is None:
        raise GenplayError("give a budget: a number of epochs or of minutes")
    check_precision(settings.precision)
    world = distributed.world_from_env()
    if not world.main:  # reads the run rank 0 checks, locks and writes
        yield from _train(settings, clock, None, world, stop_requested)
        return
    check_out_folder(settings)  # before the lock: a folder of the user's is never written
    with RunLock(settings.out) as lock:
        check_out_folder(settings, lock)  # again: another run may have saved there since
        yield from _train(settings, clock, lock, world, stop_requested)


def _process_device(settings: TrainSettings, world: distributed.World) -> TrainSettings:
    """With several processes on one machine's GPUs, each takes the GPU of its local rank."""
    if world.alone or training_device(settings.device).type != "cuda":
        return settings
    return dataclasses.replace(settings, device=f"cuda:{world.local_rank}")


def _train(settings: TrainSettings, clock: Callable[[], float], lock: RunLock | None,
           world: distributed.World, stop_requested: Callable[[], bool] | None,
           ) -> Iterator[Progress | Preview | Validation | Saved | Result]:
    settings = _process_device(settings, world)
    joined = distributed.start(world, training_device(settings.device))
    finished = False
    try:
        yield from _train_in_world(settings, clock, lock, world, stop_requested)
        finished = True
    finally:
        if joined:
            distributed.stop(finished)


def _train_in_world(settings: TrainSettings, clock: Callable[[], float], lock: RunLock | None,
                    world: distributed.World, stop_requested: Callable[[], bool] | None,
                    ) -> Iterator[Progress | Preview | Validation | Saved | Result]:
    run, note = _open_run(settings)
    run.lock = lock
    averaging = None
    if not world.alone:
        distributed.global_batch_norm(run.model)  # batch statistics of the whole batch
        distributed.broadcast_state(run.model)  # one starting point, whatever each built
        if run.ema is not None and run.step == 0:  # a fresh EMA starts at the weights
            run.ema.load_state_dict(run.model.state_dict())
        averaging = distributed.GradientAverage(run.model.parameters(), world)
    try:
        yield from _steps(run, note, settings, clock, world, stop_requested)
    finally:
        if averaging is not None:
            averaging.remove()


def _steps(run: _Run, note: str, settings: TrainSettings, clock: Callable[[], float],
           world: distributed.World, stop_requested: Callable[[], bool] | None,
           ) -> Iterator[Progress | Preview | Validation | Saved | Result]:
    if world.main:
        _sweep(settings.out)
    if note:
        yield Progress(run.step, None, run.epoch, message=note)
    model = run.model
    cfg = model.config
    # An upscaler learns from crops of a folder's photos at their own resolution; fitting
    # each whole photo into image_size pixels would leave it nothing to learn.
    data = load_dataset(settings.data, "train", size=cfg.image_size, channels=cfg.channels,
                        root=settings.data_root, patches=has_capability(model, Upscaler))
    train_set, val_set = train_val_split(data, settings.val_fraction, seed=settings.seed)
    # Named datasets are stored by name, folders by absolute path, so eval finds them again.
    dataset_name = settings.data if settings.data in dataset_names() else str(
        Path(settings.data).resolve())
    summary = {"train_images": len(train_set), "val_images": len(val_set),
               "skipped_files": len(data.skipped)}
    if not 0.0 <= settings.perturb < 1.0:
        raise GenplayError(f"--perturb must be from 0 to below 1, not {settings.perturb}")
    if settings.channels_last:
        model.to(memory_format=torch.channels_last)  # the same parameters, rearranged
        summary["channels_last"] = True
    if settings.perturb:
        summary["perturb"] = settings.perturb
    if data.skipped:
        yield Progress(run.step, None, run.epoch,
                       message=f"skipped {len(data.skipped)} unreadable files, "
                               f"e.g. {data.skipped[0][1]}")
    batch = min(cfg.batch_size, len(train_set))  # the global batch, over all processes
    if batch % world.size:
        fits = batch - batch % world.size or world.size
        raise GenplayError(f"a batch of {batch} does not split evenly among {world.size} "
                           f"processes: --set batch_size={fits} would")
    share = batch // world.size  # this process's part of each batch
    # Each epoch's order is the same on every process; each takes every size-th image of
    # it, so a step's images over all processes are the ones a single process would take.
    sampler = torch.utils.data.distributed.DistributedSampler(
        train_set, num_replicas=world.size, rank=world.rank, shuffle=True,
        seed=settings.seed * 100_003, drop_last=True)
    steps_per_epoch = max(1, len(sampler) // share)
    if not world.alone:
        summary["processes"] = world.size
    # A run stopped on the last step of an epoch was saved before that epoch was counted:
    # count it, so the resumed run starts the next epoch (its own order, its own number).
    run.epoch = max(run.epoch, run.step // steps_per_epoch)
    total = settings.epochs * steps_per_epoch if settings.epochs is not None else None
    deadline = clock() + settings.minutes * 60 if settings.minutes is not None else None
    device = model.device
    precision = settings.precision
    if precision == "bf16" and device.type == "cpu" and not runtime.cpu_has_native_bf16():
        precision = "fp32"  # emulated bfloat16 would cost far more than it saves
        yield Progress(run.step, None, run.epoch, message=BF16_EMULATED)
    if settings.precision != "fp32":  # what it trained in, where anything else was asked
        summary["precision"] = precision
    if device.type == "cuda":  # TF32 matrix products and tuned convolutions: same models
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        summary["device"] = torch.cuda.get_device_name(device)
    preview_gen = torch.Generator(device=device).manual_seed(settings.seed + 1)
    preview_seed = preview_gen.initial_seed()
    started = clock()
    start_elapsed, start_step = run.elapsed, run.step
    last_save = started
    last_validation: float | None = None
    last_preview: float | None = None  # when this session's last grid was drawn
    preview_cost = 0.0  # seconds the last grid took

    def preview_due(now: float) -> bool:
        if not settings.preview_every:
            return False
        if run.step % settings.preview_every == 0:
            return True
        if settings.preview_every_s is None:
            return False
        return last_preview is None or now - last_preview >= max(
            settings.preview_every_s, PREVIEW_COST_FACTOR * preview_cost)

    stopped = False

    def budget_left() -> bool:
        nonlocal stopped
        if total is not None and run.step >= total:
            return False  # the same step on every process: no need to agree
        left = deadline is None or clock() < deadline
        if world.alone:
            return left
        # Clocks and Ctrl-Cs differ by process: all stop where the first one would.
        asked, spent = distributed.agree(bool(stop_requested and stop_requested()), not left)
        stopped = stopped or asked
        return not (asked or spent)

    try:
        while budget_left():
            epoch_seed = settings.seed * 100_003 + run.epoch
            if train_set.redraw is not None:  # patches of photos: new ones every epoch
                train_set.images = train_set.redraw(epoch_seed, len(train_set))
            sampler.set_epoch(run.epoch)  # the order of torch.randperm seeded epoch_seed
            order = torch.tensor(list(sampler), dtype=torch.int64)
            first = run.step % steps_per_epoch  # resume mid-epoch where it stopped
            for i in range(first, steps_per_epoch):
                if not budget_left():
                    break
                index = order[i * share : (i + 1) * share]
                x = train_set.as_float(index)
                if settings.perturb > 0:
                    x = perturb(x, settings.perturb, settings.seed * 1_000_003 + run.step)
                labels = None if train_set.labels is None else train_set.labels[index]
                if settings.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                if device.type == "cuda":  # page-locked: the copy overlaps the GPU's work
                    x = x.pin_memory()
                if device.type != "cpu":
                    x = x.to(device, non_blocking=True)
                    labels = None if labels is None else labels.to(device, non_blocking=True)
                if cfg.cosine_lr and total is not None:
                    _set_lr(run, 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * run.step / total)))
                model.train()
                if not world.alone:  # each process its own draws, the same after a resume
                    torch.manual_seed(distributed.step_seed(settings.seed, run.step, world.rank))
                with torch.autocast(device.type, dtype=torch.bfloat16,
                                    enabled=precision == "bf16"):
                    losses = model.train_step(x, labels, run.optimizers, run.step)
                if not world.alone:  # the whole batch's, not this process's share's
                    losses = distributed.mean_losses(losses, world)
                if run.ema is not None:
                    run.ema.update(model)
                run.step += 1
                now = clock()
                run.elapsed = start_elapsed + (now - started)
                rate = (run.step - start_step) * batch / max(now - started, 1e-9)  # global
                if total is not None:
                    eta = (total - run.step) * batch / max(rate, 1e-9)
                else:
                    eta = max(0.0, deadline - now)
                if not all(math.isfinite(v) for v in losses.values()):
                    raise GenplayError(f"training diverged at step {run.step}: {losses}; "
                                       "try a lower learning rate (--set lr=...)")
                yield Progress(run.step, total, run.epoch, losses, rate, eta)
                if world.main and preview_due(now):
                    preview_gen.manual_seed(preview_seed)
                    images = run.for_eval().preview(settings.preview_count, preview_gen)
                    last_preview = clock()
                    preview_cost = last_preview - now
                    if images is not None:
                        yield Preview(run.step, to_uint8_hwc(images.cpu().numpy()))
                if world.main and now - last_save >= settings.save_every_s:
                    yield Saved(run.step, _save(run, dataset_name, data.class_names, summary))
                    last_save = clock()
            else:
                run.epoch += 1
                now = clock()
                due = (last_validation is None or not budget_left()
                       or now - last_validation >= settings.validate_every_s)
                if not world.alone:
                    (due,) = distributed.agree(due)  # one clock may say so, another not
                if not due:
                    continue
                last_validation = now
                metrics = _validate(run.for_eval(), val_set, batch, world)
                yield Validation(run.epoch, run.step, metrics)
                summary["val"] = metrics
                if world.main:
                    yield Saved(run.step, _save(run, dataset_name, data.class_names, summary))
                last_save = clock()
                continue
            break
    except GeneratorExit:
        # Stopped between steps by the caller (Cancel, Ctrl-C): keep what was learnt.
        if world.main and run.step > start_step and run.step != run.saved_step:
            _save(run, dataset_name, data.class_names, summary)
        raise
    # The last epoch's save holds the final state already (unless a time budget ran out).
    if world.main and run.step != run.saved_step:
        _save(run, dataset_name, data.class_names, summary)
    done = {"steps": run.step, "epochs": run.epoch, "seconds": round(run.elapsed, 1)}
    yield Result(settings.out, done | ({"stopped": True} if stopped else {}))
