"""benchmarks/class_agreement.py: each class asked of a class-conditional model, read back
by the dataset's classifier, per guidance scale."""

from __future__ import annotations

import torch

from benchmarks import class_agreement
from genplay.core import checkpoints, registry
from tests.conftest import TINY_CONFIGS


def test_every_class_is_asked_and_read_back(tmp_path, capsys):
    names = [str(i) for i in range(10)]
    torch.manual_seed(0)
    model = registry.build("diffusion", **{**TINY_CONFIGS["diffusion"], "num_classes": 10})
    checkpoints.save(model.eval(), tmp_path / "diffusion-mnist", dataset="mnist",
                     recipe="test", class_names=names)
    net = registry.build("classifier", **TINY_CONFIGS["classifier"]).eval()
    checkpoints.save(net, tmp_path / "classifier-mnist", dataset="mnist", recipe="test",
                     class_names=names)
    result = class_agreement.main([str(tmp_path / "diffusion-mnist"), "--n", "3",
                                   "--steps", "2", "--guidance", "0", "2"])
    assert [r["class"] for r in result["rows"]] == names * 2
    assert all(0 <= r["agreement"] <= 1 for r in result["rows"])
    judged = [r["classifier_accuracy"] for r in result["rows"][:10]]  # on the test split
    assert all(a is None or 0 <= a <= 1 for a in judged) and any(a is not None for a in judged)
    assert 0 <= result["classifier_balanced_accuracy"] <= 1
    assert set(result["overall"]) == {"0.0", "2.0"}
    assert "| 2 | 7 |" in capsys.readouterr().out
