"""Every command on models of other projects: a diffusers pipeline folder and an
ESRGAN-family .pth, given as the PATH of sample, interpolate, sketch, inpaint, upscale,
score, eval and models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from genplay.cli import main

pytest.importorskip("diffusers")

from tests.core.test_upscaler_files import rrdb_new, write  # noqa: E402
from tests.foreign_models import pipeline_folder  # noqa: E402


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return pipeline_folder(tmp_path_factory.mktemp("hub") / "my-ddpm")


@pytest.fixture
def pictures(tmp_path):
    rng = np.random.default_rng(0)
    image = tmp_path / "image.png"
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(image)
    mask = np.zeros((8, 8), np.uint8)
    mask[4:] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    sketch = np.zeros((8, 8), np.uint8)
    sketch[2:6, 3:5] = 255
    Image.fromarray(sketch).save(tmp_path / "sketch.png")
    return image, tmp_path / "mask.png", tmp_path / "sketch.png"


def test_every_command_runs_on_a_diffusers_folder(capsys, tmp_path, pipeline, pictures):
    image, mask, sketch = pictures
    steps = ["--steps", "3"]
    commands = {
        "sample": ["sample", pipeline, "-n", "4", "-o", tmp_path / "grid.png", *steps],
        "interpolate": ["interpolate", pipeline, "--from", "0", "--to", "1", "--frames", "3",
                        "-o", tmp_path / "strip.png"],
        "sketch": ["sketch", pipeline, sketch, "-n", "2", "--out-dir", tmp_path / "sk", *steps],
        "inpaint": ["inpaint", pipeline, image, "--mask", mask, "-o", tmp_path / "filled.png",
                    *steps],
        "upscale": ["upscale", pipeline, image, "--scale", "2", "--method", "diffusion",
                    "-n", "1", "--out-dir", tmp_path / "up", *steps],
    }
    for name, args in commands.items():
        code, out, err = run(capsys, *args)
        assert code == 0, (name, err)
    assert Image.open(tmp_path / "grid.png").size[0] >= 16
    assert Image.open(tmp_path / "filled.png").size == (8, 8)
    assert len(list((tmp_path / "sk").glob("*.png"))) == 2
    assert list((tmp_path / "up").glob("*.png"))


def test_scores_need_reference_scores_measured_on_a_named_dataset(capsys, tmp_path, pipeline,
                                                                  pictures):
    image, _, _ = pictures
    code, _, err = run(capsys, "score", pipeline, image, "--json")
    assert code == 2 and "--data NAME --scores-only" in err
    code, _, err = run(capsys, "eval", pipeline, "--data", "mnist", "--scores-only")
    assert code == 0, err
    code, out, err = run(capsys, "score", pipeline, image, "--json")
    assert code == 0, err
    assert json.loads(out)["method"] == "complexity"  # a density: bits/dim less its PNG size


def test_eval_names_its_dataset_for_a_model_that_names_none(capsys, tmp_path, pipeline):
    code, _, err = run(capsys, "eval", pipeline, "--samples", "8", "--limit", "8", "--dry-run")
    assert code == 2 and "--data" in err and len(err.strip().splitlines()) == 1
    code, out, err = run(capsys, "eval", pipeline, "--data", "mnist", "--samples", "8",
                         "--limit", "8", "--dry-run")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["dataset"] == "mnist" and metrics["bpd"] > 0
    assert metrics["fid"] is None and "(3, 8, 8)" in metrics["fid_note"]


def test_an_esrgan_pth_upscales_and_is_listed(capsys, tmp_path, pictures):
    image, _, _ = pictures
    models = tmp_path / "models"
    models.mkdir()
    weights = write(models / "RealESRGAN_x4plus.pth", rrdb_new(), wrapper="params_ema")
    code, out, err = run(capsys, "upscale", weights, image, "--scale", "4",
                         "-o", tmp_path / "big.png")
    assert code == 0, err
    assert Image.open(tmp_path / "big.png").size == (32, 32)
    code, out, _ = run(capsys, "models", "--dir", models)
    assert code == 0 and "RealESRGAN_x4plus.pth" in out and "RRDBNet" in out
    code, _, err = run(capsys, "upscale", weights, image, "--scale", "2", "-o", tmp_path / "x.png")
    assert code == 2 and "x4" in err
