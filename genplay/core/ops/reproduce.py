"""Reading back the sample record genplay writes into a PNG, to draw the same pixels again.

``save_png(path, render(...), png_metadata(record))`` (the Sampling panel's Save, and
``genplay sample``) stores the record as PNG text chunks: strings as they are, everything
else as JSON. This turns those chunks back into the record, and measures how far a new
drawing is from the file's pixels, so silent drift (another machine, changed weights)
is reported rather than hidden.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

from genplay.core.errors import ImageError
from genplay.core.images import load_image, read_png_metadata

_NEEDED = ("model", "seed", "n", "options")
_JSON = ("seed", "n", "index", "nrow", "options", "upscale")


def record_from_text(text: Mapping[str, str]) -> dict | None:
    """The sample record held by a PNG's text chunks, or None if they hold none."""
    if not all(key in text for key in _NEEDED):
        return None
    record: dict = dict(text)
    try:
        for key in _JSON:
            if key in text:
                record[key] = json.loads(text[key])
    except ValueError:
        return None
    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if (not whole(record["seed"]) or not whole(record["n"]) or record["n"] < 1
            or not isinstance(record["options"], dict)
            or not all(whole(record.get(k, 0)) for k in ("index", "nrow"))
            or not isinstance(record.get("upscale", {}), dict)):
        return None
    return record


def read_saved_image(path: str | os.PathLike) -> tuple[dict | None, np.ndarray]:
    """(the genplay record of the file or None, its pixels as uint8 (H, W[, 3])).
    Raises ImageError if the file is not an image at all."""
    pixels = load_image(path)
    try:
        text = read_png_metadata(path)
    except ImageError:  # an image, but not a PNG: it cannot hold a record
        return None, pixels
    return record_from_text(text), pixels


def max_pixel_difference(saved: np.ndarray, drawn: np.ndarray) -> int | None:
    """The largest difference between two uint8 pictures in any pixel and channel (0:
    identical), or None when their sizes or channel counts differ."""
    a, b = (np.asarray(x) for x in (saved, drawn))
    a = a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a
    b = b[..., 0] if b.ndim == 3 and b.shape[2] == 1 else b
    if a.shape != b.shape:
        return None
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max(initial=0))
