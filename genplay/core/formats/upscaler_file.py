"""A super-resolution weights file of the ESRGAN family (.pth, .pt, .safetensors).

What Upscayl, chaiNNer and ComfyUI users trade: one file of weights, no config. The
architecture and its sizes are read from the state dict's names and shapes, as spandrel
does (nothing of the weights is read for that: a safetensors header, or a ``.pth`` mapped
into memory):

- RRDBNet in three key styles: BasicSR/Real-ESRGAN's (``conv_first``, ``body.N.rdb1.conv1``
  ... ``conv_last``, genplay's own names: core/models/upscaler_nets.py), the ESRGAN
  repository's and BSRGAN's (``RRDB_trunk.N.RDB1.conv1``, ``trunk_conv``, ``upconv1``,
  ``HRconv``), and the first ESRGAN's sequential one (``model.0``, ``model.1.sub.N.RDB1.
  conv1.0``, then an upsampler of [upsample, conv, leaky ReLU] per x2 stage, whose count
  gives the scale). The last two are renamed to the first on reading. A first convolution
  taking 4 or 16 times the output's channels means a pixel-unshuffled input (Real-ESRGAN's
  x2 and x1 models).
- SRVGGNetCompact: ``body.N`` convolutions and PReLUs; the last convolution has
  channels * scale ** 2 outputs.
- With the spandrel library installed, any other architecture spandrel knows, built by
  spandrel (the "spandrel" family).

Weights may be wrapped as BasicSR saves them (``params_ema`` preferred over ``params``) or
as training scripts do (``state_dict``, ``model``, a ``module.`` prefix).

Loading never executes code. Safetensors are read with the safetensors library; ``.pth``
and ``.pt`` files only through ``torch.load(weights_only=True)`` (memory-mapped where the
file is a zip archive, as every torch.save since PyTorch 1.6 writes), whose unpickler
builds tensors and plain containers and refuses anything else before creating it: a
pickle that names a function or class (a trap, or a whole pickled model) is refused with
one line, whatever trust_pickle says. Files are checked to be regular files of a sane
size first, and every weight to match the model's shape and to be a finite number.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from genplay.core.errors import CheckpointError, GenplayError
from genplay.core.files import check_regular
from genplay.core.formats import WEIGHT_SUFFIXES, Described
from genplay.core.formats.weights import check_finite, check_names
from genplay.core.models.upscaler_nets import (
    CHANNELS,
    ForeignUpscaler,
    RRDBNet,
    RRDBNetConfig,
    SpandrelConfig,
    SpandrelUpscaler,
    SRVGGConfig,
    SRVGGNetCompact,
)

__all__ = ["SUFFIXES", "describe", "load_weights", "recognise", "weights_file"]

# The names upscaler weights come in: the package's one list (is_one_model reads it too).
SUFFIXES = WEIGHT_SUFFIXES
# The largest published upscalers (HAT-L, DAT) are a few hundred MB.
WEIGHTS_LIMIT = 2 << 30
# A weights file beside one of these is part of a model folder (genplay's own, a
# diffusers component, a transformers model), not a loose upscaler.
_FOLDER_MARKERS = ("config.json", "model_index.json")
# Where training scripts put the state dict, in order of preference: BasicSR's EMA weights
# are the ones its authors publish and evaluate.
_WRAPPERS = ("params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model",
             "net")
_PREFIXES = ("module.", "netG.")  # DataParallel's and some GAN scripts' common prefixes
KNOWN = "RRDBNet (ESRGAN, Real-ESRGAN, BSRGAN) and SRVGGNetCompact (Real-ESRGAN compact)"
_CHANNEL_NAMES = {1: "grey", 3: "RGB", 4: "RGBA"}
# Markers of torch's weights-only unpickler refusing a pickle that names code (as opposed
# to one it cannot parse at all: a damaged file).
_CODE_MARKERS = ("GLOBAL", "allowlist", "unrecognized function", "Can only build",
                 "Can only create new object")
Shape = tuple[int, ...]


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# --- recognising -------------------------------------------------------------------------------
def recognise(path: str | os.PathLike) -> bool:
    """Whether path is a regular file named like upscaler weights (SUFFIXES: .pth,
    .safetensors ...) that is not part of a model folder. Names and a stat only: nothing is
    opened."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        return False
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        return not any((path.parent / name).exists() for name in _FOLDER_MARKERS)
    except OSError:
        return False


