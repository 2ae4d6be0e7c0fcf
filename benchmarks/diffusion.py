"""Diffusion samplers and sketch-conditioned generation, measured.

    python -m benchmarks.diffusion CHECKPOINT [--samples 500] [--sketches 500]
        [--baseline vae-mnist ...] [--threads T] [--json benchmarks/results/diffusion-NAME.json]
        [--rows dpmpp-sde:20 ...] [--few-steps] [--peers]

Samplers: FID and KID (genplay's own feature net, against the whole test split) of
`--samples` unconditional images from DDPM (1000 steps), DDIM (5, 10, 20, 50),
DPM-Solver++(2M) (5, 10, 20), the ODE solver and its SDE form, and UniPC (5, 10, 20),
each with its seconds per 64 images; beside them the real-vs-real floor, the same
figures for that many training images. Every row uses the same number of images, so
the rows compare with each other (FID grows as the number of images shrinks; the floor
shows by how much).
`--few-steps` keeps the rows at 5, 10 and 20 steps. `--peers` adds the same rows
for the reference library's schedulers (diffusers' DDIM, DPM-Solver++ 2M, its SDE form
and UniPC on "trailing" spacing, Euler on "linspace") driven on the same network from
the same starting noise by benchmarks/diffusion_peers.py, and a table of the best of
each library at each step count; without diffusers installed it says the peer rows were
skipped.
Every row is seeded, so a row measured again gives the same figures: `--rows` measures
only the rows named and puts them into the `--json` file already there (same
checkpoint, seed and image count, else it stops), keeping the rest of its figures.

Sketches: the first `--sketches` test images are turned into sketches (the edges of
the image, or for digits the skeleton of the ink redrawn with a pen, light on black;
genplay.core.sketches makes both)
and SDEdit makes one image from each at
three strengths. Per row: faithfulness (root-mean-square distance to the sketch, and
to the image the sketch came from, in [0, 1] pixel units), realism (KID against the
test split) and class agreement (the fraction the feature net classifies as the class
of the image the sketch came from). Beside them: the raw sketches, and latent fitting
by the `--baseline` checkpoints (VAE, GAN) at the default strength.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from benchmarks import diffusion_peers
from benchmarks.common import earlier_results, report
from genplay import __version__
from genplay.core import checkpoints, runtime
from genplay.core.checkpoints import find_feature_net
from genplay.core.data import load_dataset
from genplay.core.evaluation import extract_features
from genplay.core.events import Result, final_value
from genplay.core.metrics import fid, kid
from genplay.core.models.diffusion_samplers import spacing_for
from genplay.core.ops.sampling import sample_images, unconditional
from genplay.core.ops.sketch import DEFAULT_STRENGTH, fit_latents
from genplay.core.sketches import edge_sketch, stroke_sketch

SAMPLER_ROWS = [("ddpm", 1000), ("ddim", 5), ("ddim", 10), ("ddim", 20), ("ddim", 50),
                ("dpmpp", 5), ("dpmpp", 10), ("dpmpp", 20), ("dpmpp-sde", 5),
                ("dpmpp-sde", 10), ("dpmpp-sde", 20), ("unipc", 5), ("unipc", 10),
                ("unipc", 20)]
STEP_COUNTS = (5, 10, 20)
FEW_STEP_ROWS = [(s, n) for s in ("ddim", "dpmpp", "dpmpp-sde", "unipc") for n in STEP_COUNTS]
# With --few-steps, rows with the Grid option set to another timestep grid than the
# sampler's default at that step count, (sampler, steps, grid): what spacing_for's choices
# are measured against.
GRID_ROWS = [("dpmpp-sde", n, g) for n in (10, 20) for g in ("trailing", "logsnr")]
RATIO_SAMPLERS = ("dpmpp", "dpmpp-sde")  # each one's FID at 20 steps over DDPM's at 1000
STRENGTHS = (0.3, DEFAULT_STRENGTH, 0.7)
SKETCH_STEPS = 20  # a full schedule's steps: strength 0.5 runs 10
TARGET_RATIO = 1.2  # DPM-Solver++ at 20 steps within 1.2x of the 1000-step FID
TARGET_AGREEMENT = 0.85


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _in_channels(extract: Callable[[torch.Tensor], torch.Tensor]
                 ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A sketch extractor (images -> (N, 1, H, W)) whose sketches come repeated to the
    images' channels, as SDEdit takes them and as they are compared with the outputs."""
    return lambda images: extract(images).expand_as(images).contiguous()


