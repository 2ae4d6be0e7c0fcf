"""Which way to condition a diffusion model on a sketch gives the better model per CPU hour?

    python -m benchmarks.sketch_conditioning --data mnist [--base checkpoints/diffusion-DATA]
        [--cpu-minutes 20] [--n 200] [--steps 20] [--threads 1] [--seed 0]
        [--classifier checkpoints/classifier-DATA] [--data-root DIR]
        [--json benchmarks/results/sketch-conditioning-DATA.json]

Two ways, both started from the same shipped unconditional diffusion model and both
switched off at the start (the untrained model is the base model):
- concat (SR3, pix2pix; genplay's sketch-diffusion family): the sketch is one more input
  channel of the U-Net, whose first convolution gets zero weights for it; every weight
  is trained.
- control (ControlNet): the base stays frozen; a trainable copy of its encoder (stem,
  down path, middle) reads the noisy image plus the sketch (through a zero-initialised
  convolution) and adds its features, each through a zero-initialised 1x1 convolution,
  to the base decoder's skip connections and middle.
Both are trained the same way for the same CPU time (process time, so other work on the
machine does not change the budget): batches of 64 training images, each with a sketch
in a random training style (core/sketches.py; the held-out style never), the sketch
dropped for 10% of them, Adam at the same rate, an EMA of the weights. Then the EMA
model turns `--n` test images drawn in the held-out style into images (no class given,
the default sampler at `--steps`, sketch guidance 1.5) and the dataset's feature
classifier reads their classes; edge F1 as in sketch_quality. Printed per way: steps and
images seen in the budget, seconds per step, class agreement, edge F1.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.common import report
from genplay import __version__
from genplay.core import checkpoints, runtime, sketches
from genplay.core.data import load_dataset
from genplay.core.evaluation import sketch_outputs
from genplay.core.events import final_value
from genplay.core.models.blocks import EMA
from genplay.core.models.diffusion import UNet, timestep_embedding
from genplay.core.models.sketch_diffusion import SketchDiffusion, SketchDiffusionConfig
from genplay.core.train import warm_start

BATCH = 64
LR = 5e-4
EMA_DECAY = 0.995
GUIDANCE = 1.5


def _zero(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class ControlledUNet(nn.Module):
    """A frozen U-Net with a ControlNet branch: a trainable copy of its encoder whose
    features enter the frozen decoder through zero-initialised 1x1 convolutions. The
    same call as the U-Net (x, t, labels, condition); an all-zero condition ("no
    sketch", as dropout and sketch guidance use it) leaves the branch out."""

    def __init__(self, base: UNet, sketch_channels: int) -> None:
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.stem = copy.deepcopy(base.stem)
        self.down = copy.deepcopy(base.down)
        self.mid = copy.deepcopy(base.mid)
        for p in [*self.stem.parameters(), *self.down.parameters(), *self.mid.parameters()]:
            p.requires_grad_(True)
        width = base.stem.out_channels
        self.hint = _zero(nn.Conv2d(sketch_channels, width, 3, padding=1))
        widths = [width] + [self._width(layer) for layer in base.down]
        self.outs = nn.ModuleList(_zero(nn.Conv2d(w, w, 1)) for w in widths)
        self.mid_out = _zero(nn.Conv2d(self._width(base.mid[2]), self._width(base.mid[2]), 1))
        self.extra_inputs = 0

    @staticmethod
    def _width(layer: nn.Module) -> int:
        convs = [m for m in layer.modules() if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    @staticmethod
    def _encode(stem: nn.Module, down: nn.ModuleList, mid: nn.ModuleList, h: torch.Tensor,
                emb: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        hs = [h]
        for layer in down:
            h = layer(h) if not isinstance(layer, nn.ModuleList) else layer[1](layer[0](h, emb))
            hs.append(h)
        h = mid[0](h, emb)
        return hs, mid[2](mid[1](h), emb)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        b = self.base
        emb = b.time_mlp(timestep_embedding(t, b.base, b.t_scale))
        if b.class_emb is not None:
            if labels is None:
                labels = torch.full_like(t, b.class_emb.num_embeddings - 1)
            emb = emb + b.class_emb(labels)
        hs, h = self._encode(b.stem, b.down, b.mid, b.stem(x), emb)
        if condition is not None:
            on = (condition.flatten(1).abs().amax(dim=1) > 0).to(x.dtype).view(-1, 1, 1, 1)
            if bool(on.any()):
                chs, ch = self._encode(self.stem, self.down, self.mid,
                                       self.stem(x) + self.hint(condition), emb)
                hs = [a + on * out(c) for a, out, c in zip(hs, self.outs, chs, strict=True)]
                h = h + on * self.mid_out(ch)
        for layer in b.up:
            if isinstance(layer, nn.ModuleList):
                h = layer[1](layer[0](torch.cat([h, hs.pop()], dim=1), emb))
            else:
                h = layer(h)
        return b.head(h)


def build(way: str, base_dir: str, styles: str) -> SketchDiffusion:
    base, info = checkpoints.load(base_dir)
    config = dict(vars(base.config))
    config.update(sketch_channels=1, sketch_dropout=0.1, sketch_styles=styles, lr=LR,
                  ema_decay=EMA_DECAY)
    if way == "concat":
        model = SketchDiffusion(SketchDiffusionConfig(**config))
        warm_start(model, base_dir)
        return model
    plain = SketchDiffusionConfig(**config)
    model = SketchDiffusion(plain)
    unet = copy.deepcopy(base.net)
    model.net = ControlledUNet(unet, 1)
    return model


def train(model: SketchDiffusion, images: torch.Tensor, labels: torch.Tensor,
          cpu_seconds: float, seed: int) -> dict[str, Any]:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizers = {"main": torch.optim.Adam(params, lr=LR)}
    ema = EMA(model, EMA_DECAY)
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.train()
    step, start = 0, time.process_time()
    while time.process_time() - start < cpu_seconds:
        pick = torch.randint(len(images), (BATCH,), generator=rng)
        model.train_step(images[pick], labels[pick], optimizers, step)
        ema.update(model)
        step += 1
    spent = time.process_time() - start
    model.load_state_dict(ema.state_dict())
    model.eval()
    trainable = sum(p.numel() for p in params)
    return {"steps": step, "images": step * BATCH, "cpu_seconds": round(spent, 1),
            "cpu_seconds_per_step": round(spent / max(step, 1), 3), "trainable": trainable}


@torch.no_grad()
def measure(model: SketchDiffusion, classifier: Any, x: torch.Tensor, y: np.ndarray,
            steps: int, seed: int) -> dict[str, float]:
    drawn, out = final_value(sketch_outputs(model, x, seed, steps=steps,
                                            sketch_guidance=GUIDANCE))
    pred = classifier(out).argmax(1).numpy()
    return {"agreement": float((pred == y).mean()),
            **sketches.faithfulness(out, drawn, sketches.HELD_OUT, seed)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--base", help="the diffusion checkpoint both start from "
                        "(default checkpoints/diffusion-DATA)")
    parser.add_argument("--cpu-minutes", type=float, default=20.0)
    parser.add_argument("--styles", default="", help="training sketch styles (the "
                        "sketch-diffusion config's sketch_styles; default all but the held-out)")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ways", default="concat,control")
    parser.add_argument("--classifier", help="default checkpoints/classifier-DATA")
    parser.add_argument("--data-root")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    runtime.set_threads(args.threads)
    base_dir = args.base or f"checkpoints/diffusion-{args.data}"
    size = checkpoints.read_info(base_dir).image_shape[1]
    train_set = load_dataset(args.data, "train", size=size, channels=1, root=args.data_root)
    test_set = load_dataset(args.data, "test", size=size, channels=1, root=args.data_root)
    images = train_set.as_float()
    labels = train_set.labels.long()
    x = test_set.as_float(slice(0, args.n))
    y = test_set.labels[:args.n].numpy()
    classifier, _ = checkpoints.load(args.classifier or f"checkpoints/classifier-{args.data}")
    rows = {}
    for way in args.ways.split(","):
        model = build(way, base_dir, args.styles)
        print(f"{way}: training for {args.cpu_minutes} CPU minutes...", file=sys.stderr,
              flush=True)
        row = train(model, images, labels, args.cpu_minutes * 60, args.seed)
        row.update(measure(model, classifier, x, y, args.steps, args.seed))
        rows[way] = row
        print(f"{way}: {row}", file=sys.stderr, flush=True)
    result = {"benchmark": "sketch_conditioning", "data": args.data, "base": base_dir,
              "cpu_minutes": args.cpu_minutes, "n": args.n, "steps": args.steps,
              "threads": args.threads, "held_out": sketches.HELD_OUT, "guidance": GUIDANCE,
              "batch": BATCH, "lr": LR, "ema_decay": EMA_DECAY, "ways": rows,
              "genplay": __version__, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine()}
    lines = [f"{args.data}: {args.cpu_minutes:g} CPU minutes each, {args.n} test images drawn "
             f"as {sketches.HELD_OUT} (held out), {args.steps} steps, sketch guidance "
             f"{GUIDANCE}", "way       trainable  steps  s/step  agreement  edge F1  exact F1"]
    for way, r in rows.items():
        lines.append(f"{way:<9} {r['trainable']:>9,} {r['steps']:>6} "
                     f"{r['cpu_seconds_per_step']:>7.2f} {r['agreement']:>9.1%} "
                     f"{r['edge_f1']:>8.3f} {r['edge_f1_exact']:>9.3f}")
    return report(result, "\n".join(lines), args.json)


if __name__ == "__main__":
    main()
