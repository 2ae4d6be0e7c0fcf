"""The genplay command on tiny checkpoints: models, train, sample, eval, and its errors."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genplay.cli import main
from genplay.core import runtime, sketches
from genplay.core.checkpoints import read_info
from genplay.core.data import load_dataset
from genplay.core.images import load_image, read_png_metadata
from genplay.core.models.sketch_diffusion import DEFAULT_SKETCH_STEPS
from tests.conftest import TINY_CONFIGS, write_image_and_mask


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_models_lists_checkpoints_with_capabilities(capsys, tiny_checkpoints):
    code, out, _ = run(capsys, "models", "--dir", tiny_checkpoints)
    assert code == 0 and "vae-tiny" in out and "sampler, latent, density" in out
    code, out, _ = run(capsys, "models", "--dir", tiny_checkpoints, "--json")
    rows = {r["name"]: r for r in json.loads(out)["checkpoints"]}
    assert set(rows) == {f"{family}-tiny" for family in TINY_CONFIGS}
    assert rows["gan-tiny"]["capabilities"] == ["sampler", "latent"]


def test_sample_grid_is_byte_identical_for_a_seed(capsys, tiny_checkpoints, tmp_path):
    ckpt = tiny_checkpoints / "gan-tiny"
    for name in ("a.png", "b.png"):
        assert run(capsys, "sample", ckpt, "-n", 10, "--seed", 7, "-o", tmp_path / name)[0] == 0
    run(capsys, "sample", ckpt, "-n", 10, "--seed", 8, "-o", tmp_path / "c.png")
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.png", "b.png", "c.png"))
    assert a == b and a != c
    meta = read_png_metadata(tmp_path / "a.png")
    assert meta["seed"] == "7" and meta["model"] == "gan-tiny"
    assert len(meta["checkpoint_hash"]) == 16
    # 10 images: 4 columns, 3 rows of 8x8 tiles with 2 pixels of padding
    assert load_image(tmp_path / "a.png").shape == (3 * 8 + 4 * 2, 4 * 8 + 5 * 2)


def test_sample_out_dir_and_options(capsys, tiny_checkpoints, tmp_path):
    code, _, _ = run(capsys, "sample", tiny_checkpoints / "vae-tiny", "-n", 70, "--seed", 1,
                     "--temperature", 0.5, "--set", "pixel_noise=1", "--out-dir", tmp_path / "d")
    files = sorted((tmp_path / "d").iterdir())
    assert code == 0 and len(files) == 70
    assert load_image(files[0]).shape == (8, 8)
    assert json.loads(read_png_metadata(files[0])["options"]) == {
        "pixel_noise": 1.0, "temperature": 0.5}


def test_first_samples_do_not_depend_on_the_count(capsys, tiny_checkpoints, tmp_path):
    ckpt = tiny_checkpoints / "vae-tiny"
    run(capsys, "sample", ckpt, "-n", 3, "--out-dir", tmp_path / "few")
    run(capsys, "sample", ckpt, "-n", 100, "--out-dir", tmp_path / "many")
    for f in (tmp_path / "few").iterdir():
        assert (load_image(f) == load_image(tmp_path / "many" / f.name)).all()


def test_train_then_eval_writes_metrics(capsys, tiny_data, tiny_checkpoints, tmp_path):
    out = tmp_path / "vae"
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 1, "--size", 8,
                       "--set", "base_channels=4", "--set", "latent_dim=4", "--set", "n_mix=2",
                       "--set", "batch_size=8", "--out", out, "--threads", 1)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"].startswith("genplay train vae --data")
    code, out_text, err = run(capsys, "eval", out, "--features",
                              tiny_checkpoints / "classifier-tiny", "--samples", 40,
                              "--iwae-k", 4, "--limit", 12)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(out_text)
    assert metrics["test_images"] == 12 and metrics["iwae_k"] == 4
    assert metrics["iwae_bpd"] > 0 and metrics["fid"] >= 0 and metrics["fid_real_floor"] >= 0
    assert "genplay's own classifier" in metrics["fid_note"]
    # near-copies: against the test split's 5th percentile; the tiny IDX data has no emoji
    # in several styles for the other yardstick
    assert metrics["copy_samples"] == 40 and "copy_fraction_styles" not in metrics
    assert 0 <= metrics["copy_fraction"] <= 1 and metrics["copy_threshold"] >= 0
    assert 0 <= metrics["copy_test_twins"] <= 1
    # measured again alone, merged with the rest (the same first samples: the same figures)
    code, out_text, err = run(capsys, "eval", out, "--features",
                              tiny_checkpoints / "classifier-tiny", "--copies-only")
    assert code == 0, err
    again = json.loads((out / "metrics.json").read_text())
    assert again["iwae_bpd"] == metrics["iwae_bpd"] and again["copy_samples"] == 1000
    assert again["copy_threshold"] >= 0 and 0 <= again["copy_fraction"] <= 1
    # the figures read by the feature network, measured again alone (as after the dataset's
    # classifier changed): the same samples and the same net give the same FID, and the
    # rest is kept
    (out / "metrics.json").write_text(json.dumps({**metrics, "fid": 1e9, "kid": 1e9}))
    code, out_text, err = run(capsys, "eval", out, "--features",
                              tiny_checkpoints / "classifier-tiny", "--samples", 40,
                              "--limit", 12, "--features-only")
    assert code == 0, err
    third = json.loads((out / "metrics.json").read_text())
    assert third["iwae_bpd"] == metrics["iwae_bpd"] and third["copy_samples"] == 40
    for key in ("fid", "kid", "fid_real_floor", "copy_fraction", "copy_threshold"):
        assert third[key] == pytest.approx(metrics[key], rel=1e-4), key
    code, _, err = run(capsys, "eval", tiny_checkpoints / "classifier-tiny", "--features-only")
    assert code != 0 and "makes no images" in err


def test_eval_of_a_classifier_reports_accuracy(capsys, tiny_checkpoints):
    code, out, _ = run(capsys, "eval", tiny_checkpoints / "classifier-tiny", "--dry-run")
    metrics = json.loads(out)
    assert code == 0 and 0 <= metrics["test_accuracy"] <= 1
    by_class = metrics["test_accuracy_by_class"]  # each class's share read as itself
    measured = [a for a in by_class.values() if a is not None]
    assert measured and all(0 <= a <= 1 for a in measured)
    assert metrics["test_balanced_accuracy"] == pytest.approx(sum(measured) / len(measured))
    assert not (tiny_checkpoints / "classifier-tiny" / "metrics.json").exists()


def test_eval_of_a_sketch_model_measures_it_on_held_out_sketches(capsys, tiny_checkpoints,
                                                                 tmp_path):
    code, out, err = run(capsys, "eval", tiny_checkpoints / "sketch-diffusion-tiny", "--dry-run",
                         "--features", tiny_checkpoints / "classifier-tiny", "--samples", 8,
                         "--limit", 6, "--no-scores")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["sketch_style"] == sketches.HELD_OUT and metrics["sketch_images"] == 6
    assert 0 <= metrics["sketch_class_agreement"] <= 1
    assert metrics["sketch_steps"] == DEFAULT_SKETCH_STEPS
    assert 0 <= metrics["sketch_edge_f1_exact"] <= metrics["sketch_edge_f1"] <= 1
    # a classifier of another size reads the outputs at its own size, as FID reads samples:
    # four halvings fit its 16 px and not the model's 8 px
    from genplay.core import checkpoints
    from genplay.core.models.features import Classifier, ClassifierConfig

    info = read_info(tiny_checkpoints / "sketch-diffusion-tiny")
    net = Classifier(ClassifierConfig(image_size=16, base_channels=2, feature_dim=4, stages=4))
    checkpoints.save(net.eval(), tmp_path / "classifier-16", dataset=info.dataset,
                     recipe="test")
    code, out, err = run(capsys, "eval", info.path, "--features-only", "--features",
                         tmp_path / "classifier-16", "--samples", 8, "--limit", 6)
    assert code == 0, err
    assert 0 <= json.loads(out)["sketch_class_agreement"] <= 1


def test_eval_of_an_upscaler_reports_psnr_and_ssim_beside_bicubic(capsys, tiny_checkpoints):
    code, out, _ = run(capsys, "eval", tiny_checkpoints / "superres-tiny", "--dry-run")
    metrics = json.loads(out)
    assert code == 0 and metrics["scored_images"] == metrics["test_images"] > 0
    for scale in (2, 4):
        assert 0 < metrics[f"psnr_x{scale}"] <= 100 and metrics[f"bicubic_psnr_x{scale}"] > 0
        assert -1 <= metrics[f"ssim_x{scale}"] <= 1
    # A freshly trained tiny net barely moves from bicubic, which it starts as.
    assert abs(metrics["psnr_x2"] - metrics["bicubic_psnr_x2"]) < 3
    info = dataclasses.replace(read_info(tiny_checkpoints / "superres-tiny"), metrics=metrics)
    assert "x2" in info.key_metrics() and "over bicubic" in info.key_metrics()


@pytest.mark.parametrize("args,message", [
    (["sample", "{missing}", "-o", "x.png"], "no such checkpoint folder"),
    (["sample", "{gan}", "-n", "4"], "say where to write"),
    (["sample", "{gan}", "--set", "speed=2", "-o", "{tmp}/x.png"], "not understood"),
    (["sample", "{gan}", "--temperature", "9", "-o", "{tmp}/x.png"], "between"),
    (["train", "vae", "--data", "nowhere", "--epochs", "1", "--out", "{tmp}/o"], "neither a known"),
    (["train", "dragon", "--data", "mnist", "--epochs", "1", "--out", "{tmp}/o"],
     "unknown model family"),
    (["eval", "{missing}"], "no such checkpoint folder"),
])
def test_user_errors_are_one_line_with_exit_code_2(capsys, tiny_checkpoints, tmp_path, args,
                                                    message):
    fill = {"missing": tmp_path / "missing", "gan": tiny_checkpoints / "gan-tiny", "tmp": tmp_path}
    code, _, err = run(capsys, *[a.format(**fill) for a in args])
    assert code == 2
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err


def test_console_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "genplay", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "sample" in done.stdout and "train" in done.stdout


@pytest.mark.slow  # starts processes that import torch: run by .ci/run
def test_ctrl_c_stops_training_and_keeps_a_loadable_checkpoint(tiny_data, tmp_path):
    import signal
    import time

    from genplay.core import checkpoints

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "genplay", "train", "vae", "--data", str(tiny_data),
         "--epochs", "100000", "--size", "8", "--set", "base_channels=4", "--set",
         "latent_dim=4", "--set", "batch_size=8", "--out", str(out), "--threads", "1"],
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not (out / "model.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "continue with --resume" in err and "Traceback" not in err
    model, info = checkpoints.load(out)
    assert info.training["steps"] > 0


def test_replay_reproduces_a_saved_image_byte_for_byte(capsys, tiny_checkpoints, tmp_path):
    from genplay.core import checkpoints
    from genplay.core.images import save_png
    from genplay.core.ops.sampling import png_metadata, render, sample_images, sample_record

    ckpt = tiny_checkpoints / "vae-tiny"
    model, info = checkpoints.load(ckpt)
    images = list(sample_images(model, 9, 5, temperature=0.7))[-1].value
    for index in (None, 4):
        record = sample_record(checkpoint=str(ckpt), model=info.name, family=info.family,
                               checkpoint_hash=checkpoints.weights_hash(ckpt), seed=5, n=9,
                               options={"temperature": 0.7, "pixel_noise": 0.0}, index=index)
        save_png(tmp_path / "saved.png", render(images, index=index), png_metadata(record))
        (tmp_path / "saved.json").write_text(json.dumps(record))
        code, _, err = run(capsys, "sample", "--replay", tmp_path / "saved.json", "-o",
                           tmp_path / "again.png")
        assert code == 0, err
        assert (tmp_path / "again.png").read_bytes() == (tmp_path / "saved.png").read_bytes()


def test_replay_refuses_a_changed_checkpoint(capsys, tiny_checkpoints, tmp_path):
    record = {"checkpoint": str(tiny_checkpoints / "gan-tiny"), "seed": 1, "n": 2,
              "options": {}, "checkpoint_hash": "0" * 16}
    (tmp_path / "s.json").write_text(json.dumps(record))
    code, _, err = run(capsys, "sample", "--replay", tmp_path / "s.json")
    assert code == 2 and "has changed since" in err


def test_interpolate_between_a_seed_and_an_image(capsys, tiny_checkpoints, tmp_path):
    from PIL import Image

    Image.new("L", (20, 20), 200).save(tmp_path / "photo.png")
    code, _, err = run(capsys, "interpolate", tiny_checkpoints / "gan-tiny", "--from", 3,
                       "--to", tmp_path / "photo.png", "--frames", 6, "--slerp",
                       "-o", tmp_path / "strip.png", "--gif", tmp_path / "a.gif",
                       "--npz", tmp_path / "z.npz")
    assert code == 0, err
    assert load_image(tmp_path / "strip.png").shape == (8 + 4, 6 * 8 + 7 * 2)
    assert Image.open(tmp_path / "a.gif").n_frames == 10  # there and back
    import numpy as np

    assert np.load(tmp_path / "z.npz")["latents"].shape == (6, 4)


def test_interpolate_errors(capsys, tiny_checkpoints, tmp_path):
    code, _, err = run(capsys, "interpolate", tiny_checkpoints / "classifier-tiny", "--from", 1,
                       "--to", 2, "-o", tmp_path / "s.png")
    assert code == 2 and "no latent space" in err
    code, _, err = run(capsys, "interpolate", tiny_checkpoints / "vae-tiny", "--from", 1,
                       "--to", tmp_path / "none.png", "-o", tmp_path / "s.png")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "interpolate", tiny_checkpoints / "vae-tiny", "--from", 1,
                       "--to", 2, "--frames", 99, "-o", tmp_path / "s.png")
    assert code == 2 and "64" in err


def test_eval_scores_then_score_images(capsys, tiny_checkpoints, tmp_path):
    import shutil

    from PIL import Image

    ckpt = tmp_path / "vae"
    shutil.copytree(tiny_checkpoints / "vae-tiny", ckpt)
    code, _, err = run(capsys, "score", ckpt, tmp_path)
    assert code == 2 and "no reference scores" in err
    code, _, err = run(capsys, "eval", ckpt, "--scores-only", "--dry-run")
    assert code == 0 and not (ckpt / "reference_scores.npz").exists()
    code, out, err = run(capsys, "eval", ckpt, "--scores-only")
    assert code == 0, err
    metrics = json.loads((ckpt / "metrics.json").read_text())
    assert set(metrics["scores"]) == {"bpd", "complexity", "typicality", "elbo", "recon"}
    assert metrics["test_images"] == 16 and "fid" not in metrics

    pics = tmp_path / "pics"
    (pics / "sub").mkdir(parents=True)
    Image.new("L", (30, 30), 0).save(pics / "dark.png")
    Image.new("L", (12, 20), 255).save(pics / "sub" / "light.jpg")
    (pics / "broken.png").write_bytes(b"nope")
    code, out, err = run(capsys, "score", ckpt, pics, "--method", "bpd", "--fpr", "0.25",
                         "--json")
    assert code == 0, err
    report = json.loads(out)
    rows = {Path(r["file"]).name: r for r in report["rows"]}
    assert set(rows) == {"dark.png", "light.jpg", "broken.png"}
    assert rows["broken.png"]["verdict"] == "unreadable" and "broken.png" in rows[
        "broken.png"]["error"]
    for name in ("dark.png", "light.jpg"):
        row = rows[name]
        assert 0 <= row["percentile"] <= 100
        assert row["verdict"] == ("outlier" if row["score"] > report["threshold"] else "inlier")
    code, out, _ = run(capsys, "score", ckpt, pics / "dark.png", "--csv")
    assert code == 0 and out.splitlines()[0] == "file,score,percentile,verdict,error"
    # nothing readable at all is a failure, said in one line after the list
    code, out, err = run(capsys, "score", ckpt, pics / "broken.png", tmp_path / "gone.png")
    assert code == 2 and "none of the 2 files could be read" in err
    assert "broken.png" in out and "gone.png: no such file" in out


def test_a_colour_folder_end_to_end_keeps_its_pictures_as_they_are(capsys, tmp_path):
    """train on a folder of colour pictures, then sample, interpolate from and score them:
    light pictures are never inverted, as a digit model's dark-on-light drawings are."""
    import numpy as np
    from PIL import Image

    from genplay.core import checkpoints
    from genplay.core.images import prepare_for_model, to_float_chw
    from genplay.core.ops.interpolation import encode_image

    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(12):
        pixels = np.zeros((20 + i, 30, 3), np.uint8) + np.array(
            (240, 230, 120) if i % 2 else (20, 40, 140), np.uint8)
        pixels[5:15, 10:20] = (200, 20, 20)
        Image.fromarray(pixels).save(pics / f"p{i}.png")
    (pics / "broken.png").write_bytes(b"nope")
    out = tmp_path / "vae"
    sets = [a for k, v in TINY_CONFIGS["vae"].items() if k != "image_size"
            for a in ("--set", f"{k}={v}")]
    code, _, err = run(capsys, "train", "vae", "--data", pics, "--size", 32, "--channels", 3,
                       "--epochs", 1, *sets, "--out", out, "--threads", 1)
    assert code == 0, err
    assert run(capsys, "sample", out, "-n", 4, "-o", tmp_path / "grid.png")[0] == 0
    assert load_image(tmp_path / "grid.png").shape == (2 + 2 * 34, 2 + 2 * 34, 3)

    light = pics / "p1.png"
    code, _, err = run(capsys, "interpolate", out, "--from", light, "--to", 1, "--frames", 2,
                       "-o", tmp_path / "strip.png", "--npz", tmp_path / "z.npz")
    assert code == 0, err
    model, _ = checkpoints.load(out)
    as_is, _ = prepare_for_model(load_image(light), size=32, channels=3, invert=False)
    z = list(encode_image(model, to_float_chw(as_is)))[-1].value
    np.testing.assert_allclose(np.load(tmp_path / "z.npz")["latents"][0], z, atol=1e-5)

    assert run(capsys, "eval", out, "--scores-only")[0] == 0
    code, text, err = run(capsys, "score", out, pics, "--method", "recon")
    assert code == 0, err
    assert f"unreadable  {pics / 'broken.png'}: " in text and text.count("broken.png") == 1
    code, text, err = run(capsys, "score", out, pics, "--method", "recon", "--json")
    scores = [r["score"] for r in json.loads(text)["rows"] if r["score"] is not None]
    with np.load(out / "reference_scores.npz") as reference:  # the same folder, as it was
        np.testing.assert_allclose(sorted(scores), np.sort(reference["score_recon"]),
                                   rtol=1e-4)


