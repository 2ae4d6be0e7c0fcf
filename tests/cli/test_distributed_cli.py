"""`genplay train --nproc 2`: torchrun starts two processes on this machine's CPU; a killed
process ends the run and leaves the last whole checkpoint (slow: starts three Pythons)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genplay.core import checkpoints

pytestmark = pytest.mark.slow
SETS = ["--size", "8", "--set", "base_channels=4", "--set", "latent_dim=4",
        "--set", "batch_size=8"]


def genplay(*args: str) -> list[str]:
    return [sys.executable, "-m", "genplay", *args]


def test_two_processes_train_a_model_one_would(tmp_path, tiny_data):
    out = tmp_path / "vae"
    done = subprocess.run(genplay("train", "vae", "--data", str(tiny_data), "--epochs", "2",
                                  *SETS, "--out", str(out), "--nproc", "2"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "starting 2 processes with torchrun" in done.stderr
    _model, info = checkpoints.load(out)
    assert info.training["processes"] == 2 and info.training["epochs"] == 2
    assert info.recipe.endswith(f"--nproc 2 --out {out}")


def _workers_of(out: Path) -> dict[int, int]:
    """{local rank: pid} of the training processes writing to out."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(out).encode() in command and b"torch.distributed.run" not in command:
            for item in environ:
                if item.startswith(b"LOCAL_RANK="):
                    found[int(item.split(b"=")[1])] = int(entry.name)
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_killed_process_ends_the_run_and_the_checkpoint_stays_whole(tmp_path, tiny_data):
    out = tmp_path / "vae"
    run = subprocess.Popen(genplay("train", "vae", "--data", str(tiny_data), "--minutes", "5",
                                   *SETS, "--out", str(out), "--nproc", "2"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / checkpoints.CONFIG_FILE).exists():  # the first epoch's save
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        workers = _workers_of(out)
        assert set(workers) == {0, 1}
        os.kill(workers[1], signal.SIGKILL)
        code = run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert code != 0  # the run ended: it does not train on with one process gone
    model, info = checkpoints.load(out)  # and what it saved last is whole
    assert info.training["steps"] > 0 and model is not None
