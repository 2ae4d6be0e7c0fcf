"""genplay pull: a model from the Hugging Face Hub into genplay's model folder (core/hub.py
chooses the files, resumes, verifies and places them)."""

from __future__ import annotations

import argparse
import sys


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def cmd_pull(args: argparse.Namespace) -> int:
    from pathlib import Path

    from genplay.cli.common import run_with_bar
    from genplay.core import hub

    events = hub.pull(args.spec, revision=args.revision, file=args.file, to=args.to,
                      overwrite=args.overwrite)
    try:
        result = run_with_bar(events, args.spec, unit="B", unit_scale=True)
    except KeyboardInterrupt:
        print(f"genplay pull: interrupted; 'genplay pull {args.spec}' goes on from where it "
              "stopped", file=sys.stderr)
        return 130
    summary = result.summary
    folder, model = Path(result.value), Path(summary["model"])
    if summary.get("already"):
        print(f"{summary['repo_id']} is already in {folder} (commit "
              f"{str(summary.get('commit'))[:12]}; --overwrite downloads it again)")
    else:
        resumed = (f", {_size(summary['resumed'])} of it from an earlier try"
                   if summary.get("resumed") else "")
        count = len(summary["files"])
        print(f"{summary['repo_id']}: {count} file{'s' if count != 1 else ''} "
              f"({_size(summary['bytes'])}{resumed}) into {folder}")
        if summary.get("note"):
            print(f"note: {summary['note']}", file=sys.stderr)
    if summary.get("kind") == "upscaler":
        print(f"next: genplay upscale {model} IMAGE --scale N, or pick it in the app")
    else:
        print(f"next: genplay sample {model}, or pick it in the app's model list")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pull", help="download a model from the Hugging Face Hub (diffusers DDPM pipelines, "
                     "ESRGAN-family upscalers)",
        description="Downloads the files genplay opens (safetensors weights and their JSON "
                    "configs, never pickles of a pipeline) into ~/.genplay/models/OWNER--NAME "
                    "($GENPLAY_MODELS sets another folder). An interrupted download goes on "
                    "from where it stopped; a folder is placed only when all of it is there. "
                    "Needs huggingface_hub: pip install 'genplay[diffusers]'. HF_ENDPOINT "
                    "selects a mirror, HF_TOKEN (or hf auth login) a gated or private model.")
    p.add_argument("spec", metavar="SPEC",
                   help="hf://OWNER/NAME, OWNER/NAME or a huggingface.co address, e.g. "
                        "google/ddpm-cifar10-32 (OWNER/NAME@REVISION/FILE also works)")
    p.add_argument("--revision", metavar="R",
                   help="a branch, tag or commit (default main); another than main is kept "
                        "in its own folder, OWNER--NAME@R")
    p.add_argument("--file", metavar="NAME",
                   help="an upscaler repository's weights file, where it holds several")
    p.add_argument("--to", metavar="DIR",
                   help="put the model's folder in DIR (default ~/.genplay/models)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the model's folder if it exists (only once the new one is "
                        "complete)")
    p.set_defaults(func=cmd_pull)