def weights_file(path: str | os.PathLike) -> Path:
    """The file that holds the weights (what names the model's exact state): the file."""
    return Path(path)


# --- reading ---------------------------------------------------------------------------------
@dataclass
class _Weights:
    """What a file holds, unwrapped: names and shapes, and the tensors where read."""

    shapes: dict[str, Shape]
    tensors: dict[str, torch.Tensor] | None  # None: only the header was read
    wrapper: str = ""  # the key the state dict sat under ("params_ema" ...), if any
    dtypes: set[str] = field(default_factory=set)


def _check_file(path: Path) -> None:
    st = check_regular(path, CheckpointError)  # before any open: a FIFO would block
    if st.st_size > WEIGHTS_LIMIT:
        raise CheckpointError(f"{path}: {st.st_size / 2**30:.1f} GB, more than the "
                              f"{WEIGHTS_LIMIT / 2**30:.0f} GB of any upscaler's weights")


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def _torch_load(path: Path) -> Any:
    """torch.load with weights_only=True (memory-mapped for zip archives); a refusal or a
    damaged file is a one-line CheckpointError."""
    try:
        zipped = _is_zip(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=zipped)
    except Exception as exc:  # noqa: BLE001  # the file is untrusted: any failure is its own
        text = str(exc)
        if any(marker in text for marker in _CODE_MARKERS):
            found = re.search(r"GLOBAL ([\w.]+)", text)
            what = f" ({found.group(1)})" if found else ""
            raise CheckpointError(
                f"{path}: refused: it is a pickle that names Python code{what}, and loading "
                "it would run that code; genplay reads only plain weights (a .safetensors "
                "file, or a .pth holding a state dict)") from None
        # The unpickler's own words, not torch's advice to load it unsafely.
        _, said, reason = text.partition("WeightsUnpickler error:")
        reason = _one_line(reason if said and reason.strip() else exc).split(". ")[0]
        if not reason.strip(" .") or reason.isdigit():  # EOFError(), KeyError(101)
            reason = f"{type(exc).__name__} {reason}".strip()
        raise CheckpointError(f"{path}: damaged or not a PyTorch weights file ({reason})"
                              ) from None


def _unwrap(state: Any, path: Path) -> tuple[dict[str, Any], str]:
    """The state dict inside what a file holds, and the key it sat under ("" if none)."""
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, not a state dict of "
                              "weights")
    wrapper = ""
    for key in _WRAPPERS:
        inner = state.get(key)
        if isinstance(inner, Mapping) and inner:
            state, wrapper = inner, key
            break
    state = {k: v for k, v in state.items() if isinstance(k, str)}
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state, wrapper


