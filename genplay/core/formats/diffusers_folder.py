"""A diffusers pipeline folder (model_index.json, unet/, scheduler/) as a genplay model.

What opens: pixel-space pipelines of a ``UNet2DModel`` and a scheduler with a beta
schedule (DDPM, DDIM, PNDM, DPM-Solver, Euler ... all share the training schedule, which
is all genplay reads; its own samplers replace the pipeline's): google/ddpm-cifar10-32,
ddpm-celebahq-256, the community DDPMs of butterflies or anime faces, class-conditional
ones (num_class_embeds), and the folders ``genplay export --to diffusers`` writes (with a
``genplay.json`` naming the classes and the "no class" label). The model is the
"diffusers" family (core/models/diffusers_unet.py).

What is refused, in one line each: text-to-image and latent pipelines (a text encoder, a
VAE), other networks (UNet2DConditionModel ...), continuous-time and variance-exploding
models (ScoreSdeVe, Karras VE, EDM, consistency and flow-matching schedulers), non-square
images, and anything but 1 or 3 channels. A bare unet/ folder is recognised, so that it
is refused with a pointer to the pipeline folder (it has no schedule of its own).

Weights: unet/diffusion_pytorch_model.safetensors (or the .fp16 variant, cast to float32).
A folder with only the pickle, diffusion_pytorch_model.bin, is refused unless the caller
passes trust_pickle (the command line's --trust-pickle), and then it is read with
``torch.load(weights_only=True)``, which builds tensors and never runs the file's code.
Old pipelines name their attention layers query/key/value/proj_attn; they are renamed as
diffusers renames them.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from genplay.core.errors import CheckpointError, PickleRefused
from genplay.core.files import check_regular, read_json_object
from genplay.core.formats import Described
from genplay.core.formats.weights import check_finite, check_names, shapes_of
from genplay.core.models.diffusers_unet import BETA_SCHEDULES, PREDICTION_TYPES, DiffusersConfig

__all__ = ["describe", "load_weights", "recognise"]

INDEX_FILE = "model_index.json"
UNET_CONFIG = "unet/config.json"
SCHEDULER_CONFIG = "scheduler/scheduler_config.json"
GENPLAY_FILE = "genplay.json"  # written by genplay's export: class names, "no class"
WEIGHTS_NAME = "diffusion_pytorch_model"
SAFE_WEIGHTS = (f"{WEIGHTS_NAME}.safetensors", f"{WEIGHTS_NAME}.fp16.safetensors")
PICKLE_WEIGHTS = (f"{WEIGHTS_NAME}.bin", f"{WEIGHTS_NAME}.fp16.bin")

JSON_LIMIT = 16 << 20  # bytes; a config is a few kB (trained_betas: 1000 numbers)
WEIGHTS_LIMIT = 8 << 30  # bytes; as genplay's own checkpoints (ddpm-church-256 is 455 MB)
MAX_CLASSES = 100_000

# Pipeline components that make it something genplay cannot run, and why.
LATENT_PARTS = ("vae", "vqvae", "movq")
TEXT_PARTS = ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "image_encoder")
# Schedulers of other kinds of model than a discrete beta schedule, and what they are.
REFUSED_SCHEDULERS = {
    "ScoreSdeVeScheduler": "a variance-exploding score model (continuous time)",
    "KarrasVeScheduler": "a variance-exploding model (Karras et al.)",
    "ScoreSdeVpScheduler": "a continuous-time score model",
    "EDMEulerScheduler": "an EDM model (continuous noise levels)",
    "EDMDPMSolverMultistepScheduler": "an EDM model (continuous noise levels)",
    "CMStochasticIterativeScheduler": "a consistency model",
    "LCMScheduler": "a latent consistency model",
    "TCDScheduler": "a trajectory consistency model",
    "VQDiffusionScheduler": "a discrete (VQ) diffusion model",
    "AmusedScheduler": "a masked token model",
}
KNOWN_SCHEDULERS = (
    "DDPMScheduler", "DDIMScheduler", "PNDMScheduler", "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler", "DPMSolverSDEScheduler", "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler", "LMSDiscreteScheduler",
    "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler", "UniPCMultistepScheduler",
    "DEISMultistepScheduler", "SASolverScheduler", "RePaintScheduler",
    "DDPMParallelScheduler", "DDIMParallelScheduler",
)
BETA_FIELDS = ("beta_schedule", "beta_start", "beta_end", "trained_betas")


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a regular file of sane size; CheckpointError (one line) if not."""
    return read_json_object(path, limit=JSON_LIMIT, error=CheckpointError)


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _is_bare_unet(path: Path) -> bool:
    return _exists(path / "config.json") and any(
        _exists(path / name) for name in (*SAFE_WEIGHTS, *PICKLE_WEIGHTS))


