"""Does a class-conditional model draw the class it is asked for?

    python -m benchmarks.class_agreement checkpoints/diffusion-emoji-32 [--n 100]
        [--guidance 2] [--steps 20] [--upscale] [--threads 1] [--seed 0] [--classifier PATH]
        [--json benchmarks/results/class-agreement-NAME.json]

For each class the model knows, `--n` samples are drawn with that class asked for at each
classifier-free guidance scale given (the Sampling panel's Class and Guidance), and a
classifier names each sample's class: the dataset's (checkpoints/classifier-DATA, the FID
feature network) or the one --classifier names. Printed: the share read as the class
asked, per class and over all, and beside it the classifier's own accuracy on the test
split, per class (the share of the class's test images it reads as that class, the most
such a judge can confirm) and over all (metrics.json; on a split where one class is most
of the images, the mean over the classes is the fairer comparison). With --upscale the
samples are first enlarged by the dataset's upscaler, as the Sampling panel's cascade
shows them (the classifier then sees them at its own size without resizing, where the
upscaler's size is the classifier's).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from typing import Any

import numpy as np
import torch

from benchmarks.common import report
from genplay import __version__
from genplay.core import checkpoints, runtime
from genplay.core.data import load_dataset
from genplay.core.errors import GenplayError
from genplay.core.evaluation import accuracy_by_class
from genplay.core.events import Result
from genplay.core.models.features import at_size
from genplay.core.ops.sampling import cascade_upscaler, sample_with


@torch.no_grad()
def _classes_read(net: Any, net_size: int, images: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    return net(at_size(x, net_size)).argmax(1).numpy()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--n", type=int, default=100, help="samples per class")
    parser.add_argument("--guidance", type=float, nargs="+", default=[2.0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--upscale", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classifier", help="the classifier that reads the samples "
                        "(default: the dataset's, which FID uses)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    runtime.set_threads(args.threads)
    model, info = checkpoints.load(args.checkpoint)
    if not info.class_names:
        raise GenplayError(f"{info.name} knows no classes")
    net_path = args.classifier or checkpoints.find_feature_net(info.dataset, info.path.parent)
    if net_path is None:
        raise GenplayError(f"no classifier-{info.dataset} to read the classes")
    net, net_info = checkpoints.load(net_path)
    c, size = net_info.image_shape[0], net_info.image_shape[1]
    judged = accuracy_by_class(net, load_dataset(info.dataset, "test", size=size, channels=c),
                               len(net_info.class_names))
    upscale = cascade_upscaler(info.path) if args.upscale else None
    rows = []
    for w in args.guidance:
        for k, name in enumerate(info.class_names):
            start = time.perf_counter()
            options = {"class": name, "guidance": w, "steps": args.steps}
            events = sample_with(model, args.n, args.seed + k, options, upscale)
            images = next(e for e in events if isinstance(e, Result)).value
            read = _classes_read(net, net_info.image_shape[1], images)
            share = float((read == k).mean())
            others = np.bincount(read[read != k], minlength=len(info.class_names))
            worst = int(others.argmax()) if others.any() else None
            rows.append({"guidance": w, "class": name, "agreement": share,
                         "classifier_accuracy": judged[k],
                         "most_read_otherwise": None if worst is None else
                         net_info.class_names[worst],
                         "seconds": time.perf_counter() - start})
            print(f"guidance {w:g} {name}: {share:.1%}", file=sys.stderr, flush=True)
    overall = {str(w): float(np.mean([r["agreement"] for r in rows if r["guidance"] == w]))
               for w in args.guidance}
    result = {"checkpoint": info.name, "classifier": net_info.name, "n": args.n,
              "steps": args.steps, "seed": args.seed, "upscale": upscale and upscale["name"],
              "classifier_test_accuracy": net_info.metrics.get("test_accuracy"),
              "classifier_balanced_accuracy": float(np.mean([a for a in judged
                                                             if a is not None])),
              "rows": rows, "overall": overall, "threads": args.threads,
              "machine": platform.machine(), "genplay_version": __version__}
    return report(result, format_table(result), args.json)


def format_table(result: dict[str, Any]) -> str:
    acc = result["classifier_test_accuracy"]
    enlarged = f", enlarged by {result['upscale']}" if result["upscale"] else ""
    lines = [f"# Class asked, class drawn — {result['checkpoint']} ({result['n']} samples per "
             f"class, {result['steps']} steps{enlarged}; read by {result['classifier']}"
             + (f", which reads {acc:.1%} of the test images" if acc is not None else "") + ")",
             "", "| guidance | class | read as asked | most often read instead | the "
             "classifier reads the class's test images |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        judged = r.get("classifier_accuracy")
        lines.append(f"| {r['guidance']:g} | {r['class']} | {r['agreement']:.1%} | "
                     f"{r['most_read_otherwise'] or '–'} | "
                     f"{'–' if judged is None else f'{judged:.1%}'} |")
    lines += [""] + [f"All classes at guidance {w}: {v:.1%} read as asked." for w, v in
                     result["overall"].items()]
    lines.append(f"The classifier reads {result['classifier_balanced_accuracy']:.1%} of each "
                 "class's test images, on average over the classes.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
