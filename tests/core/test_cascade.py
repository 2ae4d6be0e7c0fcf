"""A cascade: a model's samples enlarged by the upscaler of its dataset (sample at 32, see
64), in the op, the record that redraws them, and genplay sample --upscale / --replay."""

import json

import numpy as np
import pytest

from genplay.cli import main
from genplay.core import checkpoints
from genplay.core.events import Result
from genplay.core.images import load_image, read_png_metadata
from genplay.core.ops.reproduce import record_from_text
from genplay.core.ops.sampling import cascade_upscaler, sample_images, sample_with


def test_the_upscaler_beside_a_model_is_found_when_its_size_is_a_scale_of_the_models(
        model_with_upscaler, tiny_checkpoints):
    up = cascade_upscaler(model_with_upscaler)
    assert up is not None and up["name"] == "superres-mnist"
    assert (up["scale"], up["size"]) == (2, 16) and len(up["checkpoint_hash"]) == 16
    assert cascade_upscaler(model_with_upscaler.parent / "superres-mnist") is None  # itself
    assert cascade_upscaler(tiny_checkpoints / "vae-tiny") is None  # no superres-<its data>


def test_samples_are_enlarged_and_the_models_own_are_kept(model_with_upscaler):
    model, _ = checkpoints.load(model_with_upscaler)
    up = cascade_upscaler(model_with_upscaler)
    events = list(sample_with(model, 5, 3, {}, up))
    result = events[-1]
    assert isinstance(result, Result) and result.value.shape == (5, 1, 16, 16)
    plain = [e for e in sample_images(model, 5, 3) if isinstance(e, Result)][0].value
    assert np.array_equal(result.summary["base"], plain)
    assert result.value.min() >= 0 and result.value.max() <= 1
    assert any("enlarging x2 with superres-mnist" in getattr(e, "message", "") for e in events)


def test_sample_upscale_writes_big_tiles_and_replay_draws_them_again(
        capsys, model_with_upscaler, tiny_checkpoints, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", str(model_with_upscaler), "-n", "4", "--nrow", "4", "--upscale",
                 "-o", str(out)]) == 0
    assert load_image(out).shape == (16 + 2 * 2, 4 * 16 + 5 * 2)
    record = record_from_text(read_png_metadata(out))
    assert record["upscale"]["name"] == "superres-mnist" and record["upscale"]["scale"] == 2
    sidecar = tmp_path / "grid.json"
    sidecar.write_text(json.dumps({**record, "checkpoint": str(model_with_upscaler)}))
    assert main(["sample", "--replay", str(sidecar), "-o", str(tmp_path / "again.png")]) == 0
    assert np.array_equal(load_image(tmp_path / "again.png"), load_image(out))
    capsys.readouterr()
    code = main(["sample", str(tiny_checkpoints / "vae-tiny"), "-n", "2", "--upscale",
                 "-o", str(tmp_path / "no.png")])
    assert code != 0 and "no upscaler for vae-tiny" in capsys.readouterr().err
    assert not (tmp_path / "no.png").exists()


@pytest.mark.parametrize("bad", ['"x"', "[1]"])
def test_a_record_whose_upscale_is_not_a_mapping_is_no_record(bad):
    text = {"model": "m", "seed": "0", "n": "1", "options": "{}", "upscale": bad}
    assert record_from_text(text) is None
