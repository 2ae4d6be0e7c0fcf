"""A model on disk is a folder: config.json, model.safetensors, metrics.json.

Loading never executes code from the folder: the config is JSON, the weights are
safetensors. Every file is written atomically (temporary file, then rename), so
an interrupted save leaves the previous version in place.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch.overrides import TorchFunctionMode

from genplay import __version__
from genplay.core import hub, registry
from genplay.core.errors import CheckpointError
from genplay.core.files import atomic_write, check_regular, read_json_object
from genplay.core.formats.weights import check_finite, check_names, shapes_of
from genplay.core.models.base import GenerativeModel
from genplay.core.models.capabilities import capabilities_of, condition_method_of
from genplay.core.paths import default_checkpoint_dir

__all__ = ["CheckpointInfo", "default_checkpoint_dir", "load", "read_info", "save", "scan",
           "weak_samplers"]

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
TRAINER_STATE_FILE = "trainer_state.pt"  # resume only; not needed to use the model

# Other projects' formats (core/formats): tried in this order on what is not a genplay
# checkpoint folder.
FORMAT_MODULES = {"diffusers": "genplay.core.formats.diffusers_folder",
                  "upscaler": "genplay.core.formats.upscaler_file"}

JSON_LIMIT = 16 << 20  # bytes: a config.json or metrics.json is a few kB
WEIGHTS_LIMIT = 8 << 30  # bytes: far above any model genplay trains
MEMORY_SHARE = 0.25  # a model's parameters may take at most this share of the machine's memory

# Families whose sampler is one pass of a network: 64 samples of the shipped models took
# 0.2 s (GAN, VAE) and 0.7 s (flow) on one CPU thread, against 5 s (PixelCNN, a pass per
# pixel), 11 s (EBM, Langevin steps) and 12 s (diffusion, 20 denoising steps).
ONE_PASS_SAMPLERS = frozenset({"gan", "vae", "flow"})
# A model's samples are "weak" when its FID is more than this many times the best FID among
# the models of its dataset: the shipped flow-mnist (187 against 16.7) and PixelCNNs (47
# against 16.7 and 7.7), whose samples are fragments, are; vae-mnist (29.5) is not.
WEAK_FID_FACTOR = 2.5

# What each figure means, in plain words: the model list's tooltips and `genplay models`.
METRIC_HELP = {
    "fid": "FID (Fréchet distance): how far 10,000 samples are from the real test images, "
           "seen through genplay's own classifier for the dataset. 0 would mean "
           "indistinguishable; lower is better. It compares genplay models with each other "
           "only.",
    "kid": "KID (kernel distance): a second measure of the same gap as FID, less biased for "
           "small sample counts; lower is better.",
    "bpd": "bits/dim (bits per pixel): how many bits the model needs to store a test image, "
           "per pixel. Lower means the model finds real images more likely.",
    "test_accuracy": "The share of test images this classifier labels correctly. genplay "
                     "uses it to measure the generative models (FID, KID).",
    "psnr": "PSNR: how close an enlarged image is to the original, in decibels (higher is "
            "better), compared with plain bicubic enlarging of the same small image.",
}


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
    metrics_error: str = ""  # why metrics.json could not be read ("" when it could, or is absent)
    format: str = "genplay"  # or a key of FORMAT_MODULES: a model in another project's format
    architecture: str = ""  # what a model of another format is, in one line (from its files)
    notes: list[str] = field(default_factory=list)  # what a user should know about it
    # a Conditional model's condition_method ("sdedit", "sketch" ...), from its class
    condition_method: str | None = None

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
        if self.best_fid is not None and self.best_fid != self.fid:
            parts.append(f"FID by class {self.best_fid:.2f}")
        for scale in (2, 3, 4):  # upscalers: PSNR per scale and its gain over bicubic
            net, bicubic = (self.metrics.get(f"{k}psnr_x{scale}") for k in ("", "bicubic_"))
            if isinstance(net, int | float) and isinstance(bicubic, int | float):
                parts.append(f"x{scale} {net:.2f} dB ({net - bicubic:+.2f} over bicubic)")
        return ", ".join(parts) if parts else "(not evaluated)"

    @property
    def fid(self) -> float | None:
        value = self.metrics.get("fid")
        return float(value) if isinstance(value, int | float) else None

    @property
    def best_fid(self) -> float | None:
        """Its samples' FID drawn the better of the two ways it was measured: with no class
        (fid) or class by class (fid_by_class, where measured), as the Sampling panel's
        default, a class per image, draws a class-conditional model."""
        by_class = self.metrics.get("fid_by_class")
        figure = by_class.get("fid") if isinstance(by_class, dict) else None
        known = [f for f in (self.fid, figure) if isinstance(f, int | float)]
        return float(min(known)) if known else None

    @property
    def samples_in_one_pass(self) -> bool:
        """Whether drawing samples is one pass of a network (fast), not many steps."""
        return "sampler" in self.capabilities and self.family in ONE_PASS_SAMPLERS

    def metric_labels(self) -> list[tuple[str, str]]:
        """(a short plain-language label, what it means) for each figure a user compares
        models by: sample quality, fit to the data, accuracy, upscaling gain."""
        m = self.metrics

        def number(key: str) -> float | None:
            return float(m[key]) if isinstance(m.get(key), int | float) else None

        labels = []
        if self.fid is not None:
            kid = number("kid")
            help_text = METRIC_HELP["fid"]
            if kid is not None:
                help_text += f"\nKID {kid:.3f}. {METRIC_HELP['kid']}"
            by_class = m.get("fid_by_class")
            if isinstance(by_class, dict) and isinstance(by_class.get("fid"), int | float):
                # the label gives the better figure: a class per image is what the Sampling
                # panel draws by default
                help_text += (f"\nDrawn class by class (in the training images' shares) at "
                              f"guidance {by_class.get('guidance')}: FID "
                              f"{by_class['fid']:.1f}. Drawn with no class (\"any\"): FID "
                              f"{self.fid:.1f}.")
            labels.append((f"sample quality {self.best_fid:.1f} (FID, lower is better)",
                           help_text))
        bound = next(((key, note) for key, note in (
            ("bpd", ""), ("iwae_bpd", " (at most; an importance-weighted bound)"),
            ("elbo_bpd", " (at most; the ELBO bound)")) if number(key) is not None), None)
        if bound is not None:
            key, note = bound
            labels.append((f"fit to data {number(key):.2f} bits/dim (lower is better)",
                           METRIC_HELP["bpd"] + note))
        if number("test_accuracy") is not None:
            labels.append((f"accuracy {number('test_accuracy'):.1%} on test images",
                           METRIC_HELP["test_accuracy"]))
        for scale in (2, 4):
            net, bicubic = number(f"psnr_x{scale}"), number(f"bicubic_psnr_x{scale}")
            if net is not None and bicubic is not None:
                labels.append((f"x{scale}: {net - bicubic:+.1f} dB over plain enlarging",
                               f"{METRIC_HELP['psnr']}\nx{scale}: {net:.2f} dB against "
                               f"{bicubic:.2f} dB for bicubic."))
        return labels


def weak_samplers(infos: list[CheckpointInfo],
                  factor: float = WEAK_FID_FACTOR) -> dict[Path, float]:
    """{folder: the yardstick of its kind} for each model whose FID is more than factor
    times the best unconditional FID among the models of the same dataset and image size
    in infos (FIDs at other sizes have other floors: emoji's real-vs-real FID is 9.92 at
    32 px, 14.30 at 64). Each model is judged by its best_fid (a class-conditional model
    drawn class by class, where that was measured, as the Sampling panel draws it), but the
    yardstick is what every model is measured on alike: drawn with no class. Drawn class
    by class, diffusion-mnist comes within 3x of the floor (1.16 against 0.46), and a
    yardstick there would call vae-mnist's clean digits (4.16) weak."""
    def kind(info: CheckpointInfo) -> tuple[str, tuple[int, ...]]:
        return info.dataset, tuple(info.image_shape)

    best: dict[tuple[str, tuple[int, ...]], float] = {}
    for info in infos:
        if info.fid is not None:
            best[kind(info)] = min(info.fid, best.get(kind(info), float("inf")))
    return {info.path: best[kind(info)] for info in infos
            if info.best_fid is not None and kind(info) in best
            and info.best_fid > factor * best[kind(info)]}


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path, limit=JSON_LIMIT, error=CheckpointError,
                            missing="; not a genplay checkpoint")


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


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