STYLES = {"edges": _in_channels(edge_sketch), "strokes": _in_channels(stroke_sketch)}


def default_style(dataset: str) -> str:
    """Digits are drawn as strokes; clothes by their outlines."""
    return "strokes" if dataset == "mnist" else "edges"


class _Judge:
    """The feature net of a dataset, its test features and labels."""

    def __init__(self, info, data_root: str | None) -> None:
        net_path = find_feature_net(info.dataset, info.path.parent)
        if net_path is None:
            raise SystemExit(f"no feature net (classifier-{info.dataset}) to measure with")
        self.net, self.net_info = checkpoints.load(net_path)
        c, size = info.image_shape[0], info.image_shape[1]
        self.test = load_dataset(info.dataset, "test", size=size, channels=c, root=data_root)
        self.train = load_dataset(info.dataset, "train", size=size, channels=c, root=data_root)
        self.test_features = extract_features(self.net, self.test.images)

    def realism(self, images: np.ndarray) -> dict[str, float]:
        feats = extract_features(self.net, images)
        return {"fid": fid(feats, self.test_features),
                "kid": kid(feats, self.test_features, seed=0)[0]}

    def floor(self, n: int) -> dict[str, float]:
        pick = torch.randperm(len(self.train), generator=torch.Generator().manual_seed(0))[:n]
        return self.realism(self.train.as_float(pick).numpy())

    @torch.no_grad()
    def agreement(self, images: np.ndarray, labels: torch.Tensor) -> float:
        logits = self.net(torch.as_tensor(images).float())
        return float((logits.argmax(dim=1) == labels).float().mean())


def sampler_table(model, judge: _Judge, n: int, seed: int,
                  which: list[tuple] = SAMPLER_ROWS) -> list[dict[str, Any]]:
    """Rows (sampler, steps) on the sampler's default grid, or (sampler, steps, spacing)."""
    rows = []
    for sampler, steps, *grid in which:
        steps = min(steps, model.config.timesteps)  # a model trained on fewer timesteps
        spacing = grid[0] if grid else spacing_for(sampler, steps)
        _log(f"  {sampler} {steps} steps ({spacing}): {n} images")
        chosen = {"grid": spacing} if grid else {}  # the Grid option, as a user sets it
        rows.append({"sampler": sampler, "steps": steps, "spacing": spacing,
                     "default_grid": not grid,
                     **_measured(judge, n, _samples, model, n, seed, sampler=sampler,
                                 steps=steps, **chosen)})
    return rows


def _samples(model: Any, *args: Any, **opts: Any) -> np.ndarray:
    """Unconditional samples, as `genplay eval` measures FID."""
    return final_value(sample_images(model, *args, **unconditional(model), **opts))


def _measured(judge: _Judge, n: int, draw: Callable[..., np.ndarray], *args: Any,
              **kwargs: Any) -> dict[str, Any]:
    """FID and KID of the n images draw(*args, **kwargs) makes, and its seconds per 64."""
    start = time.perf_counter()
    images = draw(*args, **kwargs)
    seconds = time.perf_counter() - start
    row = {**judge.realism(images), "seconds_per_64": seconds / n * 64}
    _log(f"    FID {row['fid']:.2f}, {row['seconds_per_64']:.1f} s per 64")
    return row


def peer_table(model, judge: _Judge, n: int, seed: int,
               names: list[str] | None = None) -> list[dict[str, Any]]:
    """The reference library's rows: each peer scheduler (or those named) and spacing at
    STEP_COUNTS."""
    rows = []
    for peer, spacing in diffusion_peers.peer_rows(names):
        for steps in STEP_COUNTS:
            _log(f"  {peer.name} ({spacing}) {steps} steps: {n} images")
            rows.append({"sampler": peer.name, "spacing": spacing, "steps": steps,
                         **_measured(judge, n, diffusion_peers.sample_like_genplay,
                                     model, peer, spacing, n, seed, steps)})
    return rows


