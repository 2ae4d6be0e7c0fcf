"""genplay score, eval, nearest: how strange images are to a model, how good a model is,
and whether an image it made is new or a near-copy of a training image."""

from __future__ import annotations

import argparse
import json
import sys

from genplay.cli.common import (
    Outputs,
    Stop,
    add_checkpoint,
    add_overwrite,
    add_threads,
    load,
    run_with_bar,
)
from genplay.core.errors import GenplayError


def cmd_score(args: argparse.Namespace) -> int:
    from genplay.core import checkpoints, distributed, runtime
    from genplay.core.data import invert_policy
    from genplay.core.images import find_images
    from genplay.core.ops import outlier_figures as figures
    from genplay.core.ops import outliers

    runtime.set_threads(args.threads)
    model, info = load(args.checkpoint, args.trust_pickle)
    reference, typical = outliers.load_reference(info.path, checkpoints.weights_hash(info.path))
    aids, notes = outliers.load_aids(info.path)
    for missing in outliers.unserved(aids):
        reference.pop(missing, None)
    if args.method in notes:
        raise GenplayError(notes[args.method])
    method = args.method or figures.default_method(reference)
    if method not in reference:
        have = ", ".join(reference) or "none"
        raise GenplayError(f"no reference for the {method!r} score (measured: {have})")
    threshold = figures.threshold_at_fpr(reference[method], args.fpr)
    files = find_images(args.paths)
    if not files:
        raise GenplayError("no images found in the paths given")
    rows: list[dict] = []
    # Under torchrun every process finds the same files and scores every size-th of them;
    # rank 0 gathers the rows and writes them in the order of the files.
    world = distributed.world_from_env()
    joined = distributed.start(world, model.device)
    mine = files[world.rank::world.size]

    def add_rows(part: dict) -> None:
        rows.extend(figures.verdict_rows(part["files"], part["errors"], part["scores"][method],
                                          reference[method], threshold))

    finished = False
    try:
        run_with_bar(outliers.score_files(model, mine, [method], typical_bpd=typical,
                                          **aids,
                                          invert=invert_policy(info.dataset)),
                     "scoring", len(mine), "img", on_partial=add_rows)
        if not world.alone:
            rows = distributed.gather_in_order(rows, world)
        finished = True
    finally:
        if joined:
            distributed.stop(finished)
    if not world.main:
        distributed.leave(0)
    header = {"checkpoint": info.name, "method": method, "fpr": args.fpr,
              "threshold": threshold}
    if args.json or args.csv:
        figures.write_rows(sys.stdout, rows, "json" if args.json else "csv", header)
    else:
        print(f"{info.name}, {method} score; outlier above {threshold:.4g} "
              f"({args.fpr:.0%} of its test images are)")
        for row in rows:
            if row["score"] is None:  # image errors name their file already
                reason = row["error"] if row["file"] in row["error"] else (
                    f"{row['file']}: {row['error']}")
                print(f"{'unreadable':>10}  {reason}")
            else:
                print(f"{row['verdict']:>10}  {row['score']:9.4f}  {row['percentile']:5.1f}%  "
                      f"{row['file']}")
    if rows and all(row["score"] is None for row in rows):
        raise GenplayError(f"none of the {len(rows)} files could be read as an image")
    if not world.alone:  # the group is left: end without the teardown that can abort
        distributed.leave(0)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from genplay.core import runtime
    from genplay.core.evaluation import (
        class_feature_figures,
        copies_only,
        evaluate_checkpoint,
        feature_figures,
        store_evaluation,
    )

    runtime.set_threads(args.threads)
    metrics, reference, bank, profile = None, None, None, None
    if args.copies_only:
        events = copies_only(args.checkpoint, features=args.features, seed=args.seed,
                             data_root=args.data_root)
    elif args.class_fid is not None:
        events = class_feature_figures(args.checkpoint, args.class_fid, features=args.features,
                                       n_samples=args.samples, seed=args.seed,
                                       data_root=args.data_root)
    elif args.features_only:
        events = feature_figures(args.checkpoint, features=args.features,
                                 n_samples=args.samples, limit=args.limit, seed=args.seed,
                                 data_root=args.data_root)
    else:
        events = evaluate_checkpoint(
            args.checkpoint, features=args.features, n_samples=args.samples, iwae_k=args.iwae_k,
            limit=args.limit, seed=args.seed, data_root=args.data_root,
            quality=not args.scores_only, scores=not args.no_scores,
            slow_scores=args.slow_scores, dataset=args.data, trust_pickle=args.trust_pickle,
            feature_bank=args.feature_bank, bits_profile=args.bits_profile,
        )
    from tqdm import tqdm

    from genplay.core.events import Progress, Result

    bar, phase = None, None
    with Stop() as stop:
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
                bank, profile = event.summary.get("bank"), event.summary.get("profile")
            if stop.requested:
                events.close()
                print("stopped; metrics.json left as it was", file=sys.stderr)
                return 130
    if bar is not None:
        bar.close()
    assert metrics is not None
    metrics = store_evaluation(args.checkpoint, metrics, reference,
                               merge=(args.scores_only or args.copies_only or args.features_only
                                      or args.class_fid is not None),
                               write=not args.dry_run, bank=bank, profile=profile)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


