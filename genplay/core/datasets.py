"""Where the named datasets live and how a user gets them: the catalogue, the search,
download, import of a local copy, and verification.

A dataset named ``NAME`` lives in ``DATA_HOME/NAME`` (``$GENPLAY_DATA``, else
``~/.genplay/data``) as the four files its publishers ship. genplay also reads a
folder given with ``--data-root`` and the folder where Debian's package installs it;
it never looks anywhere else, so what a command trains on is what ``genplay data
list`` shows.

``download`` fetches the published files from their sources in turn (the mirror the
PyTorch ecosystem uses, then the authors' own site), resumes a partial file with an
HTTP range request, checks each against its published MD5, and moves the set into
place only when all of it is good. ``import_copy`` takes the same files from a folder
or an archive the user already has. Both are generators of core events, so the CLI
draws a progress bar and the app shows progress with Cancel.

The emoji dataset (kind "emoji") is built rather than copied: its three npm packages are
downloaded the same way (checked against their sha256) or found in a folder, and
core.emoji renders them into the files that are placed in DATA_HOME/emoji.

This module needs only the standard library (and numpy, through events), so the app can
ask where a dataset is without loading PyTorch.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import importlib.util
import io
import os
import shutil
import socket
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from genplay.core import emoji
from genplay.core.errors import DatasetError
from genplay.core.events import Progress, Result
from genplay.core.files import read_bytes

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(i) for i in range(10)]


@dataclass(frozen=True)
class DataFile:
    """One published file: its name, and the MD5 and size of the file as published
    (gzip); content_md5 is that of the uncompressed file, where known, so that a copy
    compressed again (as Debian's package is) is still recognised."""

    name: str
    md5: str
    size: int
    content_size: int
    content_md5: str | None = None
    sha256: str | None = None  # checked instead of the MD5 where given
    url_path: str | None = None  # below a source's address, where not the name

    def digest_ok(self, path: Path) -> bool:
        """Whether path is this file as published (its size, then its checksum)."""
        if path.stat().st_size != self.size:
            return False
        if self.sha256:
            return _digest_of(path, hashlib.sha256) == self.sha256
        return _digest_of(path, hashlib.md5) == self.md5

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".gz")


@dataclass(frozen=True)
class KnownDataset:
    name: str
    title: str
    class_names: list[str]
    torchvision_name: str  # folder name in a torchvision-style root (NAME/raw/)
    licence: str
    sources: tuple[str, ...]  # base URLs, tried in turn
    files: tuple[DataFile, ...]
    about: str = ""
    kind: str = "idx"  # "idx": MNIST-format files as published; "emoji": built (core.emoji)

    @property
    def download_size(self) -> int:
        return sum(f.size for f in self.files)


def _idx_files(train_images: tuple[str, int, str | None], train_labels: tuple[str, int, str | None],
               test_images: tuple[str, int, str | None], test_labels: tuple[str, int, str | None],
               n_train: int, n_test: int) -> tuple[DataFile, ...]:
    """The four files of an MNIST-format dataset of 28x28 images."""
    shapes = (("train-images-idx3-ubyte", 16 + n_train * 784, train_images),
              ("train-labels-idx1-ubyte", 8 + n_train, train_labels),
              ("t10k-images-idx3-ubyte", 16 + n_test * 784, test_images),
              ("t10k-labels-idx1-ubyte", 8 + n_test, test_labels))
    return tuple(DataFile(f"{stem}.gz", md5, size, content_size, content_md5)
                 for stem, content_size, (md5, size, content_md5) in shapes)


NPM_REGISTRIES = ("https://registry.npmjs.org/", "https://registry.npmmirror.com/")


def _npm_files(packages: Sequence[emoji.Package]) -> tuple[DataFile, ...]:
    """The tarballs of emoji packages, as the npm registry serves them."""
    return tuple(DataFile(p.file, p.md5, p.size, 0, sha256=p.sha256, url_path=p.url_path)
                 for p in packages)