def test_resume_continues_the_run_as_it_was_shaped(capsys, tiny_data, tmp_path):
    out = tmp_path / "vae"
    sets = ["--set", "base_channels=4", "--set", "latent_dim=4", "--set", "batch_size=8"]
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 1, "--size", 8,
                       *sets, "--out", out, "--threads", 1)
    assert code == 0, err
    # continued without the shaping options: the model, and the recipe, keep them
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 2, "--out", out,
                       "--resume", "--threads", 1)
    assert code == 0, err
    info = read_info(out)
    assert info.training["epochs"] == 2 and info.image_shape == (1, 8, 8)
    # the recipe: the first run's command as it was, then the resumed one
    first = (f"genplay train vae --data {tiny_data} --epochs 1 --size 8 --set base_channels=4 "
             "--set latent_dim=4 --set batch_size=8")
    then = (f"genplay train vae --data {tiny_data} --epochs 2 --size 8 --set base_channels=4 "
            "--set batch_size=8 --set latent_dim=4")
    assert info.recipe.startswith(first) and f"; then {then}" in info.recipe
    assert info.recipe.endswith(" --resume")
    # options that disagree with the run are refused, not silently ignored
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 3, "--size", 16,
                       "--set", "latent_dim=8", "--out", out, "--resume")
    assert code == 2 and "--size 16 (it has 8)" in err and "latent_dim 8 (it has 4)" in err
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 3, "--size", 8,
                       *sets, "--out", out, "--resume", "--threads", 1)
    assert code == 0, err  # the first command again, with --resume: fine