def _read(path: str | os.PathLike, *, tensors: bool) -> _Weights:
    """The names and shapes of a weights file (a safetensors header only, unless tensors)."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() == ".safetensors":
        try:
            with safe_open(str(path), framework="pt") as f:
                names = list(f.keys())  # noqa: SIM118  # safe_open has no __iter__
                shapes = {k: tuple(f.get_slice(k).get_shape()) for k in names}
                dtypes = {str(f.get_slice(k).get_dtype()) for k in names}
                loaded = {k: f.get_tensor(k) for k in names} if tensors else None
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: damaged safetensors file ({_one_line(exc)})"
                                  ) from None
        state, wrapper = _unwrap(loaded if tensors else shapes, path)
        shapes = {k: tuple(v.shape) for k, v in state.items()} if tensors else dict(state)
        return _Weights(shapes, state if tensors else None, wrapper, dtypes)
    state, wrapper = _unwrap(_torch_load(path), path)
    weights = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    odd = next((k for k, v in weights.items() if v.layout != torch.strided), None)
    if odd is not None:
        raise CheckpointError(f"{path}: {odd} is a {weights[odd].layout} tensor, not plain "
                              "weights")
    return _Weights({k: tuple(v.shape) for k, v in weights.items()}, weights, wrapper,
                    {str(v.dtype).removeprefix("torch.") for v in weights.values()})


# --- the architectures --------------------------------------------------------------------------
_TRUNK = [  # the ESRGAN repository's and BSRGAN's names -> BasicSR's
    (r"RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.(weight|bias)", r"body.\1.rdb\2.conv\3.\4"),
    (r"trunk_conv\.(weight|bias)", r"conv_body.\1"),
    (r"upconv(\d)\.(weight|bias)", r"conv_up\1.\2"),
    (r"HRconv\.(weight|bias)", r"conv_hr.\1"),
]
_OLD_BLOCK = re.compile(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)")
_OLD_LAYER = re.compile(r"model\.(\d+)\.(weight|bias)")


def _rrdb_style(names: Iterable[str]) -> str | None:
    names = set(names)
    if {"conv_first.weight", "body.0.rdb1.conv1.weight"} <= names:
        return "new"
    if {"conv_first.weight", "RRDB_trunk.0.RDB1.conv1.weight"} <= names:
        return "trunk"
    if {"model.0.weight", "model.1.sub.0.RDB1.conv1.0.weight"} <= names:
        return "old"
    return None


def _old_names(names: Iterable[str]) -> dict[str, str]:
    """Old sequential ESRGAN names -> BasicSR's: model.0 the first conv, model.1.sub.N the
    blocks and (N = the block count) the body's last conv, then per x2 stage an upsample,
    a conv and a leaky ReLU (convs at 3, 6, 9), then the HR conv and the last conv two
    and four places after the last stage. Names that fit none of these stay as they are
    (and are reported as unexpected)."""
    names = list(names)
    blocks = {int(m.group(1)) for n in names if (m := _OLD_BLOCK.fullmatch(n))}
    count = max(blocks) + 1 if blocks else 0
    layers = sorted({int(m.group(1)) for n in names if (m := _OLD_LAYER.fullmatch(n))} - {0})
    stages = (max(layers) - 4) // 3 if layers else 0
    places = {0: "conv_first", 2 + 3 * stages: "conv_hr", 4 + 3 * stages: "conv_last"}
    places.update({3 * k: f"conv_up{k}" for k in range(1, stages + 1)})
    renamed = {}
    for name in names:
        if m := _OLD_BLOCK.fullmatch(name):
            renamed[name] = "body.{}.rdb{}.conv{}.{}".format(*m.groups())
        elif name in (f"model.1.sub.{count}.weight", f"model.1.sub.{count}.bias"):
            renamed[name] = "conv_body." + name.rsplit(".", 1)[1]
        elif (m := _OLD_LAYER.fullmatch(name)) and int(m.group(1)) in places:
            renamed[name] = f"{places[int(m.group(1))]}.{m.group(2)}"
        else:
            renamed[name] = name
    return renamed


def _rrdb_names(names: Iterable[str]) -> dict[str, str]:
    """Each name of an RRDBNet state dict -> its BasicSR name (genplay's module's)."""
    names = list(names)
    style = _rrdb_style(names)
    if style == "old":
        return _old_names(names)
    if style == "trunk":
        renamed = {}
        for name in names:
            new = name
            for pattern, replacement in _TRUNK:
                new = re.sub(f"^{pattern}$", replacement, new)
            renamed[name] = new
        return renamed
    return {n: n for n in names}


def _is_srvgg(names: Iterable[str]) -> bool:
    names = set(names)
    return ("body.0.weight" in names and "conv_first.weight" not in names
            and all(re.fullmatch(r"body\.\d+\.(weight|bias)", n) for n in names))


@dataclass
class _Found:
    family: str
    config: dict[str, Any]
    style: str  # for the architecture line: "ESRGAN", "Real-ESRGAN" ...
    names: dict[str, str]  # the file's names -> the model's


def _shape(shapes: Mapping[str, Shape], name: str, dims: int, path: Path) -> Shape:
    shape = shapes.get(name)
    if shape is None or len(shape) != dims:
        raise CheckpointError(f"{path}: {name} is {'missing' if shape is None else shape}; "
                              "expected a convolution's weight")
    return shape


def _rrdb_config(shapes: Mapping[str, Shape], path: Path) -> dict[str, Any]:
    first = _shape(shapes, "conv_first.weight", 4, path)
    last = _shape(shapes, "conv_last.weight", 4, path)
    features, taken, out = first[0], first[1], last[0]
    unshuffle = {out: 1, 4 * out: 2, 16 * out: 4}.get(taken, 1)
    blocks = len({n.split(".")[1] for n in shapes if n.startswith("body.")})
    growth = shapes.get("body.0.rdb1.conv1.weight", (32,))[0]
    upsamples = len({n.split(".")[0] for n in shapes if re.match(r"conv_up\d\.", n)})
    if 2 ** upsamples < unshuffle:
        raise CheckpointError(f"{path}: an RRDBNet with {upsamples} x2 stages and a "
                              f"{unshuffle}x{unshuffle} pixel unshuffle would shrink images")
    in_channels = taken // unshuffle ** 2
    return {"channels": in_channels, "in_channels": in_channels, "out_channels": out,
            "features": features, "blocks": blocks, "growth": growth,
            "scale": 2 ** upsamples // unshuffle, "upsamples": upsamples}


def _srvgg_config(shapes: Mapping[str, Shape], path: Path) -> dict[str, Any]:
    first = _shape(shapes, "body.0.weight", 4, path)
    last_index = max(int(n.split(".")[1]) for n in shapes)
    last = _shape(shapes, f"body.{last_index}.weight", 4, path)
    features, channels = first[0], first[1]
    scale = round((last[0] / channels) ** 0.5)
    if scale < 1 or channels * scale ** 2 != last[0]:
        raise CheckpointError(f"{path}: an SRVGGNetCompact whose last convolution makes "
                              f"{last[0]} channels from {channels}-channel images: not "
                              "channels x scale x scale, so it does not give back the "
                              "channels it takes")
    if "body.1.weight" not in shapes:
        raise CheckpointError(f"{path}: an SRVGGNetCompact without PReLU weights: the file "
                              "does not say which activation (ReLU or leaky ReLU) it was "
                              "trained with")
    return {"channels": channels, "num_feat": features, "num_conv": (last_index - 2) // 2,
            "scale": scale, "activation": "prelu"}


def _first_names(shapes: Mapping[str, Shape], count: int = 3) -> str:
    return ", ".join(list(shapes)[:count])


def _find(weights: _Weights, path: Path) -> _Found | None:
    """The genplay family of a state dict, its config and the names to load it by; None
    for an architecture genplay does not know."""
    shapes = weights.shapes
    style = _rrdb_style(shapes)
    if style is not None:
        names = _rrdb_names(shapes)
        renamed = {names[k]: v for k, v in shapes.items()}
        label = {"new": "Real-ESRGAN", "trunk": "ESRGAN/BSRGAN", "old": "ESRGAN"}[style]
        return _Found("rrdbnet", _rrdb_config(renamed, path), label, names)
    if _is_srvgg(shapes):
        return _Found("srvgg", _srvgg_config(shapes, path), "Real-ESRGAN compact",
                      {n: n for n in shapes})
    return None


_CLASSES: dict[str, tuple[type[ForeignUpscaler], type]] = {
    "rrdbnet": (RRDBNet, RRDBNetConfig), "srvgg": (SRVGGNetCompact, SRVGGConfig)}


def _config(family: str, config: Mapping[str, Any], path: Path) -> Any:
    """The family's Config of config, or a one-line CheckpointError."""
    model_cls, config_cls = _CLASSES[family]
    try:
        return config_cls.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: a {model_cls.architecture_name} genplay cannot run "
                              f"({_one_line(exc)})") from None