# The MD5s of the published files are those their authors list (Fashion-MNIST's README) and
# that torchvision checks; the uncompressed files' MD5s of Fashion-MNIST were measured on the
# files of Debian's dataset-fashion-mnist package, which compresses the same data again.
CATALOGUE: dict[str, KnownDataset] = {
    "fashion-mnist": KnownDataset(
        "fashion-mnist", "Fashion-MNIST", FASHION_CLASSES, "FashionMNIST",
        "MIT (Zalando SE)",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        _idx_files(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880,
                    "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
                   ("25c81989df183df01b3e8a0aad5dffbe", 29515,
                    "9018921c3c673c538a1fc5bad174d6f9"),
                   ("bef4ecab320f06d8554ea6380940ec79", 4422102,
                    "8181f5470baa50b63fa0f6fddb340f0a"),
                   ("bb300cfdad3c16e7a12a480ee83cd310", 5148,
                    "15d484375f8d13e6eb1aabb0c3f46965"),
                   60_000, 10_000),
        "70,000 28x28 gray images of clothes in 10 classes (Zalando Research)"),
    "mnist": KnownDataset(
        "mnist", "MNIST", DIGIT_CLASSES, "MNIST",
        "CC BY-SA 3.0 (Yann LeCun, Corinna Cortes)",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "http://yann.lecun.com/exdb/mnist/"),
        _idx_files(("f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422, None),
                   ("d53e105ee54ea40749a09fcbcd1e9432", 28881, None),
                   ("9fb629c4189551a2d022fa330f9573f3", 1648877, None),
                   ("ec29112dd5afa0611ce80d1b7f02629c", 4542, None),
                   60_000, 10_000),
        "70,000 28x28 gray images of handwritten digits"),
    "emoji": KnownDataset(
        "emoji", "Emoji", list(emoji.CATEGORIES), "emoji", emoji.LICENCE, NPM_REGISTRIES,
        _npm_files(emoji.PACKAGES),
        "about 11,500 64x64 colour emoji in 3 styles (Twemoji, Noto, OpenMoji), 9 categories",
        kind="emoji"),
    "emojione": KnownDataset(
        "emojione", "EmojiOne 2", list(emoji.EMOJIONE_CATEGORIES), "emojione",
        f"{emoji.EMOJIONE.licence} ({emoji.EMOJIONE.owner})", NPM_REGISTRIES,
        _npm_files((emoji.EMOJIONE,)),
        "about 1,400 64x64 colour emoji in a fourth style that no model trains on: "
        "a test split only, for outlier tests", kind="emoji"),
}
# Where Debian's dataset packages put their files (dataset-fashion-mnist: fashion-mnist/).
SYSTEM_FOLDERS: tuple[Path, ...] = (Path("/usr/share/datasets"),)
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
CHUNK = 1 << 16
MAX_FILE_BYTES = 1 << 30  # an uncompressed IDX file larger than this is not one of these


def known(name: str) -> KnownDataset:
    if name not in CATALOGUE:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(CATALOGUE)}")
    return CATALOGUE[name]


def data_home() -> Path:
    """Where datasets are downloaded and imported to: $GENPLAY_DATA, else ~/.genplay/data."""
    home = os.environ.get("GENPLAY_DATA")
    return Path(home).expanduser() if home else Path.home() / ".genplay" / "data"


