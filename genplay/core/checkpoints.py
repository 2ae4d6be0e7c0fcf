"""A model on disk is a folder: config.json, model.safetensors, metrics.json.

Loading never executes code from the folder: the config is JSON, the weights are
safetensors. Every file is written atomically (temporary file, then rename), so
an interrupted save leaves the previous version in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genplay import __version__
from genplay.core import registry
from genplay.core.errors import CheckpointError
from genplay.core.models.base import GenerativeModel, capabilities_of
from genplay.core.paths import default_checkpoint_dir

__all__ = ["CheckpointInfo", "default_checkpoint_dir", "load", "read_info", "save", "scan"]

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
TRAINER_STATE_FILE = "trainer_state.pt"  # resume only; not needed to use the model

# Read once at import: os.umask can only be read by setting it, which is not thread-safe.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@dataclass
class CheckpointInfo:
    """What a checkpoint folder says about itself, read without loading weights."""

    path: Path
    family: str
    config: dict[str, Any]
    dataset: str
    image_shape: tuple[int, int, int]
    class_names: list[str] | None
    recipe: str
    training: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def key_metrics(self) -> str:
        """The few figures that say how good a checkpoint is, as a short string."""
        parts = []
        for key, label, fmt in (
            ("test_accuracy", "acc", "{:.2%}"), ("iwae_bpd", "IWAE bpd", "{:.3f}"),
            ("elbo_bpd", "ELBO bpd", "{:.3f}"), ("bpd", "bpd", "{:.3f}"),
            ("fid", "FID", "{:.2f}"), ("kid", "KID", "{:.4f}"),
        ):
            if isinstance(self.metrics.get(key), int | float):
                parts.append(f"{label} {fmt.format(self.metrics[key])}")
        for scale in (2, 3, 4):  # upscalers: PSNR per scale and its gain over bicubic
            net, bicubic = (self.metrics.get(f"{k}psnr_x{scale}") for k in ("", "bicubic_"))
            if isinstance(net, int | float) and isinstance(bicubic, int | float):
                parts.append(f"x{scale} {net:.2f} dB ({net - bicubic:+.2f} over bicubic)")
        return ", ".join(parts) if parts else "(not evaluated)"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Calls write(temp_path) then renames the temporary file onto path.

    The file gets the user's usual permissions: some writers (safetensors) create
    owner-only files, which would stay unreadable to others after the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent}: no {path.name}; not a genplay checkpoint") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def save(
    model: GenerativeModel, folder: str | os.PathLike, *, dataset: str, recipe: str,
    training: Mapping[str, Any] | None = None, class_names: list[str] | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Writes weights then config (each atomically). state_dict overrides the model's
    own, e.g. with EMA weights."""
    folder = Path(folder)
    source = state_dict or model.state_dict()
    state = {k: v.detach().cpu().contiguous() for k, v in source.items()}
    atomic_write(folder / WEIGHTS_FILE,
                 lambda tmp: save_file(state, str(tmp), metadata={"family": model.family}))
    write_json(folder / CONFIG_FILE, {
        "format_version": FORMAT_VERSION,
        "family": model.family,
        "config": model.config.to_dict(),
        "dataset": dataset,
        "image_shape": list(model.image_shape),
        "class_names": class_names,
        "recipe": recipe,
        "training": dict(training or {}),
        "genplay_version": __version__,
    })


def read_info(folder: str | os.PathLike) -> CheckpointInfo:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    cfg = _read_json(folder / CONFIG_FILE)
    version = cfg.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder}: checkpoint format {version!r} is not supported (expected {FORMAT_VERSION})"
        )
    try:
        family = str(cfg["family"])
        model_cls = registry.get(family)
        config = dict(cfg["config"])
        model_cls.Config.from_dict(config)
    except KeyError as exc:
        raise CheckpointError(f"{folder}/{CONFIG_FILE}: missing field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{folder}/{CONFIG_FILE}: invalid config ({exc})") from None
    metrics_path = folder / METRICS_FILE
    metrics = _read_json(metrics_path) if metrics_path.exists() else {}
    return CheckpointInfo(
        path=folder, family=family, config=config, dataset=str(cfg.get("dataset", "")),
        image_shape=tuple(cfg.get("image_shape", ())), class_names=cfg.get("class_names"),
        recipe=str(cfg.get("recipe", "")), training=dict(cfg.get("training") or {}),
        metrics=metrics, capabilities=capabilities_of(model_cls),
    )


def build_model(info: CheckpointInfo) -> GenerativeModel:
    model_cls = registry.get(info.family)
    return model_cls(model_cls.Config.from_dict(info.config))


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Loads safetensors weights, checking every name and shape against the model."""
    try:
        state = load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent}: no {path.name}") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt weights file ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} with wrong shapes (e.g. {k}: "
                         f"{tuple(state[k].shape)} instead of {tuple(expected[k].shape)})")
        raise CheckpointError(f"{path}: weights do not match config.json: " + "; ".join(parts))
    model.load_state_dict(state)


def load(
    folder: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[GenerativeModel, CheckpointInfo]:
    """Builds the model a folder describes, loads its weights, returns it in eval mode."""
    info = read_info(folder)
    model = build_model(info)
    load_weights(model, info.path / WEIGHTS_FILE)
    # Names for the class choices of class-conditional models ("T-shirt/top", not "0").
    model.class_names = list(info.class_names) if info.class_names else None
    return model.to(device).eval(), info


def write_metrics(folder: str | os.PathLike, metrics: Mapping[str, Any]) -> None:
    write_json(Path(folder) / METRICS_FILE, metrics)


def weights_hash(folder: str | os.PathLike) -> str:
    """First 16 hex digits of the SHA-256 of the weights: names a checkpoint's exact state."""
    digest = hashlib.sha256()
    with open(Path(folder) / WEIGHTS_FILE, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def scan(directory: str | os.PathLike) -> tuple[list[CheckpointInfo], list[tuple[Path, str]]]:
    """Checkpoints directly below directory, without loading weights.

    Returns (checkpoints sorted by name, [(folder, reason)] for folders that look
    like checkpoints but cannot be read).
    """
    found, broken = [], []
    directory = Path(directory)
    if not directory.is_dir():
        return found, broken
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        if not (folder / CONFIG_FILE).exists():
            continue
        try:
            info = read_info(folder)
        except CheckpointError as exc:
            broken.append((folder, str(exc)))
            continue
        if not (folder / WEIGHTS_FILE).is_file():
            broken.append((folder, f"{folder}: no {WEIGHTS_FILE}"))
            continue
        found.append(info)
    return found, broken
