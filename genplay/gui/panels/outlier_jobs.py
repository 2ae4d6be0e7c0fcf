"""The Outlier panel's jobs (functions of core.ops.outliers, run in the engine's thread),
the reference measurement (core.evaluation's, with a plain message when the folder cannot
be written), the threshold for a false-positive rate, and the table writer."""

from __future__ import annotations

import numpy as np

from genplay.gui.panels.base import op

FACTS = op("ops.outliers:outlier_facts")
SCORE = op("ops.outliers:score_paths")
PIXEL_BITS = op("ops.outliers:pixel_bits_of")


def threshold_for(reference: np.ndarray, percent: float) -> float:
    """The threshold that flags percent % of the reference scores: any rate from 0 (above
    them all) to 100 (below them all)."""
    from genplay.core.ops.outlier_figures import threshold_at_fpr

    ref = np.asarray(reference, np.float64)
    if percent >= 100:
        return float(np.nextafter(ref.min(), -np.inf))
    if percent <= 0:
        return float(ref.max())
    return threshold_at_fpr(ref, percent / 100)


def write_table(path, fmt: str, rows: list[dict], header: dict) -> None:
    """Writes scored rows as CSV or JSON, atomically (OSError when it cannot)."""
    from genplay.core.checkpoints import atomic_write
    from genplay.core.ops.outlier_figures import write_rows

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            write_rows(fh, rows, fmt, header)

    atomic_write(path, write)
