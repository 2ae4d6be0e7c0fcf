"""`genplay upscale`: one image (with PSNR/SSIM against a reference), folders, the model
argument that may be left out, and one-line errors for bad input."""

from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest
import torch

from genplay.cli import main
from genplay.core import checkpoints, metrics, registry
from genplay.core.events import Progress, Result
from genplay.core.images import load_image, read_png_metadata, save_png
from genplay.core.ops import superres
from genplay.core.resize import upscale_bicubic
from tests.conftest import TINY_CONFIGS

RNG = np.random.default_rng(3)
PICTURE = np.clip(np.kron(RNG.integers(0, 256, (8, 10, 3)), np.ones((5, 5, 1)))
                  + RNG.normal(0, 6, (40, 50, 3)), 0, 255).astype(np.uint8)


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def figures(out: str, name: str) -> tuple[float, float]:
    match = re.search(rf"{name}\s+PSNR\s+([\d.]+) dB\s+SSIM\s+([-\d.]+)", out)
    assert match, out
    return float(match[1]), float(match[2])


def test_simulate_prints_psnr_and_ssim_of_bicubic(capsys, tmp_path):
    save_png(tmp_path / "photo.png", PICTURE)
    code, out, err = run(capsys, "upscale", tmp_path / "photo.png", "--scale", 2, "--simulate",
                         "--tile", 16, "-o", tmp_path / "up.png")
    assert code == 0, err
    result = load_image(tmp_path / "up.png")
    assert result.shape == (40, 50, 3)  # shrunk to 25x20 first, then enlarged back
    assert read_png_metadata(tmp_path / "up.png")["method"] == "bicubic"
    psnr, ssim = figures(out, "bicubic")
    assert psnr == pytest.approx(metrics.psnr(result, PICTURE), abs=0.01)
    assert ssim == pytest.approx(metrics.ssim(result, PICTURE), abs=1e-4)
    assert 15 < psnr < 40 and 0 < ssim < 1


def test_a_reference_file_gives_the_figures_too(capsys, tmp_path):
    lowres, reference = superres.simulate(PICTURE, 2)
    save_png(tmp_path / "small.png", lowres)
    save_png(tmp_path / "hr.png", reference)
    code, out, err = run(capsys, "upscale", tmp_path / "small.png", "--scale", 2, "--reference",
                         tmp_path / "hr.png", "--out-dir", tmp_path / "o")
    assert code == 0, err
    assert "hr.png" in out and figures(out, "bicubic")[0] > 15
    assert load_image(tmp_path / "o" / "small_x2-00.png").shape == (40, 50, 3)


def test_a_folder_is_upscaled_and_unreadable_files_are_reported(capsys, tmp_path):
    save_png(tmp_path / "in" / "a.png", PICTURE)
    save_png(tmp_path / "in" / "deeper" / "b.png", PICTURE[:9, :7, 0])
    (tmp_path / "in" / "c.png").write_text("not a picture")
    code, out, err = run(capsys, "upscale", tmp_path / "in", "--scale", 4, "-o", tmp_path / "out")
    assert code == 0, err
    assert "2 images in" in out and "skipped:" in err and "c.png: not an image file" in err
    assert load_image(tmp_path / "out" / "a_x4.png").shape == (160, 200, 3)
    assert load_image(tmp_path / "out" / "deeper" / "b_x4.png").shape == (36, 28)
    code, out, err = run(capsys, "upscale", tmp_path / "in", "--scale", 4, "--out-dir",
                         tmp_path / "out")
    assert code == 0 and "0 images in" in out and "2 done before, kept" in err


@pytest.mark.parametrize("args,message", [
    (["{tmp}/missing.png", "--scale", "2", "-o", "{tmp}/x.png"], "missing.png: no such file"),
    (["{tmp}/text.png", "--scale", "2", "-o", "{tmp}/x.png"], "not an image file"),
    (["{tmp}/pic.png", "--scale", "2"], "say where to write"),
    (["{tmp}/pic.png", "--scale", "2", "--method", "net", "-o", "{tmp}/x.png"],
     "method needs a model"),
    (["{tmp}/pic.png", "--scale", "2", "--reference", "{tmp}/pic.png", "-o", "{tmp}/x.png"],
     "the reference is 50x40 pixels but the upscaled image is 100x80"),
    (["{tmp}", "--scale", "2", "--simulate", "--out-dir", "{tmp}/o"], "one image, not on a folder"),
    (["{tmp}", "--scale", "2", "-o", "{tmp}/x.png"], "say which folder to write to"),
    (["{tmp}/empty", "--scale", "2", "-o", "{tmp}/o"], "no images found"),
    (["{tmp}/pic.png", "--scale", "2", "--tile", "0", "-o", "{tmp}/x.png"], "at least 1 pixel"),
    (["{tmp}/pic.png", "{tmp}/pic.png", "--scale", "2", "-o", "{tmp}/x.png"],
     "not a model genplay knows"),
])
def test_bad_input_is_one_line_with_exit_code_2(capsys, tmp_path, args, message):
    save_png(tmp_path / "pic.png", PICTURE)
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "upscale", *[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err


@pytest.fixture
def diffusion_checkpoint(tmp_path, monkeypatch):
    """An untrained tiny diffusion checkpoint, and ops.guided_superres replaced by a stand-in
    (bicubic plus seeded noise per candidate)."""
    family = registry.get("diffusion")
    model = family(family.Config.from_dict(TINY_CONFIGS["diffusion"]))
    checkpoints.save(model, tmp_path / "diffusion-tiny", dataset="tiny", recipe="test")

    def guided_upscale_steps(model, lowres, scale, n=4, seed=0, steps=None, **opts):
        yield Progress(1, 1)
        base = upscale_bicubic(lowres, scale)
        noise = torch.randn((n, *base.shape[1:]), generator=torch.Generator().manual_seed(seed))
        yield Result((base + 0.1 * noise).clamp(0, 1))

    fake = types.ModuleType("genplay.core.ops.guided_superres")
    fake.guided_method = lambda model: "diffusion" if hasattr(model, "condition_steps") else None
    fake.guided_upscale_steps = guided_upscale_steps
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    return tmp_path / "diffusion-tiny"


def test_a_diffusion_checkpoint_upscales_by_diffusion_at_its_size(capsys, tmp_path,
                                                                  diffusion_checkpoint):
    save_png(tmp_path / "digit.png", PICTURE[:8, :8, 0])
    code, out, err = run(capsys, "upscale", diffusion_checkpoint, tmp_path / "digit.png",
                         "--scale", 2, "-n", 3, "--simulate", "--out-dir", tmp_path / "o")
    assert code == 0, err
    assert "own size: the image was fitted to 4x4 pixels, the result is 8x8" in err
    written = sorted((tmp_path / "o").iterdir())
    assert [p.name for p in written] == [f"digit_x2-{k:02d}.png" for k in range(3)]
    assert load_image(written[0]).shape == (8, 8)
    assert read_png_metadata(written[0])["model"] == "diffusion-tiny"
    assert all(f"diffusion {k}" in out for k in (1, 2, 3)) and figures(out, "bicubic")[0] > 10
    # The checkpoint alone, without an image, is explained.
    code, _, err = run(capsys, "upscale", diffusion_checkpoint, "--scale", 2, "-o", tmp_path / "x")
    assert code == 2 and "is a checkpoint: give the image or folder" in err