def recognise(path: str | os.PathLike) -> bool:
    """A folder with model_index.json (a pipeline), or a bare diffusers UNet folder
    (config.json with diffusion_pytorch_model weights), which describe() refuses with a
    pointer to its pipeline. Names only: no file is opened."""
    path = Path(path)
    if not path.is_dir():
        return False
    return _exists(path / INDEX_FILE) or _is_bare_unet(path)


# --- describe ---------------------------------------------------------------------------------
def _component(index: dict[str, Any], name: str) -> str | None:
    """The class a model_index.json entry names (["diffusers", "UNet2DModel"]), or None
    for an absent or empty ([null, null]) one."""
    entry = index.get(name)
    if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str):
        return entry[1]
    return None


def _check_pipeline(path: Path, index: dict[str, Any]) -> None:
    kind = index.get("_class_name", "pipeline")
    kind = kind if isinstance(kind, str) else "pipeline"
    parts = [k for k in index if not k.startswith("_") and _component(index, k)]
    latent = next((p for p in parts if p in LATENT_PARTS), None)
    text = next((p for p in parts if p in TEXT_PARTS), None)
    if latent or text:
        has = f"a {latent}" if latent else f"a {text}"
        raise CheckpointError(
            f"{path}: {kind} has {has}: text-to-image and latent pipelines are not "
            "supported; genplay opens pixel-space pipelines of a UNet2DModel and a "
            "scheduler (DDPM, DDIM ...)")
    unet = _component(index, "unet")
    if unet is None:
        raise CheckpointError(f"{path}/{INDEX_FILE}: {kind} has no unet; genplay opens "
                              "pipelines of a UNet2DModel and a scheduler")
    if unet != "UNet2DModel":
        why = (" (a text- or image-conditioned network)" if unet == "UNet2DConditionModel"
               else "")
        raise CheckpointError(f"{path}: its unet is a {unet}{why}; genplay opens "
                              "UNet2DModel networks only")
    if _component(index, "scheduler") is None:
        raise CheckpointError(f"{path}/{INDEX_FILE}: {kind} has no scheduler")
    others = sorted(set(parts) - {"unet", "scheduler"})
    if others:
        raise CheckpointError(f"{path}: {kind} also has {', '.join(others)}, which genplay "
                              "cannot use; it opens pipelines of a UNet2DModel and a scheduler")


def _number(data: dict[str, Any], key: str, default: Any, where: str,
            kind: type = float) -> Any:
    value = data.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            kind is int and not isinstance(value, int)):
        raise CheckpointError(f"{where}: {key} must be a {'whole ' if kind is int else ''}"
                              f"number, not {value!r}")
    return kind(value)


def _unet_fields(path: Path, unet: dict[str, Any]) -> dict[str, Any]:
    """channels, image_size and num_classes of a UNet2DModel config, with its refusals."""
    where = f"{path}/{UNET_CONFIG}"
    name = unet.get("_class_name", "UNet2DModel")
    if name != "UNet2DModel":
        raise CheckpointError(f"{where}: a {name}; genplay opens UNet2DModel networks only")
    channels = _number(unet, "in_channels", 3, where, int)
    out = _number(unet, "out_channels", 3, where, int)
    if channels not in (1, 3):
        raise CheckpointError(f"{where}: the UNet takes {channels} channels; genplay opens "
                              "models of grey (1) or RGB (3) images (4 channels is usually "
                              "a latent model's UNet, which needs its VAE)")
    if out not in (channels, 2 * channels):
        raise CheckpointError(f"{where}: the UNet makes {out} channels from {channels}; "
                              "genplay needs the same count (or twice it, with variances)")
    size = unet.get("sample_size")
    if isinstance(size, list):  # [height, width]
        if len(size) != 2 or size[0] != size[1]:
            shown = "x".join(str(d) for d in size)
            raise CheckpointError(f"{where}: its images are {shown}; genplay's models make "
                                  "square images only")
        size = size[0]
    if isinstance(size, bool) or not isinstance(size, int):
        raise CheckpointError(f"{where}: sample_size must be the image size in pixels, not "
                              f"{size!r}")
    if not 8 <= size <= 1024:
        raise CheckpointError(f"{where}: its images are {size}x{size}; genplay opens sizes "
                              "from 8 to 1024")
    if unet.get("time_embedding_type", "positional") == "fourier":
        raise CheckpointError(f"{where}: a Fourier time embedding (a continuous-time score "
                              "model); genplay opens models of discrete timesteps")
    if unet.get("class_embed_type") is not None:
        raise CheckpointError(f"{where}: class_embed_type {unet['class_embed_type']!r} is not "
                              "supported; genplay opens class labels of num_class_embeds")
    classes = _number(unet, "num_class_embeds", 0, where, int)
    if not 0 <= classes <= MAX_CLASSES:
        raise CheckpointError(f"{where}: num_class_embeds {classes} is out of range")
    return {"channels": channels, "image_size": size, "num_classes": classes,
            "learned_variance": out == 2 * channels}


