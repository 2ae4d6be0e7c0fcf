"""benchmarks/superres.py on tiny SR networks, a tiny diffusion model and tiny data."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from benchmarks import superres
from genplay.core import checkpoints, data, datasets, registry
from tests.conftest import TINY_CONFIGS, make_idx_dataset

HAVE_SKIMAGE = importlib.util.find_spec("skimage") is not None


def _tiny_net(channels: int, seed: int):
    """A tiny SR network that is NOT bicubic: its tails start at zero (an untrained net is
    exactly bicubic), so they get random weights, and a row equal to bicubic's would
    mean the network was never run."""
    model = registry.build("superres", **{**TINY_CONFIGS["superres"], "channels": channels})
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tail in model.tails.values():
            weight = tail.to_pixels.weight
            weight.copy_(0.05 * torch.randn(weight.shape, generator=generator))
    return model.eval()


@pytest.fixture
def setup(tmp_path, only_data_root):
    root = tmp_path / "data"
    make_idx_dataset(root / "mnist", n_train=4, n_test=10, seed=0)
    make_idx_dataset(root / "fashion-mnist", n_train=4, n_test=10, seed=1)
    ckpts = tmp_path / "checkpoints"
    checkpoints.save(_tiny_net(1, 0), ckpts / "superres-mnist", dataset="mnist", recipe="test")
    checkpoints.save(_tiny_net(3, 1), ckpts / "superres-photo", dataset="photos", recipe="test")
    diffusion = registry.build("diffusion", **TINY_CONFIGS["diffusion"]).eval()
    checkpoints.save(diffusion, ckpts / "diffusion-mnist", dataset="mnist", recipe="test")
    # no superres-fashion-mnist and no diffusion-fashion-mnist in the folder
    return root, ckpts


def _finite(*values) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) for v in values)


def test_rows_json_and_targets(setup, tmp_path, capsys):
    root, ckpts = setup
    out = tmp_path / "superres.json"
    # fashion-mnist borrows the mnist network by path; its diffusion model is missing
    argv = ["--dir", str(ckpts), "--net-fashion", str(ckpts / "superres-mnist"),
            "--data-root", str(root), "--limit", "8", "--guided-images", "3",
            "--candidates", "2", "--guided-steps", "2", "--speed-side", "32",
            "--repeats", "1", "--threads", "1", "--json", str(out)]
    if not HAVE_SKIMAGE:
        argv += ["--skip", "photos"]
    result = superres.main(argv)
    printed = capsys.readouterr().out

    domain = {(r["data"], r["scale"], r["subset"], r["method"]): r
              for r in result["quality"] if r["part"] == "domain"}
    expected = {(d, s, "all", m) for d in ("fashion-mnist", "mnist") for s in (2, 4)
                for m in ("bicubic", "net")}
    expected |= {("mnist", s, "guided", m) for s in (2, 4)
                 for m in ("bicubic", "net", "guided-candidate-0", "guided-mean")}
    assert set(domain) == expected
    for r in domain.values():
        assert _finite(r["psnr"], r["ssim"], r["psnr_gain"], r["ssim_gain"]), r
        assert r["images"] == (8 if r["subset"] == "all" else 3)
        if r["method"] == "bicubic":
            assert r["psnr_gain"] == 0.0
    # the network really ran: its figures differ from bicubic's on the same images
    assert domain[("mnist", 4, "all", "net")]["psnr_gain"] != 0.0
    # the guided subset is at the diffusion model's image size, 8: x4 is 2 -> 8
    assert domain[("mnist", 4, "guided", "guided-mean")]["size"] == 8
    assert domain[("mnist", 4, "all", "net")]["size"] == 28

    guided_speed = [r for r in result["speed"] if r["method"] == "guided"]
    assert [(r["scale"], r["images"], r["steps"]) for r in guided_speed] == [(2, 3, 2),
                                                                            (4, 3, 2)]
    per_mp = [r for r in result["speed"] if r["method"] != "guided"]
    assert {(r["method"], r["channels"], r["checkpoint"]) for r in per_mp} == {
        ("bicubic", 1, None), ("bicubic", 3, None), ("net", 1, "superres-mnist"),
        ("net", 3, "superres-photo")}
    assert all(r["input_size"] == [32, 24] for r in per_mp)
    assert all(_finite(r["seconds_per_megapixel"]) and r["seconds_per_megapixel"] > 0
               for r in per_mp)
    assert all(_finite(r["seconds_per_image"]) and r["seconds_per_image"] > 0
               for r in guided_speed)

    photos = [r for r in result["quality"] if r["part"] == "photo"]
    if HAVE_SKIMAGE:
        names = [Path(f).stem for f in data.PHOTOS_TEST] + ["mean"]
        assert {(r["data"], r["scale"], r["method"]) for r in photos} == {
            (n, s, m) for n in names for s in (2, 4) for m in ("bicubic", "net")}
        assert all(_finite(r["psnr"], r["ssim"], r["psnr_gain"]) for r in photos)
        mean = next(r for r in photos if r["data"] == "mean" and r["scale"] == 2
                    and r["method"] == "net")
        gains = [r["psnr_gain"] for r in photos if r["scale"] == 2 and r["method"] == "net"
                 and r["data"] != "mean"]
        assert mean["psnr_gain"] == pytest.approx(sum(gains) / len(gains))
    else:
        assert photos == []

    # targets judged from the rows: the borrowed network's x4 gain on fashion-mnist
    x4 = result["targets"][0]
    gain = domain[("fashion-mnist", 4, "all", "net")]["psnr_gain"]
    assert x4["measured"] == gain and x4["passed"] == (gain >= superres.TARGET_GAIN_X4)
    assert ("PASS" if x4["passed"] else "FAIL") + " SR network x4 on Fashion-MNIST" in printed
    photo_targets = result["targets"][1:]
    assert [t["passed"] is None for t in photo_targets] == [not HAVE_SKIMAGE] * 2

    notes = "\n".join(result["notes"])
    assert "diffusion-fashion-mnist: no checkpoint" in notes
    assert ("superres-fashion-mnist: " in notes
            and "trained on 'mnist', not 'fashion-mnist'" in notes)
    assert set(result["checkpoints"]) == {"superres-fashion-mnist", "superres-mnist",
                                          "diffusion-mnist", "superres-photo"}
    assert result["threads"] == 1 and result["torch"] == torch.__version__

    saved = json.loads(out.read_text())
    assert len(saved["quality"]) == len(result["quality"])
    assert out.with_suffix(".txt").read_text().strip() == printed.strip()
    assert "| mnist test (7 -> 28) | x4 | 8 | SR network | superres-mnist |" in printed


def test_missing_everything_is_skipped_with_notes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(datasets, "search_places", lambda name, root=None: [tmp_path / "none"])
    result = superres.main(["--dir", str(tmp_path / "empty"), "--skip", "speed",
                            "--threads", "1"])
    assert result["quality"] == [] and result["speed"] == []
    assert all(t["passed"] is None for t in result["targets"])
    notes = "\n".join(result["notes"])
    assert "fashion-mnist: no test split" in notes and "mnist: no test split" in notes
    assert "superres-photo: no checkpoint" in notes
    printed = capsys.readouterr().out
    assert "n/a  SR network x4 on Fashion-MNIST" in printed and "not measured" in printed


def test_targets_judge_the_rows():
    def net(gain, scale=4, part="domain", name="fashion-mnist"):
        return {"part": part, "data": name, "scale": scale, "method": "net", "subset": "all",
                "psnr_gain": gain, "images": 10}

    rows = [net(3.01), net(0.2, 2, "photo", "a"), net(0.1, 2, "photo", "b"),
            net(-0.01, 4, "photo", "a"), net(0.5, 4, "photo", "b"),
            net(9.0, 4, "photo", "mean")]  # the mean row is not a photo
    verdicts = [t["passed"] for t in superres.targets(rows)]
    assert verdicts == [True, True, False]
    assert superres.targets([net(2.99)])[0]["passed"] is False