def format_of(path: str | os.PathLike) -> ModuleType | None:
    """The module of core/formats that recognises path (a diffusers pipeline folder, an
    upscaler weights file), or None: a genplay checkpoint folder, or nothing known."""
    path = Path(path)
    if path.is_dir() and ((path / CONFIG_FILE).exists() or (path / CONFIG_FILE).is_symlink()):
        return None  # genplay's own
    for name in FORMAT_MODULES.values():
        module = importlib.import_module(name)
        if module.recognise(path):
            return module
    return None


def _format_name(module: ModuleType) -> str:
    return next(k for k, v in FORMAT_MODULES.items() if v == module.__name__)


def metrics_file(path: str | os.PathLike) -> Path:
    """Where genplay keeps what `genplay eval` measured for a model: metrics.json in its
    folder, or beside a single weights file (NAME.pth.metrics.json)."""
    path = Path(path)
    return path.with_name(f"{path.name}.{METRICS_FILE}") if path.is_file() else path / METRICS_FILE


def _read_metrics(path: Path) -> tuple[dict[str, Any], str]:
    metrics_path = metrics_file(path)
    if metrics_path.exists() or metrics_path.is_symlink():
        try:  # the figures only: a broken metrics.json never makes the model unusable
            return _read_json(metrics_path), ""
        except CheckpointError as exc:
            return {}, str(exc)
    return {}, ""