def _architecture(found: _Found, config: Mapping[str, Any]) -> str:
    channels = _CHANNEL_NAMES.get(config["channels"], f"{config['channels']} channels")
    if found.family == "rrdbnet":
        blocks = f"{config['blocks']} block{'s' * (config['blocks'] != 1)}"
        return (f"RRDBNet ({found.style}) {config['scale']}x, {blocks}, "
                f"{config['features']} features, {channels}")
    return (f"SRVGGNetCompact ({found.style}) {config['scale']}x, {config['num_conv']} "
            f"convolutions, {config['num_feat']} features, {channels}")


def _notes(weights: _Weights, reach: int) -> list[str]:
    notes = ["genplay opens these weights for upscaling; it does not train them"]
    if weights.wrapper:
        notes.append(f"the weights under {weights.wrapper!r} in the file")
    half = sorted(d for d in weights.dtypes if d.lower() in ("f16", "bf16", "float16",
                                                             "bfloat16"))
    if half:
        notes.append(f"stored as {half[0]}; genplay runs them in float32")
    if reach > 64:
        side = 256 + 2 * reach
        notes.append(f"each output pixel reads {reach} pixels around it, so a 256-pixel tile "
                     f"is run as {side}x{side} with its neighbours (slow on a CPU)")
    return notes


