"""The emoji dataset: every emoji of three free sets, as 64x64 RGB pictures on white.

Built from the sets' npm packages exactly as their publishers ship them (the tarballs
that ``genplay data get emoji`` downloads, or a folder of their files): Twemoji and Noto
Emoji as the 64x64 PNGs of emoji-datasource, OpenMoji as SVGs rendered here with
resvg-py (``pip install 'genplay[emoji]'``). Each picture is composited onto white (the
images are transparent) and labelled with its category (one of 9; the 'Component'
swatches and OpenMoji's own extras, which have none, are left out) and its style.

Train and test are split by emoji: the code point with its skin-tone modifiers and
variation selectors taken off, hashed, so every skin tone and every style of one emoji
falls on the same side, and the split of an emoji never changes when a set grows. Some
emoji are drawn alike under two code points (a gendered and a neutral form, a flag
shared by two territories); an emoji with a picture that is the same as (within TWIN_RMS
of) a training picture of another emoji trains too, with all its pictures, so no test
picture is a copy of a training one (split version 2; the first split left 6% of the
test pictures such copies).

Stored in the data home as two compressed numpy files (emoji-train.npz, emoji-test.npz:
uint8 (N, 3, 64, 64) images, labels, label names) and emoji-about.json (the packages,
their licences and the build's settings). core.datasets gets the packages and places
the files; core.data loads them.

A fourth style is held out of every model: EmojiOne 2 (``genplay data get emojione``),
the last version of EmojiOne's artwork under a free licence. It is built the same way
into a test split only, for outlier tests: an emoji drawn in a style no model has seen
should sit between the test emoji and pictures that are no emoji at all. Its categories
are EmojiOne's own eight (it files faces and people together), and its skin-tone
variants, modifiers and regional letters are left out.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genplay.core.errors import DatasetError
from genplay.core.events import Progress, Result
from genplay.core.files import read_bytes

STYLES = ("twitter", "google", "openmoji")
CATEGORIES = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
              "Travel & Places", "Activities", "Objects", "Symbols", "Flags")
# OpenMoji's group names for the same categories; its other groups ('component',
# 'extras-openmoji', 'extras-unicode') are none of the nine.
OPENMOJI_GROUPS = {c.lower().replace(" & ", "-"): c for c in CATEGORIES}
SIZE = 64
TEST_SHARE = 0.15  # of the emoji (all their files), by a hash of the emoji
# Two pictures closer than this (root mean square, of the 0-1 range, at 64 px: about 2.5
# levels) are one picture; the nearest pictures of two different emoji in a style lie
# 0.03 and more apart (clock faces, two flags), anti-aliasing noise well under 0.005.
TWIN_RMS = 0.01
SPLIT_VERSION = 2  # 2: test emoji with a twin of a training picture moved into train
# OpenMoji draws on a 72x72 canvas with a margin; its central 64x64 is the frame the
# other sets fill. A drawing that reaches beyond it is shrunk to fit instead of cut.
OPENMOJI_CANVAS, OPENMOJI_FRAME = 72, 64
SKIN_TONES = ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")  # Fitzpatrick 1-2 ... 6
TONES = ("none", "light", "medium-light", "medium", "medium-dark", "dark")
VARIATION_SELECTOR = "FE0F"
SPLIT_FILES = {"train": "emoji-train.npz", "test": "emoji-test.npz"}
ABOUT_FILE = "emoji-about.json"
MAX_PICTURE_BYTES = 4 << 20
MAX_META_BYTES = 64 << 20
RENDERER_HOW = ("rendering OpenMoji's SVG pictures needs resvg-py: "
                "pip install resvg-py (or pip install 'genplay[emoji]')")


@dataclass(frozen=True)
class Package:
    """One set's npm package as published: what genplay downloads and checks."""

    style: str
    package: str
    version: str
    sha256: str  # checked; as the package was published (npm pack)
    md5: str  # measured on the same tarball; listed as the other datasets' are
    size: int
    title: str
    licence: str
    owner: str

    @property
    def file(self) -> str:
        return f"{self.package}-{self.version}.tgz"

    @property
    def url_path(self) -> str:  # below a registry's address
        return f"{self.package}/-/{self.file}"

    @property
    def credit(self) -> str:
        return f"{self.title}: {self.licence} ({self.owner})"


