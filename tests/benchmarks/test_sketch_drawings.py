"""benchmarks/sketch_drawings.py: drawings made with mouse drags on the Sketch panel's
canvas, given to a tiny sketch model and read back by a tiny classifier."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from benchmarks import sketch_drawings
from benchmarks.common import DRAWINGS
from genplay.core import checkpoints, registry
from tests.conftest import TINY_CONFIGS


def test_a_stroke_dragged_on_the_canvas_arrives_at_the_models_size(qtbot):
    pixels = sketch_drawings.drawn_pixels([[(0.1, 0.5), (0.9, 0.5)]], 28)
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8
    assert pixels[14, 4:24].min() > 100  # the line, about 2 px wide at 28x28
    assert pixels[:10].max() == 0 and pixels[19:].max() == 0  # nothing elsewhere


def test_every_drawing_is_read_back_and_shown(qtbot, tmp_path):
    torch.manual_seed(0)
    paths = {}
    for family in ("sketch-diffusion", "classifier"):
        model = registry.build(family, **TINY_CONFIGS[family]).eval()
        paths[family] = tmp_path / family
        checkpoints.save(model, paths[family], dataset="mnist", recipe="test",
                         class_names=[str(k) for k in range(10)])
    out, sheet = tmp_path / "d.json", tmp_path / "d.png"
    result = sketch_drawings.main([
        "--data", "mnist", "--sketch-model", str(paths["sketch-diffusion"]),
        "--classifier", str(paths["classifier"]), "--seeds", "1", "--json", str(out),
        "--sheet", str(sheet)])
    rows = result["rows"]
    assert [r["drawn"] for r in rows] == list(DRAWINGS["mnist"])
    for r in rows:
        assert r["candidates"] == sketch_drawings.CANDIDATES
        # every candidate is read as the class meant or counted among the others
        assert round(r["read_as_meant"] * r["candidates"]) + sum(r["others"].values()) == 4
        assert r["drawn"] not in r["others"] and r["median_seconds"] > 0
    assert json.loads(out.read_text())["rows"] == rows
    assert "read as meant" in out.with_suffix(".txt").read_text()
    with Image.open(sheet) as image:  # a row per drawing: the drawing and 4 candidates
        assert image.height > len(rows) * 8 * 3 and image.width > 5 * 8 * 3
