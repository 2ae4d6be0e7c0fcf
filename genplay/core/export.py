"""A genplay model written in another project's format: diffusion models as diffusers
pipelines (``genplay export CHECKPOINT --to diffusers OUT``).

genplay's U-Net of layout "v2" (models/diffusion.py) is built from the blocks of
diffusers' ``UNet2DModel``: ResnetBlock2D with the "scale_shift" time embedding,
self-attention at the lowest resolution (AttnDownBlock2D, AttnUpBlock2D, the mid block's
attention), Downsample2D and Upsample2D with convolutions, sinusoidal timesteps without
flip or shift. So the export is a renaming of weights (and a split of the attention's
fused query-key-value convolution into diffusers' three linear maps), a UNet2DModel
config that builds the same network, and a DDPMScheduler config with genplay's cosine
schedule ("squaredcos_cap_v2", the same alpha_bar table) and its prediction type. The
folder is written without the diffusers library; diffusers' DDPMPipeline.from_pretrained
opens it, and so does genplay (core/formats/diffusers_folder.py).

What does not export, and why (the one-line refusals below say it to the user):
- diffusion checkpoints of layout "v1" (4x4 strided and transposed convolutions, a time
  embedding without SiLU): diffusers has no blocks that compute the same thing;
- other families: diffusers' pipelines hold diffusion models only.

``genplay.json`` beside model_index.json keeps what diffusers' configs have no field for:
the class names and which class label means "no class" (classifier-free guidance), the
dataset and the recipe. diffusers ignores the file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from genplay import __version__
from genplay.core import checkpoints
from genplay.core.errors import GenplayError
from genplay.core.events import Progress, Result
from genplay.core.models.blocks import channel_widths, resolution_plan

__all__ = ["DIFFUSERS_VERSION", "FORMATS", "export_steps", "unet_config", "unet_state"]

FORMATS = ("diffusers",)
DIFFUSERS_VERSION = "0.42.1"  # the version the folders were checked against
SIDECAR = "genplay.json"
PREDICTION_TYPES = {"v": "v_prediction", "eps": "epsilon"}


def unet_config(config: Any) -> dict[str, Any]:
    """The UNet2DModel config that builds the network of a v2 DiffusionConfig."""
    _, levels = resolution_plan(config.image_size)
    widths = channel_widths(config.base_channels, levels, config.max_mult)
    heads = config.attention_heads
    down = ["AttnDownBlock2D" if heads and level == levels else "DownBlock2D"
            for level in range(levels + 1)]
    up = ["AttnUpBlock2D" if heads and level == levels else "UpBlock2D"
          for level in reversed(range(levels + 1))]
    return {
        "_class_name": "UNet2DModel",
        "_diffusers_version": DIFFUSERS_VERSION,
        "sample_size": config.image_size,
        "in_channels": config.channels,
        "out_channels": config.channels,
        "center_input_sample": False,
        "time_embedding_type": "positional",
        "time_embedding_dim": None,
        "freq_shift": 0,
        "flip_sin_to_cos": False,
        "down_block_types": down,
        "mid_block_type": "UNetMidBlock2D",
        "up_block_types": up,
        "block_out_channels": widths,
        "layers_per_block": config.blocks_per_level,
        "mid_block_scale_factor": 1,
        "downsample_padding": 1,
        "downsample_type": "conv",
        "upsample_type": "conv",
        "dropout": config.dropout,
        "act_fn": "silu",
        "attention_head_dim": widths[-1] // heads if heads else None,
        "norm_num_groups": 8,
        "attn_norm_num_groups": 8,
        "norm_eps": 1e-5,
        "resnet_time_scale_shift": "scale_shift",
        "add_attention": bool(heads),
        "class_embed_type": None,
        "num_class_embeds": config.num_classes + 1 if config.num_classes else None,
        "num_train_timesteps": None,
    }


def scheduler_config(config: Any) -> dict[str, Any]:
    """A DDPMScheduler with genplay's cosine schedule and prediction type."""
    return {
        "_class_name": "DDPMScheduler",
        "_diffusers_version": DIFFUSERS_VERSION,
        "num_train_timesteps": config.timesteps,
        "beta_schedule": "squaredcos_cap_v2",
        "beta_start": 0.0001,  # unused by the cosine schedule; diffusers' defaults
        "beta_end": 0.02,
        "trained_betas": None,
        "prediction_type": PREDICTION_TYPES[config.prediction],
        "variance_type": "fixed_small",
        "clip_sample": True,  # genplay clips its x0 estimates to the image range too
        "clip_sample_range": 1.0,
        "thresholding": False,
        "timestep_spacing": "trailing",
        "steps_offset": 0,
        "rescale_betas_zero_snr": False,
    }


def _resnet(prefix: str) -> dict[str, str]:
    return {"in_layers.0": f"{prefix}.norm1", "in_layers.2": f"{prefix}.conv1",
            "emb": f"{prefix}.time_emb_proj", "norm": f"{prefix}.norm2",
            "out_layers.2": f"{prefix}.conv2", "skip": f"{prefix}.conv_shortcut"}


def _attention(prefix: str) -> dict[str, str]:
    return {"norm": f"{prefix}.group_norm", "out": f"{prefix}.to_out.0", "qkv": f"{prefix}.qkv"}


