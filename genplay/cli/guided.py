"""genplay sketch, inpaint, upscale: images made from an image the user gives."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from genplay import __version__
from genplay.cli.common import (
    Outputs,
    add_checkpoint,
    add_diffusion_options,
    add_overwrite,
    add_threads,
    diffusion_options,
    load,
    run_with_bar,
)
from genplay.core.errors import GenplayError


def _add_image_outputs(p: argparse.ArgumentParser, what: str) -> None:
    """--invert for the input, -o / --nrow / --out-dir for the results, --threads."""
    p.add_argument("--invert", choices=["auto", "yes", "no"], default="auto",
                   help=f"invert the {what} first (auto: when its border is light, for "
                        "models of light-on-dark data such as MNIST; never for models of "
                        "pictures)")
    p.add_argument("-o", "--output", help="write the result as a PNG (several: a grid)")
    p.add_argument("--nrow", type=int, default=None, help="images per row of the grid")
    p.add_argument("--out-dir", help="write one PNG per result into this folder")
    add_overwrite(p)
    add_threads(p)


def _load_guide(model, info, path: str, invert: str):
    """An image file as a model input (1, C, H, W), letterboxed; inverted when dark on light
    (--invert auto decides from the border where the model's data is light on dark, and
    never inverts for a model of pictures: core.data.invert_policy)."""
    from genplay.core.data import invert_policy
    from genplay.core.images import load_image
    from genplay.core.ops.sketch import guide_tensor

    auto = invert_policy(info.dataset)
    return guide_tensor(model, load_image(path), {"auto": auto, "yes": True, "no": False}[invert])


def _outputs(args: argparse.Namespace, *inputs: str | None) -> Outputs:
    """The command's outputs checked against its inputs before any work."""
    outputs = Outputs(inputs, overwrite=args.overwrite)
    outputs.check(args.output)
    outputs.check_dir(args.out_dir)
    return outputs


def _save_candidates(args: argparse.Namespace, outputs: Outputs, images, info, stem: str,
                     record: dict) -> None:
    from genplay.core.images import make_grid, save_png, to_uint8_hwc

    pixels = to_uint8_hwc(images)
    metadata = {**({"model": info.name} if info else {}), "genplay_version": __version__,
                **record}
    if args.output:  # one image as itself, several as a grid
        grid = pixels[0] if len(pixels) == 1 else make_grid(pixels, nrow=args.nrow)
        save_png(outputs.check(args.output), grid, metadata)
        print(args.output)
    if args.out_dir:
        out = Path(args.out_dir)
        for i, image in enumerate(pixels):
            save_png(outputs.name_in(out, f"{stem}-{i:02d}.png"), image,
                     {**metadata, "index": i})
        print(f"{len(pixels)} images in {out}")


def _check_model_options(model, opts: dict[str, Any]) -> dict[str, Any]:
    """Diffusion options checked against what the model declares (temperature excluded)."""
    from genplay.core.models.capabilities import Sampler
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
    opts = diffusion_options(args)
    if diffusion:
        return _check_model_options(model, opts)
    extra = sorted(set(opts) - allowed)
    if extra:
        raise GenplayError(f"{info.name} {what}; --{extra[0]} is for diffusion models")
    return opts


def _open_for_writing(args: argparse.Namespace, *inputs: str):
    """Threads set, the outputs named and allowed, the checkpoint loaded:
    (model, info, outputs)."""
    from genplay.core import runtime

    runtime.set_threads(args.threads)
    if not args.output and not args.out_dir:
        raise GenplayError("say where to write: -o FILE.png or --out-dir DIR")
    outputs = _outputs(args, *inputs)
    return (*load(args.checkpoint, args.trust_pickle), outputs)


def cmd_sketch(args: argparse.Namespace) -> int:
    from genplay.core.ops.sketch import sketch_images, sketch_method

    model, info, outputs = _open_for_writing(args, args.sketch)
    method = sketch_method(model)
    if method is None:
        raise GenplayError(f"{info.name} ({info.family}) cannot make images from a sketch")
    opts = _method_options(args, model, info, method in ("sdedit", "sketch"), {"steps"},
                           "runs Langevin dynamics from the sketch" if method == "langevin"
                           else "fits a latent to the sketch")
    if args.sketch_guidance is not None:
        if method != "sketch":
            raise GenplayError(f"{info.name} was not trained on sketches; --sketch-guidance "
                               "is for a sketch-conditioned model (genplay models lists them)")
        opts["sketch_guidance"] = args.sketch_guidance
    guide = _load_guide(model, info, args.sketch, args.invert)
    result = run_with_bar(sketch_images(model, guide, n=args.n, seed=args.seed,
                                        strength=args.strength, **opts), "sketch")
    record = {"sketch": Path(args.sketch).name, "method": method, "strength": args.strength,
              "seed": args.seed, "options": opts}
    _save_candidates(args, outputs, result.value, info, f"{Path(args.sketch).stem}-{info.name}",
                     record)
    return 0