def best_by_steps(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per step count, genplay's lowest-FID row and the peer's."""
    out = []
    for steps in STEP_COUNTS:
        ours = [r for r in result.get("samplers", []) if r["steps"] == steps]
        theirs = [r for r in result.get("peers", []) if r["steps"] == steps]
        if ours and theirs:
            out.append({"steps": steps, "genplay": min(ours, key=lambda r: r["fid"]),
                        "diffusers": min(theirs, key=lambda r: r["fid"])})
    return out


def _sdedit_batch(model, guides: torch.Tensor, strength: float, seed: int,
                  batch: int = 64, **opts: Any) -> np.ndarray:
    """Each guide through model.condition_steps (SDEdit, or a sketch-conditioned model,
    which takes the same call) in seeded batches; opts (class, guidance, sketch_guidance;
    steps, SKETCH_STEPS unless given) go to every call."""
    opts = {"steps": SKETCH_STEPS, **opts}
    parts = []
    for i in range(0, len(guides), batch):
        generator = torch.Generator().manual_seed(seed + i)
        events = model.condition_steps(guides[i:i + batch], strength, generator=generator,
                                       **opts)
        parts.append(np.asarray(final_value(events), dtype=np.float32))
    return np.concatenate(parts)


def _fit_batch(model, guides: torch.Tensor, strength: float, seed: int,
               batch: int = 256) -> np.ndarray:
    parts = []
    for i in range(0, len(guides), batch):
        g = guides[i:i + batch]
        z = model.prior_sample(len(g), torch.Generator().manual_seed(seed + i))
        result = [e for e in fit_latents(model, g, z, strength) if isinstance(e, Result)][-1]
        parts.append(result.value)
    return np.concatenate(parts)


def sketch_table(model, judge: _Judge, n: int, seed: int, baselines: list[str],
                 style: str) -> list[dict[str, Any]]:
    n = min(n, len(judge.test))
    originals = judge.test.as_float(slice(0, n))
    labels = judge.test.labels[:n]
    sketches = STYLES[style](originals)

    def row(method: str, strength: float | None, images: np.ndarray, seconds: float):
        out = torch.as_tensor(images)
        return {"method": method, "strength": strength,
                "rms_to_sketch": float((out - sketches).pow(2).mean().sqrt()),
                "rms_to_image": float((out - originals).pow(2).mean().sqrt()),
                "kid": judge.realism(images)["kid"],
                "class_agreement": judge.agreement(images, labels),
                "seconds_per_image": seconds / n}

    rows = [row("raw sketch", None, sketches.numpy(), 0.0)]
    for strength in STRENGTHS:
        _log(f"  SDEdit at strength {strength}: {n} sketches")
        start = time.perf_counter()
        images = _sdedit_batch(model, sketches, strength, seed)
        rows.append(row("sdedit", strength, images, time.perf_counter() - start))
        _log(f"    class agreement {rows[-1]['class_agreement']:.3f}")
    for name in baselines:
        base, base_info = checkpoints.load(name)
        _log(f"  latent fitting by {base_info.name}: {n} sketches")
        start = time.perf_counter()
        images = _fit_batch(base, sketches, DEFAULT_STRENGTH, seed)
        rows.append(row(f"latent fit ({base_info.name})", DEFAULT_STRENGTH, images,
                        time.perf_counter() - start))
    return rows


def format_tables(result: dict[str, Any]) -> str:
    lines = [f"# {result['model']} — samplers ({result['samples']} images each, "
             f"{result['threads']} threads)", "",
             "| sampler | steps | grid | FID | KID | s / 64 images |",
             "|---|---|---|---|---|---|"]
    for r in result["samplers"]:
        grid = r.get("spacing", "–") + ("" if r.get("default_grid", True) else " (grid option)")
        lines.append(f"| {r['sampler']} | {r['steps']} | {grid} | {r['fid']:.2f} | "
                     f"{r['kid']:.4f} | {r['seconds_per_64']:.1f} |")
    floor = result["floor"]
    lines.append(f"| real training images | – | – | {floor['fid']:.2f} | {floor['kid']:.4f} "
                 "| – |")
    ddpm = {r["steps"]: r["fid"] for r in result["samplers"] if r["sampler"] == "ddpm"}
    if result.get("peers"):
        ratio_head = " FID / DDPM-1000 |" if 1000 in ddpm else ""
        lines += ["", f"# diffusers' schedulers on the same network ({result['samples']} "
                      "images each, the same starting noise)", "",
                  f"| scheduler | spacing | steps | FID |{ratio_head} s / 64 images |",
                  "|---|---|---|---|" + ("---|" if ratio_head else "") + "---|"]
        for r in result["peers"]:
            ratio = f" {r['fid'] / ddpm[1000]:.3f} |" if ratio_head else ""
            lines.append(f"| {r['sampler']} | {r['spacing']} | {r['steps']} | {r['fid']:.2f} |"
                         f"{ratio} {r['seconds_per_64']:.1f} |")
        lines += ["", "# the best of each at each step count", "",
                  "| steps | genplay | FID | diffusers | FID |", "|---|---|---|---|---|"]
        for b in best_by_steps(result):
            ours, theirs = b["genplay"], b["diffusers"]
            lines.append(f"| {b['steps']} | {ours['sampler']} | {ours['fid']:.2f} | "
                         f"{theirs['sampler']} ({theirs['spacing']}) | {theirs['fid']:.2f} |")
    elif result.get("peers_skipped"):
        lines += ["", f"diffusers' rows skipped: {result['peers_skipped']}"]
    ratios = result.get("over_ddpm1000") or {}
    if ratios:
        lines.append("")
    for sampler, ratio in ratios.items():
        lines.append(f"{sampler} 20 steps / ddpm 1000 steps FID: {ratio:.3f} "
                     f"(target <= {TARGET_RATIO})")
    if result.get("sketch"):
        lines += ["", f"# sketches ({result['sketches']} test images, drawn as "
                      f"{result['sketch_style']})", "",
                  "| method | strength | RMS to sketch | RMS to image | KID | class agreement "
                  "| s / image |", "|---|---|---|---|---|---|---|"]
        for r in result["sketch"]:
            strength = "–" if r["strength"] is None else f"{r['strength']:.1f}"
            lines.append(f"| {r['method']} | {strength} | {r['rms_to_sketch']:.3f} | "
                         f"{r['rms_to_image']:.3f} | {r['kid']:.4f} | "
                         f"{r['class_agreement']:.1%} | {r['seconds_per_image']:.3f} |")
        lines += ["", f"Target: class agreement >= {TARGET_AGREEMENT:.0%} at strength "
                      f"{DEFAULT_STRENGTH} (SDEdit)."]
    return "\n".join(lines)


def _parse_row(text: str) -> tuple[str, int]:
    sampler, _, steps = text.partition(":")
    if (sampler, int(steps or 0)) not in SAMPLER_ROWS:
        raise SystemExit(f"--rows {text}: not a row of the table "
                         f"({', '.join(f'{a}:{b}' for a, b in SAMPLER_ROWS)})")
    return sampler, int(steps)


def _merge_base(path: str, result: dict[str, Any]) -> dict[str, Any]:
    """The figures of an earlier run at path, with this run's description: only when
    they measured the same checkpoint the same way, so the rows compare."""
    before = earlier_results(path, result, ("checkpoint_hash", "samples", "seed", "feature_net"),
                             "--rows")
    before.pop("dpmpp20_over_ddpm1000", None)  # the name of the ratio before it had two
    return {**before, **result}


def _ratios(model, rows: list[dict[str, Any]]) -> dict[str, float]:
    full = min(1000, model.config.timesteps)
    by = {(r["sampler"], r["steps"]): r["fid"] for r in rows}
    if ("ddpm", full) not in by:
        return {}
    return {s: by[(s, min(20, full))] / by[("ddpm", full)]
            for s in RATIO_SAMPLERS if (s, min(20, full)) in by}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--samples", type=int, default=500, help="images per sampler row")
    parser.add_argument("--sketches", type=int, default=500, help="test images to sketch")
    parser.add_argument("--baseline", action="append", default=[],
                        help="a VAE/GAN/flow checkpoint for the latent-fitting baseline")
    parser.add_argument("--style", choices=sorted(STYLES),
                        help="how test images become sketches (default: strokes for mnist, "
                             "edges otherwise)")
    parser.add_argument("--rows", action="append", default=[], metavar="SAMPLER:STEPS",
                        help="measure only this sampler row and merge it into --json")
    parser.add_argument("--few-steps", action="store_true",
                        help="only the sampler rows at 5, 10 and 20 steps")
    parser.add_argument("--peers", action="store_true",
                        help="add diffusers' schedulers on the same network (needs diffusers)")
    parser.add_argument("--peer", action="append", default=[], metavar="NAME",
                        help="with --peers: only this scheduler (its rows replace those in "
                             "--json)")
    parser.add_argument("--no-samplers", action="store_true")
    parser.add_argument("--no-sketches", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-root")
    parser.add_argument("--json", help="write the figures here (and a .txt with the tables)")
    args = parser.parse_args(argv)
    if args.peer and not args.json:
        parser.error("--peer merges into the results of --json")
    if args.rows and not args.json:
        parser.error("--rows merges into the results of --json")
    threads = runtime.set_threads(args.threads)
    model, info = checkpoints.load(args.checkpoint)
    judge = _Judge(info, args.data_root)
    result: dict[str, Any] = {
        "model": info.name, "checkpoint_hash": checkpoints.weights_hash(info.path),
        "feature_net": judge.net_info.name, "samples": args.samples,
        "sketches": args.sketches, "threads": threads, "seed": args.seed,
        "genplay_version": __version__, "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    # what --rows and --peer merge into, read (and refused if it does not compare) first
    earlier = _merge_base(args.json, result) if args.rows or args.peer else None
    if args.rows:
        result = earlier
        which = [_parse_row(text) for text in args.rows]
        _log(f"{info.name}: sampler rows {', '.join(args.rows)}")
        fresh = {(r["sampler"], r["steps"]): r
                 for r in sampler_table(model, judge, args.samples, args.seed, which)}
        old = [(r["sampler"], r["steps"]) for r in result["samplers"]]
        result["samplers"] = ([fresh.pop(key, r) for key, r in zip(old, result["samplers"])]
                              + list(fresh.values()))
        result["over_ddpm1000"] = _ratios(model, result["samplers"])
    elif not args.no_samplers:
        _log(f"{info.name}: samplers")
        result["samplers"] = sampler_table(model, judge, args.samples, args.seed,
                                           FEW_STEP_ROWS + GRID_ROWS if args.few_steps
                                           else SAMPLER_ROWS)
        result["floor"] = judge.floor(args.samples)
        result["over_ddpm1000"] = _ratios(model, result["samplers"])
    else:
        result["samplers"], result["floor"] = [], {"fid": float("nan"), "kid": float("nan")}
    if args.peers and not diffusion_peers.available():
        result["peers_skipped"] = "diffusers is not installed (pip install -e \".[diffusers]\")"
        _log(f"diffusers' rows skipped: {result['peers_skipped']}")
    elif args.peers:
        _log(f"{info.name}: diffusers' schedulers")
        fresh = peer_table(model, judge, args.samples, args.seed, args.peer or None)
        if args.peer:  # the other schedulers' rows stay, in the schedulers' order
            kept = [r for r in earlier.get("peers", []) if r["sampler"] not in args.peer]
            order = [p.name for p in diffusion_peers.PEERS]
            fresh = sorted(kept + fresh, key=lambda r: order.index(r["sampler"]))
        result["peers"] = fresh
    if not args.no_sketches:  # (with --rows and without, the file's sketch figures stay)
        _log(f"{info.name}: sketches")
        result["sketch_style"] = args.style or default_style(info.dataset)
        result["sketch"] = sketch_table(model, judge, args.sketches, args.seed, args.baseline,
                                        result["sketch_style"])
    return report(result, format_tables(result), args.json)


if __name__ == "__main__":
    main()
