"""Training run folders under faults: a run killed at every write of its saves, two runs
on one folder, a damaged trainer state, a folder of the user's own files.

A kill is modelled in-process by an exception (BaseException, so no cleanup of the
training loop runs) raised at the k-th rename of the run, and once for real: a child
`genplay train` killed with SIGKILL in the middle of a save."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genplay.core import checkpoints
from genplay.core.errors import CheckpointError, GenplayError
from genplay.core.runlock import LOCK_FILE, RunLock
from genplay.core.train import TrainSettings, train
from tests.conftest import TINY_CONFIGS


class Killed(BaseException):
    """The process dying at this point: nothing after it runs."""


def settings(data: Path, out: Path, **kw) -> TrainSettings:
    config = TINY_CONFIGS["vae"]
    values = dict(family="vae", data=str(data), out=out, epochs=2, size=config["image_size"],
                  overrides={k: v for k, v in config.items() if k != "image_size"},
                  preview_every=0, validate_every_s=0.0)
    return TrainSettings(**{**values, **kw})


def run_to_end(s: TrainSettings) -> list:
    return list(train(s))


def renames_of_a_whole_run(tiny_data, tmp_path) -> int:
    count = 0
    real = os.replace

    def counting(*args, **kwargs):
        nonlocal count
        count += 1
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", counting)
        run_to_end(settings(tiny_data, tmp_path / "count"))
    return count


def dead_pid() -> int:
    """The process id of a process that has ended."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)


def usable(s: TrainSettings) -> str:
    """How the folder can be used after a kill: 'loads and resumes' or 'restarts'."""
    folder = s.out
    if (folder / checkpoints.CONFIG_FILE).exists():
        checkpoints.load(folder)  # the model is whole
        events = list(train(TrainSettings(**{**s.__dict__, "resume": True, "epochs": 3})))
        assert events[-1].value == folder
        return "loads and resumes"
    events = list(train(s))  # a fresh run takes the folder
    assert events[-1].value == folder
    checkpoints.load(folder)
    return "restarts"


def test_a_run_killed_at_every_write_of_its_saves_leaves_a_usable_folder(tiny_data, tmp_path):
    total = renames_of_a_whole_run(tiny_data, tmp_path)
    assert total >= 6  # three files a save, at least two saves
    outcomes = []
    for k in range(1, total + 1):
        s = settings(tiny_data, tmp_path / f"killed-at-{k}")
        calls = 0
        real = os.replace

        def dying(*args, k=k, real=real, **kwargs):
            nonlocal calls
            calls += 1
            if calls == k:
                raise Killed
            return real(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(os, "replace", dying)
            with pytest.raises(Killed):
                run_to_end(s)
        # what a real kill leaves besides: its lock (stale, its process gone) and the
        # temporary file of the write in flight
        (s.out / LOCK_FILE).write_text(json.dumps({"pid": dead_pid(), "host": os.uname().nodename}))
        (s.out / ".model.safetensors.0123456789ab.tmp").write_bytes(b"half a file")
        outcomes.append(usable(s))
        assert not list(s.out.glob(".*.tmp"))  # the next run swept the killed save's temps
    # the first save's three writes leave no whole checkpoint: those folders restart
    assert outcomes[:3] == ["restarts"] * 3
    assert set(outcomes[3:]) == {"loads and resumes"}


def test_a_second_run_on_a_folder_is_refused_while_the_first_trains(tiny_data, tmp_path):
    out = tmp_path / "shared"
    first = train(settings(tiny_data, out, epochs=50))
    next(first)  # training, holding the folder's lock
    with pytest.raises(GenplayError, match=rf"is being trained by process {os.getpid()} "):
        run_to_end(settings(tiny_data, out, resume=True))
    first.close()  # stops, saves and lets go
    assert not (out / LOCK_FILE).exists()
    run_to_end(settings(tiny_data, out, resume=True, epochs=2))


def test_a_stale_lock_is_taken_over_and_a_foreign_one_is_named(tiny_data, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": dead_pid(), "host": os.uname().nodename,
                                             "started": "then"}))
    run_to_end(settings(tiny_data, out))  # its process is gone: the lock is stale
    (out / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "now"}))
    with pytest.raises(GenplayError, match="by process 1 on elsewhere"):
        RunLock(out).acquire()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_damaged_trainer_state_is_refused_without_unsafe_advice(tiny_data, tmp_path):
    out = tmp_path / "run"
    run_to_end(settings(tiny_data, out, epochs=1))
    state = out / checkpoints.TRAINER_STATE_FILE
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    state.write_bytes(pickle.dumps({"model": Evil()}))
    with pytest.raises(CheckpointError) as caught:
        run_to_end(settings(tiny_data, out, resume=True, epochs=2))
    message = str(caught.value)
    assert "cannot be read safely" in message and "weights_only" not in message
    assert "\n" not in message
    state.unlink()  # as the message says: resume from the weights alone
    events = run_to_end(settings(tiny_data, out, resume=True, epochs=2))
    assert "resuming from the weights of step" in events[0].message


def test_a_fresh_run_never_writes_into_a_folder_of_the_users_files(tiny_data, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text('{"my": "settings"}')
    (out / "metrics.json").write_text("my notes, not JSON")
    with pytest.raises(GenplayError, match="holds a config.json that is not a genplay"):
        run_to_end(settings(tiny_data, out))
    (out / "config.json").unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(GenplayError, match=r"holds files that are not a genplay run's \("
                                           r"notes.txt\)"):
        run_to_end(settings(tiny_data, out))
    assert (out / "metrics.json").read_text() == "my notes, not JSON"
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "notes.txt"]


@pytest.mark.slow  # a real process, killed with SIGKILL while it saves, and Ctrl-C twice
def test_real_kills_during_saves_and_ctrl_c_twice(tiny_data, tmp_path):
    env = dict(os.environ, GENPLAY_THREADS="1")
    config = TINY_CONFIGS["vae"]
    sets = [a for k, v in config.items() if k != "image_size" for a in ("--set", f"{k}={v}")]

    def start(out: Path, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "genplay", "train", "vae", "--data", str(tiny_data),
             "--size", str(config["image_size"]), "--epochs", "100000", *sets,
             "--out", str(out), *extra], env=env, stderr=subprocess.PIPE, text=True)

    # SIGKILL once the run has saved, at whatever point of a later save it is in
    out = tmp_path / "killed"
    child = start(out)
    deadline = time.monotonic() + 60
    while not (out / checkpoints.CONFIG_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert (out / LOCK_FILE).exists()  # stale now
    s = settings(tiny_data, out)
    assert usable(s) == "loads and resumes"

    # Ctrl-C twice: the second aborts the save the first asked for
    out = tmp_path / "interrupted"
    child = start(out)
    deadline = time.monotonic() + 60
    while not (out / checkpoints.CONFIG_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    child.send_signal(signal.SIGINT)
    child.wait(60)
    assert child.returncode in (0, 130)
    assert not (out / LOCK_FILE).exists()
    assert usable(settings(tiny_data, out)) == "loads and resumes"