def cmd_inpaint(args: argparse.Namespace) -> int:
    from genplay.core.images import load_image, prepare_for_model
    from genplay.core.ops.sketch import inpaint_images, inpaint_method

    model, info, outputs = _open_for_writing(args, args.image, args.mask)
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
    image = _load_guide(model, info, args.image, args.invert)
    # The mask goes through the same letterbox as the image (never inverted): white = fill.
    size = model.image_shape[1]
    mask, _ = prepare_for_model(mask_pixels, size=size, channels=1, invert=False)
    hole = mask[..., 0] > 127
    result = run_with_bar(inpaint_images(model, image, hole, n=args.n, seed=args.seed,
                                         **opts), "inpainting")
    record = {"image": Path(args.image).name, "mask": Path(args.mask).name, "method": method,
              "seed": args.seed, "options": opts}
    _save_candidates(args, outputs, result.value, info, f"{Path(args.image).stem}-{info.name}",
                     record)
    return 0


def cmd_upscale(args: argparse.Namespace) -> int:
    from genplay.core import checkpoints, runtime
    from genplay.core.images import load_image
    from genplay.core.ops import superres

    runtime.set_threads(args.threads)
    source = Path(args.input)
    if args.checkpoint is None and (source / checkpoints.CONFIG_FILE).is_file():
        raise GenplayError(f"{source} is a checkpoint: give the image or folder to upscale too")
    model, info = load(args.checkpoint, args.trust_pickle) if args.checkpoint else (None, None)
    method = args.method or superres.methods_for(model)[0]
    opts = {"candidates": args.n, "seed": args.seed, "steps": args.steps, "tile": args.tile}
    if source.is_dir():
        return _upscale_folder(args, model, source, method, opts)
    if not args.output and not args.out_dir:
        raise GenplayError("say where to write: -o FILE.png or --out-dir DIR")
    outputs = _outputs(args, args.input, args.reference)
    pixels = load_image(source)
    reference = load_image(args.reference) if args.reference else None
    if args.simulate:  # the image itself becomes the reference for its shrunk copy
        pixels, reference = superres.simulate(pixels, args.scale)
    result = run_with_bar(superres.upscale_steps(model, pixels, args.scale, method,
                                                 reference=reference, **opts),
                          "upscaling", unit="step" if method == "diffusion" else "tile")
    value, summary = result.value, result.summary
    if method == "diffusion":
        print("the model works at its own size: the image was fitted to {}x{} pixels, the "
              "result is {}x{}".format(*summary["fitted_to"], *summary["output_size"]),
              file=sys.stderr)
    record = {"source": source.name, "method": method, "scale": args.scale,
              **({"seed": args.seed} if method == "diffusion" else {})}
    _save_candidates(args, outputs, value["images"], info, f"{source.stem}_x{args.scale}",
                     record)
    if value["metrics"]:
        print(f"against {'the original (--simulate)' if args.simulate else args.reference}:")
        several = len(value["metrics"]) > 1
        rows = [(f"{method} {k + 1}" if several else method, figures)
                for k, figures in enumerate(value["metrics"])]
        for name, figures in rows + ([("bicubic", value["baseline"])] if method != "bicubic"
                                     else []):
            print(f"  {name:<12} PSNR {figures['psnr']:6.2f} dB   SSIM {figures['ssim']:.4f}")
    return 0