def _schedule_fields(path: Path, scheduler: dict[str, Any]) -> dict[str, Any]:
    """The training schedule and prediction of a scheduler config, with its refusals."""
    where = f"{path}/{SCHEDULER_CONFIG}"
    name = scheduler.get("_class_name", "")
    name = name if isinstance(name, str) else ""
    if name in REFUSED_SCHEDULERS:
        raise CheckpointError(f"{where}: {name} is for {REFUSED_SCHEDULERS[name]}; genplay "
                              "opens diffusion models of a discrete beta schedule "
                              "(DDPM, DDIM ...)")
    if name not in KNOWN_SCHEDULERS and all(scheduler.get(k) is None for k in BETA_FIELDS):
        raise CheckpointError(f"{where}: {name or 'this scheduler'} has no beta schedule; "
                              "genplay opens diffusion models of a discrete beta schedule "
                              "(DDPM, DDIM ...)")
    if scheduler.get("rescale_betas_zero_snr"):
        raise CheckpointError(f"{where}: a zero terminal SNR schedule "
                              "(rescale_betas_zero_snr) is not supported")
    prediction = scheduler.get("prediction_type") or "epsilon"
    if prediction not in PREDICTION_TYPES:
        raise CheckpointError(f"{where}: prediction_type {prediction!r} is not supported "
                              f"(genplay knows {', '.join(PREDICTION_TYPES)})")
    fields: dict[str, Any] = {
        "timesteps": _number(scheduler, "num_train_timesteps", 1000, where, int),
        "beta_start": _number(scheduler, "beta_start", 0.0001, where),
        "beta_end": _number(scheduler, "beta_end", 0.02, where),
        "beta_schedule": scheduler.get("beta_schedule") or "linear",
        "trained_betas": "",
        "prediction": PREDICTION_TYPES[prediction],
    }
    trained = scheduler.get("trained_betas")
    if trained is not None:
        if not (isinstance(trained, list) and trained and all(
                isinstance(b, int | float) and not isinstance(b, bool) for b in trained)):
            raise CheckpointError(f"{where}: trained_betas must be a list of numbers")
        fields["trained_betas"] = json.dumps(trained)
        fields["timesteps"] = len(trained)
    elif fields["beta_schedule"] not in BETA_SCHEDULES:
        raise CheckpointError(f"{where}: beta_schedule {fields['beta_schedule']!r} is not "
                              f"supported (genplay knows {', '.join(BETA_SCHEDULES)})")
    return fields


def _genplay_fields(path: Path, classes: int) -> dict[str, Any]:
    """What genplay.json adds (a folder genplay exported): class names, "no class"."""
    file = path / GENPLAY_FILE
    if not _exists(file):
        return {}
    data = _read_json(file)
    where = str(file)
    found: dict[str, Any] = {}
    null = data.get("null_class")
    if null is not None:
        if isinstance(null, bool) or not isinstance(null, int) or null != classes - 1:
            raise CheckpointError(f"{where}: null_class must be the UNet's last class "
                                  f"({classes - 1}), not {null!r}")
        found["null_class"] = null
    names = data.get("class_names")
    drawn = classes - (1 if null is not None else 0)
    if names is not None:
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise CheckpointError(f"{where}: class_names must be a list of names")
        if len(names) != drawn:
            raise CheckpointError(f"{where}: {len(names)} class names for the UNet's "
                                  f"{drawn} classes")
        found["class_names"] = list(names) or None
    for key in ("dataset", "recipe", "source"):
        if isinstance(data.get(key), str) and data[key]:
            found[key] = data[key]
    return found


