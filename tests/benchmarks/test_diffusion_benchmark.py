"""benchmarks/diffusion.py on a tiny diffusion model, a tiny feature net and tiny data."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import diffusion
from genplay.core import checkpoints, registry
from tests.conftest import TINY_CONFIGS, make_idx_dataset


@pytest.fixture
def setup(tmp_path, only_data_root):
    root = tmp_path / "data"
    make_idx_dataset(root / "mnist", n_train=40, n_test=24)
    ckpts = tmp_path / "checkpoints"
    for family in ("diffusion", "classifier", "vae"):
        model = registry.build(family, **TINY_CONFIGS[family]).eval()
        checkpoints.save(model, ckpts / f"{family}-mnist", dataset="mnist", recipe="test")
    return root, ckpts


def test_tables_and_json(setup, tmp_path, capsys):
    root, ckpts = setup
    out = tmp_path / "diffusion.json"
    result = diffusion.main([str(ckpts / "diffusion-mnist"), "--samples", "6", "--sketches", "5",
                             "--baseline", str(ckpts / "vae-mnist"), "--threads", "1",
                             "--data-root", str(root), "--json", str(out)])
    printed = capsys.readouterr().out
    # the tiny model has 50 timesteps: the "1000-step" row runs all 50
    assert [(r["sampler"], r["steps"]) for r in result["samplers"]] == [
        ("ddpm", 50), ("ddim", 5), ("ddim", 10), ("ddim", 20), ("ddim", 50), ("dpmpp", 5),
        ("dpmpp", 10), ("dpmpp", 20), ("dpmpp-sde", 5), ("dpmpp-sde", 10), ("dpmpp-sde", 20),
        ("unipc", 5), ("unipc", 10), ("unipc", 20)]
    assert all(r["seconds_per_64"] > 0 and r["fid"] >= 0 for r in result["samplers"])
    assert result["sketch_style"] == "strokes"  # digits are drawn, not outlined
    methods = [r["method"] for r in result["sketch"]]
    assert methods == ["raw sketch", "sdedit", "sdedit", "sdedit", "latent fit (vae-mnist)"]
    raw = result["sketch"][0]
    assert raw["rms_to_sketch"] == 0.0 and 0.0 <= raw["class_agreement"] <= 1.0
    assert json.loads(out.read_text())["model"] == "diffusion-mnist"
    by = {(r["sampler"], r["steps"]): r["fid"] for r in result["samplers"]}
    assert result["over_ddpm1000"]["dpmpp-sde"] == pytest.approx(
        by[("dpmpp-sde", 20)] / by[("ddpm", 50)])
    assert "dpmpp-sde 20 steps / ddpm 1000 steps FID" in printed
    assert out.with_suffix(".txt").read_text().strip() == printed.strip()


def test_rows_are_measured_again_into_the_results_of_the_same_checkpoint(setup, tmp_path):
    root, ckpts = setup
    out = tmp_path / "diffusion.json"
    common = ["--samples", "6", "--threads", "1", "--data-root", str(root), "--json", str(out)]
    first = diffusion.main([str(ckpts / "diffusion-mnist"), "--sketches", "4", *common])
    again = diffusion.main([str(ckpts / "diffusion-mnist"), "--rows", "dpmpp-sde:20",
                            "--no-sketches", *common])
    # a seeded row measured again gives the same FID; the other rows and the sketches stay
    assert [r["fid"] for r in again["samplers"]] == [r["fid"] for r in first["samplers"]]
    assert again["sketch"] == first["sketch"] and again["floor"] == first["floor"]
    assert json.loads(out.read_text())["over_ddpm1000"] == again["over_ddpm1000"]
    with pytest.raises(SystemExit, match="samples"):
        diffusion.main([str(ckpts / "diffusion-mnist"), "--rows", "dpmpp:20", "--no-sketches",
                        *common[:-2], "--json", str(out), "--samples", "5"])
    with pytest.MonkeyPatch.context() as patch:  # --peer too refuses before it measures
        patch.setattr(diffusion, "sampler_table", lambda *a, **k: pytest.fail("measured"))
        with pytest.raises(SystemExit, match="samples"):
            diffusion.main([str(ckpts / "diffusion-mnist"), "--peers", "--peer", "x",
                            *common[:-2], "--json", str(out), "--samples", "5"])


def test_sketch_styles_make_light_strokes_on_black():
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 6:22, 12:16] = 1.0  # a thick vertical bar
    strokes = diffusion.stroke_sketch(image)
    assert strokes[0, 0, :, 8].sum() == 0  # background stays black
    assert strokes[0, 0, 10:18, 13:15].mean() == 1.0  # the pen runs down the bar's middle
    assert strokes.sum() < image.sum()  # thinner than the bar
    block = torch.zeros(1, 1, 28, 28)
    block[0, 0, 6:22, 6:22] = 1.0  # a filled square
    edges = diffusion.edge_sketch(block)
    assert edges[0, 0, 14, 4:8].max() == 1.0 and edges[0, 0, 14, 14] == 0.0  # outline only


@pytest.mark.parametrize(("sampler", "peer", "other", "tolerance"), [
    ("ddim", "DDIM", "Euler", 1e-4), ("dpmpp", "DPM-Solver++ 2M", "Euler", 1e-4),
    ("unipc-bh2", "UniPC", "UniPC bh1", 1e-4),
    # diffusers' bh1 ends a step at the smallest training noise level, not at the clean
    # estimate (its own last step gives NaN), which moves the images by about 1e-3
    ("unipc", "UniPC bh1", "UniPC", 2e-3)])
def test_the_peer_adapter_reproduces_genplays_solvers_on_the_same_grid(
        sampler, peer, other, tolerance, monkeypatch):
    """diffusers' DDIM, DPM-Solver++(2M) and UniPC (both its forms), driven by the adapter
    on genplay's network, schedule and starting noise, give genplay's own images on the
    same grid: what the peer rows measure is the solver, nothing else."""
    pytest.importorskip("diffusers")
    from benchmarks import diffusion_peers
    from genplay.core.events import final_value
    from genplay.core.models import diffusion_samplers
    from genplay.core.ops.sampling import sample_images

    if sampler == "unipc-bh2":  # genplay's UniPC in the form diffusers takes by default
        sampler = "unipc"
        monkeypatch.setattr(diffusion_samplers, "UNIPC_VARIANT", "bh2")
        real = diffusion_samplers.unipc
        monkeypatch.setattr(diffusion_samplers, "unipc",
                            lambda *args, **kwargs: real(*args, **kwargs, variant="bh2"))
    torch.manual_seed(0)
    model = registry.build("diffusion", **TINY_CONFIGS["diffusion"]).eval()
    ours = final_value(sample_images(model, 5, 7, sampler=sampler, steps=5))  # trailing grid
    theirs = diffusion_peers.sample_like_genplay(
        model, diffusion_peers.find_peer(peer), "trailing", 5, 7, 5)
    assert theirs.shape == ours.shape
    assert abs(theirs - ours).mean() < tolerance and abs(theirs - ours).max() < 20 * tolerance
    other = diffusion_peers.sample_like_genplay(   # a different solver does differ
        model, diffusion_peers.find_peer(other), "linspace" if other == "Euler" else "trailing",
        5, 7, 5)
    assert abs(other - ours).mean() > 10 * tolerance


def test_few_steps_with_peers_measures_both_libraries_and_names_the_best(setup, tmp_path,
                                                                         capsys):
    pytest.importorskip("diffusers")
    from benchmarks import diffusion_peers

    root, ckpts = setup
    result = diffusion.main([str(ckpts / "diffusion-mnist"), "--samples", "4", "--few-steps",
                             "--peers", "--no-sketches", "--threads", "1",
                             "--data-root", str(root)])
    printed = capsys.readouterr().out
    assert {r["steps"] for r in result["samplers"]} == {5, 10, 20}
    assert not any(r["sampler"] == "ddpm" for r in result["samplers"])
    # the grid rows: dpmpp-sde on both grids at 10 and 20 steps, marked as not default
    grids = {(r["steps"], r["spacing"]) for r in result["samplers"]
             if r["sampler"] == "dpmpp-sde"}
    assert {(10, "trailing"), (10, "logsnr"), (20, "trailing"), (20, "logsnr")} <= grids
    assert [(r["sampler"], r["spacing"], r["steps"]) for r in result["peers"]] == [
        (p.name, s, n) for p, s in diffusion_peers.peer_rows() for n in diffusion.STEP_COUNTS]
    best = diffusion.best_by_steps(result)
    assert [b["steps"] for b in best] == [5, 10, 20]
    for b in best:
        assert b["genplay"]["fid"] == min(r["fid"] for r in result["samplers"]
                                          if r["steps"] == b["steps"])
    assert "# the best of each at each step count" in printed


def test_peer_rows_are_skipped_with_a_reason_without_diffusers(setup, monkeypatch, capsys):
    from benchmarks import diffusion_peers

    monkeypatch.setattr(diffusion_peers, "available", lambda: False)
    root, ckpts = setup
    result = diffusion.main([str(ckpts / "diffusion-mnist"), "--samples", "4", "--few-steps",
                             "--peers", "--no-sketches", "--threads", "1",
                             "--data-root", str(root)])
    assert "peers" not in result and "diffusers" in result["peers_skipped"]
    assert "diffusers' rows skipped" in capsys.readouterr().out