def test_a_run_started_from_a_checkpoint_keeps_its_recipe(capsys, tiny_data, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    sets = ["--set", "base_channels=4", "--set", "latent_dim=4", "--set", "batch_size=8"]
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 1, "--size", 8,
                       *sets, "--out", first, "--threads", 1)
    assert code == 0, err
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 1, "--init",
                       first, "--set", "lr=0.0002", "--out", second, "--threads", 1)
    assert code == 0, err
    made_first, info = read_info(first).recipe, read_info(second).recipe
    # the starting checkpoint's commands, then this run's own
    assert info.startswith(f"{made_first}; then genplay train vae ")
    assert info.endswith(f"--init {first} --set lr=0.0002 --out {second}")
    assert info.count("; then ") == 1 and read_info(second).image_shape == (1, 8, 8)


def test_eval_says_how_a_diffusion_models_samples_were_drawn(capsys, tiny_checkpoints):
    code, out_text, err = run(capsys, "eval", tiny_checkpoints / "diffusion-tiny", "--features",
                              tiny_checkpoints / "classifier-tiny", "--samples", 8, "--limit",
                              8, "--no-scores", "--dry-run")
    assert code == 0, err
    metrics = json.loads(out_text)
    assert metrics["fid_sampling"] == {"sampler": "unipc", "steps": 20}