def _weights_file(path: Path) -> tuple[Path | None, bool]:
    """(the weights file, whether it is a pickle), safetensors first; (None, False) if none."""
    for name in SAFE_WEIGHTS:
        if _exists(path / "unet" / name):
            return path / "unet" / name, False
    for name in PICKLE_WEIGHTS:
        if _exists(path / "unet" / name):
            return path / "unet" / name, True
    return None, False


def _parameter_count(file: Path) -> int | None:
    """Values in a safetensors file, from its header (None if it cannot be read)."""
    try:
        check_regular(file, CheckpointError)
        with safe_open(str(file), framework="pt") as f:
            return sum(_numel(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118
    except (CheckpointError, SafetensorError, OSError, ValueError):
        return None


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n / 1e3:.1f}k"


def describe(path: str | os.PathLike) -> Described:
    """What a diffusers pipeline folder holds, from its JSON files and the weights' header;
    CheckpointError (one line) for one genplay cannot open."""
    path = Path(path)
    if not _exists(path / INDEX_FILE):
        if _is_bare_unet(path):
            above = path.parent
            where = (f"open {above}, the pipeline folder above it"
                     if _exists(above / INDEX_FILE) else
                     "open the pipeline folder (model_index.json, unet/, scheduler/)")
            raise CheckpointError(f"{path}: a diffusers UNet folder on its own has no noise "
                                  f"schedule; {where}")
        raise CheckpointError(f"{path}: no {INDEX_FILE}; not a diffusers pipeline folder")
    index = _read_json(path / INDEX_FILE)
    _check_pipeline(path, index)
    unet = _read_json(path / UNET_CONFIG)
    scheduler = _read_json(path / SCHEDULER_CONFIG)
    net = _unet_fields(path, unet)
    schedule = _schedule_fields(path, scheduler)
    extra = _genplay_fields(path, net["num_classes"])
    config = {
        "channels": net["channels"], "image_size": net["image_size"],
        "unet": json.dumps({k: v for k, v in unet.items() if not k.startswith("_")},
                           sort_keys=True),
        **schedule, "num_classes": net["num_classes"],
        "null_class": extra.get("null_class", -1),
    }
    try:  # the family's own checks (the schedule's table, the UNet's levels ...)
        DiffusersConfig.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot be opened ({str(exc).splitlines()[0]})"
                              ) from None

    notes = []
    weights, is_pickle = _weights_file(path)
    if weights is None:
        raise CheckpointError(f"{path}/unet: no {SAFE_WEIGHTS[0]} (or {PICKLE_WEIGHTS[0]})")
    count = None if is_pickle else _parameter_count(weights)
    if is_pickle:
        notes.append("its weights are a pickle (.bin): opening it needs --trust-pickle "
                     "(read with torch.load(weights_only=True)), or convert it to safetensors")
    if net["learned_variance"]:
        notes.append("its UNet also predicts variances; genplay uses its prediction with "
                     "the fixed posterior variance, not the learned one")
    if scheduler.get("thresholding"):
        notes.append("its scheduler asks for dynamic thresholding; genplay clips the "
                     "estimates to [-1, 1] instead")
    classes = net["num_classes"]
    drawn = classes - (1 if "null_class" in extra else 0)
    if classes and "null_class" not in extra:
        notes.append("class-conditional without a \"no class\" label: it always draws a "
                     "class (the first where none is chosen, also for latents and scores), "
                     "without classifier-free guidance")
    if "dataset" in extra:
        notes.append(f"exported by genplay from a model trained on {extra['dataset']}")

    size, colour = net["image_size"], "RGB" if net["channels"] == 3 else "grey"
    sched_name = scheduler.get("_class_name")
    sched_name = (re.sub(r"Scheduler$", "", sched_name) + " " if isinstance(sched_name, str)
                  and sched_name else "")
    betas = "trained betas" if schedule["trained_betas"] else (
        f"{schedule['beta_schedule'].replace('squaredcos_cap_v2', 'cosine')} betas")
    parts = [f"diffusers UNet2DModel {size}x{size} {colour}"]
    if count is not None:
        parts.append(f"{_count(count)} parameters")
    if drawn:
        parts.append(f"{drawn} classes")
    parts += [f"{sched_name}{betas}", f"predicts {schedule['prediction']}"]
    return Described(
        family="diffusers", config=config, image_shape=(net["channels"], size, size),
        architecture=", ".join(parts), class_names=extra.get("class_names"),
        dataset=extra.get("dataset", ""), recipe=extra.get("recipe", ""),
        source=extra.get("source", ""), notes=notes)


