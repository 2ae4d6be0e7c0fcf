"""What the emoji dataset's split is: sizes, category shares, copies, and the FID floor.

    python -m benchmarks.emoji_split [--threads 1] [--classifier checkpoints/classifier-emoji]
        [--json benchmarks/results/emoji-split.json]

Reads the built dataset (`genplay data get emoji`) and prints:
- each split's pictures and emoji, and the emoji that the twin rule moved into training
  (core/emoji.py: a test emoji with a picture within TWIN_RMS of a training picture);
- each category's share of the training and of the test pictures;
- the test pictures nearest a training picture in pixels (root mean square, 0-1 range):
  how many lie within 0.01, 0.03 and 0.05 (none within TWIN_RMS by construction);
- the real-vs-real FID floor that `genplay eval` compares samples with (as many random
  training pictures as there are test pictures, against the test pictures, in the emoji
  classifier's features at its size), and the same with the training pictures drawn in
  the test split's category shares: how much of the floor is the two splits' different
  category mix, which a model of the training pictures meets as well. Both at 64 px and
  at 32 px (the pictures made 32 px as the 32 px models see them, then read by the
  classifier at its own size, as eval reads those models' samples).
"""

from __future__ import annotations

import argparse
import platform
from typing import Any

import numpy as np
import torch

from benchmarks.common import report
from genplay import __version__
from genplay.core import checkpoints, datasets, emoji, runtime
from genplay.core.data import fit_images
from genplay.core.evaluation import extract_features
from genplay.core.metrics import fid

PIXEL_LEVELS = (0.01, 0.03, 0.05)
SIZES = (64, 32)  # the emoji models' sizes


def nearest_rms(test: np.ndarray, train: np.ndarray, batch: int = 256) -> np.ndarray:
    """Each test picture's RMS distance (0-1 range) to its nearest training picture."""
    a = train.reshape(len(train), -1).astype(np.float32) / 255
    a_sq = (a ** 2).sum(1)
    out = []
    for start in range(0, len(test), batch):
        b = test[start:start + batch].reshape(-1, a.shape[1]).astype(np.float32) / 255
        d2 = (b ** 2).sum(1)[:, None] + a_sq[None] - 2 * b @ a.T
        out.append(np.sqrt(np.maximum(d2.min(1), 0) / a.shape[1]))
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classifier", default="checkpoints/classifier-emoji")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="benchmarks/results/emoji-split.json")
    args = parser.parse_args(argv)
    runtime.set_threads(args.threads)
    folder = datasets.locate("emoji", None, "train")
    if folder is None:
        raise SystemExit("the emoji dataset is not here: genplay data get emoji")
    train, test = emoji.load(folder, "train"), emoji.load(folder, "test")
    about = emoji.about(folder)
    n_cat = len(train.category_names)
    share = {split: np.bincount(s.category, minlength=n_cat) / len(s.category)
             for split, s in (("train", train), ("test", test))}
    rms = nearest_rms(test.images, train.images)
    net, info = checkpoints.load(args.classifier)
    net_size = info.image_shape[1]
    # the random pick is genplay eval's (fid_real_floor), so the two floors agree
    pick = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(
        args.seed))[:len(test.images)].numpy()
    rng = np.random.default_rng(args.seed)
    matched = []  # with replacement only where a category has fewer training pictures
    for k in range(n_cat):
        have, need = np.flatnonzero(train.category == k), int((test.category == k).sum())
        if len(have):
            matched.append(rng.choice(have, need, replace=len(have) < need))
    matched = np.concatenate(matched)
    floors = {}
    for size in SIZES:
        f_train, f_test = (extract_features(net, fit_images(torch.from_numpy(part.images), size, 3),
                                            size=net_size) for part in (train, test))
        floors[str(size)] = {"random": fid(f_train[pick], f_test),
                             "category_matched": fid(f_train[matched], f_test)}
    result = {
        "split_version": about.get("split_version", 1), "twin_rms": about.get("twin_rms"),
        "twins_moved": about.get("twins_moved", []),
        "pictures": {"train": len(train.images), "test": len(test.images)},
        "emoji": {"train": len(np.unique(train.emoji)), "test": len(np.unique(test.emoji))},
        "categories": list(train.category_names),
        "category_share": {k: v.round(4).tolist() for k, v in share.items()},
        "test_within_rms": {str(t): int((rms <= t).sum()) for t in PIXEL_LEVELS},
        "nearest_rms_min": float(rms.min()),
        "fid_floor": floors,
        "classifier": info.name, "classifier_hash": checkpoints.weights_hash(info.path),
        "seed": args.seed, "threads": torch.get_num_threads(),
        "machine": platform.machine(), "genplay_version": __version__,
    }
    return report(result, format_text(result), args.json)


def format_text(r: dict[str, Any]) -> str:
    lines = [f"emoji split version {r['split_version']}: {r['pictures']['train']:,} training "
             f"and {r['pictures']['test']:,} test pictures ({r['emoji']['train']:,} and "
             f"{r['emoji']['test']:,} emoji); {len(r['twins_moved'])} emoji moved to "
             f"training as twins (within {r['twin_rms']} RMS of a training picture)",
             "", "| category | train | test |", "|---|---|---|"]
    for i, name in enumerate(r["categories"]):
        lines.append(f"| {name} | {r['category_share']['train'][i]:.1%} | "
                     f"{r['category_share']['test'][i]:.1%} |")
    within = ", ".join(f"{n} within {t}" for t, n in r["test_within_rms"].items())
    lines += ["", f"test pictures nearest a training picture (RMS, 0-1): {within}; "
                  f"the nearest at {r['nearest_rms_min']:.4f}",
              f"FID floor in {r['classifier']}'s features (random training pictures; drawn "
              f"in the test split's category shares):"]
    lines += [f"- at {size} px: {f['random']:.2f}; {f['category_matched']:.2f}"
              for size, f in r["fid_floor"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
