"""What the Outlier panel asks of the engine (run in its thread, never the UI's), and the
threshold for a false-positive rate."""

from __future__ import annotations

from typing import Any

import numpy as np


def threshold_for(reference: np.ndarray, percent: float) -> float:
    """The threshold that flags percent % of the reference scores: any rate from 0 (above
    them all) to 100 (below them all)."""
    from genplay.core.ops.outliers import threshold_at_fpr

    ref = np.asarray(reference, np.float64)
    if percent >= 100:
        return float(np.nextafter(ref.min(), -np.inf))
    if percent <= 0:
        return float(ref.max())
    return threshold_at_fpr(ref, percent / 100)


def load_facts(model, folder: str) -> dict[str, Any]:
    """What the panel needs of a model: its reference scores and what it can compute.
    A missing reference is a state the panel explains, not an error for the message bar."""
    from genplay.core import checkpoints
    from genplay.core.errors import GenplayError
    from genplay.core.models.capabilities import pixel_bits_note
    from genplay.core.ops import outliers

    try:
        reference, typical = outliers.load_reference(folder, checkpoints.weights_hash(folder))
    except GenplayError as exc:
        return {"missing": str(exc)}
    background = outliers.load_background(folder)
    methods = [m for m in outliers.available_methods(model, background) if m in reference]
    return {"reference": {m: reference[m] for m in methods}, "typical": typical,
            "methods": methods,
            "descriptions": {m: outliers.METHODS[m].description for m in methods},
            "pixel_note": pixel_bits_note(model)}


def measure_split(folder: str):
    from genplay.core.errors import GenplayError
    from genplay.core.evaluation import measure_reference

    try:
        yield from measure_reference(folder)
    except OSError as exc:
        raise GenplayError(f"could not write the reference scores into {folder}: "
                           f"{exc.strerror or exc}") from None


def score_paths(model, folder: str, paths: list[str], known: set[str], methods: list[str], typical):
    from genplay.core import checkpoints
    from genplay.core.data import invert_policy
    from genplay.core.events import Progress
    from genplay.core.images import find_images
    from genplay.core.ops.outliers import load_background, score_files

    yield Progress(0, None, message="looking for images…")
    background = load_background(folder, device=str(model.device)) if "ratio" in methods else None
    files = [f for f in find_images(paths) if str(f) not in known]
    invert = invert_policy(checkpoints.read_info(folder).dataset)
    yield from score_files(model, files, methods, typical_bpd=typical, background=background,
                           invert=invert)


def pixel_bits_of(model, pixels: np.ndarray):
    import torch

    from genplay.core.images import to_float_chw
    from genplay.core.ops.outliers import pixel_bits

    bits = pixel_bits(model, torch.from_numpy(to_float_chw(pixels))[None])
    return None if bits is None else bits[0]


def write_table(path, fmt: str, rows: list[dict], header: dict) -> None:
    """Writes scored rows as CSV or JSON, atomically (OSError when it cannot)."""
    from genplay.core.checkpoints import atomic_write
    from genplay.core.ops.outliers import write_rows

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            write_rows(fh, rows, fmt, header)

    atomic_write(path, write)