PACKAGES = (
    Package("twitter", "emoji-datasource-twitter", "16.0.0",
            "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877",
            "19fb55ef34e83997e985f687762798eb", 61_683_754,
            "Twemoji", "CC BY 4.0", "Twitter, Inc. and other contributors"),
    Package("google", "emoji-datasource-google", "16.0.0",
            "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438",
            "afdb2b1eb6e038ffd8c59dd6f654720f", 74_344_091,
            "Noto Emoji", "Apache 2.0", "Google"),
    Package("openmoji", "openmoji", "17.0.0",
            "55ee7d13485dec86e9f38c1f3a645a13382d33ff97c0cd845ee824b0aef45e68",
            "c3d70340b66828df2c129f6133e00a8c", 4_339_458,
            "OpenMoji", "CC BY-SA 4.0", "HfG Schwäbisch Gmünd"),
)
LICENCE = "CC BY 4.0 (Twemoji), Apache 2.0 (Noto), CC BY-SA 4.0 (OpenMoji)"
EMOJIONE = Package("emojione", "emojione", "2.2.7",
                   "5fe002738e6e276f49ac37783799d2feab99a6131fdedccfa56569d745449ae5",
                   "346b3029311e79f58c6e7b88dfa8abed", 94_196_568,
                   "EmojiOne 2", "CC BY 4.0", "EmojiOne, Ranks.com")
EMOJIONE_CATEGORIES = ("people", "nature", "food", "activity", "travel", "objects", "symbols",
                       "flags")


@dataclass(frozen=True)
class EmojiSet:
    """A dataset built from emoji packages: which packages (one style each), the category
    names its labels index, and the splits it has ("test" alone for a held-out style)."""

    name: str
    packages: tuple[Package, ...]
    categories: tuple[str, ...]
    splits: tuple[str, ...]
    split_rule: str

    @property
    def styles(self) -> tuple[str, ...]:
        return tuple(p.style for p in self.packages)

    def split_of(self, key: str) -> str:
        return split_of(key) if "train" in self.splits else "test"


SETS = {
    "emoji": EmojiSet("emoji", PACKAGES, CATEGORIES, ("train", "test"),
                      "by emoji (code points without skin tones and variation selectors); "
                      "an emoji with a picture the same as another's training picture "
                      "trains too"),
    "emojione": EmojiSet("emojione", (EMOJIONE,), EMOJIONE_CATEGORIES, ("test",),
                         "a test split only: a style held out of training"),
}


# --- labels and the split -----------------------------------------------------------------------
def emoji_key(code: str) -> str:
    """The emoji a file shows, whatever its skin tones: its code points ("1F44B-1F3FD")
    without skin-tone modifiers and variation selectors, upper case ("1F44B")."""
    points = [p for p in code.upper().replace("_", "-").split("-")
              if p and p not in SKIN_TONES and p != VARIATION_SELECTOR]
    return "-".join(points)


def skin_tone(code: str) -> int:
    """The index in TONES of a file's (first) skin tone: 0 for none, 1 (light) to 5."""
    for point in code.upper().replace("_", "-").split("-"):
        if point in SKIN_TONES:
            return 1 + SKIN_TONES.index(point)
    return 0


def split_of(key: str) -> str:
    """'test' for TEST_SHARE of the emoji, chosen by a hash of the emoji's key."""
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return "test" if h / 2.0**64 < TEST_SHARE else "train"


