"""Training run folders under faults: a run killed at every write of its saves, two runs
on one folder, stale locks and temporary files, a damaged trainer state, a folder of the
user's own files, a full disk.

A kill is modelled in-process by an exception (a BaseException, so nothing of the training
loop's own cleanup runs) raised in place of the k-th rename of the run, with what a dead
process leaves besides: its temporary file and its lock. The slow tests kill a real
`genplay train` with SIGKILL in the middle of a save, press Ctrl-C twice during one, and
start a second run on a folder that one is training."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genplay.cli import main
from genplay.core import checkpoints, runlock
from genplay.core.errors import CheckpointError, GenplayError
from genplay.core.events import Progress, Result, Saved
from genplay.core.runlock import LOCK_FILE, RunLock
from genplay.core.train import TrainSettings, train
from genplay.core.train_process import Failed, Stopped, run_controlled
from tests.conftest import TINY_CONFIGS

STATE = checkpoints.TRAINER_STATE_FILE


class Killed(BaseException):
    """The process dying at this point: nothing after it runs."""


def settings(data: Path, out: Path, **kw) -> TrainSettings:
    config = TINY_CONFIGS["vae"]
    values = dict(family="vae", data=str(data), out=out, epochs=2, size=config["image_size"],
                  overrides={k: v for k, v in config.items() if k != "image_size"},
                  preview_every=0, validate_every_s=0.0)
    return TrainSettings(**{**values, **kw})


def resumed(s: TrainSettings, **kw) -> TrainSettings:
    return TrainSettings(**{**s.__dict__, "resume": True, **kw})


def dead_pid() -> int:
    """The id of a process that has ended (and been collected)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def one_line(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message, message
    return message


def lock_holder(folder: Path) -> dict:
    return json.loads((folder / LOCK_FILE).read_text())


def write_lock(folder: Path, **holder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    holder = {"host": os.uname().nodename, "started": "2026-01-01 12:00:00", **holder}
    (folder / LOCK_FILE).write_text(json.dumps(holder))


def leftovers(folder: Path) -> list[str]:
    """Temporary files of saves and lock files: none may be left after a run."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith((".tmp", ".stale")) or p.name == LOCK_FILE)


def usable(s: TrainSettings) -> str:
    """What the folder is good for after a kill: "loads and resumes" (with at least the
    steps config.json records) or "restarts" (resume says to start afresh, which works);
    anything else fails the test."""
    folder = s.out
    if (folder / checkpoints.CONFIG_FILE).exists():
        checkpoints.load(folder)  # the model is whole
        recorded = checkpoints.read_info(folder).training["steps"]
        events = list(train(resumed(s)))
        steps = [e.step for e in events if isinstance(e, Progress) and not e.message]
        assert not steps or steps[0] > recorded  # nothing saved is trained again
        assert isinstance(events[-1], Result) and events[-1].value == folder
        assert events[-1].summary["steps"] == 6  # 2 epochs of 3 steps
        how = "loads and resumes"
    else:
        with pytest.raises(CheckpointError, match="nothing to resume") as caught:
            list(train(resumed(s)))
        assert "start a fresh run" in one_line(str(caught.value))
        events = list(train(s))  # a fresh run takes the folder
        assert events[-1].value == folder
        how = "restarts"
    checkpoints.load(folder)
    assert leftovers(folder) == []  # temporaries swept, lock let go
    return how


# --- (a) a kill at every write -----------------------------------------------------------------
def test_a_run_killed_at_every_write_of_its_saves_leaves_a_usable_folder(
        tiny_data, tmp_path, monkeypatch):
    """2 epochs of 3 steps, a save after each: trainer state, weights, config.json, twice.
    Killed in place of rename k (its temporary file written, the renames before it done:
    the states before and after every write), for every k until a run goes through."""
    real_replace, real_release, dead = os.replace, RunLock.release, dead_pid()
    outcomes = []
    for k in range(1, 20):
        s = settings(tiny_data, tmp_path / f"killed-at-{k}")
        calls = 0

        def dying(src, dst, k=k):
            nonlocal calls
            calls += 1
            if calls == k:  # keep the temporary file a dead process leaves behind
                shutil.copyfile(src, f"{src}.kept")
                raise Killed
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", dying)
        monkeypatch.setattr(RunLock, "release", lambda self: None)  # a dead run's lock stays
        try:
            list(train(s))
        except Killed:
            pass
        else:
            break
        finally:
            monkeypatch.setattr(os, "replace", real_replace)
            monkeypatch.setattr(RunLock, "release", real_release)
        for kept in s.out.glob("*.kept"):
            os.rename(kept, kept.with_suffix(""))
        assert len([p for p in s.out.iterdir() if p.name.endswith(".tmp")]) == 1
        (s.out / LOCK_FILE).write_text(json.dumps({**lock_holder(s.out), "pid": dead}))
        outcomes.append(usable(s))
    assert len(outcomes) == 6  # three writes a save, two saves (the last is not repeated)
    # the first save's writes leave no config.json: a fresh run takes those folders
    assert outcomes == ["restarts"] * 3 + ["loads and resumes"] * 3


# --- (c) two runs on one folder ----------------------------------------------------------------
def test_a_second_run_on_a_folder_is_refused_while_the_first_trains(tiny_data, tmp_path):
    out = tmp_path / "shared"
    first = train(settings(tiny_data, out, epochs=50))
    next(first)  # training, holding the folder's lock
    holder = lock_holder(out)
    assert holder["pid"] == os.getpid() and holder["host"] == os.uname().nodename
    message = rf"{out} is being trained by process {os.getpid()} \(started .+\); wait for it"
    with pytest.raises(GenplayError, match=message) as caught:
        list(train(settings(tiny_data, out)))
    one_line(str(caught.value))
    assert not (out / checkpoints.CONFIG_FILE).exists()  # nothing written by the second
    for event in first:  # the first goes on, and saves
        if isinstance(event, Saved):
            break
    for second in (settings(tiny_data, out), settings(tiny_data, out, resume=True)):
        with pytest.raises(GenplayError, match=message):  # not "already holds a checkpoint"
            list(train(second))
    assert isinstance(next(first), Progress)
    first.close()  # stops, saves and lets go
    assert not (out / LOCK_FILE).exists()
    assert list(train(settings(tiny_data, out, resume=True, epochs=3)))[-1].value == out


def test_a_lock_of_a_live_process_refuses_and_a_dead_ones_is_taken_over(tiny_data, tmp_path):
    out = tmp_path / "run"
    live = os.getppid()  # pytest's parent: alive for as long as this test runs
    write_lock(out, pid=live)
    with pytest.raises(GenplayError, match=rf"by process {live} \(started 2026-01-01 12:00:00\)"):
        list(train(settings(tiny_data, out)))
    assert lock_holder(out)["pid"] == live  # left alone
    # stale: its process ended; or its id now names a process that started later; or a
    # zombie (ended, not yet collected); or another computer's, which is named
    zombie = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while runlock._proc_stat(zombie.pid)[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    for stale in ({"pid": dead_pid()}, {"pid": live, "ticks": "-1"}, {"pid": zombie.pid}):
        write_lock(out, **stale)
        lock = RunLock(out).acquire()
        assert lock_holder(out)["token"] == lock.me["token"]
        lock.release()
    zombie.wait()
    write_lock(out, pid=1, host="elsewhere")
    with pytest.raises(GenplayError, match=r"by process 1 on elsewhere .*delete .*\.genplay-run"):
        RunLock(out).acquire()
    # a lock half written by a killed process: refused for a moment, then taken over
    (out / LOCK_FILE).write_text('{"pid": 12')
    with pytest.raises(GenplayError, match="cannot be read"):
        RunLock(out).acquire()
    old = time.time() - 60
    os.utime(out / LOCK_FILE, (old, old))
    RunLock(out).acquire().release()
    assert not (out / LOCK_FILE).exists()
    assert list(train(settings(tiny_data, out, epochs=1)))[-1].value == out


def test_two_runs_taking_over_one_stale_lock_do_not_both_get_it(tmp_path):
    write_lock(tmp_path, pid=dead_pid())
    stale = (tmp_path / LOCK_FILE).read_bytes()
    first, second = RunLock(tmp_path), RunLock(tmp_path)
    first.acquire()  # took it over; the second had read the stale lock just before
    second._take_over(stale)
    assert lock_holder(tmp_path)["token"] == first.me["token"]
    with pytest.raises(GenplayError, match=f"by process {os.getpid()} "):
        second.acquire()
    assert leftovers(tmp_path) == [LOCK_FILE]  # the lock put aside came back, no copy left
    first.release()


def test_a_run_whose_lock_was_taken_stops_without_saving_over_the_other(tiny_data, tmp_path):
    out = tmp_path / "run"
    run = train(settings(tiny_data, out, epochs=50))
    next(run)
    write_lock(out, pid=os.getpid(), token="another run")  # e.g. after a hand-deleted lock
    with pytest.raises(GenplayError, match="took over this run's folder"):
        run.close()  # would save
    assert not (out / checkpoints.CONFIG_FILE).exists() and not (out / STATE).exists()
    assert lock_holder(out)["token"] == "another run"  # not taken from the other


def test_the_gui_child_holds_the_lock_and_lets_go_on_end_stop_and_error(tiny_data, tmp_path):
    """run_controlled is the body of the Training panel's child process."""
    def drive(s: TrainSettings, stop_after: int | None = None) -> list:
        sent: list = []
        code = run_controlled(s, sent.append, lambda: False,
                              lambda: stop_after is not None and len(sent) >= stop_after)
        assert code == (1 if isinstance(sent[-1], Failed) else 0)
        return sent

    out = tmp_path / "run"
    assert isinstance(drive(settings(tiny_data, out, epochs=1))[-1], Result)
    assert not (out / LOCK_FILE).exists()  # normal end
    stopped = drive(settings(tiny_data, out, epochs=9, resume=True), stop_after=2)[-1]
    assert isinstance(stopped, Stopped) and stopped.step > 3 and not (out / LOCK_FILE).exists()
    failed = drive(settings(tiny_data, out, epochs=9, resume=True, perturb=2.0))[-1]
    assert isinstance(failed, Failed) and "--perturb" in failed.message
    assert not (out / LOCK_FILE).exists()  # error
    write_lock(out, pid=os.getppid())
    failed = drive(settings(tiny_data, out, epochs=9, resume=True))[-1]
    assert isinstance(failed, Failed) and f"process {os.getppid()}" in one_line(failed.message)
    assert lock_holder(out)["pid"] == os.getppid()


# --- (d) leftovers of killed runs --------------------------------------------------------------
def test_leftovers_of_killed_saves_are_swept_and_nothing_else(tiny_data, tmp_path):
    out = tmp_path / "run"  # what a run killed in its first save leaves
    out.mkdir()
    (out / STATE).write_bytes(b"PK half")
    (out / checkpoints.WEIGHTS_FILE).write_bytes(b"half")
    for name in (f".{STATE}.0123456789ab.tmp", ".model.safetensors.a1b2c3d4e5f6.tmp",
                 ".config.json.ffffffffffff.tmp", f"{LOCK_FILE}.0123456789ab.stale"):
        (out / name).write_bytes(b"half a file")
    write_lock(out, pid=dead_pid())
    list(train(settings(tiny_data, out, epochs=1)))
    assert leftovers(out) == [] and checkpoints.load(out)
    (out / ".config.json.0123456789ab.tmp").write_bytes(b"{")  # a resume sweeps too
    list(train(settings(tiny_data, out, epochs=2, resume=True)))
    assert leftovers(out) == []
    mine = tmp_path / "mine"  # a hidden file of the user's that looks temporary is theirs
    mine.mkdir()
    (mine / ".draft.tmp").write_text("mine")
    with pytest.raises(GenplayError, match=r"not a genplay run's \(\.draft\.tmp\)"):
        list(train(settings(tiny_data, mine, epochs=1)))
    assert [p.name for p in mine.iterdir()] == [".draft.tmp"]


# --- (e) a trainer state that cannot be trusted ------------------------------------------------
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_damaged_or_malicious_trainer_state_is_one_line_without_unsafe_advice(
        tiny_data, tmp_path):
    out = tmp_path / "run"
    list(train(settings(tiny_data, out, epochs=1)))
    state_path = out / STATE
    good = torch.load(state_path, weights_only=True)
    moments = next(iter(good["optimizers"].values()))["state"][0]
    bad_moment = {**good, "optimizers": {name: {**o, "state": {**o["state"], 0: {
        **moments, "exp_avg": torch.zeros(3)}}} for name, o in good["optimizers"].items()}}
    cases = {
        "malicious": pickle.dumps({"model": Evil()}),
        "truncated": state_path.read_bytes()[:100],
        "junk": b"not a trainer state",
        "a list": None, "a string step": None, "a wrong moment": None, "NaN weights": None,
    }
    for name, content in cases.items():
        if content is None:
            value = {"a list": [1, 2], "a string step": {**good, "step": "9"},
                     "a wrong moment": bad_moment,
                     "NaN weights": {**good, "model": {k: v.float() * float("nan")
                                                       for k, v in good["model"].items()}},
                     }[name]
            torch.save(value, state_path)
        else:
            state_path.write_bytes(content)
        with pytest.raises(CheckpointError) as caught:
            list(train(settings(tiny_data, out, resume=True)))
        message = one_line(str(caught.value))
        assert str(state_path) in message and "weights_only" not in message, name
        assert "start a fresh run, or delete it to resume from the weights alone" in message
    state_path.unlink()
    os.mkfifo(state_path)  # would block torch.load forever
    with pytest.raises(CheckpointError, match=r"not a regular file: a FIFO"):
        list(train(settings(tiny_data, out, resume=True)))
    state_path.unlink()  # as the message says: resume from the weights alone
    events = list(train(settings(tiny_data, out, resume=True)))
    assert events[0].message == (f"no {STATE}: resuming from the weights of step 3 with a "
                                 "fresh optimiser")
    assert events[-1].summary["steps"] == 6


def test_resume_with_neither_weights_nor_trainer_state_says_so(tiny_data, tmp_path):
    out = tmp_path / "run"
    list(train(settings(tiny_data, out, epochs=1)))
    (out / STATE).unlink()
    (out / checkpoints.WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match="neither trainer_state.pt nor model.safetensors"):
        list(train(settings(tiny_data, out, resume=True)))


# --- (4) the user's own files, and failed writes -----------------------------------------------
def test_a_fresh_run_never_writes_into_a_folder_of_the_users_files(capsys, tiny_data, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text('{"my": "settings"}')
    (out / "metrics.json").write_text("my notes, not JSON")
    with pytest.raises(GenplayError, match="holds a config.json that is not a genplay"):
        list(train(settings(tiny_data, out)))
    (out / "config.json").unlink()  # a metrics.json alone is not a run's either
    with pytest.raises(GenplayError, match=r"holds files that are not a genplay run's \("
                                           r"metrics.json\)"):
        list(train(settings(tiny_data, out)))
    (out / "notes.txt").write_text("mine")
    config = TINY_CONFIGS["vae"]
    code = main(["train", "vae", "--data", str(tiny_data), "--epochs", "1", "--size", "8",
                 *[a for k, v in config.items() if k != "image_size"
                   for a in ("--set", f"{k}={v}")], "--out", str(out), "--threads", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert [line for line in err.splitlines() if "error" in line] == [
        f"genplay train: error: {out} holds files that are not a genplay run's (metrics.json, "
        "notes.txt); train into a new or empty folder"]
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "notes.txt"]
    assert (out / "metrics.json").read_text() == "my notes, not JSON"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert list(train(settings(tiny_data, empty, epochs=1)))[-1].value == empty
    with pytest.raises(GenplayError, match="cannot be created"):  # under a file
        list(train(settings(tiny_data, out / "notes.txt" / "run", epochs=1)))


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(tiny_data, tmp_path, monkeypatch):
    out = tmp_path / "run"
    list(train(settings(tiny_data, out, epochs=1)))

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "save_file", full)
    with pytest.raises(GenplayError, match=r"step 6 could not be written \(No space left on "
                                           r"device\); the folder keeps its last whole one"):
        list(train(settings(tiny_data, out, resume=True)))
    monkeypatch.undo()
    assert usable(settings(tiny_data, out)) == "loads and resumes"


# --- real processes ----------------------------------------------------------------------------
# `genplay train` in a child whose k-th rename (and every later one) stops the process
# there, as if in the middle of a save: it writes its count to a marker file and waits,
# until it is killed or a Ctrl-C aborts it.
PAUSING_CHILD = r"""
import os, pathlib, sys, time
marker, pause_at = pathlib.Path(sys.argv[1]), int(sys.argv[2])
real, calls = os.replace, 0
def replace(src, dst):
    global calls
    calls += 1
    if calls >= pause_at:
        marker.write_text(str(calls))
        while True:
            time.sleep(0.01)
    return real(src, dst)
os.replace = replace
from genplay.cli import main
sys.exit(main(sys.argv[3:]))
"""


def start_train(tiny_data: Path, out: Path, epochs: int, *extra: str,
                pause_at: int | None = None) -> subprocess.Popen:
    config = TINY_CONFIGS["vae"]
    argv = ["train", "vae", "--data", str(tiny_data), "--size", str(config["image_size"]),
            "--epochs", str(epochs), *[a for k, v in config.items() if k != "image_size"
                                       for a in ("--set", f"{k}={v}")],
            "--out", str(out), "--threads", "1", *extra]
    prefix = ([sys.executable, "-c", PAUSING_CHILD, str(out.parent / f"{out.name}.paused"),
               str(pause_at)] if pause_at else [sys.executable, "-m", "genplay"])
    return subprocess.Popen(prefix + argv, env=dict(os.environ, GENPLAY_THREADS="1"),
                            stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, child: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, f"no {path.name} within {timeout} s"
        time.sleep(0.02)


@pytest.mark.slow  # real processes killed with SIGKILL in the middle of a save
def test_real_sigkill_in_the_middle_of_saves(tiny_data, tmp_path):
    # rename 2: the first save has renamed the trainer state, not the weights (the bug:
    # "nothing to resume" and "already holds a checkpoint"); rename 5: the second save
    # has its new trainer state in place, its weights written but not renamed
    for pause_at, expected in ((2, "restarts"), (5, "loads and resumes")):
        out = tmp_path / f"killed-at-{pause_at}"
        child = start_train(tiny_data, out, epochs=2, pause_at=pause_at)
        wait_for(out.parent / f"{out.name}.paused", child)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert (out / LOCK_FILE).exists() and [p for p in out.iterdir() if p.suffix == ".tmp"]
        assert usable(settings(tiny_data, out)) == expected


@pytest.mark.slow  # real processes: a second run on a folder, then Ctrl-C twice in a save
def test_a_second_process_is_refused_and_ctrl_c_twice_aborts_a_save(tiny_data, tmp_path):
    out = tmp_path / "run"
    # every rename after the first save's three stops the run there: the save that the
    # first Ctrl-C asks for
    first = start_train(tiny_data, out, epochs=100_000, pause_at=4)
    try:
        wait_for(out / checkpoints.CONFIG_FILE, first)
        for extra in ([], ["--resume"]):
            second = start_train(tiny_data, out, 3, *extra)
            _, err = second.communicate(timeout=90)
            assert second.returncode == 2, err
            assert f"{out} is being trained by process {first.pid} (started " in one_line(
                err.strip().splitlines()[-1])
        assert first.poll() is None  # the first goes on
        first.send_signal(signal.SIGINT)  # stop after this step: it saves
        # Heard before the second is sent: on a loaded machine the run may already sit in a
        # later save (a validation's), and two SIGINTs that arrive before Python runs the
        # handler are one.
        for line in first.stderr:
            if "stopping after this step" in line:
                break
        wait_for(out.parent / f"{out.name}.paused", first)
        first.send_signal(signal.SIGINT)  # abort that save
        _, err = first.communicate(timeout=60)
        assert first.returncode == 130
        assert "Traceback" not in err and not (out / LOCK_FILE).exists()  # let go on the abort
        assert f"genplay train: aborted; {out} keeps the checkpoint of step 3 (continue with " \
               "--resume)" in err
        assert usable(settings(tiny_data, out)) == "loads and resumes"
    finally:  # a failure above leaves no training process behind
        if first.poll() is None:
            first.kill()
            first.wait(30)