def describe(path: str | os.PathLike) -> Described:
    """What upscaler a weights file holds, from its names and shapes (the header of a
    safetensors file; a .pth is mapped into memory, not read). Unknown architectures go to
    spandrel where it is installed."""
    path = Path(path)
    weights = _read(path, tensors=False)
    if not weights.shapes:
        raise CheckpointError(f"{path}: holds no weights")
    found = _find(weights, path)
    if found is None:
        return _spandrel_describe(path, weights)
    model_cls = _CLASSES[found.family][0]
    config = _config(found.family, found.config, path)
    architecture = _architecture(found, found.config)
    check_names(path, {found.names[k]: v for k, v in weights.shapes.items()},
              model_cls.weight_shapes(config), architecture)
    return Described(family=found.family, config=found.config,
                     image_shape=model_cls.image_shape_for(config), architecture=architecture,
                     notes=_notes(weights, model_cls.reach_for(config)))


def load_weights(model: torch.nn.Module, path: str | os.PathLike,
                 trust_pickle: bool = False) -> None:
    """Loads a weights file into a model built from describe(path): names renamed to the
    model's, every shape checked against it, every value a finite number.

    trust_pickle changes nothing here: a .pth is only ever read with
    torch.load(weights_only=True), which refuses code whoever trusts it."""
    del trust_pickle
    path = Path(path)
    if isinstance(model, SpandrelUpscaler):
        _spandrel_load(model, path)
        return
    if not isinstance(model, RRDBNet | SRVGGNetCompact):
        raise CheckpointError(f"{path}: upscaler weights load into an RRDBNet or an "
                              f"SRVGGNetCompact, not a {type(model).__name__}")
    weights = _read(path, tensors=True)
    tensors = weights.tensors or {}
    names = _rrdb_names(tensors) if isinstance(model, RRDBNet) else {n: n for n in tensors}
    state = {names[k]: v for k, v in tensors.items()}
    check_names(path, {k: tuple(v.shape) for k, v in state.items()},
              {k: tuple(v.shape) for k, v in model.state_dict().items()},
              f"this {model.architecture_name}")
    for name in sorted(state):
        if not state[name].is_floating_point():
            raise CheckpointError(f"{path}: {name} holds {state[name].dtype} values, not weights")
    check_finite(path, state)
    model.load_state_dict(state)


# --- through spandrel ---------------------------------------------------------------------------
def _spandrel() -> Any:
    """The spandrel module, or None where it is not installed (or does not import)."""
    try:
        import spandrel
    except Exception:  # noqa: BLE001  # a broken install is no install
        return None
    return spandrel


def _spandrel_knows(spandrel: Any) -> str:
    try:
        names = [a.architecture.name for a in spandrel.MAIN_REGISTRY.architectures()]
    except Exception:  # noqa: BLE001  # an older or newer spandrel: the count is a nicety
        return "spandrel does not know it either"
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"nor does spandrel ({shown})"


def _unknown(path: Path, weights: _Weights, spandrel_part: str) -> CheckpointError:
    return CheckpointError(
        f"{path}: an architecture genplay does not know ({len(weights.shapes)} "
        f"tensor{'s' * (len(weights.shapes) != 1)}, "
        f"first {_first_names(weights.shapes)}); genplay opens {KNOWN} weights; "
        + spandrel_part)


