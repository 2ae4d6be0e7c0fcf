"""Every job a panel submits is a core function (genplay.core.ops...), called here without
Qt on tiny checkpoints; no module of genplay.gui imports torch, even inside a function."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from genplay.core import checkpoints
from genplay.core.events import Result, final_value

GUI = Path(__file__).resolve().parents[2] / "genplay" / "gui"


def _gui_sources():
    return sorted(GUI.rglob("*.py"))


def test_no_gui_module_imports_torch_anywhere():
    offenders = []
    for path in _gui_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names
                          if n == "torch" or n.startswith("torch.")]
    assert offenders == []


def test_every_op_a_panel_names_is_a_core_function():
    """op("ops.x:f") in a panel resolves (a typo would fail only when the job runs)."""
    from genplay.gui.panels.base import op

    names = set()
    for path in (GUI / "panels").glob("*.py"):
        names |= set(re.findall(r'\bop\("([\w.:]+)"\)', path.read_text(encoding="utf-8")))
    assert len(names) >= 10
    for name in names:
        assert callable(op(name).resolve()), name


def _load(tiny_checkpoints, family):
    return checkpoints.load(tiny_checkpoints / f"{family}-tiny", device="cpu")[0]


def test_sketch_ops_run_without_qt(tiny_checkpoints):
    from genplay.core.ops.sketch import fill_canvas, sketch_canvas, sketch_facts

    model = _load(tiny_checkpoints, "diffusion")
    facts = sketch_facts(model)
    assert facts["method"] == "sdedit" and facts["fill"] == "diffusion"
    h = facts["shape"][1]
    drawing = np.zeros((h, h), np.uint8)
    drawing[2:6, 3] = 255
    images = final_value(sketch_canvas(model, drawing, 2, 0, 0.5, {"steps": 3}))
    assert images.shape[0] == 2
    hole = np.zeros((h, h), bool)
    hole[:4] = True
    filled = final_value(fill_canvas(model, drawing, hole, 1, 0, {"steps": 3}))
    assert np.allclose(filled[0, 0][~hole], drawing[~hole] / 255.0, atol=1e-6)


def test_sketch_canvas_pixels_reads_a_file(tmp_path):
    from PIL import Image

    from genplay.core.ops.sketch import canvas_pixels

    Image.fromarray(np.full((20, 30), 200, np.uint8)).save(tmp_path / "a.png")
    assert canvas_pixels(str(tmp_path / "a.png")).shape == (280, 280)


def test_outlier_ops_run_without_qt(tiny_checkpoints, tmp_path):
    from PIL import Image

    from genplay.core.ops.outliers import outlier_facts, pixel_bits_of, score_paths

    folder = tiny_checkpoints / "pixelcnn-tiny"
    model = _load(tiny_checkpoints, "pixelcnn")
    assert "missing" in outlier_facts(model, str(folder))  # no reference measured
    h = model.image_shape[1]
    bits = pixel_bits_of(model, np.zeros((h, h, 1), np.uint8))
    assert bits.shape == (h, h) and np.isfinite(bits).all()
    Image.fromarray(np.zeros((h, h), np.uint8)).save(tmp_path / "x.png")
    events = list(score_paths(model, str(folder), [str(tmp_path)], set(), ["bpd"], None))
    assert isinstance(events[-1], Result)


def test_slider_state_renders_one_image(tiny_checkpoints):
    from genplay.core.ops.interpolation import LatentDirections
    from genplay.core.ops.sliders import SliderState, render_sliders, start_from_seed

    model = _load(tiny_checkpoints, "vae")
    z, facts = start_from_seed(model, 3)
    image, again = render_sliders(model, SliderState(3))
    assert np.array_equal(image, facts["image"]) and np.array_equal(again["latent"], z)
    d = z.size
    dirs = LatentDirections(np.eye(d, dtype=np.float32)[:2], np.full(2, 2.0, np.float32),
                            np.zeros(d, np.float32), np.full(2, 0.5, np.float32), "test")
    _, moved = render_sliders(model, SliderState(z, (1.0, -0.5), dirs))
    expected = z.reshape(-1).copy()
    expected[:2] += [2.0, -1.0]
    assert np.allclose(moved["latent"].reshape(-1), expected)


def test_endpoints_are_typed(tiny_checkpoints):
    from genplay.core.ops.interpolation import (
        LatentEndpoint,
        SampleEndpoint,
        SeedEndpoint,
        endpoint_latent,
        interpolate_endpoints,
    )

    model = _load(tiny_checkpoints, "vae")
    seed = final_value(endpoint_latent(model, SeedEndpoint(4)))
    assert np.array_equal(seed, final_value(endpoint_latent(model, 4)))
    sample = final_value(endpoint_latent(model, SampleEndpoint(2, 1, 0.5)))
    assert sample.shape == seed.shape
    frames = final_value(interpolate_endpoints(model, SeedEndpoint(4), LatentEndpoint(sample),
                                               frames=3))
    assert frames.shape[0] == 3
    with pytest.raises(Exception, match="not an endpoint"):
        final_value(endpoint_latent(model, ("sample", 2, 1, 0.5)))


def test_sampling_ops_run_without_qt(tiny_checkpoints):
    from genplay.core.events import Partial
    from genplay.core.ops.sampling import compare_settings, sample_with, sampling_facts

    folder = tiny_checkpoints / "vae-tiny"
    model = _load(tiny_checkpoints, "vae")
    facts = sampling_facts(model, str(folder))
    assert facts["hash"] == checkpoints.weights_hash(folder) and facts["options"]
    images = final_value(sample_with(model, 3, 1, {}))
    assert images.shape[0] == 3
    events = list(compare_settings(model, 2, 1, [{}, {"temperature": 0.5}]))
    done = [e.value for e in events if isinstance(e, Partial) and "images" in e.value]
    assert [d["index"] for d in done] == [0, 1] and done[0]["images"].dtype == np.uint8


def test_superres_ops_run_without_qt(tiny_checkpoints, tmp_path):
    from PIL import Image

    from genplay.core.ops.upscale_view import (
        compare_method,
        method_choices,
        superres_facts,
        upscale_folder,
        upscale_for_view,
    )

    model = _load(tiny_checkpoints, "superres")
    facts = superres_facts(model)
    assert "net" in facts["methods"] and facts["scales"]
    assert method_choices()["scales"]
    scale = facts["scales"][0]
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 1), dtype=np.uint8)
    value = final_value(upscale_for_view(model, pixels, scale, "net", True, None, {}))
    assert value["input"].shape[0] == 16 // scale and value["bicubic"] is not None
    assert "error" in final_value(compare_method(None, pixels, scale, "nonsense", False, None,
                                                 {}))
    (tmp_path / "in").mkdir()
    Image.fromarray(pixels[..., 0]).save(tmp_path / "in" / "a.png")
    list(upscale_folder(None, str(tmp_path / "in"), str(tmp_path / "out"), 2, "bicubic", {}))
    assert any((tmp_path / "out").iterdir())


def test_training_ops_run_without_qt(tmp_path):
    from PIL import Image

    from genplay.core.ops.training import dataset_preview, training_choices

    families, _datasets = training_choices()
    assert "vae" in families and "classifier" not in families
    for i in range(3):
        Image.fromarray(np.full((12, 12), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "bad.png").write_text("not an image")
    preview = dataset_preview(str(tmp_path), 8, 1)
    assert preview["images"].shape == (3, 8, 8, 1) and preview["files"] == 4
    assert len(preview["skipped"]) == 1
