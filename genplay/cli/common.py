"""What the command modules share: Ctrl-C handling, --set parsing, progress bars, checkpoint
loading, and the arguments several commands take."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from genplay.core.errors import GenplayError


class GenplayParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line, like every other user mistake:
    "genplay sample: error: argument -n: invalid int value: 'x' (see genplay sample
    --help)", exit code 2. Subparsers are of the same class (add_subparsers' default)."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())  # one line, whatever argparse wrote
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse's, but a word the command does not take is reported by that
        command's parser ("genplay sample: error: unrecognized arguments: ...")."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser: argparse.ArgumentParser = self
            while True:  # down to the (sub)command that was named: genplay data get, ...
                action = next((a for a in parser._actions
                               if isinstance(a, argparse._SubParsersAction)), None)
                named = action and action.choices.get(getattr(parsed, action.dest, None) or "")
                if not named:
                    break
                parser = named
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


class Stop:
    """First Ctrl-C asks the running job to stop at the next step; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> Stop:
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            print("\nstopping after this step (Ctrl-C again to abort)...", file=sys.stderr)

        self._previous = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)


def parse_sets(pairs: Sequence[str]) -> dict[str, Any]:
    """--set name=value pairs; values parsed as JSON where possible (numbers, true/false)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise GenplayError(f"--set expects name=value, got {pair!r}")
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            values[name] = raw
    return values


def run_with_bar(events: Iterator, desc: str, total: int | None = None, unit: str = "it",
                 on_partial=None, unit_scale: bool = False):
    """Iterates core events with a tqdm bar; returns the Result (value and summary).
    Partial results go to on_partial as they come; unit_scale shows 1.2MB for bytes."""
    from tqdm import tqdm

    from genplay.core.events import Partial, Progress, Result

    result = None
    with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
              disable=None, dynamic_ncols=True, unit_scale=unit_scale) as bar:
        for event in events:
            if isinstance(event, Progress):
                if event.total is not None:
                    bar.total = event.total
                bar.update(event.step - bar.n)
            elif isinstance(event, Partial) and on_partial is not None:
                on_partial(event.value)
            elif isinstance(event, Result):
                result = event
    return result


def load(path: str, trust_pickle: bool = False):
    from genplay.core import checkpoints

    return checkpoints.load(path, trust_pickle=trust_pickle)


def add_checkpoint(p: argparse.ArgumentParser, **kwargs: Any) -> None:
    """The model a command uses: a genplay checkpoint folder, a diffusers pipeline folder or
    an upscaler weights file; and --trust-pickle for a pipeline whose weights are a .bin."""
    kwargs.setdefault("help", "a genplay checkpoint folder, a diffusers pipeline folder, or "
                              "an ESRGAN-family upscaler's .pth / .safetensors file")
    p.add_argument("checkpoint", **kwargs)
    p.add_argument("--trust-pickle", action="store_true",
                   help="load a diffusers folder whose weights are a .bin pickle (with "
                        "torch.load(weights_only=True), which runs no code); without it, "
                        "genplay opens safetensors only")


def diffusion_options(args: argparse.Namespace) -> dict[str, Any]:
    """--sampler, --steps, --eta, --class, --guidance where given (sample, sketch, inpaint)."""
    names = {"sampler": "sampler", "steps": "steps", "eta": "eta", "label": "class",
             "guidance": "guidance"}
    # getattr on the parsed arguments (not a model): commands without --guidance lack it
    return {option: getattr(args, attr) for attr, option in names.items()
            if getattr(args, attr, None) is not None}


def add_diffusion_options(p: argparse.ArgumentParser, steps_help: str) -> None:
    from genplay.core.models.sampler_names import SAMPLERS  # torch-free: the one list

    p.add_argument("--sampler", choices=list(SAMPLERS),
                   help="diffusion sampler (default dpmpp: DPM-Solver++(2M), deterministic; "
                        "dpmpp-sde: its stochastic form, the most realistic images in 20 "
                        "steps; unipc: UniPC, predictor-corrector, the best in 5-10 steps)")
    p.add_argument("--steps", type=int, help=steps_help)
    p.add_argument("--eta", type=float, help="DDIM noise: 0 deterministic, 1 like DDPM")
    p.add_argument("--class", dest="label", metavar="NAME",
                   help="class to draw: a name in any case (see genplay models) or an "
                        "index from 0; mixed: a class of its own for each image, at random "
                        "(what sample draws by default); any: no class")
    p.add_argument("--guidance", type=float,
                   help="classifier-free guidance scale with a class or mixed (default 1)")


def add_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None,
                   help="PyTorch threads (default: the cores free now)")


class Outputs:
    """Where a command may write, checked before any work is done.

    - An output never replaces one of the command's inputs, nor an existing file that
      genplay did not write (a PNG of genplay's carries its version in its metadata; a
      GIF or .npz is genplay's when the PNG written with it records its exact bytes:
      see recorded_outputs), unless --overwrite says so. A genplay file is replaced:
      that is running a command again. A folder, FIFO or device is never written over.
    - In an --out-dir, a name already taken gets the next free one (name-1.png, ...), so
      a run into a used folder adds its files; --overwrite replaces them instead.
    Every file is written atomically (temporary file, then rename) by the savers."""

    def __init__(self, inputs: Sequence[str | os.PathLike | None] = (),
                 overwrite: bool = False) -> None:
        self.inputs = [Path(p) for p in inputs if p is not None]
        self.overwrite = overwrite

    def _is_input(self, path: Path) -> bool:
        for source in self.inputs:
            try:
                if source.exists() and path.exists() and os.path.samefile(source, path):
                    return True
            except OSError:
                continue
            if source.is_dir() and path.resolve().is_relative_to(source.resolve()):
                return True
        return False

    def check(self, path: str | os.PathLike | None,
              recorded: Mapping[str, str] | None = None) -> Path | None:
        """An output file the command may write (-o, --gif, --npz); GenplayError if not.
        recorded: {file name: sha256} of the files an earlier run wrote with its PNG."""
        if path is None:
            return None
        path = Path(path)
        if path.exists() and not path.is_file():
            from genplay.core.files import kind_of

            raise GenplayError(f"{path}: {kind_of(path.stat().st_mode)}, not a file that can "
                               "be written over")
        if self._is_input(path) and not self.overwrite:
            raise GenplayError(f"{path} is one of this command's inputs; write elsewhere, "
                               "or add --overwrite to replace it")
        if (path.is_file() and not self.overwrite and not written_by_genplay(path)
                and not _is_recorded(path, recorded or {})):
            changed = " (or was changed since)" if path.name in (recorded or {}) else ""
            raise GenplayError(f"{path} exists and was not written by genplay{changed}; "
                               "write elsewhere, or add --overwrite to replace it")
        return path

    def check_dir(self, folder: str | os.PathLike | None) -> Path | None:
        """An --out-dir: a folder (made if needed) that is not one the inputs come from."""
        if folder is None:
            return None
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise GenplayError(f"{folder}: not a folder")
        for source in self.inputs:
            if source.is_dir() and folder.resolve().is_relative_to(source.resolve()):
                raise GenplayError(f"{folder} is inside the input folder {source}; write "
                                   "the results elsewhere")
        return folder

    def name_in(self, folder: Path, name: str) -> Path:
        """folder/name, or the next free name-1, name-2 ... unless --overwrite."""
        path = folder / name
        if self.overwrite and (not path.exists() or path.is_file()):
            return path
        stem, suffix, k = path.stem, path.suffix, 1
        while path.exists() or path.is_symlink():
            path = folder / f"{stem}-{k}{suffix}"
            k += 1
        return path


def written_by_genplay(path: Path) -> bool:
    """Whether a file is a PNG genplay wrote (its metadata names genplay's version)."""
    from genplay.core.errors import ImageError
    from genplay.core.images import read_png_metadata

    if path.suffix.lower() != ".png":
        return False
    try:
        return "genplay_version" in read_png_metadata(path)
    except ImageError:
        return False


_RECORD_KEY = "genplay_outputs"  # in a PNG's metadata: {name: sha256} of the files beside it
_RECORD_LIMIT = 1 << 30


def sha256_of(path: str | os.PathLike) -> str:
    from genplay.core.files import read_bytes

    return hashlib.sha256(read_bytes(path, limit=_RECORD_LIMIT)).hexdigest()


def record_outputs(paths: Sequence[str | os.PathLike | None]) -> dict[str, str]:
    """The metadata entry that marks files written with a PNG (a GIF, an .npz) as
    genplay's: their names and the sha256 of their bytes. Empty when there are none."""
    written = {Path(p).name: sha256_of(p) for p in paths if p is not None}
    return {_RECORD_KEY: json.dumps(written, sort_keys=True)} if written else {}


def recorded_outputs(png: str | os.PathLike | None) -> dict[str, str]:
    """{name: sha256} that an earlier run's PNG records (record_outputs); {} if none."""
    if png is None or not written_by_genplay(Path(png)):
        return {}
    from genplay.core.images import read_png_metadata

    try:
        record = json.loads(read_png_metadata(png).get(_RECORD_KEY, "{}"))
    except (GenplayError, ValueError):
        return {}
    return {str(k): str(v) for k, v in record.items()} if isinstance(record, dict) else {}


def _is_recorded(path: Path, recorded: Mapping[str, str]) -> bool:
    """Whether path holds exactly the bytes an earlier run recorded under its name."""
    if path.name not in recorded:
        return False
    try:
        return sha256_of(path) == recorded[path.name]
    except GenplayError:
        return False


def distinct_outputs(**named: str | os.PathLike | None) -> None:
    """GenplayError when two of a command's outputs name the same file."""
    seen: dict[str, str] = {}
    for option, path in named.items():
        if path is None:
            continue
        key = os.path.normcase(os.path.abspath(path))
        if key in seen:
            raise GenplayError(f"{seen[key]} and {option} both name {path}; give each "
                               "output its own file")
        seen[key] = option


def add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs that exist (even an input, or a file genplay did "
                        "not write); default: never, and a used --out-dir gets new names")