# --- load_weights -----------------------------------------------------------------------------
_OLD_ATTENTION = re.compile(r"^(.*)\.(query|key|value|proj_attn)\.(weight|bias)$")
_NEW_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def _modern_name(name: str, expected: dict[str, torch.Tensor]) -> str:
    """A weight's name in today's diffusers: old attention blocks said query, key, value
    and proj_attn where it says to_q, to_k, to_v and to_out.0."""
    match = _OLD_ATTENTION.match(name)
    if name in expected or match is None:
        return name
    new = f"{match[1]}.{_NEW_ATTENTION[match[2]]}.{match[3]}"
    return new if new in expected else name


def _check_names(file: Path, shapes: dict[str, tuple[int, ...]],
                 expected: dict[str, torch.Tensor]) -> None:
    """One line naming the first weight that is missing, unexpected or of the wrong shape."""
    check_names(file, shapes, shapes_of(expected), "unet/config.json")


def _read_safetensors(file: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(file), framework="pt") as f:
            shapes = {_modern_name(k, expected): tuple(f.get_slice(k).get_shape())
                      for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{file}: corrupt weights file ({_first_line(exc)})") from None
    _check_names(file, shapes, expected)  # from the header, before any data is read
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:  # changed since the header was read
        raise CheckpointError(f"{file}: corrupt weights file ({_first_line(exc)})") from None
    return {_modern_name(k, expected): v for k, v in state.items()}


def _read_pickle(file: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torch.load(weights_only=True): tensors and plain containers only; a pickle that asks
    for anything else (code to run) is refused before any of it runs."""
    try:
        try:
            state = torch.load(str(file), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:  # an old (non-zip) pickle cannot be memory-mapped
            if "mmap" not in str(exc):
                raise
            state = torch.load(str(file), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's message would suggest weights_only=False
        wanted = re.search(r"GLOBAL ([\w.]+)", str(exc))
        asks = f" (it asks for {wanted[1]})" if wanted else ""
        raise CheckpointError(f"{file}: refused: the pickle holds more than plain "
                              f"tensors{asks} (code to run, or a damaged file); nothing of "
                              "it was run") from None
    except (RuntimeError, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{file}: corrupt weights file ({_first_line(exc)})") from None
    if not (isinstance(state, dict) and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())):
        raise CheckpointError(f"{file}: not a state dict of named tensors")
    state = {_modern_name(k, expected): v for k, v in state.items()}
    _check_names(file, {k: tuple(v.shape) for k, v in state.items()}, expected)
    return state


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def weights_file(path: str | os.PathLike) -> Path:
    """The file of the UNet's weights (what names the model's exact state)."""
    file, _ = _weights_file(Path(path))
    if file is None:
        raise CheckpointError(f"{path}/unet: no {SAFE_WEIGHTS[0]}")
    return file


def load_weights(model: torch.nn.Module, path: str | os.PathLike,
                 trust_pickle: bool = False) -> None:
    """Loads unet/'s weights into model.net (a DiffusersUNet built from describe's config):
    names and shapes checked against the network first, every float finite, float16
    weights cast to the network's float32. A pickle (.bin) only with trust_pickle."""
    path = Path(path)
    file, is_pickle = _weights_file(path)
    if file is None:
        shards = path / "unet" / f"{WEIGHTS_NAME}.safetensors.index.json"
        if _exists(shards):
            raise CheckpointError(f"{path}/unet: its weights are split into shards, which "
                                  "genplay does not read; save them as one file")
        raise CheckpointError(f"{path}/unet: no {SAFE_WEIGHTS[0]}")
    if is_pickle and not trust_pickle:
        raise PickleRefused(
            f"{file}: its weights are a pickle (.bin); genplay loads safetensors only — pass "
            "--trust-pickle to load it with torch.load(weights_only=True), or convert it")
    st = check_regular(file, CheckpointError)  # before any open: a FIFO blocks forever
    if st.st_size > WEIGHTS_LIMIT:
        raise CheckpointError(f"{file}: {st.st_size / 2**30:.1f} GB, more than any UNet2DModel")
    net: torch.nn.Module = model.net  # type: ignore[assignment]
    expected = net.state_dict()
    state = (_read_pickle if is_pickle else _read_safetensors)(file, expected)
    check_finite(file, state)
    for name, tensor in state.items():
        if tensor.is_floating_point():
            state[name] = tensor.to(expected[name].dtype)
    net.load_state_dict(state)