def _spandrel_descriptor(path: Path, weights: _Weights) -> Any:
    """spandrel's model descriptor for the weights (their tensors read), or a one-line
    CheckpointError: not installed, not known to it, or not an image-to-image model."""
    spandrel = _spandrel()
    if spandrel is None:
        raise _unknown(path, weights, "with the spandrel library installed it would also "
                                      "try the architectures spandrel knows")
    if weights.tensors is None:
        weights = _read(path, tensors=True)
    unsupported = getattr(spandrel, "UnsupportedModelError", None)
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(dict(weights.tensors or {}))
    except Exception as exc:  # noqa: BLE001  # spandrel's own failures, one line each
        if unsupported is not None and isinstance(exc, unsupported):
            raise _unknown(path, weights, _spandrel_knows(spandrel)) from None
        raise CheckpointError(f"{path}: spandrel could not build its network "
                              f"({_one_line(exc)})") from None
    image_model = getattr(spandrel, "ImageModelDescriptor", None)
    if image_model is not None and not isinstance(descriptor, image_model):
        raise CheckpointError(f"{path}: a {descriptor.architecture.name} model that does not "
                              "map one image to another (inpainting?); genplay upscales "
                              "with image-to-image models only")
    return descriptor


def _spandrel_config(path: Path, descriptor: Any) -> dict[str, Any]:
    name = descriptor.architecture.name
    if descriptor.input_channels != descriptor.output_channels:
        raise CheckpointError(f"{path}: a {name} that makes {descriptor.output_channels}-"
                              f"channel images from {descriptor.input_channels}-channel ones; "
                              "genplay's upscalers give back the channels they take")
    if descriptor.input_channels not in CHANNELS:
        raise CheckpointError(f"{path}: a {name} of {descriptor.input_channels} channels; "
                              "genplay upscales grey, RGB and RGBA images")
    size = descriptor.size_requirements
    return {"channels": int(descriptor.input_channels),
            "architecture": str(descriptor.architecture.id), "scale": int(descriptor.scale),
            "multiple_of": int(getattr(size, "multiple_of", 1) or 1),
            "minimum": int(getattr(size, "minimum", 0) or 0),
            "square": bool(getattr(size, "square", False))}


def _spandrel_model(path: Path, config: Mapping[str, Any]) -> SpandrelUpscaler:
    try:
        return SpandrelUpscaler(SpandrelConfig.from_dict(config))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: a network genplay cannot run ({_one_line(exc)})"
                              ) from None


def _spandrel_describe(path: Path, weights: _Weights) -> Described:
    descriptor = _spandrel_descriptor(path, weights)
    config = _spandrel_config(path, descriptor)
    model = _spandrel_model(path, config)
    channels = _CHANNEL_NAMES.get(config["channels"], f"{config['channels']} channels")
    notes = ["opened through the spandrel library; genplay does not train it",
             "how far its output pixels read is not known: tiles may show seams (use "
             "larger tiles)"]
    if weights.wrapper:
        notes.append(f"the weights under {weights.wrapper!r} in the file")
    return Described(family="spandrel", config=config, image_shape=model.image_shape,
                     architecture=f"{descriptor.architecture.name} (through spandrel) "
                                  f"{config['scale']}x, {channels}", notes=notes)


def _spandrel_load(model: SpandrelUpscaler, path: Path) -> None:
    weights = _read(path, tensors=True)
    check_finite(path, weights.tensors or {})
    descriptor = _spandrel_descriptor(path, weights)
    config = _spandrel_config(path, descriptor)
    ours = {k: getattr(model.config, k) for k in config}
    if config != ours:
        first = next(k for k in config if config[k] != ours[k])
        raise CheckpointError(f"{path}: the file holds a network of {first} {config[first]!r}, "
                              f"not {ours[first]!r} as the model was built for")
    try:
        model.attach(descriptor.model, descriptor if callable(descriptor) else None)
    except (GenplayError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: {_one_line(exc)}") from None
