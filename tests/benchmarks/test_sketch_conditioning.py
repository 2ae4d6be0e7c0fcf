"""benchmarks/sketch_conditioning.py's ControlNet-style branch: switched off at the start,
the base frozen, and a sketch that reaches the output once the branch has learnt."""

from __future__ import annotations

import torch

from benchmarks import sketch_conditioning
from benchmarks.sketch_conditioning import ControlledUNet
from genplay.core import checkpoints, registry
from tests.conftest import TINY_CONFIGS, make_idx_dataset


def _base():
    torch.manual_seed(0)
    model = registry.build("diffusion", **TINY_CONFIGS["diffusion"]).eval()
    with torch.no_grad():  # the head starts at zero: give it weights so outputs differ
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.05)
    return model.net


def test_the_branch_starts_switched_off_and_trains_alone():
    base = _base()
    net = ControlledUNet(base, 1)
    x, t = torch.randn(4, 1, 8, 8), torch.randint(0, 100, (4,))
    sketch = torch.rand(4, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        plain = base(x, t)
        assert torch.allclose(net(x, t, None, sketch), plain, atol=1e-6)
    frozen = {k: v.clone() for k, v in base.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        loss = (net(x, t, None, sketch) - sketch).pow(2).mean()
        loss.backward()
        optimizer.step()
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in frozen.items())
    with torch.no_grad():
        followed = net(x, t, None, sketch)
        assert not torch.allclose(followed, plain, atol=1e-4)  # the sketch reaches the output
        # no sketch (all zeros, as dropout and sketch guidance give it): the base model
        assert torch.allclose(net(x, t, None, torch.zeros_like(sketch)), plain, atol=1e-6)


def test_both_ways_train_for_their_budget_and_are_measured(tmp_path, only_data_root, capsys):
    root = tmp_path / "data"
    make_idx_dataset(root / "mnist", n_train=24, n_test=8)
    torch.manual_seed(0)
    for family in ("diffusion", "classifier"):
        model = registry.build(family, **TINY_CONFIGS[family]).eval()
        checkpoints.save(model, tmp_path / family, dataset="mnist", recipe="test")
    result = sketch_conditioning.main([
        "--data", "mnist", "--base", str(tmp_path / "diffusion"), "--classifier",
        str(tmp_path / "classifier"), "--data-root", str(root), "--cpu-minutes", "0.01",
        "--n", "4", "--steps", "2"])
    assert set(result["ways"]) == {"concat", "control"}
    concat, control = result["ways"]["concat"], result["ways"]["control"]
    assert concat["steps"] >= 1 and control["steps"] >= 1
    assert control["trainable"] < concat["trainable"]  # the frozen base is not trained
    for row in (concat, control):
        assert 0 <= row["agreement"] <= 1 and 0 <= row["edge_f1_exact"] <= row["edge_f1"] <= 1
    assert "control" in capsys.readouterr().out
