"""Reading outlier scores, with numpy only: percentiles against a reference, the
threshold at a false-positive rate, AUROC, verdict rows and the CSV/JSON table.

The window calls these in its own thread (moving the threshold line, exporting), so they
import no torch; the scoring itself is core.ops.outliers.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np

from genplay.core.errors import GenplayError

# --- reading scores against a reference distribution -----------------------------------------
# the score a model is read by unless one is asked for (genplay score, the Outliers panel):
# the first of these it can compute; the bits profile before the feature distance, as on
# the emoji it tells more garments, photos and doodles apart (benchmarks/results/ood-emoji.json)
DEFAULT_ORDER = ("profile", "features", "complexity", "recon", "bpd", "energy")


def default_method(methods) -> str | None:
    """The first of DEFAULT_ORDER among methods (names of scores), None if none is."""
    return next((m for m in DEFAULT_ORDER if m in methods), None)


def percentile_of(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Percent of the reference scores at or below each score (0-100)."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    if ref.size == 0:
        raise GenplayError("no reference scores to compare with")
    return 100.0 * np.searchsorted(ref, np.asarray(scores, np.float64), side="right") / ref.size


def threshold_at_fpr(reference: np.ndarray, fpr: float) -> float:
    """The score above which a fraction fpr of the reference (inlier) images fall."""
    if not 0.0 < fpr < 1.0:
        raise GenplayError(f"the false-positive rate must be between 0 and 1, not {fpr}")
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    index = min(ref.size - 1, max(0, math.ceil((1.0 - fpr) * ref.size) - 1))
    return float(ref[index])


def false_positive_rate(reference: np.ndarray, threshold: float) -> float:
    """Fraction of the reference (inlier) scores above threshold: those flagged wrongly."""
    return float(np.mean(np.asarray(reference, dtype=np.float64) > threshold))


def auroc(inliers: np.ndarray, outliers: np.ndarray) -> float:
    """Probability that an outlier scores higher than an inlier (ties count half)."""
    a = np.asarray(inliers, dtype=np.float64)
    b = np.asarray(outliers, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise GenplayError("AUROC needs scores on both sides")
    both = np.concatenate([a, b])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(both.size, dtype=np.float64)
    ranks[order] = np.arange(1, both.size + 1)
    # average ranks over ties
    values = both[order]
    start = 0
    for end in range(1, both.size + 1):
        if end == both.size or values[end] != values[start]:
            ranks[order[start:end]] = (start + 1 + end) / 2.0
            start = end
    rank_sum = ranks[a.size:].sum()
    return float((rank_sum - b.size * (b.size + 1) / 2.0) / (a.size * b.size))


ROW_FIELDS = ("file", "score", "percentile", "verdict", "error")


def verdict_rows(files: list[str], errors: list[str], scores: np.ndarray,
                 reference: np.ndarray, threshold: float) -> list[dict]:
    """One row per file: score, percentile against the reference, and the verdict."""
    percentiles = percentile_of(scores, reference)
    rows = []
    for name, error, score, pct in zip(files, errors, scores, percentiles):
        if error:
            rows.append({"file": name, "score": None, "percentile": None,
                         "verdict": "unreadable", "error": error})
        else:
            rows.append({"file": name, "score": float(score), "percentile": float(pct),
                         "verdict": "outlier" if score > threshold else "inlier", "error": ""})
    return rows


def write_rows(fh, rows: list[dict], fmt: str, header: dict) -> None:
    """Writes scored rows to a text stream as CSV (rows only, for any spreadsheet) or as
    JSON ({**header, "rows": rows})."""
    if fmt == "json":
        json.dump({**header, "rows": rows}, fh, indent=2)
        fh.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(fh, ROW_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        raise GenplayError(f"unknown table format {fmt!r}; use csv or json")
