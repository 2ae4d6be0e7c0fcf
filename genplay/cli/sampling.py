"""genplay sample, interpolate: images drawn from a model's prior or latent space."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genplay import __version__
from genplay.cli.common import (
    Outputs,
    add_checkpoint,
    add_diffusion_options,
    add_overwrite,
    add_threads,
    diffusion_options,
    distinct_outputs,
    load,
    parse_sets,
    record_outputs,
    recorded_outputs,
    run_with_bar,
)
from genplay.core.errors import GenplayError
from genplay.core.files import read_bytes


def cmd_sample(args: argparse.Namespace) -> int:
    from genplay.core import checkpoints, runtime
    from genplay.core.images import save_png
    from genplay.core.ops.sampling import (
        cascade_upscaler,
        png_metadata,
        render,
        sample_record,
        sample_with,
    )

    runtime.set_threads(args.threads)
    if args.replay:
        return _replay(args)
    if args.checkpoint is None:
        raise GenplayError("give a checkpoint folder (or --replay SIDECAR.json)")
    if not args.output and not args.out_dir:
        raise GenplayError("say where to write: -o grid.png or --out-dir DIR")
    outputs = Outputs(overwrite=args.overwrite)
    outputs.check(args.output)
    outputs.check_dir(args.out_dir)
    model, info = load(args.checkpoint, args.trust_pickle)
    opts = {**parse_sets(args.set), **diffusion_options(args)}
    if args.temperature is not None:
        opts["temperature"] = args.temperature
    upscale = None
    if args.upscale:
        upscale = cascade_upscaler(info.path)
        if upscale is None:
            raise GenplayError(f"no upscaler for {info.name}'s samples: --upscale needs a "
                               f"superres-{info.dataset} trained at a multiple of "
                               f"{info.image_shape[1]} px, beside it or shipped")
    result = run_with_bar(sample_with(model, args.n, args.seed, opts, upscale), "sampling",
                          args.n, "img")
    record = sample_record(
        checkpoint=str(info.path.resolve()), model=info.name, family=info.family,
        checkpoint_hash=checkpoints.weights_hash(info.path), seed=args.seed, n=args.n,
        options=result.summary["options"], nrow=args.nrow, upscale=upscale,
    )
    if args.output:
        save_png(args.output, render(result.value, nrow=args.nrow), png_metadata(record))
        print(args.output)
    if args.out_dir:
        out = Path(args.out_dir)
        for i in range(args.n):
            save_png(outputs.name_in(out, f"{info.name}-seed{args.seed}-{i:05d}.png"),
                     render(result.value, index=i), png_metadata({**record, "index": i}))
        print(f"{args.n} images in {out}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    """Redraws an image saved by the app (or by sample) from its JSON sidecar."""
    from genplay.core import checkpoints
    from genplay.core.images import save_png
    from genplay.core.ops.sampling import cascade_upscaler, png_metadata, render, sample_with

    sidecar = Path(args.replay)
    output = Path(args.output) if args.output else sidecar.with_suffix(".replay.png")
    Outputs([sidecar], overwrite=args.overwrite).check(output)
    try:
        raw = read_bytes(sidecar, limit=1 << 20, error=GenplayError)
        record = json.loads(raw.decode("utf-8"))
        folder, seed, n = Path(record["checkpoint"]), int(record["seed"]), int(record["n"])
        options, index, nrow = dict(record["options"]), record.get("index"), record.get("nrow")
    except (ValueError, KeyError, TypeError) as exc:
        raise GenplayError(f"{sidecar}: not a genplay sidecar ({exc})") from None
    if not folder.is_dir():  # moved checkout: look for the model by name
        folder = checkpoints.default_checkpoint_dir() / str(record.get("model", ""))
    model, info = load(str(folder))
    digest = checkpoints.weights_hash(info.path)
    if digest != record.get("checkpoint_hash"):
        raise GenplayError(f"{info.path} has changed since {sidecar.name} was saved "
                           f"(weights {digest}, expected {record.get('checkpoint_hash')})")
    upscale = None
    if record.get("upscale"):
        wanted = record["upscale"]
        upscale = cascade_upscaler(info.path)
        if upscale is None or upscale["checkpoint_hash"] != wanted.get("checkpoint_hash"):
            raise GenplayError(f"{sidecar.name} was enlarged by {wanted.get('name')}, which is "
                               "not beside the model as it was (weights "
                               f"{wanted.get('checkpoint_hash')})")
    result = run_with_bar(sample_with(model, n, seed, options, upscale), "sampling", n, "img")
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
    from genplay.core.data import invert_policy
    from genplay.core.images import make_grid, save_png, to_uint8_hwc
    from genplay.core.models.capabilities import Latent
    from genplay.core.ops.interpolation import interpolate_endpoints, save_gif, save_latents_npz

    runtime.set_threads(args.threads)
    outputs = Outputs([e for e in (args.start, args.end) if not e.lstrip("-").isdigit()],
                      overwrite=args.overwrite)
    distinct_outputs(**{"-o": args.output, "--gif": args.gif, "--npz": args.npz})
    outputs.check(args.output)
    earlier = recorded_outputs(args.output)  # the GIF and .npz the last run wrote with it
    for path in (args.gif, args.npz):
        outputs.check(path, earlier)
    model, info = load(args.checkpoint, args.trust_pickle)
    if not isinstance(model, Latent):
        raise GenplayError(f"{info.name} ({info.family}) has no latent space to interpolate in")
    start, end = _endpoint(args.start), _endpoint(args.end)
    result = run_with_bar(interpolate_endpoints(model, start, end, frames=args.frames,
                                                spherical=args.slerp,
                                                invert=invert_policy(info.dataset)),
                          "interpolating")
    frames = to_uint8_hwc(result.value)
    if args.gif:
        save_gif(args.gif, frames, fps=args.fps)
    if args.npz:
        save_latents_npz(args.npz, result.summary["latents"], spherical=args.slerp)
    # The PNG, written last, records the GIF's and the .npz's bytes: a run again may replace
    # them as genplay's own, while a file the user changed since is kept (Outputs.check).
    metadata = {"model": info.name, "from": args.start, "to": args.end, "frames": args.frames,
                "spherical": args.slerp, "genplay_version": __version__,
                **record_outputs([args.gif, args.npz])}
    save_png(args.output, make_grid(frames, nrow=len(frames)), metadata)
    for path in (args.output, args.gif, args.npz):
        if path:
            print(path)
    return 0


# --- parser ----------------------------------------------------------------------------------
def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples into a grid or one PNG each")
    add_checkpoint(p, nargs="?")
    p.add_argument("--replay", metavar="SIDECAR.json",
                   help="redraw an image saved by the app, byte for byte, from its sidecar")
    p.add_argument("-n", type=int, default=64, help="number of samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, help="scale of the latent / prior noise")
    add_diffusion_options(p, "diffusion: network evaluations per image (default 20)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="another sampler option the model declares")
    p.add_argument("--upscale", action="store_true",
                   help="a cascade: enlarge the samples with the dataset's upscaler "
                        "(superres-DATASET), e.g. emoji from 32 to 64 px")
    p.add_argument("-o", "--output", help="write a grid PNG here")
    p.add_argument("--nrow", type=int, default=None, help="images per row of the grid")
    p.add_argument("--out-dir", help="write one PNG per sample into this folder")
    add_overwrite(p)
    add_threads(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("interpolate", help="a filmstrip (and GIF) between two latents")
    add_checkpoint(p)
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
    add_overwrite(p)
    add_threads(p)
    p.set_defaults(func=cmd_interpolate)