def test_precision_and_layout_are_in_the_recipe(capsys, tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)  # whatever CI runs on
    out = tmp_path / "vae"
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 1, "--size", 8,
                       "--set", "base_channels=4", "--set", "latent_dim=4", "--precision",
                       "bf16", "--channels-last", "--out", out, "--threads", 1)
    assert code == 0, err
    info = read_info(out)
    assert "--precision bf16 --channels-last --out" in info.recipe
    assert info.training["precision"] == "bf16"
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 1,
                       "--precision", "fp16", "--out", tmp_path / "half")
    assert code == 2 and "invalid choice" in err


def test_score_needs_a_measured_method(capsys, tiny_checkpoints, tmp_path):
    import shutil

    ckpt = tmp_path / "gan"
    shutil.copytree(tiny_checkpoints / "gan-tiny", ckpt)
    code, _, err = run(capsys, "eval", ckpt, "--scores-only")
    assert code == 0, err
    assert "many steps" in json.loads((ckpt / "metrics.json").read_text())["scores_note"]


def _drawing(path: Path) -> Path:
    import numpy as np
    from PIL import Image

    pixels = np.full((64, 48), 255, np.uint8)
    pixels[10:50, 20:28] = 0  # dark stroke on light paper: inverted automatically
    Image.fromarray(pixels).save(path)
    return path