def _read_foreign(path: Path, module: ModuleType) -> CheckpointInfo:
    described = module.describe(path)
    model_cls = registry.get(described.family)
    try:
        model_cls.Config.from_dict(described.config)
    except (TypeError, ValueError) as exc:
        what = described.architecture or "model"
        raise CheckpointError(f"{path}: genplay cannot open this {what} "
                              f"({_one_line(exc)})") from None
    metrics, metrics_error = _read_metrics(path)
    return CheckpointInfo(
        path=path, family=described.family, config=dict(described.config),
        dataset=described.dataset, image_shape=tuple(described.image_shape),
        class_names=described.class_names,
        recipe=described.recipe or described.source or hub.source_of(path),
        training={}, metrics=metrics,
        capabilities=capabilities_of(model_cls), metrics_error=metrics_error,
        condition_method=condition_method_of(model_cls),
        format=_format_name(module), architecture=described.architecture,
        notes=list(described.notes))


def read_info(folder: str | os.PathLike) -> CheckpointInfo:
    """What a checkpoint folder says about itself: config.json checked against its family's
    bounds (nothing is built); a broken metrics.json loses only the metrics (metrics_error
    says why). A diffusers pipeline folder or an upscaler weights file (core/formats) is
    described from its own files."""
    folder = Path(folder)
    module = format_of(folder)
    if module is not None:
        return _read_foreign(folder, module)
    if folder.is_file():
        raise CheckpointError(f"{folder}: not a model genplay knows (it opens genplay "
                              "checkpoint folders, diffusers pipeline folders and ESRGAN-family "
                              "upscaler weights: .pth or .safetensors)")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    where = f"{folder}/{CONFIG_FILE}"
    cfg = _read_json(folder / CONFIG_FILE)
    version = cfg.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder}: checkpoint format {version!r} is not supported (expected {FORMAT_VERSION})"
        )
    try:
        family, config = cfg["family"], cfg["config"]
    except KeyError as exc:
        raise CheckpointError(f"{where}: missing field {exc}") from None
    if not isinstance(family, str):
        raise CheckpointError(f"{where}: family must be a name, not {family!r}")
    model_cls = registry.get(family)
    if not isinstance(config, dict):
        raise CheckpointError(f"{where}: config must be an object, not {type(config).__name__}")
    config = model_cls.Config.upgrade(config)
    try:
        parsed = model_cls.Config.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: invalid config ({_one_line(exc)})") from None
    expected = (parsed.channels, parsed.image_size, parsed.image_size)
    shape = cfg.get("image_shape")
    if shape is not None and not (isinstance(shape, list) and len(shape) == 3 and all(
            type(d) is int for d in shape) and tuple(shape) == expected):
        raise CheckpointError(f"{where}: image_shape {shape!r} disagrees with its config "
                              f"({expected[0]} channels of {expected[1]}x{expected[2]})")
    class_names = cfg.get("class_names")
    if class_names is not None and not (isinstance(class_names, list)
                                        and all(isinstance(n, str) for n in class_names)):
        raise CheckpointError(f"{where}: class_names must be a list of names")
    training = cfg.get("training") or {}
    if not isinstance(training, dict):
        raise CheckpointError(f"{where}: training must be an object")
    metrics, metrics_error = _read_metrics(folder)
    return CheckpointInfo(
        path=folder, family=family, config=dict(config), dataset=str(cfg.get("dataset", "")),
        image_shape=expected, class_names=class_names, recipe=str(cfg.get("recipe", "")),
        training=dict(training), metrics=metrics, capabilities=capabilities_of(model_cls),
        metrics_error=metrics_error, condition_method=condition_method_of(model_cls),
    )


