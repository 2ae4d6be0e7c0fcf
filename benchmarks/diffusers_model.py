"""A randomly initialised diffusers DDPM pipeline folder, for timing genplay on opened
diffusers models where no real one can be downloaded (CI, this machine).

    python -m benchmarks.diffusers_model OUT [--size 256] [--channels 3]
        [--widths 32,32,64,64,128,128]

The network has the block layout of google/ddpm-*-256 (attention at 16x16, six levels
at 256x256) with narrower widths, so its images and previews are real-sized while its
network is cheap; timings of the network itself need a real pipeline (see
benchmarks/sampling.py --diffusers).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def build(out: Path, size: int = 256, channels: int = 3,
          widths: tuple[int, ...] = (32, 32, 64, 64, 128, 128), seed: int = 0) -> Path:
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(seed)
    levels = len(widths)
    # attention where the maps are 16x16 or smaller, as the published 256x256 DDPMs have it
    attention = [size // 2**level <= 16 for level in range(levels)]
    unet = UNet2DModel(
        sample_size=size, in_channels=channels, out_channels=channels,
        block_out_channels=widths, layers_per_block=1, norm_num_groups=8,
        attention_head_dim=8,
        down_block_types=["AttnDownBlock2D" if a else "DownBlock2D" for a in attention],
        up_block_types=["AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)])
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--widths", default="32,32,64,64,128,128")
    args = parser.parse_args()
    widths = tuple(int(w) for w in args.widths.split(","))
    print(build(Path(args.out), args.size, args.channels, widths))


if __name__ == "__main__":
    main()
