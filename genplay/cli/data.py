"""genplay data list, get, verify: the datasets genplay knows by name, and getting them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genplay.cli.common import Stop, run_with_bar
from genplay.core.errors import GenplayError

PHOTOS = "photos"
PHOTOS_HOW = "pip install scikit-image (its sample photographs)"
EMOJI = "emoji"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _where(path: Path | None) -> str:
    from genplay.core.datasets import display_path

    return display_path(path) if path is not None else "-"


def cmd_list(args: argparse.Namespace) -> int:
    from genplay.core import datasets

    rows = []
    for name, spec in datasets.CATALOGUE.items():
        status = datasets.survey(name, args.data_root)
        rows.append({"name": name, "present": status.folder is not None,
                     "folder": str(status.folder) if status.folder else None,
                     "bytes": status.bytes, "download_bytes": spec.download_size,
                     "licence": spec.licence, "about": spec.about,
                     "credits": _credits(name)})
    photos = datasets.photos_folder()
    rows.append({"name": PHOTOS, "present": photos is not None,
                 "folder": str(photos) if photos else None, "bytes": None,
                 "download_bytes": None, "licence": "CC0 and public domain (per photo)",
                 "about": "12 photographs that come with scikit-image", "credits": []})
    if args.json:
        print(json.dumps({"data_home": str(datasets.data_home()), "datasets": rows}, indent=2))
        return 0
    print(f"datasets (downloaded to {_where(datasets.data_home())}; GENPLAY_DATA sets another "
          "folder):")
    header = f"{'name':<14} {'here':<5} {'size':>9}  {'where, or how to get it':<44} licence"
    print(header)
    print("-" * len(header))
    for row in rows:
        if row["present"]:
            where = "in scikit-image" if row["name"] == PHOTOS else _where(Path(row["folder"]))
            size = _size(row["bytes"]) if row["bytes"] is not None else "-"
        else:
            size = "-"
            where = (f"genplay data get {row['name']} ({_size(row['download_bytes'])})"
                     if row["download_bytes"] else PHOTOS_HOW)
        print(f"{row['name']:<14} {'yes' if row['present'] else 'no':<5} {size:>9}  "
              f"{where:<44} {row['licence']}")
    for row in rows:
        for credit in row["credits"]:
            print(f"  {row['name']}: {credit}")
    return 0


def _credits(name: str) -> list[str]:
    """The attribution each part of a dataset asks for (each emoji set's)."""
    from genplay.core import emoji

    if name not in emoji.SETS:
        return []
    notes = {"openmoji": "; a model trained on it is shared under the same licence"}
    return [f"{p.credit}{notes.get(p.style, '')}" for p in emoji.SETS[name].packages]


def _run_in_phases(events, desc: str, total: int, unit: str, unit_scale: bool = False):
    """run_with_bar, with a new bar for the emoji's second phase (rendering pictures after
    the packages' bytes)."""
    from genplay.core.events import Progress

    def downloading():
        for event in events:
            if isinstance(event, Progress) and event.message.startswith("rendering"):
                rest.append(event)
                return
            yield event

    rest: list = []
    result = run_with_bar(downloading(), desc, total, unit, unit_scale=unit_scale)
    if result is not None or not rest:
        return result

    def rendering():
        yield from rest
        yield from events

    return run_with_bar(rendering(), f"rendering {desc}", rest[0].total, "emoji")


def _counts(train: int, test: int) -> str:
    if not train:  # a set held out of training
        return f"{test:,} test images (a test split only)"
    return f"{train:,} training and {test:,} test images"


def _say_built(name: str, summary: dict, folder) -> None:
    skipped = summary.get("skipped") or []
    note = f"; {len(skipped)} unreadable pictures skipped, e.g. {skipped[0][0]}" if skipped else ""
    print(f"{name}: {_counts(*summary['counts'])} built into {_where(folder)}{note}")


def cmd_get(args: argparse.Namespace) -> int:
    from genplay.core import datasets

    if args.name == PHOTOS:
        raise GenplayError(f"the photos dataset is not downloaded by genplay: {PHOTOS_HOW}")
    spec = datasets.known(args.name)
    if args.source is not None:
        if args.mirror:
            raise GenplayError("--from and --mirror exclude each other")
        events = datasets.import_copy(args.name, args.source, force=args.force)
        result = _run_in_phases(events, f"reading {args.name}", len(spec.files), "file")
        summary = result.summary
        if spec.kind == EMOJI:
            _say_built(args.name, summary, result.value)
            if not summary["published"]:
                print("note: these are not all the published packages (their version or "
                      "checksum differs), so figures measured on them are not comparable "
                      "with ones measured on the published sets", file=sys.stderr)
            return 0
        train, test = summary["counts"]
        print(f"{args.name}: {train:,} training and {test:,} test images from "
              f"{summary['source']} into {_where(result.value)}")
        if not summary["published"]:
            print(f"note: these are not the published {spec.title} files (their checksums "
                  "differ), so figures measured on them are not comparable with published "
                  "ones", file=sys.stderr)
        return 0
    with Stop():
        result = _run_in_phases(datasets.download(args.name, sources=args.mirror or None,
                                                  force=args.force),
                                f"{args.name}", spec.download_size, "B", unit_scale=True)
    if result.summary.get("already"):
        print(f"{args.name} is already in {_where(result.value)} "
              f"('genplay data verify {args.name}' checks it; --force downloads it again)")
    elif spec.kind == EMOJI:
        count = len(spec.files)
        print(f"{args.name}: its {count} package{'s' if count > 1 else ''} downloaded "
              f"({_size(spec.download_size)}, checksums verified)")
        _say_built(args.name, result.summary, result.value)
    else:
        print(f"{args.name}: downloaded into {_where(result.value)} "
              f"({_size(spec.download_size)}, checksums verified)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from genplay.core import datasets

    names = args.names or list(datasets.CATALOGUE)
    bad = 0
    for name in names:
        if name == PHOTOS:
            continue
        datasets.known(name)  # an unknown name is a mistake
        status = datasets.verify(name, args.data_root)
        if status.folder is None:
            if args.names:  # asked for by name: say how to get it
                raise datasets.MissingDataset(name, datasets.missing_message(name, args.data_root))
            print(f"{name}: not here (genplay data get {name})")
        elif status.problem:
            bad += 1
            print(f"{name}: BROKEN in {_where(status.folder)}: {status.problem}")
        else:
            what = ("the published files" if status.published
                    else "readable, but not the published files (their checksums differ)")
            if datasets.known(name).kind == EMOJI:
                what = ("built from the published packages" if status.published
                        else "readable, built from other versions of the packages")
            print(f"{name}: ok, {what}: {_counts(*status.counts)} in {_where(status.folder)}")
    return 1 if bad else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="the datasets genplay knows by name: list, get, verify")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    q = data_sub.add_parser("list", help="each dataset: here or not, where, size, licence")
    q.add_argument("--data-root", help="also look in this folder")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_list)

    q = data_sub.add_parser(
        "get", help="download a dataset (or import a copy you have with --from)",
        description="Downloads a dataset from its publishers (checksums verified, a broken "
                    "download resumed) into ~/.genplay/data/NAME, or $GENPLAY_DATA/NAME.")
    q.add_argument("name", metavar="NAME",
                   help="fashion-mnist, mnist, emoji, or emojione (a fourth emoji style, "
                        "a test split for outlier tests)")
    q.add_argument("--from", dest="source", metavar="PATH",
                   help="import a copy: a folder holding the four IDX files (also Debian's "
                        "/usr/share/datasets/fashion-mnist or a torchvision root), or an "
                        "archive (.zip, .tar.gz, ...) of them; for emoji, a folder holding "
                        "its three npm packages (twitter/, google/, openmoji/ folders of "
                        "their files, or their .tgz files); for emojione, a folder "
                        "holding its package (a folder of its files or its .tgz)")
    q.add_argument("--mirror", action="append", metavar="URL", default=[],
                   help="download from this base URL instead of the publishers' (repeatable)")
    q.add_argument("--force", action="store_true",
                   help="replace the files of this dataset already in the data folder")
    q.set_defaults(func=cmd_get)

    q = data_sub.add_parser("verify", help="read every file of the datasets here and check "
                                           "them against the published checksums")
    q.add_argument("names", nargs="*", metavar="NAME", help="datasets to check (default: all)")
    q.add_argument("--data-root", help="check the copy in this folder, if it has one")
    q.set_defaults(func=cmd_verify)
