"""benchmarks/sketch_quality.py: the edge F1 on hand-made drawings, and the whole benchmark
on a tiny sketch model, a tiny diffusion model, VAE and feature net and tiny data."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from benchmarks import sketch_quality
from genplay.core import checkpoints, registry, sketches
from tests.conftest import TINY_CONFIGS, make_idx_dataset


def _square(x0: int, y0: int, side: int = 10, size: int = 28) -> torch.Tensor:
    """The one-pixel outline of a square, (1, 1, size, size)."""
    image = torch.zeros(1, 1, size, size)
    image[0, 0, y0, x0:x0 + side] = 1
    image[0, 0, y0 + side - 1, x0:x0 + side] = 1
    image[0, 0, y0:y0 + side, x0] = 1
    image[0, 0, y0:y0 + side, x0 + side - 1] = 1
    return image


def test_edge_f1_counts_a_pixel_off_as_right_and_further_as_wrong():
    square = _square(8, 8)
    f1 = sketches.edge_f1
    assert f1(square, square).item() == 1.0
    assert f1(_square(9, 8), square).item() == 1.0  # one pixel right: within tolerance
    assert f1(_square(9, 9), square).item() == 1.0  # one pixel along the diagonal, too
    assert f1(_square(10, 8), square).item() < 1.0  # two pixels: beyond the tolerance
    shifted = f1(_square(11, 8), square).item()  # three pixels right: only the top and
    assert 0.3 < shifted < 0.8  # bottom lines still lie within a pixel of the input
    assert f1(_square(11, 8), square, tolerance=3).item() == 1.0
    assert f1(_square(15, 15), square).item() < shifted  # further still


def test_edge_f1_of_empty_drawings_and_per_image():
    empty = torch.zeros(1, 1, 28, 28)
    square = _square(8, 8)
    f1 = sketches.edge_f1
    assert f1(empty, empty).item() == 1.0  # nothing asked, nothing drawn
    assert f1(empty, square).item() == 0.0  # nothing drawn
    assert f1(square, empty).item() == 0.0  # lines nobody asked for
    both = f1(torch.cat([square, empty]), torch.cat([square, square]))
    assert both.tolist() == [1.0, 0.0]  # one figure per image
    # colour outputs: ink in any channel
    assert f1(square.expand(1, 3, 28, 28), square).item() == 1.0
    # a grey pixel (0.5 or less) is not ink
    assert f1(square * 0.5, square).item() == 0.0


def test_drawing_again_with_the_same_seed_gives_the_same_sketch():
    images = torch.zeros(3, 1, 28, 28)
    images[:, :, 6:22, 8:20] = torch.tensor([0.6, 0.8, 1.0]).view(3, 1, 1, 1)
    for style in ("canny", "edges", "interior"):
        drawn = sketch_quality.draw(images, style, seed=3)
        again = sketch_quality.draw(images.numpy(), style, seed=3)
        assert torch.equal(drawn, again) and drawn.sum() > 0
        assert sketch_quality.faithfulness(images.numpy(), drawn, style, 3) == {
            "edge_f1": 1.0, "edge_f1_exact": 1.0}


def test_styles_put_the_held_out_one_first():
    assert sketch_quality._styles("edges,canny,edges") == ["canny", "edges"]
    assert sketch_quality._styles(None) == ["canny", *sketches.TRAIN_STYLES]
    with pytest.raises(SystemExit, match="unknown sketch style 'crayon'"):
        sketch_quality._styles("edges,crayon")


@pytest.fixture
def tiny(tmp_path, only_data_root):
    root = tmp_path / "data"
    make_idx_dataset(root / "mnist", n_train=24, n_test=12)
    ckpts = tmp_path / "checkpoints"
    torch.manual_seed(0)
    for family in ("sketch-diffusion", "diffusion", "classifier", "vae"):
        model = registry.build(family, **TINY_CONFIGS[family]).eval()
        checkpoints.save(model, ckpts / f"{family}-mnist", dataset="mnist", recipe="test")
    return root, ckpts


def test_tables_json_and_plot(tiny, tmp_path, capsys):
    root, ckpts = tiny
    out, plot = tmp_path / "sq.json", tmp_path / "curve.png"
    result = sketch_quality.main([
        "--data", "mnist", "--sketch-model", str(ckpts / "sketch-diffusion-mnist"),
        "--base", str(ckpts / "diffusion-mnist"), "--vae", str(ckpts / "vae-mnist"),
        "--n", "4", "--styles", "canny", "--steps", "2", "--threads", "1",
        "--data-root", str(root), "--no-speed", "--json", str(out), "--plot", str(plot)])
    printed = capsys.readouterr().out
    assert result["styles"] == ["canny"]
    rows = result["rows"]
    # the references, SDEdit at 3 strengths with and without the class, latent fitting,
    # the sketch model at 3 sketch guidance scales with and without the class
    assert [(r["method"], r["class_given"]) for r in rows] == (
        [("source images", False), ("another test image", False)]
        + [("SDEdit", False)] * 3 + [("SDEdit", True)] * 3
        + [("latent fit (vae-mnist)", False)] + [("sketch model", False)] * 3
        + [("sketch model", True)] * 3)
    assert rows[0]["edge_f1"] == 1.0  # the sources drawn again are their own sketches
    for r in rows:
        assert 0 <= r["class_agreement"] <= 1 and 0 <= r["edge_f1"] <= 1 and r["fid"] >= 0
        assert r["edge_f1_exact"] <= r["edge_f1"]  # no tolerance: never more
    t = result["targets"]
    assert [c["setting"] for c in t["checks"]] == [f"guidance {w}" for w in
                                                   sketch_quality.GUIDANCES]
    assert t["class_agreement"] == 0.97
    assert t["edge_f1_chance"] == rows[1]["edge_f1"]
    assert t["fid_max"] == pytest.approx(2 * result["unconditional"]["fid"])
    assert "## canny (held out of training)" in printed
    assert "## Targets (canny, no class given)" in printed
    assert json.loads(out.read_text())["sketch_model"] == "sketch-diffusion-mnist"
    assert out.with_suffix(".txt").read_text().strip() == printed.strip()
    with Image.open(plot) as image:
        assert image.size == (900, 620)


def test_pen_up_timing(tiny):
    _, ckpts = tiny
    model, _ = checkpoints.load(ckpts / "sketch-diffusion-mnist")
    guide = torch.zeros(1, 1, 8, 8)
    guide[..., 2:6, 3] = 1
    speed = sketch_quality.pen_up_seconds(model, guide, repeats=2)
    assert speed["candidates"] == 4 and len(speed["seconds"]) == 2
    assert speed["median_seconds"] > 0 and speed["threads"] == 1
    assert torch.get_num_threads() >= 1  # the thread count is given back