def test_sketch_writes_candidates_for_diffusion_and_latent_models(capsys, tiny_checkpoints,
                                                                   tmp_path):
    sketch = _drawing(tmp_path / "sketch.png")
    code, out, err = run(capsys, "sketch", tiny_checkpoints / "diffusion-tiny", sketch, "-n", 3,
                         "--strength", 0.6, "--steps", 5, "--class", 2, "--guidance", 1.5,
                         "-o", tmp_path / "grid.png", "--out-dir", tmp_path / "each")
    assert code == 0, err
    assert len(list((tmp_path / "each").glob("*.png"))) == 3
    meta = read_png_metadata(tmp_path / "grid.png")
    assert meta["method"] == "sdedit" and meta["strength"] == "0.6"
    code, _, err = run(capsys, "sketch", tiny_checkpoints / "vae-tiny", sketch, "-n", 2,
                       "--steps", 5, "-o", tmp_path / "vae.png")
    assert code == 0, err
    code, _, err = run(capsys, "sketch", tiny_checkpoints / "vae-tiny", sketch, "--class", 1,
                       "-o", tmp_path / "x.png")
    assert code == 2 and "diffusion" in err
    code, _, err = run(capsys, "sketch", tiny_checkpoints / "pixelcnn-tiny", sketch,
                       "-o", tmp_path / "x.png")
    assert code == 2 and "cannot make images from a sketch" in err