def cmd_nearest(args: argparse.Namespace) -> int:
    import numpy as np

    from genplay.core import checkpoints, runtime
    from genplay.core.data import invert_policy
    from genplay.core.images import load_image, make_grid, prepare_for_model, save_png
    from genplay.core.ops.nearest_images import nearest_training_images

    runtime.set_threads(args.threads)
    info = checkpoints.read_info(args.checkpoint)
    if not info.dataset:
        raise GenplayError(f"{info.name} does not say what data it was trained on")
    output = Outputs([args.image], overwrite=args.overwrite).check(args.output)
    c, size, _ = info.image_shape
    pixels, _ = prepare_for_model(load_image(args.image), size=size, channels=c,
                                  invert=invert_policy(info.dataset))
    found = run_with_bar(nearest_training_images(pixels, dataset=info.dataset,
                                                 shape=info.image_shape, model_path=info.path,
                                                 k=args.k, data_root=args.data_root),
                         "nearest training images")
    value = found.value
    if args.json:
        print(json.dumps({key: ([{k: v for k, v in n.items() if k != "pixels"}
                                 for n in value[key]] if key in ("features", "pixels")
                                else value[key])
                          for key in value}, indent=2))
    else:
        for space, unit in (("features", "feature distance"), ("pixels", "RMS pixel difference")):
            print(f"nearest in {space} ({unit}):")
            for n in value[space]:
                print(f"  {n['distance']:8.4f}  training image {n['index']:>6}  {n['label']}")
        verdict = "a near-copy" if value["near_copy"] else "not a near-copy"
        print(f"{verdict}: the nearest is {value['features'][0]['distance']:.4f} in features; "
              f"near-copies are closer than {value['threshold']:.4f}, the "
              f"{value['threshold_note']}")
    if output is not None:
        row = [pixels] + [n["pixels"] for space in ("features", "pixels") for n in value[space]]
        save_png(output, make_grid(np.stack(row), nrow=len(row)))
        print(f"the image, then its nearest in features and in pixels: {output}",
              file=sys.stderr)
    return 0


# --- parser ----------------------------------------------------------------------------------
def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="how strange each image is to a model (outlier scores)")
    add_checkpoint(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--method", choices=["bpd", "complexity", "ratio", "typicality", "elbo",
                                        "recon", "energy", "features", "profile"],
                   help="score (default: profile, else features, else complexity, else recon, "
                        "else bpd, else energy); "
                        "features: distance to the nearest training image in the dataset "
                        "classifier's features (models with a feature bank); profile: how "
                        "rare the way the model spends its bits on the image is among its "
                        "training images (models with a bits profile)")
    p.add_argument("--fpr", type=float, default=0.05,
                   help="flag images stranger than all but this fraction of the test split")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--csv", action="store_true")
    add_threads(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("eval", help="measure a checkpoint on the test split, write metrics.json")
    add_checkpoint(p)
    p.add_argument("--features", help="feature-net checkpoint for FID/KID "
                   "(default: the shipped classifier for the checkpoint's dataset)")
    p.add_argument("--samples", type=int, default=10000, help="generated images for FID/KID")
    p.add_argument("--iwae-k", type=int, default=100, help="importance samples for the IWAE bound")
    p.add_argument("--limit", type=int, default=None, help="use only the first N test images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", help="folder holding the named datasets")
    p.add_argument("--data", metavar="NAME",
                   help="the dataset to measure on (needed for a diffusers pipeline or an "
                        "upscaler's weights, which name none; default: the checkpoint's)")
    p.add_argument("--dry-run", action="store_true", help="print, do not write metrics.json")
    p.add_argument("--scores-only", action="store_true",
                   help="measure only the outlier scores' reference (kept in metrics.json "
                        "with what was measured before)")
    p.add_argument("--copies-only", action="store_true",
                   help="measure only the near-copy figures (1,000 samples against the "
                        "training images), kept in metrics.json with what was measured before")
    p.add_argument("--features-only", action="store_true",
                   help="measure only the figures read in the feature network's space (FID, "
                        "KID, their floor, near-copies, a sketch model's class agreement), "
                        "kept in metrics.json with what was measured before: for when the "
                        "dataset's classifier has changed")
    p.add_argument("--class-fid", type=float, metavar="GUIDANCE",
                   help="measure only the FID/KID of samples drawn class by class (in the "
                        "training split's proportions) at this classifier-free guidance, "
                        "for class-conditional models; kept in metrics.json as fid_by_class "
                        "with what was measured before")
    p.add_argument("--no-scores", action="store_true", help="skip the outlier scores")
    p.add_argument("--feature-bank", action="store_true",
                   help="make the model's feature bank (its training split in the dataset "
                        "classifier's features, saved beside it) and measure the 'features' "
                        "outlier score with it")
    p.add_argument("--bits-profile", action="store_true",
                   help="make the model's bits profile (how it spends its bits on each "
                        "training image: bits/dim, their spread over the pixels, the share of "
                        "nearly free pixels; saved beside it) and measure the 'profile' "
                        "outlier score with it (models that give each pixel's bits)")
    p.add_argument("--slow-scores", action="store_true",
                   help="also the reconstruction score of models that encode in many steps "
                        "(GAN: by optimisation; diffusion: by DDIM inversion)")
    add_threads(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("nearest", help="the training images nearest to an image a model made "
                       "(is it new or a near-copy?)")
    add_checkpoint(p)
    p.add_argument("image", help="an image (a sample saved by genplay, or any picture)")
    p.add_argument("-k", type=int, default=4, help="training images to show in each space")
    p.add_argument("-o", "--output", help="a PNG of the image and its nearest training images")
    p.add_argument("--data-root", help="folder holding the named datasets")
    p.add_argument("--json", action="store_true")
    add_overwrite(p)
    add_threads(p)
    p.set_defaults(func=cmd_nearest)