def _construct(info: CheckpointInfo, device: torch.device | None = None) -> GenerativeModel:
    """The model info describes, built on device (the default one if None). A config that
    passes its bounds yet cannot be built is a CheckpointError, like any other bad config."""
    model_cls = registry.get(info.family)
    try:
        config = model_cls.Config.from_dict(info.config)
        if device is None:
            return model_cls(config)
        with device:
            return model_cls(config)
    except NotImplementedError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:  # RuntimeError: also out of memory
        raise CheckpointError(f"{info.path}/{CONFIG_FILE}: no model can be built from its "
                              f"config ({_one_line(exc)})") from None


class _NoValuesOnMeta(TorchFunctionMode):
    """Skips the initialisers (torch.nn.init's, and a tensor's own fills) while a model is
    built on the meta device, whose tensors hold no values to fill. normal_ there runs
    PyTorch's Python reference, whose first call imports torch._dynamo: seconds on a small
    CPU, paid by the first model a user opens (nn.Embedding initialises that way; torch.eye
    builds the same way)."""

    init = torch.nn.init
    FILLS = frozenset({
        init.uniform_, init.normal_, init.trunc_normal_, init.constant_, init.ones_,
        init.zeros_, init.eye_, init.dirac_, init.xavier_uniform_, init.xavier_normal_,
        init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_, init.sparse_,
        torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.fill_, torch.Tensor.zero_})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.FILLS:  # nn.init passes its tensor by keyword
            tensor = args[0] if args else kwargs.get("tensor")
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                return tensor
        if func is torch.eye and torch.device(kwargs.get("device") or "cpu").type == "meta":
            n = args[0]
            m = args[1] if len(args) > 1 else kwargs.get("m", n)
            return torch.empty(n, m, dtype=kwargs.get("dtype"), device="meta")
        return func(*args, **kwargs)