def _upscale_folder(args: argparse.Namespace, model, source: Path, method: str,
                    opts: dict[str, Any]) -> int:
    from genplay.core.images import IMAGE_SUFFIXES
    from genplay.core.ops.superres import upscale_folder_steps

    if args.reference or args.simulate:
        raise GenplayError("--reference and --simulate work on one image, not on a folder")
    out = args.out_dir or args.output
    if not args.out_dir and (not out or Path(out).suffix.lower() in IMAGE_SUFFIXES):
        raise GenplayError(f"{source} is a folder: say which folder to write to (--out-dir DIR)")
    Outputs([source]).check_dir(out)  # never into the folder being read
    result = run_with_bar(upscale_folder_steps(model, source, out, args.scale, method,
                                               overwrite=args.overwrite, **opts),
                          "upscaling", unit="img").value
    for name, why in result["failed"]:
        print(f"skipped: {why}" if why.startswith(name) else f"skipped {name}: {why}",
              file=sys.stderr)
    if result["existing"]:
        print(f"{result['existing']} done before, kept as they were (--overwrite redoes them)",
              file=sys.stderr)
    if result["failed"] and not result["written"] and not result["existing"]:
        raise GenplayError(f"none of the {len(result['failed'])} images could be upscaled")
    print(f"{result['written']} images in {out}")
    return 0


# --- parser ----------------------------------------------------------------------------------
def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sketch", help="images that follow a drawing (SDEdit, Langevin dynamics "
                                      "or latent fitting)")
    add_checkpoint(p)
    p.add_argument("sketch", help="the drawing: light lines on dark, or dark on light")
    p.add_argument("--sketch-guidance", type=float, metavar="W",
                   help="a sketch-conditioned model: 0 ignores the drawing, 1 follows it as "
                        "trained, higher follows the lines harder (default 2)")
    p.add_argument("--strength", type=float, default=0.5,
                   help="0 keeps the drawing, 1 ignores it (diffusion: the noise level)")
    p.add_argument("-n", type=int, default=4, help="candidates, 1 to 16")
    p.add_argument("--seed", type=int, default=0)
    add_diffusion_options(p, "diffusion: steps of a full schedule (strength 0.5 runs half); "
                             "a sketch model: steps from noise (default 10); energy-based: "
                             "Langevin steps (default half its sampling steps); others: "
                             "latent-fitting steps (default 150)")
    _add_image_outputs(p, "drawing")
    p.set_defaults(func=cmd_sketch)

    p = sub.add_parser("inpaint", help="fill the masked part of an image")
    add_checkpoint(p)
    p.add_argument("image")
    p.add_argument("--mask", required=True,
                   help="an image of the same size: white where the model should fill")
    p.add_argument("-n", type=int, default=1, help="fillings, 1 to 16")
    p.add_argument("--seed", type=int, default=0)
    add_diffusion_options(p, "diffusion: network evaluations (default 50)")
    _add_image_outputs(p, "image")
    p.set_defaults(func=cmd_inpaint)

    p = sub.add_parser("upscale", help="enlarge an image, or a folder of them, x2 or x4 (or "
                                       "a network's own scale)")
    add_checkpoint(p, nargs="?", help="an SR network (genplay's, or an ESRGAN-family "
                                      ".pth / .safetensors) or a diffusion model (without "
                                      "one: bicubic)")
    p.add_argument("input", metavar="IMAGE|FOLDER")
    p.add_argument("--scale", type=int, choices=(1, 2, 3, 4, 8), required=True,
                   help="2 or 4; a network also at the other scales its weights were "
                        "trained for (ESRGAN-family: x1 to x8), bicubic at 3 and 8 too")
    p.add_argument("--method", choices=["net", "diffusion", "bicubic"],
                   help="default: the model's network, else diffusion, else bicubic")
    p.add_argument("--tile", type=int, default=256,
                   help="tile side in input pixels (net, bicubic): smaller needs less memory")
    p.add_argument("-n", type=int, default=4, help="diffusion: candidates, 1 to 16")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="diffusion: network evaluations")
    truth = p.add_mutually_exclusive_group()
    truth.add_argument("--reference", metavar="HR.png",
                       help="the high-resolution original: print PSNR/SSIM, and bicubic's")
    truth.add_argument("--simulate", action="store_true",
                       help="shrink the image first and compare the result with it")
    p.add_argument("-o", "--output",
                   help="the result PNG (several: a grid); for a folder, the folder to fill")
    p.add_argument("--nrow", type=int, default=None, help="images per row of the grid")
    p.add_argument("--out-dir", help="write one PNG per result (per image) into this folder")
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs that exist (even an input, or a file genplay did "
                        "not write); folders: redo images whose output exists (default: "
                        "keep them)")
    add_threads(p)
    p.set_defaults(func=cmd_upscale)
