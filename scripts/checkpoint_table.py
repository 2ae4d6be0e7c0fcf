"""Prints the Markdown table of the shipped checkpoints, from their config.json and metrics.json.

    python scripts/checkpoint_table.py [checkpoints]

Used for README.md and checkpoints/README.md, so every figure there is the one
`genplay eval` measured and wrote.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(value, spec):
    return format(value, spec) if isinstance(value, int | float) else "–"


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "checkpoints")
    rows, upscalers = [], []
    for folder in sorted(p for p in root.iterdir() if (p / "config.json").is_file()):
        config = json.loads((folder / "config.json").read_text())
        metrics_path = folder / "metrics.json"
        m = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        params = "–"
        try:
            from safetensors import safe_open

            with safe_open(str(folder / "model.safetensors"), "pt") as f:
                # safe_open handles are not iterable, hence keys()
                params = sum(_prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118
        except Exception:  # the table is still useful without the count
            pass
        t = config.get("training", {})
        common = [f"`{folder.name}`", config["family"], config["dataset"],
                  f"{params / 1e6:.2f}M" if isinstance(params, int) else params,
                  str(t.get("epochs", "–")), f"{t.get('seconds', 0) / 60:.0f} min"]
        if config["family"] == "superres":  # upscalers: PSNR/SSIM beside bicubic's
            upscalers.append(common + [
                f"{fmt(m.get(f'psnr_x{s}'), '.2f')} / {fmt(m.get(f'bicubic_psnr_x{s}'), '.2f')}"
                f" · {fmt(m.get(f'ssim_x{s}'), '.3f')} / {fmt(m.get(f'bicubic_ssim_x{s}'), '.3f')}"
                for s in (2, 4)])
            continue
        rows.append(common + [
            fmt(m.get("test_accuracy"), ".2%"), fmt(m.get("bpd"), ".3f"),
            fmt(m.get("elbo_bpd"), ".3f"),
            fmt(m.get("iwae_bpd"), ".3f"), fmt(m.get("fid"), ".2f") + by_class(m),
            fmt(m.get("fid_real_floor"), ".2f"), fmt(m.get("kid"), ".4f"),
        ])
    first = ["checkpoint", "family", "dataset", "params", "epochs", "CPU time"]
    _table(first + ["test acc.", "bpd", "ELBO bpd", "IWAE bpd", "FID", "FID floor", "KID"], rows)
    if upscalers:
        print()
        _table(first + ["x2 PSNR / bicubic · SSIM / bicubic", "x4 PSNR / bicubic · SSIM / bicubic"],
               upscalers)


def by_class(m: dict) -> str:
    """The FID drawn class by class (genplay eval --class-fid), where measured."""
    figure = m.get("fid_by_class")
    fid = figure.get("fid") if isinstance(figure, dict) else None
    return f"; class by class {fid:.2f}" if isinstance(fid, int | float) else ""


def _table(head: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _prod(shape) -> int:
    total = 1
    for s in shape:
        total *= int(s)
    return total


if __name__ == "__main__":
    main()
