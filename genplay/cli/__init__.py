"""genplay's command line: every panel has a twin here.

User mistakes (a missing file, a bad option, a broken checkpoint) print one line
and exit with code 2; only bugs show a traceback.

The commands live in modules by theme, each adding its own subcommands to the parser:
models (models, export, prior, train), sampling (sample, interpolate), guided (sketch,
inpaint, upscale), evaluation (score, eval), data (data list, get, verify) and hub (pull);
common holds what they share.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genplay import __version__
from genplay.cli import data, evaluation, guided, hub, models, sampling
from genplay.cli.common import GenplayParser
from genplay.core.errors import GenplayError


# --- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = GenplayParser(
        prog="genplay", description="A playground for deep generative image models.")
    parser.add_argument("--version", action="version", version=f"genplay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("app", help="open the desktop app (what genplay does with no command)")
    models.add_commands(sub)  # models, export, prior, train
    sampling.add_commands(sub)  # sample, interpolate
    guided.add_commands(sub)  # sketch, inpaint, upscale
    evaluation.add_commands(sub)  # score, eval
    data.add_commands(sub)  # data list, get, verify
    hub.add_commands(sub)  # pull
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or --version (0), or a mistake already told (2)
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    if args.command in (None, "app"):  # reached only when called as a library function
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except GenplayError as exc:
        print(f"genplay {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genplay {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
