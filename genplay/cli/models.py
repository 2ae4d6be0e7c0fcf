"""genplay models, train: list the checkpoints, train new ones."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import shlex
import sys
from pathlib import Path

from genplay.cli.common import Stop, add_overwrite, add_threads, parse_sets, run_with_bar


def cmd_models(args: argparse.Namespace) -> int:
    from genplay.core import checkpoints
    from genplay.core.paths import user_model_dir

    if args.dir:
        directory = Path(args.dir)
        found, broken = checkpoints.scan(directory)
    else:  # the shipped checkpoints, and the models genplay pull brought
        directory = checkpoints.default_checkpoint_dir()
        found, broken = checkpoints.scan_all([directory, user_model_dir()], [])
    if args.json:
        rows = [{
            "name": i.name, "path": str(i.path), "family": i.family, "dataset": i.dataset,
            "image_shape": list(i.image_shape), "capabilities": i.capabilities,
            "class_names": list(i.class_names) if i.class_names else None,
            "metrics": i.metrics, "recipe": i.recipe, "format": i.format,
            "architecture": i.architecture, "metrics_error": i.metrics_error or None,
        } for i in found]
        print(json.dumps({"checkpoints": rows,
                          "unreadable": [{"path": str(p), "reason": r} for p, r in broken]},
                         indent=2))
        return 0
    if not found and not broken:
        print(f"no checkpoints in {directory}")
        return 0
    print(f"checkpoints in {directory}:")
    header = f"{'name':<26} {'family':<11} {'dataset':<14} {'shape':<8} {'key metrics'}"
    print(header)
    print("-" * len(header))
    for info in found:
        shape = "x".join(str(s) for s in info.image_shape)
        print(f"{info.name:<26} {info.family:<11} {Path(info.dataset).name:<14} {shape:<8} "
              f"{info.key_metrics()}")
        if info.architecture:  # a model of another format: what it is
            print(f"{'':<26} {info.architecture}")
        print(f"{'':<26} can: {', '.join(info.capabilities) or '-'}")
        if info.class_names:  # what --class takes (or an index)
            print(f"{'':<26} classes: {', '.join(info.class_names)}")
    for path, reason in broken:
        print(f"{path.name:<26} UNREADABLE: {reason}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from genplay.core.export import export_steps

    result = run_with_bar(export_steps(args.checkpoint, args.out, to=args.to,
                                       overwrite=args.overwrite), desc="export")
    print(result.summary)
    print(f"open it in diffusers with DDPMPipeline.from_pretrained({str(args.out)!r}), "
          f"or in genplay: genplay sample {shlex.quote(str(args.out))}")
    return 0


def cmd_prior(args: argparse.Namespace) -> int:
    from genplay.core import runtime
    from genplay.core.errors import GenplayError
    from genplay.core.ops.code_prior import COMPONENTS, fit_code_prior

    try:
        sizes = (list(COMPONENTS) if args.components is None else
                 [int(k) for k in args.components.split(",") if k.strip()])
    except ValueError:
        raise GenplayError(f"--components {args.components!r}: whole numbers separated by "
                           "commas, such as 1,10,100") from None
    runtime.set_threads(args.threads)
    result = run_with_bar(fit_code_prior(args.checkpoint, args.out, sizes, seed=args.seed,
                                         data_root=args.data_root), desc="prior")
    chosen = result.summary
    tried = ", ".join(f"{k}: {v:.2f}" for k, v in chosen["held_out_nats"].items())
    print(f"{chosen['components']} components, chosen by the mean log-density (nats) of "
          f"held-out training codes ({tried}); written to {result.value}")
    print(f"measure it with: genplay eval {shlex.quote(str(result.value))}")
    return 0


def train_recipe(args: argparse.Namespace) -> str:
    """The command that reproduces a run: what shaped the model, the data and the budget."""
    parts = ["genplay", "train", args.family, "--data", args.data]
    parts += ["--epochs", str(args.epochs)] if args.epochs is not None else [
        "--minutes", str(args.minutes)]
    if args.size not in (None, 28):
        parts += ["--size", str(args.size)]
    if args.channels not in (None, 1):
        parts += ["--channels", str(args.channels)]
    if args.seed:
        parts += ["--seed", str(args.seed)]
    if args.init:
        parts += ["--init", args.init]
    for pair in args.set:
        parts += ["--set", pair]
    if args.perturb:
        parts += ["--perturb", str(args.perturb)]
    if getattr(args, "device", "cpu") != "cpu":
        parts += ["--device", args.device]
    if getattr(args, "nproc", 1) > 1:  # the processes that trained it (over all machines)
        parts += ["--nproc", str(args.nproc)]
    if getattr(args, "precision", "fp32") != "fp32":
        parts += ["--precision", args.precision]
    if getattr(args, "channels_last", False):
        parts += ["--channels-last"]
    parts += ["--out", args.out]
    return " ".join(shlex.quote(p) for p in parts)


def take_shape_from_run(args: argparse.Namespace) -> str:
    """--resume continues the model saved in --out as it is: its size, channels and config
    fields come from there, so the recipe still says what shaped it. Options given that
    disagree with it are a mistake to report, not to ignore. Returns the recipe the run
    was saved with ("" if none can be read), for the resumed run's recipe to extend."""
    from genplay.core import checkpoints, registry
    from genplay.core.errors import GenplayError

    try:
        info = checkpoints.read_info(Path(args.out))
        # as config.json holds them (tuples as lists), to compare with the run's
        defaults = json.loads(json.dumps(registry.get(info.family).Config().to_dict()))
    except GenplayError:
        return ""  # train() says what is wrong: nothing to resume, a broken config ...
    if info.family != args.family:
        return ""  # and that it holds another family
    config = info.config
    given = {"--size": (args.size, config.get("image_size")),
             "--channels": (args.channels, config.get("channels"))}
    given |= {f"--set {k}": (v, config.get(k)) for k, v in parse_sets(args.set).items()}
    wrong = [f"{option} {mine} (it has {theirs})" for option, (mine, theirs) in given.items()
             if mine is not None and mine != theirs]
    if wrong:
        raise GenplayError(f"{args.out} holds a model trained otherwise: {'; '.join(wrong)}. "
                           "--resume continues it as it is: leave these out, or train a new "
                           "model with another --out")
    args.size, args.channels = config.get("image_size"), config.get("channels")
    args.set = [f"{k}={json.dumps(v)}" for k, v in config.items()
                if k not in ("image_size", "channels") and v != defaults.get(k)]
    return info.recipe or ""