def test_inpaint_keeps_the_unmasked_pixels_of_the_image(capsys, tiny_checkpoints, tmp_path):
    import numpy as np
    from PIL import Image

    image = load_image(write_image_and_mask(tmp_path)[0])
    for name in ("diffusion-tiny", "pixelcnn-tiny"):
        out = tmp_path / f"{name}.png"
        code, _, err = run(capsys, "inpaint", tiny_checkpoints / name, tmp_path / "image.png",
                           "--mask", tmp_path / "mask.png", "--invert", "no", "-o", out)
        assert code == 0, err
        filled = load_image(out)
        np.testing.assert_array_equal(filled[:4], image[:4])
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "empty.png")
    code, _, err = run(capsys, "inpaint", tiny_checkpoints / "diffusion-tiny",
                       tmp_path / "image.png", "--mask", tmp_path / "empty.png", "-o", out)
    assert code == 2 and "nothing to fill" in err


def test_sample_takes_diffusion_options(capsys, tiny_checkpoints, tmp_path):
    ckpt = tiny_checkpoints / "diffusion-tiny"
    code, _, err = run(capsys, "sample", ckpt, "-n", 4, "--sampler", "ddim", "--steps", 3,
                       "--class", 1, "--guidance", 2, "-o", tmp_path / "a.png")
    assert code == 0, err
    meta = json.loads(read_png_metadata(tmp_path / "a.png")["options"])
    assert meta["sampler"] == "ddim" and meta["steps"] == 3 and meta["class"] == "1"
    code, _, err = run(capsys, "sample", ckpt, "--class", "cat", "-o", tmp_path / "b.png")
    assert code == 2 and "class must be one of" in err
    code, _, err = run(capsys, "sample", tiny_checkpoints / "vae-tiny", "--steps", 3,
                       "-o", tmp_path / "c.png")
    assert code == 2 and "not understood" in err