def parameter_bytes(info: CheckpointInfo) -> int | None:
    """The bytes of the parameters and buffers of the model a checkpoint describes, found by
    building it on PyTorch's meta device (shapes only, nothing allocated); None if a family
    cannot be built there."""
    try:
        with _NoValuesOnMeta():
            model = _construct(info, torch.device("meta"))
    except NotImplementedError:  # an operation without a meta kernel: no estimate
        return None
    tensors = itertools.chain(model.parameters(), model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the computer's, or a container's limit
    (cgroup v2) where that is lower; None where neither can be read."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        memory = None
    try:
        limit = int(Path("/sys/fs/cgroup/memory.max").read_text().strip())
    except (OSError, ValueError):  # absent, or "max"
        limit = None
    known = [m for m in (memory, limit) if m and m > 0]
    return min(known) if known else None


def build_model(info: CheckpointInfo) -> GenerativeModel:
    """The model a checkpoint describes, with fresh weights; refused, before anything is
    allocated, when its parameters would take more than MEMORY_SHARE of the machine."""
    needed, memory = parameter_bytes(info), machine_memory()
    if needed is not None and memory is not None and needed > MEMORY_SHARE * memory:
        raise CheckpointError(
            f"{info.path}: its model needs {_size(needed)} for its parameters alone, more "
            f"than {MEMORY_SHARE:.0%} of this computer's {_size(memory)} of memory")
    return _construct(info)


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Loads safetensors weights: the file is checked to be a regular file of a sane size,
    its names and shapes against the model (from its header, before any data is read), and
    every floating value to be a finite number (before load_state_dict)."""
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(f"{path.parent}: no {path.name}")
    st = check_regular(path, CheckpointError)  # before any open: a FIFO blocks forever
    if st.st_size > WEIGHTS_LIMIT:
        raise CheckpointError(f"{path}: {_size(st.st_size)}, more than any genplay model")
    expected = model.state_dict()
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt weights file ({_one_line(exc)})") from None
    check_names(path, shapes, shapes_of(expected), "config.json")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:  # changed since the header was read
        raise CheckpointError(f"{path}: corrupt weights file ({_one_line(exc)})") from None
    check_finite(path, state)
    model.load_state_dict(state)


def load(
    folder: str | os.PathLike, device: str | torch.device = "cpu", trust_pickle: bool = False
) -> tuple[GenerativeModel, CheckpointInfo]:
    """Builds the model a folder describes, loads its weights, returns it in eval mode.
    trust_pickle: a diffusers folder whose weights are a .bin pickle is loaded (with
    torch.load(weights_only=True), which still runs no code) instead of refused."""
    info = read_info(folder)
    model = build_model(info)
    if info.format == "genplay":
        load_weights(model, info.path / WEIGHTS_FILE)
    else:
        importlib.import_module(FORMAT_MODULES[info.format]).load_weights(
            model, info.path, trust_pickle=trust_pickle)
    # Names for the class choices of class-conditional models ("T-shirt/top", not "0").
    model.class_names = list(info.class_names) if info.class_names else None
    return model.to(device).eval(), info


def write_metrics(folder: str | os.PathLike, metrics: Mapping[str, Any]) -> None:
    write_json(metrics_file(folder), metrics)


def weights_file(path: str | os.PathLike) -> Path:
    """The file that holds a model's weights: model.safetensors of a genplay checkpoint,
    the weights of a diffusers pipeline's UNet, or an upscaler's weights file itself."""
    path = Path(path)
    module = format_of(path)
    return path / WEIGHTS_FILE if module is None else module.weights_file(path)


def weights_hash(folder: str | os.PathLike) -> str:
    """First 16 hex digits of the SHA-256 of the weights: names a checkpoint's exact state."""
    digest = hashlib.sha256()
    path = weights_file(folder)
    check_regular(path, CheckpointError)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def scan(directory: str | os.PathLike) -> tuple[list[CheckpointInfo], list[tuple[Path, str]]]:
    """Checkpoints directly below directory, without loading weights.

    Returns (checkpoints sorted by name, [(folder, reason)] for folders that look
    like checkpoints but cannot be read). Folders and files of other formats (a diffusers
    pipeline, an upscaler's .pth) count as checkpoints too.
    """
    found, broken = [], []
    directory = Path(directory)
    if not directory.is_dir():
        return found, broken
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        return found, [(directory, f"{directory}: cannot be read ({exc.strerror or exc})")]
    # folders, then weights files of other formats lying directly in it (upscalers)
    folders = [p for p in entries if p.is_dir()] + [p for p in entries if p.is_file()]
    for folder in folders:
        native = (folder / CONFIG_FILE).exists() or (folder / CONFIG_FILE).is_symlink()
        module = None if native else format_of(folder)
        if not native and module is None:
            inside = hub.pulled_model(folder) if folder.is_dir() else None
            if inside is None or inside == folder:
                continue
            folder = inside  # an upscaler genplay pull placed in a folder of its own
            module = format_of(folder)
        try:
            info = read_info(folder) if module is None else _read_foreign(folder, module)
        except CheckpointError as exc:
            broken.append((folder, str(exc)))
            continue
        if native and not (folder / WEIGHTS_FILE).is_file():
            broken.append((folder, f"{folder}: no {WEIGHTS_FILE} (or not a regular file)"))
            continue
        found.append(info)
    return sorted(found, key=lambda info: info.name), broken


def scan_all(folders: list[Path], extra: list[Path]
             ) -> tuple[list[CheckpointInfo], list[tuple[Path, str]]]:
    """The checkpoints below each of folders plus the single checkpoint folders in extra
    (the window's list: scanned and opened folders), each once; (found, broken) as scan()."""
    found, broken = [], []
    for folder in folders:
        f, b = scan(folder)
        found += f
        broken += b
    for folder in extra:
        try:
            found.append(read_info(folder))
        except CheckpointError as exc:
            broken.append((Path(folder), str(exc)))
    unique = {info.path.resolve(): info for info in found}
    return list(unique.values()), broken


def ready(_model: GenerativeModel) -> None:
    """A job that only has the engine load a checkpoint (its error says the model cannot
    be loaded at all)."""


def find_companion(kind: str, dataset: str, near: Path | None = None) -> Path | None:
    """KIND-DATASET (classifier-emoji, superres-emoji ...) beside the checkpoint, else in the
    shipped checkpoints/: the models that serve another of the same dataset."""
    name = f"{kind}-{dataset}"
    for base in ([near] if near else []) + [default_checkpoint_dir()]:
        if (base / name / CONFIG_FILE).is_file():
            return base / name
    return None


def find_feature_net(dataset: str, near: Path | None = None) -> Path | None:
    """The dataset's classifier (FID, class agreement, nearest training images)."""
    return find_companion("classifier", dataset, near)