def unet_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The network's weights under UNet2DModel's names, attention split into to_q, to_k,
    to_v (1x1 convolutions become linear maps)."""
    net = model.net
    names: dict[str, str] = {"time_mlp.0": "time_embedding.linear_1",
                             "time_mlp.2": "time_embedding.linear_2",
                             "class_emb": "class_embedding", "stem": "conv_in",
                             "head.0": "conv_norm_out", "head.2": "conv_out"}

    def blocks(layers: torch.nn.ModuleList, side: str, level_of: Iterator[int]) -> None:
        level, block = next(level_of), 0
        for i, layer in enumerate(layers):
            if isinstance(layer, torch.nn.ModuleList):
                where = f"{side}_blocks.{level}"
                for key, target in _resnet(f"{where}.resnets.{block}").items():
                    names[f"{side}.{i}.0.{key}"] = target
                for key, target in _attention(f"{where}.attentions.{block}").items():
                    names[f"{side}.{i}.1.{key}"] = target
                block += 1
            else:  # the level's resampler ends it
                kind = "downsamplers" if side == "down" else "upsamplers"
                names[f"{side}.{i}.conv"] = f"{side}_blocks.{level}.{kind}.0.conv"
                level, block = next(level_of, level + 1), 0

    blocks(net.down, "down", iter(range(1000)))
    blocks(net.up, "up", iter(range(1000)))
    names |= {f"mid.0.{k}": v for k, v in _resnet("mid_block.resnets.0").items()}
    names |= {f"mid.2.{k}": v for k, v in _resnet("mid_block.resnets.1").items()}
    names |= {f"mid.1.{k}": v for k, v in _attention("mid_block.attentions.0").items()}

    out: dict[str, torch.Tensor] = {}
    for key, value in net.state_dict().items():
        module, _, leaf = key.rpartition(".")
        if module not in names:
            raise GenplayError(f"no diffusers name for the weight {key}; this network does "
                               "not export")  # a layout change not reflected here: a bug
        target = names[module]
        value = value.detach().cpu().contiguous()
        if target.endswith(".qkv"):
            base = target[: -len(".qkv")]
            for part, name in zip(value.chunk(3, dim=0), ("to_q", "to_k", "to_v")):
                out[f"{base}.{name}.{leaf}"] = part.flatten(1).contiguous() if (
                    leaf == "weight") else part.contiguous()
        elif target.endswith(".to_out.0") and leaf == "weight":
            out[f"{target}.{leaf}"] = value.flatten(1).contiguous()
        else:
            out[f"{target}.{leaf}"] = value
    return out


def exportable(info: checkpoints.CheckpointInfo, to: str = "diffusers") -> str:
    """Why a checkpoint cannot be exported to a format ("" when it can)."""
    if to not in FORMATS:
        return f"genplay exports to {', '.join(FORMATS)}, not {to!r}"
    if info.condition_method == "sketch":
        return (f"{info.name} draws from a sketch given beside the noise, an input diffusers' "
                "DDPMPipeline has no place for; only genplay's unconditional and "
                "class-conditional diffusion models export")
    if info.family != "diffusion":
        return (f"{info.name} is a {info.family} model; diffusers pipelines hold diffusion "
                "models only, so only genplay's diffusion checkpoints export")
    if info.config.get("layout") != "v2":
        return (f"{info.name} uses genplay's first U-Net layout (v1: 4x4 strided and "
                "transposed convolutions), which diffusers has no blocks for; models trained "
                "since genplay 0.1 (layout v2) export — retrain it with its recipe to export")
    return ""


def export_steps(checkpoint: str | os.PathLike, out: str | os.PathLike, to: str = "diffusers",
                 overwrite: bool = False) -> Iterator[Progress | Result]:
    """Writes a genplay diffusion checkpoint as a diffusers pipeline folder (see the module
    docstring). The folder is built beside `out` and put in place whole; an existing
    `out` is refused unless overwrite."""
    info = checkpoints.read_info(checkpoint)
    why = exportable(info, to)
    if why:
        raise GenplayError(why)
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise GenplayError(f"{out} already exists; choose another folder, or pass "
                               "--overwrite")
        # Only a pipeline folder (or an empty one) is replaced, never any other folder.
        if out.is_symlink() or not out.is_dir() or (
                any(out.iterdir()) and not (out / "model_index.json").is_file()):
            raise GenplayError(f"{out} is not a diffusers pipeline folder; genplay replaces "
                               "only those (or an empty folder), even with --overwrite")
    yield Progress(0, 3, message="reading the checkpoint")
    model, info = checkpoints.load(checkpoint)
    state = unet_state(model)
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "unet").mkdir(parents=True)
    (staging / "scheduler").mkdir()
    yield Progress(1, 3, message="writing the weights")
    save_file(state, str(staging / "unet" / "diffusion_pytorch_model.safetensors"),
              metadata={"format": "pt"})
    write = checkpoints.write_json
    write(staging / "unet" / "config.json", unet_config(model.config))
    write(staging / "scheduler" / "scheduler_config.json", scheduler_config(model.config))
    write(staging / "model_index.json", {
        "_class_name": "DDPMPipeline", "_diffusers_version": DIFFUSERS_VERSION,
        "scheduler": ["diffusers", "DDPMScheduler"], "unet": ["diffusers", "UNet2DModel"]})
    write(staging / SIDECAR, {
        "class_names": model.class_choices() if model.num_classes else None,
        "null_class": model.null_class if model.num_classes else None,
        "dataset": info.dataset, "recipe": info.recipe, "exported_from": str(info.path),
        "genplay_version": __version__})
    yield Progress(2, 3, message="placing the folder")
    if out.exists():  # overwrite was asked for
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)
    yield Progress(3, 3, message="done")
    yield Result(out, f"wrote a diffusers pipeline to {out} ({len(state)} tensors)")


