"""benchmarks/sketch_conditioning.py's ControlNet-style branch: switched off at the start,
the base frozen, and a sketch that reaches the output once the branch has learnt."""

from __future__ import annotations

import torch

from benchmarks.sketch_conditioning import ControlledUNet
from genplay.core import registry
from tests.conftest import TINY_CONFIGS


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
