"""Entry point of the genplay command: the app with no arguments, else the CLI.

This is the only module that imports genplay.gui (pyproject's import-linter
contracts keep the core and the CLI free of Qt).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] == "app":
        try:
            from genplay.gui.app import run_app
        except ImportError as exc:  # Qt's own libraries need system ones (README: Set up)
            print(f"genplay: the app cannot load Qt ({exc}); README.md lists the system "
                  "libraries it needs", file=sys.stderr)
            return 2
        return run_app(args[1:])
    from genplay.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
