"""How much of an image's class does its sketch hold? A ceiling for sketch-to-image class
agreement.

    python -m benchmarks.sketch_information --data fashion-mnist [--epochs 3] [--n 1000]
        [--styles STYLES] [--classifier checkpoints/classifier-DATA] [--data-root DIR]
        [--threads 1] [--seed 0]
        [--json benchmarks/results/sketch-information-DATA.json]

A sketch model makes what a drawing shows, so the class of its image can be no surer
than the drawing itself says. This measures that with a learner: genplay's classifier
(the feature network's architecture, its training settings) trained from scratch on
sketches of the training split, each image drawn in a random training style with the
augmentations (core/sketches.py random_sketches, as the sketch model trains), then
reading the first `--n` test images drawn in the held-out style and in each training
style (seeded, no augmentation). Beside it, the shipped feature classifier's accuracy
on the same real test images: what class agreement could reach if the sketch held the
whole class. Printed: accuracy per style.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from typing import Any

import torch

from benchmarks.common import report
from genplay import __version__
from genplay.core import checkpoints, registry, runtime, sketches
from genplay.core.data import load_dataset


def _styles(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    return names or sketches.TRAIN_STYLES


@torch.no_grad()
def _accuracy(net: Any, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    predicted = torch.cat([net(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
    return float((predicted == y).float().mean())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--styles", default="", help="training sketch styles, comma-separated "
                        "(a name repeated to draw it more often; default all but the held-out)")
    parser.add_argument("--classifier", help="the feature classifier (default "
                        "checkpoints/classifier-DATA); the reader gets its image size")
    parser.add_argument("--data-root")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    runtime.set_threads(args.threads)
    styles = _styles(args.styles)
    feature_net, info = checkpoints.load(args.classifier or f"checkpoints/classifier-{args.data}")
    c, size = info.image_shape[0], info.image_shape[1]
    train_set = load_dataset(args.data, "train", size=size, channels=c, root=args.data_root)
    test_set = load_dataset(args.data, "test", size=size, channels=c, root=args.data_root)
    images, labels = train_set.as_float(), train_set.labels.long()
    x, y = test_set.as_float(slice(0, args.n)), test_set.labels[:args.n].long()
    real = _accuracy(feature_net, x, y)

    torch.manual_seed(args.seed)
    reader = registry.build("classifier", **{**vars(feature_net.config), "channels": 1})
    optimizers = reader.configure_optimizers()
    batch = reader.config.batch_size
    steps = args.epochs * max(1, len(images) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizers["main"], steps)
    generator = torch.Generator().manual_seed(args.seed)
    start = time.process_time()
    reader.train()
    for step in range(steps):
        pick = torch.randint(len(images), (batch,), generator=generator)
        drawn = sketches.random_sketches(images[pick], generator, styles=styles)
        reader.train_step(drawn, labels[pick], optimizers, step)
        schedule.step()
        if step % 200 == 0:
            print(f"step {step} of {steps}", file=sys.stderr, flush=True)
    spent = time.process_time() - start

    accuracy = {}
    for style in (sketches.HELD_OUT, *dict.fromkeys(styles)):
        drawn = sketches.sketch(x, style, torch.Generator().manual_seed(args.seed))
        accuracy[style] = _accuracy(reader, drawn, y)
    result = {"benchmark": "sketch_information", "data": args.data, "n": args.n,
              "epochs": args.epochs, "steps": steps, "cpu_seconds": round(spent, 1),
              "train_styles": list(styles), "held_out": sketches.HELD_OUT,
              "sketch_accuracy": accuracy, "real_accuracy": real, "seed": args.seed,
              "threads": args.threads, "genplay": __version__, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine()}
    trained_on = ("training-style sketches" if not args.styles
                  else f"sketches drawn by {', '.join(dict.fromkeys(styles))}")
    lines = [f"{args.data}: a classifier trained {args.epochs} epochs on {trained_on} "
             f"reads the class of {args.n} test images' sketches",
             f"  the feature classifier on the real images: {real:.1%}"]
    for style, value in accuracy.items():
        held_out = style == sketches.HELD_OUT and style not in styles
        note = " (held out of training)" if held_out else ""
        lines.append(f"  {style:<11} {value:.1%}{note}")
    return report(result, "\n".join(lines), args.json)


if __name__ == "__main__":
    main()