def test_sketch_and_inpaint_inputs_are_inverted_only_for_light_on_dark_models(tmp_path):
    from types import SimpleNamespace

    import numpy as np

    from genplay.cli.guided import _load_guide
    from genplay.core import registry
    from genplay.core.images import save_png

    pixels = np.full((12, 12, 3), 230, np.uint8)  # a light picture with a dark square
    pixels[4:8, 4:8] = 20
    path = tmp_path / "light.png"
    save_png(path, pixels)
    model = registry.build("diffusion", **{**TINY_CONFIGS["diffusion"], "channels": 3})
    as_picture = _load_guide(model, SimpleNamespace(dataset=str(tmp_path)), str(path), "auto")
    as_digit = _load_guide(model, SimpleNamespace(dataset="mnist"), str(path), "auto")
    assert as_picture[0, :, 0, 0].min() > 0.8  # kept light, as pictures are learnt
    assert as_digit[0, :, 0, 0].max() < 0.2  # inverted to light on dark, as MNIST is
    forced = _load_guide(model, SimpleNamespace(dataset=str(tmp_path)), str(path), "yes")
    assert forced[0, :, 0, 0].max() < 0.2


def test_nearest_names_the_training_images_and_never_overwrites_a_users_file(
        capsys, model_with_classifier, tmp_path):
    from PIL import Image

    from genplay.core.data import load_dataset

    train = load_dataset("mnist", "train", size=8)
    Image.fromarray(train.images[3, 0].numpy()).save(tmp_path / "copy.png")
    code, out, err = run(capsys, "nearest", model_with_classifier, tmp_path / "copy.png",
                         "-k", 2, "-o", tmp_path / "near.png")
    assert code == 0, err
    assert "a near-copy: the nearest is 0.0000" in out and "training image      3" in out
    # the image, then 2 nearest in features and 2 in pixels: 5 tiles of 8 in a row
    assert load_image(tmp_path / "near.png").shape == (8 + 2 * 2, 5 * 8 + 6 * 2)
    code, out, _ = run(capsys, "nearest", model_with_classifier, tmp_path / "copy.png", "--json")
    found = json.loads(out)
    assert found["near_copy"] and found["pixels"][0]["index"] == 3
    assert len(found["features"]) == 4 and "pixels" not in found["features"][0]
    (tmp_path / "mine.png").write_bytes((tmp_path / "copy.png").read_bytes())
    code, _, err = run(capsys, "nearest", model_with_classifier, tmp_path / "copy.png",
                       "-o", tmp_path / "mine.png")
    assert code != 0 and "not written by genplay" in err