def _coarse(images: np.ndarray) -> np.ndarray:
    """(N, 3, S, S) uint8 -> (N, 3 * (S/4)^2) float32 means of 4x4 blocks: two pictures'
    RMS difference is never smaller than that of their block means."""
    n, c, s, _ = images.shape
    blocks = images.reshape(n, c, s // 4, 4, s // 4, 4).astype(np.float32)
    return blocks.mean(axis=(3, 5)).reshape(n, -1)


def twins_to_train(images: np.ndarray, emoji: np.ndarray, sides: np.ndarray,
                   rms: float = TWIN_RMS) -> tuple[np.ndarray, list[int]]:
    """sides ('train'/'test' per picture) with every test emoji that has a picture within
    rms (of the 0-1 range) of a training picture moved to train, with all its pictures,
    until none has; and the emoji moved. Candidates are found on 4x4 block means, then
    measured exactly in integers, so the split is the same on every machine."""
    sides = sides.copy()
    coarse = _coarse(images)
    limit = (rms * 255) ** 2 * images[0].size  # on the sum of squared differences
    moved: list[int] = []
    fresh = np.flatnonzero(sides == "train")  # the training pictures not yet compared
    while len(fresh):
        test = np.flatnonzero(sides == "test")
        if not len(test):
            break
        other = coarse[fresh]
        other_sq = (other ** 2).sum(1)
        found: set[int] = set()
        for start in range(0, len(test), 512):
            rows = test[start:start + 512]
            mine = coarse[rows]
            d2 = (mine ** 2).sum(1)[:, None] + other_sq[None] - 2 * mine @ other.T
            # block means: a sum over 16 times fewer numbers; a margin for rounding
            for i, j in zip(*np.nonzero(d2 * 16 <= limit * 1.01 + 1)):
                a, b = images[rows[i]].astype(np.int32), images[fresh[j]].astype(np.int32)
                if int(((a - b) ** 2).sum()) <= limit:
                    found.add(int(emoji[rows[i]]))
        if not found:
            break
        move = np.isin(emoji, sorted(found)) & (sides == "test")
        moved += sorted(found)
        sides[move] = "train"
        fresh = np.flatnonzero(move)
    return sides, moved


@dataclass(frozen=True)
class Entry:
    style: int
    category: int
    key: str
    name: str
    path: str  # inside its package
    tone: int  # index in TONES


def _metadata_error(what: str, exc: Exception) -> DatasetError:
    return DatasetError(f"{what}: not the metadata of an emoji package ({exc})")


def datasource_entries(raw: bytes, style: str) -> list[Entry]:
    """The pictures of emoji-datasource's emoji.json for style, with their skin tones."""
    try:
        rows = json.loads(raw)
        entries = []
        for row in rows:
            if row["category"] not in CATEGORIES or not row.get(f"has_img_{style}", True):
                continue
            key, cat = emoji_key(row["unified"]), CATEGORIES.index(row["category"])
            name = (row.get("short_name") or row.get("name") or key).replace("_", " ")
            images = [row["image"]] + [v["image"] for v in (row.get("skin_variations") or
                                                             {}).values()
                                       if v.get(f"has_img_{style}", True)]
            entries += [Entry(STYLES.index(style), cat, key, name, f"img/{style}/64/{image}",
                              skin_tone(image.rsplit(".", 1)[0])) for image in images]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _metadata_error(f"{style} emoji.json", exc) from None
    return entries


def emojione_entries(raw: bytes) -> list[Entry]:
    """The pictures of EmojiOne 2's emoji.json in its eight categories, without skin-tone
    variants (the same drawing recoloured)."""
    try:
        rows = json.loads(raw).values()
        return [Entry(0, EMOJIONE_CATEGORIES.index(row["category"]), emoji_key(row["unicode"]),
                      row.get("name") or row["unicode"], f"assets/png/{row['unicode']}.png", 0)
                for row in rows
                if row.get("category") in EMOJIONE_CATEGORIES and not skin_tone(row["unicode"])]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _metadata_error("emojione emoji.json", exc) from None


def openmoji_entries(raw: bytes) -> list[Entry]:
    """The pictures of OpenMoji's data/openmoji.csv in the nine categories."""
    try:
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
        return [Entry(STYLES.index("openmoji"), CATEGORIES.index(OPENMOJI_GROUPS[row["group"]]),
                      emoji_key(row["hexcode"]), row.get("annotation") or row["hexcode"],
                      f"color/svg/{row['hexcode']}.svg", skin_tone(row["hexcode"]))
                for row in rows if row.get("group") in OPENMOJI_GROUPS]
    except (ValueError, KeyError, TypeError) as exc:
        raise _metadata_error("openmoji.csv", exc) from None


# --- the packages ---------------------------------------------------------------------------------
METADATA = {"twitter": "emoji.json", "google": "emoji.json", "openmoji": "data/openmoji.csv",
            "emojione": "emoji.json"}
PICTURES = {"twitter": "img/twitter/64/", "google": "img/google/64/",
            "openmoji": "color/svg/", "emojione": "assets/png/"}


@dataclass
class PackageFiles:
    """The files of one package that the dataset needs, by their path inside it, read
    from its .tgz (all at once, never extracted) or from a folder of them (on request)."""

    spec: Package
    origin: Path
    version: str | None
    published: bool  # the published tarball (sha256), or a folder of the same version
    members: dict[str, bytes] | None = None  # from a tarball
    _folder: Path | None = None

    def read(self, path: str) -> bytes | None:
        if self.members is not None:
            return self.members.get(path)
        file = self._folder / path
        if not file.is_file():
            return None
        limit = MAX_META_BYTES if path == METADATA[self.spec.style] else MAX_PICTURE_BYTES
        return read_bytes(file, limit=limit, error=DatasetError)

    def entries(self) -> list[Entry]:
        raw = self.read(METADATA[self.spec.style])
        if raw is None:
            raise DatasetError(f"{self.origin}: {METADATA[self.spec.style]} is missing")
        if self.spec.style == "openmoji":
            return openmoji_entries(raw)
        if self.spec.style == "emojione":
            return emojione_entries(raw)
        return datasource_entries(raw, self.spec.style)


def _version(raw: bytes | None) -> str | None:
    try:
        return str(json.loads(raw)["version"]) if raw else None
    except (ValueError, KeyError, TypeError):
        return None


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_tarball(path: Path, spec: Package, sha256: str | None = None) -> PackageFiles:
    """A package's tarball as npm ships it (members below package/), read once."""
    sha256 = sha256 or _sha256_of(path)
    wanted = (METADATA[spec.style], "package.json")
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                inner = member.name.partition("/")[2]
                if not member.isfile() or not (inner in wanted or (
                        inner.startswith(PICTURES[spec.style]) and "/" not in
                        inner[len(PICTURES[spec.style]):])):
                    continue
                limit = MAX_PICTURE_BYTES if inner not in wanted else MAX_META_BYTES
                if member.size > limit:
                    raise DatasetError(f"{path}: {member.name} is too large")
                stream = archive.extractfile(member)
                members[inner] = stream.read() if stream else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable package tarball ({exc})") from None
    if METADATA[spec.style] not in members:
        raise DatasetError(f"{path}: not the {spec.package} package "
                           f"(it has no {METADATA[spec.style]})")
    return PackageFiles(spec, path, _version(members.get("package.json")),
                        sha256 == spec.sha256, members)


def _is_package_folder(folder: Path, spec: Package) -> bool:
    return (folder / METADATA[spec.style]).is_file() and (folder / PICTURES[spec.style]).is_dir()


def find_packages(source: Path, emoji_set: EmojiSet = SETS["emoji"]) -> dict[str, PackageFiles]:
    """The set's packages in a folder: each as a folder of its files (twitter/, google/,
    openmoji/ as in genplay's shared data, or named as the package, or npm's package/
    below them) or as its .tgz. DatasetError naming what is missing."""
    packages = emoji_set.packages
    if not source.is_dir():
        raise DatasetError(f"{source}: the {emoji_set.name} dataset is built from a folder "
                           f"holding its {len(packages)} package(s) (folders or .tgz files), "
                           "not from one file")
    found: dict[str, PackageFiles] = {}
    for spec in packages:
        folders = [source / name / sub for name in (spec.style, spec.package)
                   for sub in ("", "package")]
        folder = next((f for f in folders if _is_package_folder(f, spec)), None)
        if folder is not None:
            raw = (folder / "package.json").read_bytes() if (
                folder / "package.json").is_file() else None
            version = _version(raw)
            found[spec.style] = PackageFiles(spec, folder, version, version == spec.version,
                                             _folder=folder)
            continue
        tarballs = sorted(source.glob(f"{spec.package}-[0-9]*.tgz"))
        exact = source / spec.file
        if exact.is_file() or tarballs:
            found[spec.style] = read_tarball(exact if exact.is_file() else tarballs[-1], spec)
    missing = [s for s in packages if s.style not in found]
    if missing:
        raise DatasetError(
            f"{source}: no {', '.join(s.package for s in missing)} in it (a folder "
            f"{'/, '.join(s.style for s in missing)}/ of the package's files, or its .tgz)")
    return found


# --- pictures -------------------------------------------------------------------------------------
def on_white(rgba: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 4) composited onto white, as uint8 (H, W, 3)."""
    alpha = rgba[..., 3:4].astype(np.uint32)
    rgb = rgba[..., :3].astype(np.uint32) * alpha + 255 * (255 - alpha)
    return ((rgb + 127) // 255).astype(np.uint8)


def _decode_rgba(raw: bytes, what: str):
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(raw))
        if max(image.size) > 4096:
            raise DatasetError(f"{what}: a picture of {image.size[0]}x{image.size[1]}")
        return image.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{what}: not a readable picture ({exc})") from None


def _fit(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    if rgb.shape[:2] != (SIZE, SIZE):
        rgb = np.asarray(Image.fromarray(rgb).resize((SIZE, SIZE), Image.Resampling.LANCZOS))
    return rgb


def picture_from_png(raw: bytes, what: str = "picture") -> np.ndarray:
    """A PNG (any mode, transparent or not) as uint8 (64, 64, 3) on white."""
    return _fit(on_white(np.asarray(_decode_rgba(raw, what))))


def svg_renderer() -> Callable[..., bytes]:
    """resvg-py's renderer; DatasetError saying how to install it when it is missing."""
    try:
        import resvg_py
    except ImportError:
        raise DatasetError(RENDERER_HOW) from None
    return resvg_py.svg_to_bytes


def _render_svg(render: Callable[..., bytes], text: str, side: int, what: str) -> np.ndarray:
    try:
        png = render(svg_string=text, width=side, height=side, skip_system_fonts=True)
    except Exception as exc:  # resvg's errors carry no common type
        raise DatasetError(f"{what}: not a readable SVG ({exc})") from None
    rgba = np.asarray(_decode_rgba(bytes(png), what))
    h, w = rgba.shape[:2]
    if h != w:  # not square: centred on a square transparent canvas
        n = max(h, w)
        square = np.zeros((n, n, 4), np.uint8)
        square[(n - h) // 2:(n - h) // 2 + h, (n - w) // 2:(n - w) // 2 + w] = rgba
        rgba = square
    return rgba


def picture_from_svg(raw: bytes, render: Callable[..., bytes], what: str = "picture",
                     ) -> np.ndarray:
    """An OpenMoji SVG as uint8 (64, 64, 3) on white: the central 64/72 of its canvas,
    or the smallest centred square that holds the whole drawing when it reaches beyond."""
    text = raw.decode("utf-8", errors="replace")
    rgba = _render_svg(render, text, OPENMOJI_CANVAS, what)
    ys, xs = np.nonzero(rgba[..., 3])
    c = OPENMOJI_CANVAS / 2
    reach = max(c - xs.min(), xs.max() + 1 - c, c - ys.min(), ys.max() + 1 - c) if len(xs) else 0
    margin = (OPENMOJI_CANVAS - OPENMOJI_FRAME) // 2
    if reach <= OPENMOJI_FRAME / 2:
        return on_white(rgba[margin:margin + OPENMOJI_FRAME, margin:margin + OPENMOJI_FRAME])
    scale = 4  # rendered finer, cut to the square that holds it, then shrunk to 64
    rgba = _render_svg(render, text, OPENMOJI_CANVAS * scale, what)
    half = int(np.ceil(reach * scale))
    mid = OPENMOJI_CANVAS * scale // 2
    return _fit(on_white(rgba[mid - half:mid + half, mid - half:mid + half]))


# --- building -------------------------------------------------------------------------------------
@dataclass
class Built:
    images: np.ndarray  # uint8 (N, 3, 64, 64)
    category: np.ndarray  # uint8 (N,)
    style: np.ndarray  # uint8 (N,)
    emoji: np.ndarray  # int32 (N,): index into keys
    tone: np.ndarray  # uint8 (N,): index into TONES
    keys: list[str]
    names: list[str]
    packages: dict[str, PackageFiles]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    emoji_set: EmojiSet = SETS["emoji"]
    _split: tuple[np.ndarray, list[int]] | None = field(default=None, repr=False)

    def split(self) -> np.ndarray:
        """'train' or 'test' per image: by the emoji's hash, then twins_to_train."""
        return self._sides()[0]

    def twins_moved(self) -> list[str]:
        """The keys of the emoji that twins_to_train moved to the training split."""
        return [self.keys[k] for k in self._sides()[1]]

    def _sides(self) -> tuple[np.ndarray, list[int]]:
        if self._split is None:
            sides = np.array([self.emoji_set.split_of(k) for k in self.keys])
            sides = sides[self.emoji] if len(self.emoji) else np.array([], str)
            self._split = (twins_to_train(self.images, self.emoji, sides)
                           if "train" in self.emoji_set.splits and len(sides) else (sides, []))
        return self._split


def needs_renderer(emoji_set: EmojiSet) -> bool:
    """Whether building the set renders SVG pictures (OpenMoji's), which needs resvg-py."""
    return any(PICTURES[style].endswith("svg/") for style in emoji_set.styles)


def build(packages: dict[str, PackageFiles],
          emoji_set: EmojiSet = SETS["emoji"]) -> Iterator[Progress | Result]:
    """Renders every picture of the set's packages: Progress per batch of pictures, then
    Result(Built). A picture that is missing or unreadable is skipped and listed."""
    render = svg_renderer() if needs_renderer(emoji_set) else None
    styles = emoji_set.styles
    entries = [e for style in styles for e in packages[style].entries()]
    if not entries:
        raise DatasetError(f"the packages list no emoji in the {len(emoji_set.categories)} "
                           "categories")
    n = len(entries)
    images = np.empty((n, 3, SIZE, SIZE), np.uint8)
    kept = np.zeros(n, bool)
    skipped: list[tuple[str, str]] = []
    for i, e in enumerate(entries):
        if i % 50 == 0:
            yield Progress(i, n, message="rendering the emoji")
        package = packages[styles[e.style]]
        what = f"{package.origin}: {e.path}"
        raw = package.read(e.path)
        if raw is None:
            skipped.append((what, "missing"))
            continue
        try:
            rgb = (picture_from_svg(raw, render, what) if e.path.endswith(".svg")
                   else picture_from_png(raw, what))
        except DatasetError as exc:
            skipped.append((what, str(exc)))
            continue
        images[i] = rgb.transpose(2, 0, 1)
        kept[i] = True
    yield Progress(n, n, message="rendering the emoji")
    entries = [e for e, k in zip(entries, kept) if k]
    if not entries:
        raise DatasetError(f"none of the {n} emoji pictures could be read "
                           f"(e.g. {skipped[0][0]}: {skipped[0][1]})")
    names: dict[str, str] = {}
    for e in entries:  # the first set's name of an emoji (emoji-datasource's short name)
        names.setdefault(e.key, e.name)
    keys = sorted(names)
    index = {k: i for i, k in enumerate(keys)}
    yield Result(Built(images[kept], np.array([e.category for e in entries], np.uint8),
                       np.array([e.style for e in entries], np.uint8),
                       np.array([index[e.key] for e in entries], np.int32),
                       np.array([e.tone for e in entries], np.uint8),
                       keys, [names[k] for k in keys], packages, skipped, emoji_set))


def save(built: Built, folder: Path) -> list[Path]:
    """Writes the set's split files and emoji-about.json into folder; returns them in the
    order to put them in place (the training split, by which it is found, last)."""
    folder.mkdir(parents=True, exist_ok=True)
    emoji_set = built.emoji_set
    splits = [split for split in ("test", "train") if split in emoji_set.splits]
    sides = built.split()
    counts = {}
    # A fixed shuffle: a split's first images (a preview's) show every style and category.
    order = np.random.default_rng(0).permutation(len(sides))
    for split in splits:
        pick = order[sides[order] == split]
        counts[split] = len(pick)
        with open(folder / SPLIT_FILES[split], "wb") as f:
            np.savez_compressed(
                f, images=built.images[pick], category=built.category[pick],
                style=built.style[pick], emoji=built.emoji[pick], tone=built.tone[pick],
                category_names=np.array(emoji_set.categories),
                style_names=np.array(emoji_set.styles),
                tone_names=np.array(TONES),
                emoji_keys=np.array(built.keys), emoji_names=np.array(built.names))
    about = {
        "dataset": emoji_set.name, "size": SIZE, "background": "white",
        "split": emoji_set.split_rule,
        **({"split_version": SPLIT_VERSION, "test_share": TEST_SHARE,
            "twin_rms": TWIN_RMS, "twins_moved": built.twins_moved()}
           if "train" in emoji_set.splits else {}),
        **({"openmoji_frame": f"the central {OPENMOJI_FRAME} of its {OPENMOJI_CANVAS}-unit "
                              "canvas"} if "openmoji" in emoji_set.styles else {}),
        "counts": counts, "skipped": len(built.skipped),
        "packages": [{"style": p.spec.style, "package": p.spec.package,
                      "version": p.version, "published": p.published,
                      "licence": p.spec.licence, "credit": p.spec.credit}
                     for p in built.packages.values()],
    }
    (folder / ABOUT_FILE).write_text(json.dumps(about, indent=2, ensure_ascii=False) + "\n")
    return [folder / ABOUT_FILE, *(folder / SPLIT_FILES[split] for split in splits)]


# --- reading what was built ---------------------------------------------------------------------
def has_split(folder: Path, split: str) -> bool:
    return (folder / SPLIT_FILES[split]).is_file()


def stored_files(folder: Path) -> list[Path]:
    return [p for p in (folder / ABOUT_FILE, *(folder / f for f in SPLIT_FILES.values()))
            if p.is_file()]


@dataclass
class Split:
    images: np.ndarray  # uint8 (N, 3, 64, 64)
    category: np.ndarray  # int64 (N,)
    style: np.ndarray  # int64 (N,)
    emoji: np.ndarray  # int64 (N,)
    tone: np.ndarray  # int64 (N,)
    category_names: list[str]
    style_names: list[str]
    emoji_keys: list[str]
    emoji_names: list[str]
    tone_names: list[str]


def load(folder: Path, split: str) -> Split:
    """One split as built by save(); DatasetError if the file is not one."""
    path = folder / SPLIT_FILES[split]
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("images", "category", "style", "emoji", "tone",
                                        "category_names", "style_names", "emoji_keys",
                                        "emoji_names", "tone_names")}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise DatasetError(f"{path}: not an emoji dataset file ({exc}); "
                           "'genplay data get emoji --force' builds it again") from None
    images = arrays["images"]
    n = images.shape[0]
    labels = {k: arrays[k].astype(np.int64) for k in ("category", "style", "emoji", "tone")}
    names = {k: [str(s) for s in arrays[k]] for k in ("category_names", "style_names",
                                                      "emoji_keys", "emoji_names",
                                                      "tone_names")}
    bad = (images.dtype != np.uint8 or images.shape[1:] != (3, SIZE, SIZE)
           or any(v.shape != (n,) for v in labels.values())
           or len(names["emoji_keys"]) != len(names["emoji_names"])
           or any(n and (v.min() < 0 or v.max() >= len(names[k]))
                  for v, k in ((labels["category"], "category_names"),
                               (labels["style"], "style_names"),
                               (labels["emoji"], "emoji_keys"),
                               (labels["tone"], "tone_names"))))
    if bad:
        raise DatasetError(f"{path}: its arrays do not agree (images {images.shape}); "
                           "'genplay data get emoji --force' builds it again")
    return Split(images, labels["category"], labels["style"], labels["emoji"], labels["tone"],
                 names["category_names"], names["style_names"], names["emoji_keys"],
                 names["emoji_names"], names["tone_names"])


def about(folder: Path) -> dict:
    try:
        return json.loads((folder / ABOUT_FILE).read_text())
    except (OSError, ValueError):
        return {}


def outdated(folder: Path, emoji_set: EmojiSet = SETS["emoji"]) -> str | None:
    """Why the set's files in folder need building again (an earlier split), or None."""
    version = about(folder).get("split_version", 1)
    if "train" not in emoji_set.splits or version == SPLIT_VERSION:
        return None
    return (f"built with split version {version}, whose test emoji include copies of "
            f"training pictures; 'genplay data get {emoji_set.name} --force' builds it again")


def check(folder: Path, emoji_set: EmojiSet = SETS["emoji"]) -> tuple[tuple[int, int], bool]:
    """Reads the set's splits: ((train, test) counts, built from the published packages).
    DatasetError if a file is broken or an emoji is on both sides."""
    test = load(folder, "test")
    n_train = 0
    if "train" in emoji_set.splits:
        train = load(folder, "train")
        n_train = len(train.images)
        both = ({train.emoji_keys[i] for i in np.unique(train.emoji)}
                & {test.emoji_keys[i] for i in np.unique(test.emoji)})
        if both:
            raise DatasetError(f"{folder}: {len(both)} emoji are in both splits, "
                               f"e.g. {sorted(both)[0]}")
        why = outdated(folder, emoji_set)
        if why:
            raise DatasetError(f"{folder}: {why}")
    packages = about(folder).get("packages", [])
    published = (len(packages) == len(emoji_set.packages)
                 and all(p.get("published") for p in packages))
    return (n_train, len(test.images)), published

