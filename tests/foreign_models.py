"""Tiny models of other projects' formats, built in the tests: a diffusers pipeline folder
saved by diffusers' own save_pretrained (tests/core/test_upscaler_files.py builds the
ESRGAN-family weights)."""

from __future__ import annotations

from pathlib import Path

import torch


def pipeline_folder(folder: Path, safe: bool = True, size: int = 8) -> Path:
    """A random 3-channel DDPM pipeline of size x size images, 50 training timesteps;
    safe=False saves its weights as a .bin pickle."""
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=size, in_channels=3, out_channels=3, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"), layers_per_block=1,
        norm_num_groups=4, attention_head_dim=4)
    scheduler = DDPMScheduler(num_train_timesteps=50)
    DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(
        folder, safe_serialization=safe)
    return folder
