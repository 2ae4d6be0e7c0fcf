"""The command line's conventions: --class by index or by name in any case, everywhere;
genplay models shows the class names; every user mistake is one line and exit code 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from genplay.cli import main
from genplay.core import registry
from genplay.core.errors import GenplayError
from genplay.core.events import Result
from genplay.core.images import read_png_metadata
from genplay.core.models.base import resolve_class
from genplay.core.ops.guided_superres import guided_upscale_steps
from genplay.core.ops.sampling import check_options
from tests.conftest import TINY_CONFIGS, write_image_and_mask

# Fashion-MNIST's names, written out so the test does not depend on where the core keeps them.
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]
DIGITS = [str(i) for i in range(10)]


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def fashion_model() -> torch.nn.Module:
    """A tiny class-conditional diffusion model with Fashion-MNIST's names and weights
    woken up (its output layers start at zero), so its answers depend on the class."""
    torch.manual_seed(0)
    model = registry.build("diffusion", **TINY_CONFIGS["diffusion"]).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1 and not parameter.any():
                parameter.normal_(0, 0.05)
    model.class_names = list(FASHION)
    return model


@pytest.fixture
def fashion_checkpoint(tiny_checkpoints, tmp_path):
    """A copy of the tiny diffusion checkpoint that says it learnt Fashion-MNIST's classes."""
    folder = tmp_path / "models" / "diffusion-fashion"
    shutil.copytree(tiny_checkpoints / "diffusion-tiny", folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(class_names=FASHION, dataset="fashion-mnist")
    (folder / "config.json").write_text(json.dumps(config))
    return folder


# --- the resolver ------------------------------------------------------------------------------
@pytest.mark.parametrize("given, meant", [
    ("Dress", "Dress"), ("3", "Dress"), (3, "Dress"), (np.int64(3), "Dress"), (" 3 ", "Dress"),
    ("sneaker", "Sneaker"), ("SNEAKER", "Sneaker"), ("t-shirt/top", "T-shirt/top"),
    ("ankle boot", "Ankle boot"), ("0", "T-shirt/top"), ("9", "Ankle boot"),
    (None, None), ("", None), ("any", None), ("ANY", None),
])
def test_a_class_is_an_index_or_a_name_in_any_case(given, meant):
    assert resolve_class(given, FASHION) == meant


def test_digit_names_are_names_first_and_agree_with_indices_on_mnist():
    assert [resolve_class(str(i), DIGITS) for i in range(10)] == DIGITS
    assert resolve_class(7, DIGITS) == "7"
    # Where a digit string is a name, the name wins over the index it would also be.
    assert resolve_class("1", ["2", "0", "1"]) == "1"
    assert resolve_class(1, ["2", "0", "1"]) == "0"


@pytest.mark.parametrize("bad", ["cat", "10", 10, -1, "-1", "3.5", True, "Sneakers"])
def test_an_unknown_class_is_one_line_naming_the_valid_ones(bad):
    with pytest.raises(ValueError) as caught:
        resolve_class(bad, FASHION)
    message = str(caught.value)
    assert "\n" not in message and "unknown class" in message
    assert "any, T-shirt/top, Trouser" in message and "Ankle boot" in message
    assert "index 0..9" in message


def test_sampler_options_keep_the_class_by_its_canonical_name():
    model = fashion_model()
    assert check_options(model, {"class": "3"})["class"] == "Dress"
    assert check_options(model, {"class": "sneaker"})["class"] == "Sneaker"
    assert check_options(model, {"class": 9})["class"] == "Ankle boot"
    assert check_options(model, {"class": "ANY"})["class"] == "any"
    assert check_options(model, {"class": " Mixed"})["class"] == "mixed"
    assert check_options(model, {})["class"] == "mixed"  # a class per image, by default
    with pytest.raises(GenplayError, match=r"unknown class 'cat'.*mixed, any, T-shirt.*0\.\.9"):
        check_options(model, {"class": "cat"})
    # Other choices still match exactly.
    with pytest.raises(GenplayError, match="sampler must be one of"):
        check_options(model, {"sampler": "DDIM"})


def test_the_model_draws_the_same_class_whichever_way_it_is_named():
    model = fashion_model()
    assert model.class_labels(2, "sneaker").tolist() == [7, 7]
    assert model.class_labels(1, "3").tolist() == [3] and model.class_labels(1, 3).tolist() == [3]
    assert model.class_labels(1, "any") is None and model.class_labels(1, None) is None

    def draw(label):
        return model.sample(1, torch.Generator().manual_seed(0), steps=2,
                            **{"class": label, "guidance": 2.0})

    assert torch.equal(draw("ankle boot"), draw("Ankle boot"))
    assert torch.equal(draw("ankle boot"), draw("9"))
    assert not torch.equal(draw("ankle boot"), draw("Dress"))
    with pytest.raises(ValueError, match="unknown class"):
        model.class_labels(1, 10)


def test_mixed_draws_a_class_per_image_from_the_seed_and_keeps_a_chunks_first_images():
    from genplay.core.ops.sampling import sample_images, unconditional

    model = fashion_model()
    labels = model.class_labels(64, "mixed", torch.Generator().manual_seed(3))
    assert labels.shape == (64,) and labels.min() >= 0 and labels.max() <= 9
    assert len(set(labels.tolist())) >= 6  # about every class among 64 draws
    assert torch.equal(labels, model.class_labels(64, "MIXED", torch.Generator().manual_seed(3)))
    seen = []
    real = model.denoiser
    model.denoiser = lambda labels=None, *a, **k: (seen.append(labels), real(labels, *a, **k))[1]

    def draw(n):
        return list(sample_images(model, n, 5, steps=2, guidance=2.0))[-1].value

    five, two = draw(5), draw(2)  # the same seed: 2 are the first 2 of the 5, classes too
    assert seen[0].shape == (5,) and torch.equal(seen[1], seen[0][:2])
    np.testing.assert_array_equal(two, five[:2])
    assert len(set(seen[0].tolist())) > 1
    # what genplay eval measures FID on: no class, where the model has that
    assert unconditional(model) == {"class": "any"}
    assert unconditional(registry.build("vae", **TINY_CONFIGS["vae"])) == {}
    seen.clear()
    list(sample_images(model, 2, 5, steps=2, **unconditional(model)))
    assert seen == [None]


def test_guided_upscaling_takes_a_class_the_same_ways():
    model = fashion_model()
    lowres = torch.zeros(1, 1, 4, 4)
    lowres[0, 0, 1:3, 1:3] = 1.0

    def candidates(label):
        events = guided_upscale_steps(model, lowres, 2, n=1, steps=2, eta=0.0, guidance=2.0,
                                      **{"class": label})
        return [e for e in events if isinstance(e, Result)][-1].value

    assert torch.equal(candidates("sneaker"), candidates("7"))
    assert not torch.equal(candidates("sneaker"), candidates("Dress"))
    with pytest.raises(GenplayError, match="unknown class 'boot'.*Ankle boot"):
        list(guided_upscale_steps(model, lowres, 2, n=1, steps=2, **{"class": "boot"}))
    with pytest.raises(GenplayError, match="one class, or none"):  # one picture, one class
        list(guided_upscale_steps(model, lowres, 2, n=2, steps=2, **{"class": "mixed"}))


# --- the commands that take --class --------------------------------------------------------------
def test_sample_takes_an_index_or_a_name_in_any_case(capsys, fashion_checkpoint, tmp_path):
    for given, meant in (("3", "Dress"), ("sneaker", "Sneaker"), ("ankle boot", "Ankle boot"),
                         ("any", "any")):
        out = tmp_path / f"{meant}.png"
        code, _, err = run(capsys, "sample", fashion_checkpoint, "-n", 1, "--class", given,
                           "--steps", 2, "-o", out)
        assert code == 0, err
        assert json.loads(read_png_metadata(out)["options"])["class"] == meant
    code, _, err = run(capsys, "sample", fashion_checkpoint, "--class", "cat", "--steps", 2,
                       "-o", tmp_path / "x.png")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("genplay sample: error: unknown class 'cat'")
    assert "Ankle boot" in err and "index 0..9" in err


def test_sketch_and_inpaint_take_a_class_by_name_or_index(capsys, fashion_checkpoint, tmp_path):
    write_image_and_mask(tmp_path)
    code, _, err = run(capsys, "sketch", fashion_checkpoint, tmp_path / "image.png", "-n", 1,
                       "--steps", 2, "--class", "SNEAKER", "-o", tmp_path / "s.png")
    assert code == 0, err
    assert json.loads(read_png_metadata(tmp_path / "s.png")["options"])["class"] == "Sneaker"
    code, _, err = run(capsys, "inpaint", fashion_checkpoint, tmp_path / "image.png", "--mask",
                       tmp_path / "mask.png", "--steps", 2, "--class", 8, "-o", tmp_path / "i.png")
    assert code == 0, err
    assert json.loads(read_png_metadata(tmp_path / "i.png")["options"])["class"] == "Bag"
    for command in (["sketch", fashion_checkpoint, tmp_path / "image.png"],
                    ["inpaint", fashion_checkpoint, tmp_path / "image.png", "--mask",
                     tmp_path / "mask.png"]):
        code, _, err = run(capsys, *command, "--class", 10, "-o", tmp_path / "x.png")
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert f"genplay {command[0]}: error: unknown class '10'" in err


# --- genplay models ------------------------------------------------------------------------------
def test_models_lists_class_names_where_a_checkpoint_has_them(capsys, fashion_checkpoint):
    folder = fashion_checkpoint.parent
    plain = folder / "diffusion-plain"
    shutil.copytree(fashion_checkpoint, plain)
    config = json.loads((plain / "config.json").read_text())
    (plain / "config.json").write_text(json.dumps({**config, "class_names": None}))
    code, out, _ = run(capsys, "models", "--dir", folder)
    assert code == 0
    lines = out.splitlines()
    classes = [i for i, line in enumerate(lines) if line.strip().startswith("classes:")]
    assert len(classes) == 1
    assert lines[classes[0]].split("classes:")[1].strip() == ", ".join(FASHION)
    assert "diffusion-fashion" in lines[classes[0] - 2]  # under its row and its "can:" line
    code, out, _ = run(capsys, "models", "--dir", folder, "--json")
    rows = {r["name"]: r for r in json.loads(out)["checkpoints"]}
    assert rows["diffusion-fashion"]["class_names"] == FASHION
    assert "class_names" in rows["diffusion-plain"]
    assert rows["diffusion-plain"]["class_names"] is None


# --- one line for every mistake ------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    (["sample", "{ckpt}", "-n", "x"],
     "genplay sample: error: argument -n: invalid int value: 'x' (see genplay sample --help)"),
    (["sample", "{ckpt}", "--bogus", "1", "-o", "x.png"],
     "genplay sample: error: unrecognized arguments: --bogus 1 (see genplay sample --help)"),
    (["smaple"], "genplay: error: argument COMMAND: invalid choice: 'smaple'"),
    (["sketch", "{ckpt}", "a.png", "--sampler", "fast"],
     "genplay sketch: error: argument --sampler: invalid choice: 'fast'"),
    (["inpaint", "{ckpt}", "a.png"],
     "genplay inpaint: error: the following arguments are required: --mask"),
    (["upscale", "a.png", "--scale", "5"],
     "genplay upscale: error: argument --scale: invalid choice: 5"),
    (["upscale", "a.png", "--scale", "2", "--reference", "b.png", "--simulate"],
     "genplay upscale: error: argument --simulate: not allowed with argument --reference"),
    (["models", "--jsn"], "genplay models: error: unrecognized arguments: --jsn"),
])
def test_a_command_line_mistake_is_one_line_and_exit_code_2(capsys, tmp_path, args, expected):
    code, out, err = run(capsys, *[a.format(ckpt=tmp_path) for a in args])
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.endswith("\n")
    assert err.startswith(expected)
    command = expected.split(":")[0]
    assert err.rstrip().endswith(f"(see {command} --help)")


def test_help_and_version_still_print_in_full_and_exit_0(capsys):
    code, out, err = run(capsys, "sample", "--help")
    assert code == 0 and err == ""
    assert out.startswith("usage: genplay sample") and "--class" in out and "any case" in out
    assert len(out.splitlines()) > 10
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "sample" in out and "upscale" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("genplay ")


def test_errors_from_a_command_keep_their_one_line_form(capsys, tmp_path):
    code, out, err = run(capsys, "sample", tmp_path / "missing", "-o", tmp_path / "x.png")
    assert code == 2 and out == ""
    assert err.startswith("genplay sample: error: ") and "no such checkpoint folder" in err
    assert len(err.splitlines()) == 1