def chained_recipe(before: str, now: str) -> str:
    """The commands that made a model so far (a resumed run's, or the checkpoint that
    --init started from), then this one, so the whole training it had is on record."""
    return f"{before}; then {now}" if before else now


def resumed_recipe(before: str, now: str) -> str:
    """A resumed run's recipe: the run that was resumed keeps its own say (its epochs,
    its device), not this one's alone."""
    return chained_recipe(before, f"{now} --resume")


def launch_processes(args: argparse.Namespace, argv: list[str]) -> int:
    """`genplay train ... --nproc N`: the same command in N processes started by torchrun
    on this machine (its --standalone rendezvous), each with its share of the cores."""
    import os
    import subprocess

    from genplay.core import runtime

    threads = args.threads or max(1, runtime.choose_threads(None) // args.nproc)
    rest = _without_option(argv, "--nproc")
    rest = _without_option(rest, "--threads") + ["--threads", str(threads)]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={args.nproc}", "-m", "genplay", *rest]
    print(f"starting {args.nproc} processes with torchrun, {threads} thread(s) each",
          file=sys.stderr)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:  # torchrun passes Ctrl-C on to the processes, which save
        return 130


def _before_launch(args: argparse.Namespace) -> None:
    """What a run would refuse at its start, said once here rather than by every process
    in torchrun's report of a failed worker: a missing dataset, a budget, an --out that
    holds something else (or nothing to resume)."""
    from genplay.core import datasets
    from genplay.core.train import TrainSettings, check_out_folder

    if args.data in datasets.CATALOGUE:
        datasets.find(args.data, args.data_root, "train")
    check_out_folder(TrainSettings(family=args.family, data=args.data, out=Path(args.out),
                                   epochs=args.epochs, minutes=args.minutes,
                                   resume=args.resume))


def _without_option(argv: list[str], name: str) -> list[str]:
    """argv without `name VALUE` or `name=VALUE`."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == name:
            skip = True
        elif not item.startswith(name + "="):
            out.append(item)
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from genplay.core import datasets, distributed, runtime
    from genplay.core.errors import GenplayError
    from genplay.core.train import TrainSettings, train, training_device

    training_device(args.device)  # a device this machine lacks is said before anything starts
    if args.nproc > 1:
        if distributed.world_from_env().size > 1:
            raise GenplayError("--nproc starts the processes itself: leave it out under "
                               "torchrun")
        if args.nproc > 64:
            raise GenplayError(f"--nproc {args.nproc}: at most 64 processes on one machine")
        _before_launch(args)
        return launch_processes(args, sys.argv[1:])
    world = distributed.world_from_env()
    args.nproc = world.size  # under torchrun: the recipe says how many processes trained
    threads = runtime.set_threads(args.threads)
    before = ""
    if args.resume:
        before = take_shape_from_run(args)
    elif args.init:  # the starting checkpoint's size and channels, unless given
        from genplay.core import checkpoints

        start = checkpoints.read_info(Path(args.init))
        args.channels = start.image_shape[0] if args.channels is None else args.channels
        args.size = start.image_shape[1] if args.size is None else args.size
        before = start.recipe
    args.size = 28 if args.size is None else args.size
    args.channels = 1 if args.channels is None else args.channels
    recipe = (resumed_recipe(before, train_recipe(args)) if args.resume
              else chained_recipe(before, train_recipe(args)))
    settings = TrainSettings(
        family=args.family, data=args.data, out=Path(args.out), epochs=args.epochs,
        minutes=args.minutes, size=args.size, channels=args.channels, seed=args.seed,
        resume=args.resume, overrides=parse_sets(args.set), data_root=args.data_root,
        recipe=recipe, perturb=args.perturb, device=args.device, precision=args.precision,
        channels_last=args.channels_last,
        init=Path(args.init) if args.init and not args.resume else None,
    )
    preview_dir = Path(args.preview_dir) if args.preview_dir else None
    if args.data in datasets.CATALOGUE:  # a missing dataset is said before anything starts
        datasets.find(args.data, args.data_root, "train")
    on = "" if args.device == "cpu" else f" on {args.device}"
    if not world.main:  # rank 0 speaks for the run; the others train in silence
        distributed.leave(_quietly(settings))
    alone = "" if world.alone else f" (process 0 of {world.size})"
    print(f"training {args.family} on {args.data} with {threads} thread(s){on}{alone} -> "
          f"{args.out}", file=sys.stderr)
    stop = Stop()
    events = train(settings, stop_requested=None if world.alone else lambda: stop.requested)
    try:
        stopped = _follow(events, args, preview_dir, stop, stops_itself=not world.alone)
    except KeyboardInterrupt:  # a second Ctrl-C: abort, without the save the first asked for
        if inspect.getgeneratorstate(events) == inspect.GEN_SUSPENDED:
            with contextlib.suppress(KeyboardInterrupt):  # ends it at once: lock let go
                events.throw(KeyboardInterrupt)
        print(f"genplay train: aborted; {_what_is_left(settings.out)}", file=sys.stderr)
        return 130
    if stopped:
        print(f"stopped; checkpoint saved in {args.out} (continue with --resume)", file=sys.stderr)
    code = 130 if stopped else 0
    if not world.alone:  # the group is left: end without the teardown that can abort
        distributed.leave(code)
    return code


def _what_is_left(out: Path) -> str:
    from genplay.core import checkpoints
    from genplay.core.errors import GenplayError

    try:
        steps = checkpoints.read_info(out).training.get("steps", "?")
    except GenplayError:
        return (f"no whole checkpoint was saved in {out}; train again without --resume "
                "(a fresh run takes the folder)")
    return f"{out} keeps the checkpoint of step {steps} (continue with --resume)"


def _quietly(settings) -> int:
    """A process other than rank 0 of a run: trains, and stops where the others do."""
    from genplay.core.events import Result
    from genplay.core.train import train

    stopped = False
    with Stop() as stop:
        for event in train(settings, stop_requested=lambda: stop.requested):
            # to the run's end even when stopped: the processes leave the group together
            stopped = stopped or (isinstance(event, Result) and event.summary.get("stopped"))
    return 130 if stopped else 0


def _follow(events, args: argparse.Namespace, preview_dir: Path | None,
            stop: Stop | None = None, stops_itself: bool = False) -> bool:
    """Shows a run's events; True if the user stopped it (Ctrl-C), which saved it. With
    several processes the run itself stops on a Ctrl-C (all of them at one step): its
    Result says so."""
    from tqdm import tqdm

    from genplay.core.events import Preview, Progress, Result, Saved, Validation

    stopped = False
    with stop or Stop() as stop, tqdm(desc=args.family, unit="step", file=sys.stderr,
                                      dynamic_ncols=True, disable=None, mininterval=1.0) as bar:
        for event in events:
            if isinstance(event, Progress):
                if event.message:
                    tqdm.write(event.message, file=sys.stderr)
                if event.total is not None:
                    bar.total = event.total
                bar.set_postfix({k: f"{v:.4g}" for k, v in event.losses.items()}
                                | {"img/s": f"{event.images_per_s:.0f}", "ep": event.epoch + 1},
                                refresh=False)
                bar.update(event.step - bar.n)  # redraws at most once a second
                if args.log_every and event.step % args.log_every == 0:
                    losses = " ".join(f"{k}={v:.4g}" for k, v in event.losses.items())
                    tqdm.write(f"step {event.step} epoch {event.epoch + 1} {losses} "
                               f"{event.images_per_s:.0f} img/s", file=sys.stderr)
            elif isinstance(event, Validation):
                figures = " ".join(f"{k}={v:.4f}" for k, v in event.metrics.items())
                tqdm.write(f"epoch {event.epoch} (step {event.step}) validation: {figures}",
                           file=sys.stderr)
            elif isinstance(event, Preview) and preview_dir is not None:
                from genplay.core.images import make_grid, save_png

                save_png(preview_dir / f"step{event.step:07d}.png", make_grid(event.images))
            elif isinstance(event, Saved):
                pass
            elif isinstance(event, Result):
                tqdm.write(f"done: {event.summary}", file=sys.stderr)
                stopped = stopped or bool(event.summary.get("stopped"))
            if stop.requested and not stops_itself:
                events.close()  # saves the last completed step
                stopped = True
                break
    return stopped


# --- parser ----------------------------------------------------------------------------------
def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the checkpoints and their metrics")
    p.add_argument("--dir", help="checkpoint folder (default: the shipped checkpoints/)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("export", help="write a genplay diffusion model as a diffusers "
                                      "pipeline folder")
    p.add_argument("checkpoint", help="a genplay diffusion checkpoint folder")
    p.add_argument("--to", choices=["diffusers"], required=True, help="the format to write")
    p.add_argument("out", help="the folder to write (must not exist, unless --overwrite)")
    add_overwrite(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("prior", help="fit a VAE's code density after training (a Gaussian "
                                     "mixture to draw from) and write it as a new checkpoint")
    p.add_argument("checkpoint", help="a genplay VAE checkpoint folder")
    p.add_argument("--out", required=True, help="the folder to write (must not exist)")
    p.add_argument("--components",
                   help="the mixture sizes to try, comma-separated; the one whose held-out "
                        "training codes are most likely is kept (default 1,3,10,30,100,300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", help="folder holding the named datasets")
    add_threads(p)
    p.set_defaults(func=cmd_prior)

    p = sub.add_parser("train", help="train a model on a dataset or an image folder")
    p.add_argument("family", help="model family: vae, gan, classifier, ...")
    from genplay.core.datasets import CATALOGUE  # names only: no torch

    p.add_argument("--data", required=True,
                   help=f"{', '.join(CATALOGUE)} (genplay data get NAME), or a folder of images")
    p.add_argument("--data-root", help="folder holding the named datasets")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--epochs", type=int, help="train for this many epochs in total")
    budget.add_argument("--minutes", type=float, help="train for this many minutes")
    p.add_argument("--size", type=int, choices=(8, 16, 28, 32, 64),
                   help="image side in pixels (default 28; with --resume, the run's)")
    p.add_argument("--channels", type=int, choices=(1, 3),
                   help="1 gray or 3 colour (default 1; with --resume, the run's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--init", metavar="CHECKPOINT",
                   help="start from this checkpoint's config and weights (e.g. a "
                        "sketch-diffusion model from the dataset's diffusion model)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a config field, e.g. --set latent_dim=16")
    p.add_argument("--perturb", type=float, default=0.0, metavar="RATE",
                   help="replace this fraction of the pixels by noise: trains a background "
                        "model for the likelihood-ratio outlier score (e.g. 0.2)")
    p.add_argument("--device", default="cpu",
                   help="where to train: cpu (default), cuda, cuda:N, mps, or auto (a GPU if "
                        "there is one); the checkpoint is the same either way")
    p.add_argument("--preview-dir", help="also save a sample grid every few hundred steps here")
    p.add_argument("--log-every", type=int, default=0, help="print the losses every N steps")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                   help="bf16: autocast to bfloat16 (Ampere or later GPUs, AVX-512 CPUs; on "
                        "a CPU that would emulate it the run trains in fp32 and says so); "
                        "the weights stay float32")
    p.add_argument("--channels-last", action="store_true",
                   help="convolutions on channels-last tensors (faster on GPU tensor cores)")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train in N processes on this machine (torchrun, gloo on CPUs, NCCL "
                        "on GPUs): each takes its share of every batch; the batch stays the "
                        "same overall")
    add_threads(p)
    p.set_defaults(func=cmd_train)
