"""Training on several processes (core.distributed) on this machine's CPU, gloo, two
processes: a step split over them is the step one process takes on the whole batch, a
resumed run continues the curve of an uninterrupted one, and the command line starts the
processes itself."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp

from genplay.core import checkpoints, distributed
from tests.conftest import TINY_CONFIGS
from tests.core import distributed_workers as workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_world_comes_from_torchruns_environment():
    assert distributed.world_from_env({}) == distributed.World(0, 1, 0)
    world = distributed.world_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert world == distributed.World(3, 4, 1) and not world.main and not world.alone
    assert distributed.world_from_env({"RANK": "5", "WORLD_SIZE": "4"}).alone  # nonsense
    assert distributed.world_from_env({"WORLD_SIZE": "x"}).alone
    seeds = {distributed.step_seed(0, step, rank) for step in range(50) for rank in range(4)}
    assert len(seeds) == 200  # no two processes, no two steps draw alike


FAMILIES = ("vae", "diffusion", "gan")  # one optimiser; clipping; two optimisers, R1, BN
BATCH = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(5))


@pytest.fixture(scope="module")
def split_steps(tmp_path_factory):
    """What two processes find after one step of each family, each on half of BATCH."""
    out = tmp_path_factory.mktemp("split") / "rank0.pt"
    configs = {family: dict(TINY_CONFIGS[family]) for family in FAMILIES}
    mp.spawn(workers.step_worker, args=(2, free_port(), configs, BATCH, str(out)), nprocs=2,
             join=True)
    return torch.load(out, weights_only=True)


SPAWNS = pytest.mark.slow  # starts two processes that import torch: run by .ci/run


@SPAWNS
@pytest.mark.parametrize("family", FAMILIES)
def test_a_step_split_over_two_processes_is_the_step_of_one_on_the_whole_batch(
        family, split_steps):
    alone = workers.one_step(family, dict(TINY_CONFIGS[family]), 0, 1, BATCH)
    split = split_steps[family]
    assert split.keys() == alone.keys() and any(k.startswith("grad:") for k in alone)
    for key, value in alone.items():
        if key.startswith("grad:"):  # the gradients agree to float rounding
            torch.testing.assert_close(split[key], value, rtol=1e-4, atol=1e-5, msg=key)
            continue
        # Adam's first step moves a weight by about its learning rate whatever the size of
        # its gradient, so where the gradient is about zero (a bias before a norm layer:
        # 1e-9, all of it rounding) the two runs move it by unrelated amounts. The weights
        # are compared where the gradient stands clear of rounding.
        grad = alone.get("grad:" + key.removeprefix("weight:"))
        clear = grad.abs() > 1e-5 if grad is not None else torch.ones_like(value, dtype=bool)
        torch.testing.assert_close(split[key][clear], value[clear], rtol=1e-4, atol=5e-4,
                                   msg=key)


def test_the_same_step_without_averaging_would_differ():
    """The comparison above can fail: half a batch alone gives other gradients."""
    config = dict(TINY_CONFIGS["vae"])
    whole = workers.one_step("vae", config, 0, 1, BATCH)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(distributed, "GradientAverage", lambda *a, **k: None)
        half = workers.one_step("vae", config, 0, 2, BATCH)  # no group: rank 0's half
    assert not all(torch.allclose(half[k], whole[k]) for k in whole if k.startswith("grad:"))


def _run(tmp_path, tiny_data, name, epochs, world, resume=False, stop_at=None):
    kwargs = {"family": "vae", "data": str(tiny_data), "out": str(tmp_path / name),
              "epochs": epochs, "size": 8, "resume": resume, "preview_every": 0,
              "overrides": {k: v for k, v in TINY_CONFIGS["vae"].items()
                            if k != "image_size"}}
    if world == 1:
        from genplay.core.train import TrainSettings, train

        for _ in train(TrainSettings(**{**kwargs, "out": tmp_path / name})):
            pass
    else:
        mp.spawn(workers.train_worker, args=(world, free_port(), kwargs, stop_at),
                 nprocs=world, join=True)
    return checkpoints.load(tmp_path / name)


@SPAWNS
def test_a_resumed_two_process_run_continues_the_uninterrupted_curve(tmp_path, tiny_data):
    whole, whole_info = _run(tmp_path, tiny_data, "whole", 2, 2)
    # stopped part-way by one process (a Ctrl-C there): all stop at one step, saved
    _run(tmp_path, tiny_data, "halves", 2, 2, stop_at=3)
    stopped = checkpoints.read_info(tmp_path / "halves").training["steps"]
    assert 3 <= stopped < whole_info.training["steps"]
    halves, halves_info = _run(tmp_path, tiny_data, "halves", 2, 2, resume=True)
    assert whole_info.training["processes"] == 2
    assert halves_info.training["steps"] == whole_info.training["steps"]
    for key, value in whole.state_dict().items():
        torch.testing.assert_close(halves.state_dict()[key], value, msg=key)
    assert halves_info.training["val"] == pytest.approx(whole_info.training["val"])
    # and on one process it goes on from there (the batch stays the same overall)
    more, more_info = _run(tmp_path, tiny_data, "halves", 3, 1, resume=True)
    assert more_info.training["steps"] > halves_info.training["steps"]
    assert "processes" not in more_info.training or more_info.training["processes"] == 1


@SPAWNS
def test_sharded_scoring_gives_the_rows_of_one_process_in_input_order(
        tmp_path, tiny_checkpoints):
    import json
    import shutil

    import numpy as np
    from PIL import Image

    from genplay.cli import main as cli

    model = tmp_path / "pixelcnn"
    shutil.copytree(tiny_checkpoints / "pixelcnn-tiny", model)
    assert cli(["eval", str(model), "--scores-only"]) == 0
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "3b.png").write_bytes(b"not an image")  # a row of its own, in its place
    argv = ["score", str(model), str(folder), "--method", "bpd", "--json"]
    out = tmp_path / "stdout"
    mp.spawn(workers.score_worker, args=(2, free_port(), argv, str(out)), nprocs=2, join=True)
    sharded = json.loads((tmp_path / "stdout-0").read_text(encoding="utf-8"))
    assert (tmp_path / "stdout-1").read_text(encoding="utf-8") == ""  # rank 0 writes
    single = tmp_path / "single.json"
    with open(single, "w", encoding="utf-8") as fh:
        import contextlib

        with contextlib.redirect_stdout(fh):
            assert cli(argv) == 0
    alone = json.loads(single.read_text(encoding="utf-8"))
    assert [r["file"] for r in sharded["rows"]] == [r["file"] for r in alone["rows"]]
    assert [r["file"].rsplit("/", 1)[1] for r in alone["rows"]] == [
        "0.png", "1.png", "2.png", "3.png", "3b.png", "4.png"]
    for mine, theirs in zip(sharded["rows"], alone["rows"]):
        assert mine["verdict"] == theirs["verdict"]
        if theirs["score"] is None:
            assert mine["score"] is None
        else:
            assert mine["score"] == pytest.approx(theirs["score"], rel=1e-6)