def test_train_on_a_gpu_this_machine_lacks_says_so_and_writes_nothing(capsys, tiny_data,
                                                                     tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run(capsys, "train", "vae", "--data", tiny_data, "--epochs", 1, "--size", 8,
                       "--device", "cuda", "--out", tmp_path / "vae")
    assert code != 0 and "no CUDA GPU here: train with --device cpu" in err
    assert not (tmp_path / "vae").exists()


def test_class_fid_draws_each_class_in_its_training_share(capsys, tiny_data, tiny_checkpoints,
                                                          tmp_path):
    from genplay.core.evaluation import class_counts

    assert class_counts(np.array([0, 0, 0, 1, 2, 2]), 4, 7) == [4, 1, 2, 0]
    assert sum(class_counts(np.arange(10) % 3, 3, 10_000)) == 10_000
    out = tmp_path / "diffusion"
    code, _, err = run(capsys, "train", "diffusion", "--data", tiny_data, "--epochs", 1,
                       "--size", 8, "--set", "base_channels=8", "--set", "blocks_per_level=1",
                       "--set", "attention_heads=2", "--set", "timesteps=50",
                       "--set", "batch_size=8", "--set", "num_classes=10", "--out", out,
                       "--threads", 1)
    assert code == 0, err
    classifier = tiny_checkpoints / "classifier-tiny"
    code, _, err = run(capsys, "eval", out, "--features", classifier, "--samples", 12,
                       "--limit", 12, "--no-scores")
    assert code == 0, err
    code, out_text, err = run(capsys, "eval", out, "--features", classifier, "--samples", 20,
                              "--class-fid", 1.5)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    by_class = metrics["fid_by_class"]
    assert by_class["guidance"] == 1.5 and by_class["samples"] == 20
    assert by_class["fid"] >= 0 and by_class["kid_std"] >= 0
    labels = load_dataset(tiny_data, "train").labels.numpy()
    assert list(by_class["classes"].values()) == class_counts(labels, 10, 20)
    assert metrics["fid_samples"] == 12  # the unconditional figures are kept beside it
    # read again in another classifier's features, the class-drawn figure is stale: dropped
    stale = {**metrics, "fid_by_class": {**by_class, "feature_net_hash": "another net's"}}
    (out / "metrics.json").write_text(json.dumps(stale))
    code, _, err = run(capsys, "eval", out, "--features", classifier, "--samples", 12,
                       "--limit", 12, "--features-only")
    assert code == 0, err
    assert "fid_by_class" not in json.loads((out / "metrics.json").read_text())
    code, _, err = run(capsys, "eval", tiny_checkpoints / "vae-tiny", "--class-fid", 1)
    assert code != 0 and "draws no class with guidance" in err
