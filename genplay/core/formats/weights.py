"""The two checks every set of weights passes before it is loaded, whatever its format
(genplay's model.safetensors, a diffusers UNet, an upscaler's .pth): its names and shapes
are those of the model built for it, and its floating values are numbers. Each failure
is one line that names the first weight at fault."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from genplay.core.errors import CheckpointError

Shape = tuple[int, ...]


def check_names(path: str | os.PathLike, given: Mapping[str, Shape],
                expected: Mapping[str, Shape], what: str) -> None:
    """CheckpointError unless given (name -> shape, read from a file) is expected (those of
    the model); what names the model in the message ("config.json", "this RRDBNet")."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(given) & set(expected) if tuple(given[k]) != tuple(expected[k]))
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if wrong:
        k = wrong[0]
        parts.append(f"{len(wrong)} with wrong shapes (e.g. {k}: {tuple(given[k])} instead of "
                     f"{tuple(expected[k])})")
    raise CheckpointError(f"{path}: weights do not match {what}: " + "; ".join(parts))


def shapes_of(state: Mapping[str, torch.Tensor]) -> dict[str, Shape]:
    return {k: tuple(v.shape) for k, v in state.items()}


def check_finite(path: str | os.PathLike, state: Mapping[str, torch.Tensor]) -> None:
    """CheckpointError naming the first floating tensor with a NaN or an infinity."""
    for name in sorted(state):
        tensor = state[name]
        if tensor.is_floating_point():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise CheckpointError(f"{path}: {bad:,} of the {tensor.numel():,} values of "
                                      f"{name} are not numbers (NaN or infinite); the weights "
                                      "are damaged")
