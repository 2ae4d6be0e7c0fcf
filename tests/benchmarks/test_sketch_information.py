"""benchmarks/sketch_information.py: a classifier trained on sketches reads each style's
sketches of the test images, beside the feature classifier on the real images."""

from __future__ import annotations

import torch

from benchmarks import sketch_information
from genplay.core import checkpoints, registry, sketches
from tests.conftest import TINY_CONFIGS, make_idx_dataset


def test_it_reads_every_style_and_the_real_images(tmp_path, only_data_root, capsys):
    root = tmp_path / "data"
    make_idx_dataset(root / "mnist", n_train=24, n_test=8)
    torch.manual_seed(0)
    model = registry.build("classifier", **TINY_CONFIGS["classifier"]).eval()
    checkpoints.save(model, tmp_path / "classifier", dataset="mnist", recipe="test")
    result = sketch_information.main([
        "--data", "mnist", "--classifier", str(tmp_path / "classifier"), "--data-root",
        str(root), "--epochs", "1", "--n", "8", "--styles", "strokes,outline"])
    assert list(result["sketch_accuracy"]) == [sketches.HELD_OUT, "strokes", "outline"]
    assert all(0 <= v <= 1 for v in result["sketch_accuracy"].values())
    assert 0 <= result["real_accuracy"] <= 1 and result["steps"] >= 1
    assert "held out of training" in capsys.readouterr().out
