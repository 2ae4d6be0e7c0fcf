"""genplay's command line: every panel has a twin here.

User mistakes (a missing file, a bad option, a broken checkpoint) print one line
and exit with code 2; only bugs show a traceback.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from genplay import __version__
from genplay.core.errors import GenplayError


class _Stop:
    """First Ctrl-C asks the running job to stop at the next step; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> _Stop:
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            print("\nstopping after this step (Ctrl-C again to abort)...", file=sys.stderr)

        self._previous = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)


def _parse_sets(pairs: Sequence[str]) -> dict[str, Any]:
    """--set name=value pairs; values parsed as JSON where possible (numbers, true/false)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise GenplayError(f"--set expects name=value, got {pair!r}")
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            values[name] = raw
    return values


def _run_with_bar(events: Iterator, desc: str, total: int | None = None, unit: str = "it",
                  on_partial=None):
    """Iterates core events with a tqdm bar; returns the Result (value and summary).
    Partial results go to on_partial as they come."""
    from tqdm import tqdm

    from genplay.core.events import Partial, Progress, Result

    result = None
    with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
              disable=None, dynamic_ncols=True) as bar:
        for event in events:
            if isinstance(event, Progress):
                if event.total is not None:
                    bar.total = event.total
                bar.update(event.step - bar.n)
            elif isinstance(event, Partial) and on_partial is not None:
                on_partial(event.value)
            elif isinstance(event, Result):
                result = event
    return result


def _load(path: str):
    from genplay.core import checkpoints

    return checkpoints.load(path)


# --- commands --------------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    from genplay.core import checkpoints

    directory = Path(args.dir) if args.dir else checkpoints.default_checkpoint_dir()
    found, broken = checkpoints.scan(directory)
    if args.json:
        rows = [{
            "name": i.name, "path": str(i.path), "family": i.family, "dataset": i.dataset,
            "image_shape": list(i.image_shape), "capabilities": i.capabilities,
            "metrics": i.metrics, "recipe": i.recipe,
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
        print(f"{'':<26} can: {', '.join(info.capabilities) or '-'}")
    for path, reason in broken:
        print(f"{path.name:<26} UNREADABLE: {reason}")
    return 0


def train_recipe(args: argparse.Namespace) -> str:
    """The command that reproduces a run: only what shapes the model, no local paths."""
    parts = ["genplay", "train", args.family, "--data", args.data]
    parts += ["--epochs", str(args.epochs)] if args.epochs is not None else [
        "--minutes", str(args.minutes)]
    if args.size != 28:
        parts += ["--size", str(args.size)]
    if args.channels != 1:
        parts += ["--channels", str(args.channels)]
    if args.seed:
        parts += ["--seed", str(args.seed)]
    for pair in args.set:
        parts += ["--set", pair]
    if args.perturb:
        parts += ["--perturb", str(args.perturb)]
    parts += ["--out", args.out]
    return " ".join(shlex.quote(p) for p in parts)


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from genplay.core import runtime
    from genplay.core.events import Preview, Progress, Result, Saved, Validation
    from genplay.core.train import TrainSettings, train

    threads = runtime.set_threads(args.threads)
    recipe = train_recipe(args)
    settings = TrainSettings(
        family=args.family, data=args.data, out=Path(args.out), epochs=args.epochs,
        minutes=args.minutes, size=args.size, channels=args.channels, seed=args.seed,
        resume=args.resume, overrides=_parse_sets(args.set), data_root=args.data_root,
        recipe=recipe, perturb=args.perturb,
    )
    preview_dir = Path(args.preview_dir) if args.preview_dir else None
    print(f"training {args.family} on {args.data} with {threads} thread(s) -> {args.out}",
          file=sys.stderr)
    events = train(settings)
    stopped = False
    with _Stop() as stop, tqdm(desc=args.family, unit="step", file=sys.stderr, dynamic_ncols=True,
                               disable=None, mininterval=1.0) as bar:
        for event in events:
            if isinstance(event, Progress):
                if event.message:
                    tqdm.write(event.message, file=sys.stderr)
                if event.total is not None:
                    bar.total = event.total
                bar.set_postfix({k: f"{v:.4g}" for k, v in event.losses.items()}
                                | {"img/s": f"{event.images_per_s:.0f}", "ep": event.epoch},
                                refresh=False)
                bar.update(event.step - bar.n)  # redraws at most once a second
                if args.log_every and event.step % args.log_every == 0:
                    losses = " ".join(f"{k}={v:.4g}" for k, v in event.losses.items())
                    tqdm.write(f"step {event.step} epoch {event.epoch} {losses} "
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
            if stop.requested:
                events.close()  # saves the last completed step
                stopped = True
                break
    if stopped:
        print(f"stopped; checkpoint saved in {args.out} (continue with --resume)", file=sys.stderr)
        return 130
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from genplay.core import checkpoints, runtime
    from genplay.core.images import save_png
    from genplay.core.ops.sampling import png_metadata, render, sample_images, sample_record

    runtime.set_threads(args.threads)
    if args.replay:
        return _replay(args)
    if args.checkpoint is None:
        raise GenplayError("give a checkpoint folder (or --replay SIDECAR.json)")
    if not args.output and not args.out_dir:
        raise GenplayError("say where to write: -o grid.png or --out-dir DIR")
    model, info = _load(args.checkpoint)
    opts = {**_parse_sets(args.set), **_diffusion_options(args)}
    if args.temperature is not None:
        opts["temperature"] = args.temperature
    result = _run_with_bar(sample_images(model, args.n, args.seed, **opts), "sampling", args.n,
                           "img")
    record = sample_record(
        checkpoint=str(info.path.resolve()), model=info.name, family=info.family,
        checkpoint_hash=checkpoints.weights_hash(info.path), seed=args.seed, n=args.n,
        options=result.summary["options"], nrow=args.nrow,
    )
    if args.output:
        save_png(args.output, render(result.value, nrow=args.nrow), png_metadata(record))
        print(args.output)
    if args.out_dir:
        out = Path(args.out_dir)
        for i in range(args.n):
            save_png(out / f"{info.name}-seed{args.seed}-{i:05d}.png",
                     render(result.value, index=i), png_metadata({**record, "index": i}))
        print(f"{args.n} images in {out}")
    return 0


def _diffusion_options(args: argparse.Namespace) -> dict[str, Any]:
    """--sampler, --steps, --eta, --class, --guidance where given (sample, sketch, inpaint)."""
    names = {"sampler": "sampler", "steps": "steps", "eta": "eta", "label": "class",
             "guidance": "guidance"}
    return {option: getattr(args, attr) for attr, option in names.items()
            if getattr(args, attr, None) is not None}


def _add_diffusion_options(p: argparse.ArgumentParser, steps_help: str) -> None:
    p.add_argument("--sampler", choices=["ddpm", "ddim", "dpmpp"],
                   help="diffusion sampler (default dpmpp: DPM-Solver++(2M))")
    p.add_argument("--steps", type=int, help=steps_help)
    p.add_argument("--eta", type=float, help="DDIM noise: 0 deterministic, 1 like DDPM")
    p.add_argument("--class", dest="label", metavar="NAME",
                   help="class to draw, by name (see genplay models) or index")
    p.add_argument("--guidance", type=float,
                   help="classifier-free guidance scale with --class (default 1)")


def add_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None,
                   help="PyTorch threads (default: the cores free now)")


def _add_image_outputs(p: argparse.ArgumentParser, what: str) -> None:
    """--invert for the input, -o / --nrow / --out-dir for the results, --threads."""
    p.add_argument("--invert", choices=["auto", "yes", "no"], default="auto",
                   help=f"invert the {what} first (auto: when its border is light)")
    p.add_argument("-o", "--output", help="write the result as a PNG (several: a grid)")
    p.add_argument("--nrow", type=int, default=None, help="images per row of the grid")
    p.add_argument("--out-dir", help="write one PNG per result into this folder")
    add_threads(p)


def _load_guide(model, path: str, invert: str):
    """An image file as a model input (1, C, H, W), letterboxed; inverted when dark on light
    (--invert auto decides from the border)."""
    from genplay.core.images import load_image
    from genplay.core.ops.sketch import guide_tensor

    return guide_tensor(model, load_image(path), {"auto": None, "yes": True, "no": False}[invert])


def _save_candidates(args: argparse.Namespace, images, info, stem: str, record: dict) -> None:
    from genplay.core.images import make_grid, save_png, to_uint8_hwc

    pixels = to_uint8_hwc(images)
    metadata = {"model": info.name, "genplay_version": __version__, **record}
    if args.output:  # one image as itself, several as a grid
        grid = pixels[0] if len(pixels) == 1 else make_grid(pixels, nrow=args.nrow)
        save_png(args.output, grid, metadata)
        print(args.output)
    if args.out_dir:
        out = Path(args.out_dir)
        for i, image in enumerate(pixels):
            save_png(out / f"{stem}-{i:02d}.png", image, {**metadata, "index": i})
        print(f"{len(pixels)} images in {out}")


def _check_model_options(model, opts: dict[str, Any]) -> dict[str, Any]:
    """Diffusion options checked against what the model declares (temperature excluded)."""
    from genplay.core.models.base import Sampler
    from genplay.core.ops.sampling import check_options

    if not opts:
        return {}
    if not isinstance(model, Sampler):
        raise GenplayError(f"this model takes none of: {', '.join(opts)}")
    checked = check_options(model, opts)
    return {k: v for k, v in checked.items() if k in opts}


def _method_options(args: argparse.Namespace, model, info, diffusion: bool,
                    allowed: set[str], what: str) -> dict[str, Any]:
    """The diffusion options given, checked against the model (a diffusion model), or
    only those in `allowed` (a model that does `what` another way)."""
    opts = _diffusion_options(args)
    if diffusion:
        return _check_model_options(model, opts)
    extra = sorted(set(opts) - allowed)
    if extra:
        raise GenplayError(f"{info.name} {what}; --{extra[0]} is for diffusion models")
    return opts


def _open_for_writing(args: argparse.Namespace):
    """Threads set, an output named, the checkpoint loaded: (model, info)."""
    from genplay.core import runtime

    runtime.set_threads(args.threads)
    if not args.output and not args.out_dir:
        raise GenplayError("say where to write: -o FILE.png or --out-dir DIR")
    return _load(args.checkpoint)


def cmd_sketch(args: argparse.Namespace) -> int:
    from genplay.core.ops.sketch import sketch_images, sketch_method

    model, info = _open_for_writing(args)
    method = sketch_method(model)
    if method is None:
        raise GenplayError(f"{info.name} ({info.family}) cannot make images from a sketch")
    opts = _method_options(args, model, info, method == "sdedit", {"steps"},
                           "fits a latent to the sketch")
    guide = _load_guide(model, args.sketch, args.invert)
    result = _run_with_bar(sketch_images(model, guide, n=args.n, seed=args.seed,
                                         strength=args.strength, **opts), "sketch")
    record = {"sketch": Path(args.sketch).name, "method": method, "strength": args.strength,
              "seed": args.seed, "options": opts}
    _save_candidates(args, result.value, info, f"{Path(args.sketch).stem}-{info.name}", record)
    return 0


def cmd_inpaint(args: argparse.Namespace) -> int:
    from genplay.core.images import load_image, prepare_for_model
    from genplay.core.ops.sketch import inpaint_images, inpaint_method

    model, info = _open_for_writing(args)
    method = inpaint_method(model)
    if method is None:
        raise GenplayError(f"{info.name} ({info.family}) cannot inpaint; use a diffusion "
                           "model or a PixelCNN")
    opts = _method_options(args, model, info, method == "diffusion", set(),
                           "completes pixel by pixel")
    pixels = load_image(args.image)
    mask_pixels = load_image(args.mask)
    if mask_pixels.shape[:2] != pixels.shape[:2]:
        raise GenplayError(f"the mask is {mask_pixels.shape[1]}x{mask_pixels.shape[0]} pixels, "
                           f"the image {pixels.shape[1]}x{pixels.shape[0]}: they must match")
    image = _load_guide(model, args.image, args.invert)
    # The mask goes through the same letterbox as the image (never inverted): white = fill.
    size = model.image_shape[1]
    mask, _ = prepare_for_model(mask_pixels, size=size, channels=1, invert=False)
    hole = mask[..., 0] > 127
    result = _run_with_bar(inpaint_images(model, image, hole, n=args.n, seed=args.seed,
                                          **opts), "inpainting")
    record = {"image": Path(args.image).name, "mask": Path(args.mask).name, "method": method,
              "seed": args.seed, "options": opts}
    _save_candidates(args, result.value, info, f"{Path(args.image).stem}-{info.name}", record)
    return 0


def _replay(args: argparse.Namespace) -> int:
    """Redraws an image saved by the app (or by sample) from its JSON sidecar."""
    from genplay.core import checkpoints
    from genplay.core.images import save_png
    from genplay.core.ops.sampling import png_metadata, render, sample_images

    sidecar = Path(args.replay)
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        folder, seed, n = Path(record["checkpoint"]), int(record["seed"]), int(record["n"])
        options, index, nrow = dict(record["options"]), record.get("index"), record.get("nrow")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GenplayError(f"{sidecar}: not a genplay sidecar ({exc})") from None
    if not folder.is_dir():  # moved checkout: look for the model by name
        folder = checkpoints.default_checkpoint_dir() / str(record.get("model", ""))
    model, info = _load(str(folder))
    digest = checkpoints.weights_hash(info.path)
    if digest != record.get("checkpoint_hash"):
        raise GenplayError(f"{info.path} has changed since {sidecar.name} was saved "
                           f"(weights {digest}, expected {record.get('checkpoint_hash')})")
    result = _run_with_bar(sample_images(model, n, seed, **options), "sampling", n, "img")
    output = Path(args.output) if args.output else sidecar.with_suffix(".replay.png")
    save_png(output, render(result.value, index=index, nrow=nrow), png_metadata(record))
    print(output)
    return 0


def _endpoint(value: str) -> int | str:
    """--from/--to: a whole number is a seed, anything else an image file."""
    try:
        return int(value)
    except ValueError:
        return value


def cmd_interpolate(args: argparse.Namespace) -> int:
    from genplay.core import runtime
    from genplay.core.images import make_grid, save_png, to_uint8_hwc
    from genplay.core.models.base import Latent
    from genplay.core.ops.interpolation import interpolate_endpoints, save_gif, save_latents_npz

    runtime.set_threads(args.threads)
    model, info = _load(args.checkpoint)
    if not isinstance(model, Latent):
        raise GenplayError(f"{info.name} ({info.family}) has no latent space to interpolate in")
    start, end = _endpoint(args.start), _endpoint(args.end)
    result = _run_with_bar(interpolate_endpoints(model, start, end, frames=args.frames,
                                                 spherical=args.slerp), "interpolating")
    frames = to_uint8_hwc(result.value)
    metadata = {"model": info.name, "from": args.start, "to": args.end, "frames": args.frames,
                "spherical": args.slerp, "genplay_version": __version__}
    save_png(args.output, make_grid(frames, nrow=len(frames)), metadata)
    print(args.output)
    if args.gif:
        save_gif(args.gif, frames, fps=args.fps)
        print(args.gif)
    if args.npz:
        save_latents_npz(args.npz, result.summary["latents"], spherical=args.slerp)
        print(args.npz)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from genplay.core import checkpoints, runtime
    from genplay.core.images import find_images
    from genplay.core.ops import outliers

    runtime.set_threads(args.threads)
    model, info = _load(args.checkpoint)
    reference, typical = outliers.load_reference(info.path, checkpoints.weights_hash(info.path))
    background = outliers.load_background(info.path)
    method = args.method or next((m for m in ("complexity", "recon", "bpd") if m in reference),
                                 None)
    if method not in reference:
        have = ", ".join(reference) or "none"
        raise GenplayError(f"no reference for the {method!r} score (measured: {have})")
    threshold = outliers.threshold_at_fpr(reference[method], args.fpr)
    files = find_images(args.paths)
    if not files:
        raise GenplayError("no images found in the paths given")
    rows: list[dict] = []

    def add_rows(part: dict) -> None:
        rows.extend(outliers.verdict_rows(part["files"], part["errors"], part["scores"][method],
                                          reference[method], threshold))

    _run_with_bar(outliers.score_files(model, files, [method], typical_bpd=typical,
                                       background=background),
                  "scoring", len(files), "img", on_partial=add_rows)
    header = {"checkpoint": info.name, "method": method, "fpr": args.fpr,
              "threshold": threshold}
    if args.json or args.csv:
        outliers.write_rows(sys.stdout, rows, "json" if args.json else "csv", header)
    else:
        print(f"{info.name}, {method} score; outlier above {threshold:.4g} "
              f"({args.fpr:.0%} of its test images are)")
        for row in rows:
            if row["score"] is None:
                print(f"{'unreadable':>10}  {row['file']}: {row['error']}")
            else:
                print(f"{row['verdict']:>10}  {row['score']:9.4f}  {row['percentile']:5.1f}%  "
                      f"{row['file']}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from genplay.core import runtime
    from genplay.core.metrics import evaluate_checkpoint, store_evaluation

    runtime.set_threads(args.threads)
    metrics, reference = None, None
    events = evaluate_checkpoint(
        args.checkpoint, features=args.features, n_samples=args.samples, iwae_k=args.iwae_k,
        limit=args.limit, seed=args.seed, data_root=args.data_root,
        quality=not args.scores_only, scores=not args.no_scores, slow_scores=args.slow_scores,
    )
    from tqdm import tqdm

    from genplay.core.events import Progress, Result

    bar, phase = None, None
    with _Stop() as stop:
        for event in events:
            if isinstance(event, Progress):
                if event.message != phase:  # a new phase: a new bar
                    if bar is not None:
                        bar.close()
                    phase = event.message
                    bar = tqdm(desc=phase, total=event.total, file=sys.stderr, disable=None,
                               dynamic_ncols=True, leave=True)
                    if bar.disable:  # not a terminal: a line per phase still shows progress
                        print(phase, file=sys.stderr, flush=True)
                bar.update(event.step - bar.n)
            elif isinstance(event, Result):
                metrics, reference = event.value, event.summary.get("reference")
            if stop.requested:
                events.close()
                print("stopped; metrics.json left as it was", file=sys.stderr)
                return 130
    if bar is not None:
        bar.close()
    assert metrics is not None
    metrics = store_evaluation(args.checkpoint, metrics, reference, merge=args.scores_only,
                               write=not args.dry_run)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


# --- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genplay", description="A playground for deep generative image models.")
    parser.add_argument("--version", action="version", version=f"genplay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("app", help="open the desktop app (what genplay does with no command)")

    p = sub.add_parser("models", help="list the checkpoints and their metrics")
    p.add_argument("--dir", help="checkpoint folder (default: the shipped checkpoints/)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train a model on a dataset or an image folder")
    p.add_argument("family", help="model family: vae, gan, classifier, ...")
    p.add_argument("--data", required=True, help="fashion-mnist, mnist, or a folder of images")
    p.add_argument("--data-root", help="folder holding the named datasets")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--epochs", type=int, help="train for this many epochs in total")
    budget.add_argument("--minutes", type=float, help="train for this many minutes")
    p.add_argument("--size", type=int, default=28, choices=(8, 16, 28, 32, 64))
    p.add_argument("--channels", type=int, default=1, choices=(1, 3))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a config field, e.g. --set latent_dim=16")
    p.add_argument("--perturb", type=float, default=0.0, metavar="RATE",
                   help="replace this fraction of the pixels by noise: trains a background "
                        "model for the likelihood-ratio outlier score (e.g. 0.2)")
    p.add_argument("--preview-dir", help="also save a sample grid every few hundred steps here")
    p.add_argument("--log-every", type=int, default=0, help="print the losses every N steps")
    add_threads(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples into a grid or one PNG each")
    p.add_argument("checkpoint", nargs="?")
    p.add_argument("--replay", metavar="SIDECAR.json",
                   help="redraw an image saved by the app, byte for byte, from its sidecar")
    p.add_argument("-n", type=int, default=64, help="number of samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, help="scale of the latent / prior noise")
    _add_diffusion_options(p, "diffusion: network evaluations per image (default 20)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="another sampler option the model declares")
    p.add_argument("-o", "--output", help="write a grid PNG here")
    p.add_argument("--nrow", type=int, default=None, help="images per row of the grid")
    p.add_argument("--out-dir", help="write one PNG per sample into this folder")
    add_threads(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("interpolate", help="a filmstrip (and GIF) between two latents")
    p.add_argument("checkpoint")
    p.add_argument("--from", dest="start", required=True, metavar="SEED|IMAGE",
                   help="a seed, or an image file the model encodes")
    p.add_argument("--to", dest="end", required=True, metavar="SEED|IMAGE")
    p.add_argument("--frames", type=int, default=10, help="2 to 64")
    p.add_argument("--slerp", action="store_true",
                   help="spherical interpolation (stays where a Gaussian prior has its mass)")
    p.add_argument("-o", "--output", required=True, help="filmstrip PNG")
    p.add_argument("--gif", help="also write a looping animation here")
    p.add_argument("--fps", type=float, default=10)
    p.add_argument("--npz", help="also write the latents of the frames here")
    add_threads(p)
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("sketch", help="images that follow a drawing (SDEdit or latent fitting)")
    p.add_argument("checkpoint")
    p.add_argument("sketch", help="the drawing: light lines on dark, or dark on light")
    p.add_argument("--strength", type=float, default=0.5,
                   help="0 keeps the drawing, 1 ignores it (diffusion: the noise level)")
    p.add_argument("-n", type=int, default=4, help="candidates, 1 to 16")
    p.add_argument("--seed", type=int, default=0)
    _add_diffusion_options(p, "diffusion: steps of a full schedule (strength 0.5 runs half); "
                              "others: latent-fitting steps (default 150)")
    _add_image_outputs(p, "drawing")
    p.set_defaults(func=cmd_sketch)

    p = sub.add_parser("inpaint", help="fill the masked part of an image")
    p.add_argument("checkpoint")
    p.add_argument("image")
    p.add_argument("--mask", required=True,
                   help="an image of the same size: white where the model should fill")
    p.add_argument("-n", type=int, default=1, help="fillings, 1 to 16")
    p.add_argument("--seed", type=int, default=0)
    _add_diffusion_options(p, "diffusion: network evaluations (default 50)")
    _add_image_outputs(p, "image")
    p.set_defaults(func=cmd_inpaint)

    p = sub.add_parser("score", help="how strange each image is to a model (outlier scores)")
    p.add_argument("checkpoint")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--method", choices=["bpd", "complexity", "ratio", "typicality", "elbo",
                                        "recon"],
                   help="score (default: complexity, else recon, else bpd)")
    p.add_argument("--fpr", type=float, default=0.05,
                   help="flag images stranger than all but this fraction of the test split")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--csv", action="store_true")
    add_threads(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("eval", help="measure a checkpoint on the test split, write metrics.json")
    p.add_argument("checkpoint")
    p.add_argument("--features", help="feature-net checkpoint for FID/KID "
                   "(default: the shipped classifier for the checkpoint's dataset)")
    p.add_argument("--samples", type=int, default=10000, help="generated images for FID/KID")
    p.add_argument("--iwae-k", type=int, default=100, help="importance samples for the IWAE bound")
    p.add_argument("--limit", type=int, default=None, help="use only the first N test images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", help="folder holding the named datasets")
    p.add_argument("--dry-run", action="store_true", help="print, do not write metrics.json")
    p.add_argument("--scores-only", action="store_true",
                   help="measure only the outlier scores' reference (kept in metrics.json "
                        "with what was measured before)")
    p.add_argument("--no-scores", action="store_true", help="skip the outlier scores")
    p.add_argument("--slow-scores", action="store_true",
                   help="also the reconstruction score of models that encode in many steps "
                        "(GAN: by optimisation; diffusion: by DDIM inversion)")
    add_threads(p)
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "app"):  # reached only when called as a library function
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except GenplayError as exc:
        print(f"genplay {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genplay {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