def display_path(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


# --- the search -------------------------------------------------------------------------------
def search_places(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Folders that may hold a known dataset's files, in the order they are searched: a
    --data-root folder (the files in it, or in NAME/ or a torchvision-style TV/raw/ below
    it), the data home, then the system's dataset folders."""
    tv = known(name).torchvision_name
    places: list[Path] = []
    if root is not None:
        places += [Path(root), Path(root) / name, Path(root) / tv / "raw"]
    home = data_home()
    places += [home / name, home / tv / "raw"]
    places += [folder / name for folder in SYSTEM_FOLDERS]
    unique: list[Path] = []
    for p in places:
        if p not in unique:
            unique.append(p)
    return unique


def idx_path(folder: Path, stem: str) -> Path | None:
    """The file of an IDX stem in folder, gzip or not; None if neither is there."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def has_split(folder: Path, split: str, kind: str = "idx") -> bool:
    if kind == "emoji":
        return emoji.has_split(folder, split)
    return idx_path(folder, f"{_SPLIT_PREFIX[split]}-images-idx3-ubyte") is not None


def missing_message(name: str, root: str | os.PathLike | None = None,
                    split: str | None = None) -> str:
    """One line: which dataset is missing, how to get it, and where genplay looked."""
    bases = ([str(root)] if root is not None else []) + [display_path(data_home())] + [
        str(f) for f in SYSTEM_FOLDERS]
    part = f" ({split} split)" if split else ""
    return (f"dataset {name!r}{part} is not on this computer; get it with "
            f"'genplay data get {name}' (or '--from' a copy you have). "
            f"Looked in {', '.join(bases)}")


class MissingDataset(DatasetError):
    """A known dataset that is not on this computer: the app offers to get it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def locate(name: str, root: str | os.PathLike | None = None, split: str = "train") -> Path | None:
    """The folder holding split of a known dataset, or None. Only looks at the disk."""
    kind = known(name).kind
    for place in search_places(name, root):
        if has_split(place, split, kind):
            return place
    return None


def splits_of(name: str) -> tuple[str, ...]:
    """The splits a known dataset has: ("train", "test"), or ("test",) for a set held out
    of training."""
    spec = known(name)
    return emoji.SETS[name].splits if spec.kind == "emoji" else ("train", "test")


def find(name: str, root: str | os.PathLike | None = None, split: str = "train") -> Path:
    if name in CATALOGUE and split not in splits_of(name):
        raise DatasetError(f"{name} has no {split} split: {CATALOGUE[name].about}")
    folder = locate(name, root, split)
    if folder is None:
        raise MissingDataset(name, missing_message(name, root, split))
    return folder


# --- checking files ---------------------------------------------------------------------------
@dataclass
class FileCheck:
    name: str
    count: int  # images or labels in it
    published: bool  # the published file, or the same data compressed again


def _read_limited(stream, limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DatasetError(f"{what}: larger than {limit >> 20} MB uncompressed; not a dataset "
                           "file of this kind")
    return data


def check_bytes(spec: DataFile, raw: bytes, what: str) -> FileCheck:
    """Checks a file's bytes (gzip or not) as spec's file: an IDX file of the right kind,
    28x28 images or labels below 10. DatasetError if it is not one."""
    published = hashlib.md5(raw).hexdigest() == spec.md5
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
                content = _read_limited(f, MAX_FILE_BYTES, what)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{what}: a damaged gzip file ({exc})") from None
    else:
        content = raw
    if not published and spec.content_md5 is not None:
        published = hashlib.md5(content).hexdigest() == spec.content_md5
    images = "images" in spec.name
    ndim = 3 if images else 1
    if len(content) < 4 + 4 * ndim or content[:4] != bytes([0, 0, 8, ndim]):
        raise DatasetError(f"{what}: not an IDX file of {'images' if images else 'labels'}")
    shape = [int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    header = 4 + 4 * ndim
    if len(content) != header + (shape[0] * (shape[1] * shape[2] if images else 1)):
        raise DatasetError(f"{what}: its size does not match its header {tuple(shape)}")
    if images and shape[1:] != [28, 28]:
        raise DatasetError(f"{what}: images of {shape[1]}x{shape[2]}, not 28x28")
    if not images and content[header:] and max(content[header:]) >= 10:
        raise DatasetError(f"{what}: labels above 9")
    return FileCheck(spec.name, shape[0], published)


def _check_set(checks: dict[str, FileCheck], where: str) -> None:
    for split in ("train", "t10k"):
        n_images = checks[f"{split}-images-idx3-ubyte.gz"].count
        n_labels = checks[f"{split}-labels-idx1-ubyte.gz"].count
        if n_images != n_labels:
            raise DatasetError(f"{where}: {n_images} {split} images but {n_labels} labels")


@dataclass
class Status:
    """What genplay has of a known dataset (see survey)."""

    name: str
    folder: Path | None  # where it was found (the training split's folder)
    bytes: int = 0
    counts: tuple[int, int] | None = None  # (train, test) images, when verified
    published: bool | None = None  # all four files are the published ones
    problem: str | None = None  # why the copy found cannot be used


def verify(name: str, root: str | os.PathLike | None = None) -> Status:
    """Reads every file of the copy genplay would use and checks it."""
    spec = known(name)
    folder = locate(name, root, "train") or locate(name, root, "test")
    status = Status(name, folder)
    if folder is None:
        return status
    if spec.kind == "emoji":
        status.bytes = sum(p.stat().st_size for p in emoji.stored_files(folder))
        try:
            status.counts, status.published = emoji.check(folder, emoji.SETS[name])
        except DatasetError as exc:
            status.problem = str(exc)
        return status
    checks: dict[str, FileCheck] = {}
    for f in spec.files:
        path = idx_path(folder, f.stem)
        if path is None:
            status.problem = f"{folder}: {f.stem} is missing"
            return status
        status.bytes += path.stat().st_size
        try:
            checks[f.name] = check_bytes(f, _read_file(path), str(path))
        except DatasetError as exc:
            status.problem = str(exc)
            return status
    try:
        _check_set(checks, str(folder))
    except DatasetError as exc:
        status.problem = str(exc)
        return status
    status.counts = (checks[spec.files[0].name].count, checks[spec.files[2].name].count)
    status.published = all(c.published for c in checks.values())
    return status


def survey(name: str, root: str | os.PathLike | None = None) -> Status:
    """Where a dataset is and its size on disk, without reading the files."""
    folder = locate(name, root, "train") or locate(name, root, "test")
    status = Status(name, folder)
    if folder is not None:
        status.bytes = sum(p.stat().st_size for p in _stored(folder, known(name)))
    return status


def _read_file(path: Path) -> bytes:
    """A dataset file's bytes, read as every user file is (core.files): regular files only,
    at most MAX_FILE_BYTES, within the read time limit."""
    return read_bytes(path, limit=MAX_FILE_BYTES, error=DatasetError)


def photos_folder() -> Path | None:
    """scikit-image's data folder (the "photos" dataset), found without importing it
    (that would load scipy); None when scikit-image is not installed."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


# --- placing files ------------------------------------------------------------------------------
def _stored(folder: Path, spec: KnownDataset) -> list[Path]:
    """The files of a dataset that are in folder."""
    if spec.kind == "emoji":
        return emoji.stored_files(folder)
    return [p for f in spec.files if (p := idx_path(folder, f.stem)) is not None]


def _complete(folder: Path, spec: KnownDataset) -> bool:
    if spec.kind == "emoji":
        return all(emoji.has_split(folder, split) for split in emoji.SETS[spec.name].splits)
    return all(idx_path(folder, f.stem) is not None for f in spec.files)


def _refuse_to_replace(target: Path, spec: KnownDataset, force: bool) -> None:
    if not force and target.exists() and _stored(target, spec):
        why = _outdated(target, spec)
        raise DatasetError(f"{target} already holds {spec.name} files"
                           f"{f' ({why})' if why else ''}; "
                           "'genplay data verify' checks them, --force replaces them")


def _outdated(folder: Path, spec: KnownDataset) -> str | None:
    """Why a complete copy needs building again, or None (core.emoji.outdated)."""
    return emoji.outdated(folder, emoji.SETS[spec.name]) if spec.kind == "emoji" else None


def _place(staged: dict[str, Path], target: Path, spec: KnownDataset) -> None:
    """Moves verified files into target, labels before images (a split is found by its
    images file, so it never appears without its labels); other versions of the same
    file (gzip or not) are removed so they cannot shadow the new one."""
    target.mkdir(parents=True, exist_ok=True)
    order = sorted(spec.files, key=lambda f: "images" in f.name)
    for f in order:
        source = staged[f.name]
        for old in (target / f.name, target / f.stem):
            if old.name != source.name and old.is_file():
                old.unlink()
        os.replace(source, target / source.name)


# --- download -----------------------------------------------------------------------------------
Opener = Callable[..., "http.client.HTTPResponse"]
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, socket.timeout, OSError)


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _digest_of(path: Path, algorithm=hashlib.md5) -> str:
    h = algorithm()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _Unreachable(Exception):
    """The source could not be reached at all (no route, no name, refused)."""


def _fetch(url: str, part: Path, expected_size: int, opener: Opener, timeout: float,
           done_before: int, total: int, message: str) -> Iterator[Progress]:
    """Appends the rest of url to part (an HTTP range request when part has bytes),
    yielding progress. Raises what the network raises."""
    have = part.stat().st_size if part.exists() else 0
    if have >= expected_size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "genplay"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = opener(request, timeout=timeout)
    except urllib.error.HTTPError:
        raise
    except urllib.error.URLError as exc:
        raise _Unreachable(str(exc.reason)) from None
    with response:
        if have and response.status != 206:  # the server ignored the range: start again
            have = 0
        with open(part, "ab" if have else "wb") as out:
            while True:
                block = response.read1(CHUNK)  # what has arrived: progress (and Cancel) flow
                if not block:
                    break
                out.write(block)
                have += len(block)
                if have > expected_size:
                    return  # too long: the checksum says so
                yield Progress(done_before + have, total, message=message)
    if have < expected_size:
        raise http.client.IncompleteRead(b"", expected_size - have)


def download(name: str, *, sources: Sequence[str] | None = None, force: bool = False,
             opener: Opener | None = None, timeout: float = 30.0, retries: int = 3,
             retry_wait: float = 1.0) -> Iterator[Progress | Result]:
    """Downloads a known dataset into the data home: Progress in bytes, then
    Result(folder, {"already": bool}). A file whose download breaks off is resumed (also
    by the next call, from the partial file kept in the data home); a source that fails
    (unreachable, an HTTP error, a wrong checksum) gives way to the next. Nothing reaches
    DATA_HOME/NAME until all its files have passed their checksums (and, for the emoji,
    until the dataset is built from them: Progress in pictures)."""
    spec = known(name)
    home = data_home()
    target = home / name
    if _complete(target, spec) and not force and not _outdated(target, spec):
        yield Result(target, {"already": True})
        return
    _refuse_to_replace(target, spec, force)
    if spec.kind == "emoji" and emoji.needs_renderer(emoji.SETS[name]):
        emoji.svg_renderer()  # said before a download that could not be used
    staging = home / f".{name}.download"
    staging.mkdir(parents=True, exist_ok=True)
    staged = yield from _download_files(spec, staging, list(sources or spec.sources),
                                        opener or urllib.request.urlopen, timeout, retries,
                                        retry_wait)
    if spec.kind == "emoji":
        packages = {p.style: emoji.read_tarball(staged[p.file], p, p.sha256)
                    for p in emoji.SETS[name].packages}
        summary = yield from _build_emoji(packages, target, emoji.SETS[name])
        shutil.rmtree(staging, ignore_errors=True)
        yield Result(target, {"already": False, "published": True, **summary})
        return
    checks = {f.name: check_bytes(f, staged[f.name].read_bytes(), str(staged[f.name]))
              for f in spec.files}
    _check_set(checks, str(staging))
    _place(staged, target, spec)
    shutil.rmtree(staging, ignore_errors=True)
    yield Result(target, {"already": False, "published": True})


def _download_files(spec: KnownDataset, staging: Path, sources: list[str], opener: Opener,
                    timeout: float, retries: int, retry_wait: float,
                    ) -> Generator[Progress, None, dict[str, Path]]:
    """Fetches each of spec's files into staging (resuming what is there) until it
    passes its checksum; returns {file name: path}. DatasetError when a file cannot be had."""
    name = spec.name
    total = spec.download_size
    staged: dict[str, Path] = {}
    done = 0
    for f in spec.files:
        part = staging / f.name
        if part.exists() and f.digest_ok(part):
            staged[f.name] = part
            done += f.size
            yield Progress(done, total, message=f"{f.name} (kept from before)")
            continue
        failures: list[str] = []
        for base in sources:
            url = base.rstrip("/") + "/" + (f.url_path or f.name)
            message = f"{f.name} from {_host(base)}"
            reason = None
            for attempt in range(retries + 1):
                try:
                    yield from _fetch(url, part, f.size, opener, timeout, done, total, message)
                    reason = None
                    break
                except urllib.error.HTTPError as exc:
                    reason = f"HTTP {exc.code} {exc.reason}"
                    break
                except _Unreachable as exc:
                    reason = f"unreachable ({exc})"
                    break
                except _NETWORK_ERRORS as exc:  # broke off: resume from what arrived
                    reason = f"connection lost ({type(exc).__name__})"
                    if attempt < retries:
                        time.sleep(retry_wait * (attempt + 1))
            if reason is None:
                if f.digest_ok(part):
                    staged[f.name] = part
                    break
                reason = "wrong checksum"
                part.unlink()
            failures.append(f"{_host(base)}: {reason}")
        if f.name not in staged:
            if not any(staging.iterdir()):
                staging.rmdir()  # nothing to resume from
            if all("unreachable" in why for why in failures):
                raise DatasetError(
                    f"cannot reach any source of {name} ({', '.join(_host(s) for s in sources)}"
                    f"): offline? With a copy of the files: genplay data get {name} --from PATH")
            raise DatasetError(f"could not download {f.name} of {name}: {'; '.join(failures)}")
        done += f.size
    return staged


def _build_emoji(packages: dict[str, emoji.PackageFiles], target: Path,
                 emoji_set: emoji.EmojiSet) -> Generator[Progress, None, dict]:
    """Renders the set's packages and places the dataset's files in target; returns the
    summary (counts, skipped pictures, whether all packages are the published ones)."""
    built = None
    for event in emoji.build(packages, emoji_set):
        if isinstance(event, Result):
            built = event.value
        else:
            yield event
    staging = target.parent / f".{target.name}.build"
    shutil.rmtree(staging, ignore_errors=True)
    files = emoji.save(built, staging)
    target.mkdir(parents=True, exist_ok=True)
    for path in files:  # the training split, by which the dataset is found, last
        os.replace(path, target / path.name)
    shutil.rmtree(staging, ignore_errors=True)
    sides = built.split()
    return {"counts": (int((sides == "train").sum()), int((sides == "test").sum())),
            "skipped": built.skipped,
            "published": all(p.published for p in packages.values())}


# --- import of a local copy ----------------------------------------------------------------------
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")


def _find_in_folder(folder: Path, spec: KnownDataset) -> Path:
    """The folder below folder that holds the dataset's files: folder itself, NAME/,
    TV/raw/, or the one folder found below it that holds them."""
    for candidate in (folder, folder / spec.name, folder / spec.torchvision_name / "raw"):
        if _complete(candidate, spec):
            return candidate
    stem = spec.files[0].stem
    found = sorted({p.parent for pattern in (stem, f"{stem}.gz")
                    for p in folder.rglob(pattern) if _complete(p.parent, spec)})
    if len(found) == 1:
        return found[0]
    if not found:
        names = ", ".join(f.stem for f in spec.files)
        raise DatasetError(f"{folder}: no folder in it holds all of {names} (gzip or not)")
    named = [p for p in found if spec.name in p.parts or spec.torchvision_name in p.parts]
    if len(named) == 1:
        return named[0]
    raise DatasetError(f"{folder}: several folders hold such files ({', '.join(map(str, found))}); "
                       "name one of them")


def _members_of_archive(path: Path, spec: KnownDataset) -> dict[str, tuple[str, bytes]]:
    """{published file name: (member name, bytes)} for the dataset's files in an archive.
    Members are read, never extracted, so an archive cannot write anywhere."""
    wanted = {f.name: f for f in spec.files} | {f.stem: f for f in spec.files}
    out: dict[str, tuple[str, bytes]] = {}
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    f = wanted.get(Path(info.filename).name)
                    if f is None or info.is_dir() or f.name in out:
                        continue
                    if info.file_size > MAX_FILE_BYTES:
                        raise DatasetError(f"{path}: {info.filename} is too large")
                    out[f.name] = (Path(info.filename).name, archive.read(info))
        else:
            with tarfile.open(path) as archive:
                for member in archive:
                    f = wanted.get(Path(member.name).name)
                    if f is None or not member.isfile() or f.name in out:
                        continue
                    if member.size > MAX_FILE_BYTES:
                        raise DatasetError(f"{path}: {member.name} is too large")
                    stream = archive.extractfile(member)
                    out[f.name] = (Path(member.name).name, stream.read() if stream else b"")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable archive ({exc})") from None
    missing = [f.stem for f in spec.files if f.name not in out]
    if missing:
        raise DatasetError(f"{path}: the archive lacks {', '.join(missing)}")
    return out


def import_copy(name: str, source: str | os.PathLike, *, force: bool = False,
                ) -> Iterator[Progress | Result]:
    """Imports a copy of a known dataset the user has: a folder holding its four files
    (gzip or not; also the folder of Debian's package or a torchvision root), or an
    archive (.zip, .tar, .tar.gz ...) holding them; for the emoji, a folder holding its
    three packages (core.emoji.find_packages), from which the dataset is built. Each
    file is checked (an IDX file of the right kind, counts that agree) before anything
    is written; a copy that is not the published one is accepted and said to be so.
    Result(folder, {"published": bool, "counts": (train, test), "source": folder or
    archive})."""
    spec = known(name)
    source = Path(source).expanduser()
    target = data_home() / name
    if not source.exists():
        raise DatasetError(f"{source}: no such file or folder")
    if spec.kind == "emoji":
        if emoji.needs_renderer(emoji.SETS[name]):
            emoji.svg_renderer()  # said before the packages are read
        packages = emoji.find_packages(source, emoji.SETS[name])
        _refuse_to_replace(target, spec, force)
        summary = yield from _build_emoji(packages, target, emoji.SETS[name])
        yield Result(target, {**summary, "source": str(source)})
        return
    files: dict[str, tuple[str, bytes]] = {}
    if source.is_dir():
        folder = _find_in_folder(source, spec)
        if folder.resolve() == target.resolve():
            raise DatasetError(f"{folder} is where genplay keeps {name} already")
        for i, f in enumerate(spec.files):
            path = idx_path(folder, f.stem)
            files[f.name] = (path.name, _read_file(path))
            yield Progress(i + 1, len(spec.files), message=f"reading {path.name}")
        origin = folder
    elif source.is_file() and source.name.lower().endswith(ARCHIVE_SUFFIXES):
        files = _members_of_archive(source, spec)
        origin = source
    else:
        raise DatasetError(f"{source}: neither a folder nor an archive "
                           f"({', '.join(ARCHIVE_SUFFIXES)})")
    checks = {f.name: check_bytes(f, files[f.name][1], f"{origin}: {files[f.name][0]}")
              for f in spec.files}
    _check_set(checks, str(origin))
    _refuse_to_replace(target, spec, force)
    staging = data_home() / f".{name}.import"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    staged = {}
    for f in spec.files:
        filename, raw = files[f.name]
        # kept as it came, gzip or not; named as genplay reads it
        path = staging / (f.name if raw[:2] == b"\x1f\x8b" else f.stem)
        path.write_bytes(raw)
        staged[f.name] = path
    _place(staged, target, spec)
    shutil.rmtree(staging, ignore_errors=True)
    counts = (checks[spec.files[0].name].count, checks[spec.files[2].name].count)
    yield Result(target, {"published": all(c.published for c in checks.values()),
                          "counts": counts, "source": str(origin)})
