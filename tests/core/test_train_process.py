"""Training in a child process: events, pause/resume, stop that saves, errors, resume.

Each spawned child imports torch (a second or two), so the tests use four processes
in all, and wait on events with timeouts instead of sleeping.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from genplay.core import checkpoints
from genplay.core.events import Preview, Progress, Result, Saved
from genplay.core.train_process import (
    PAUSED_MESSAGE,
    RESUMED_MESSAGE,
    Failed,
    Started,
    Stopped,
    TrainingProcess,
    _Outbox,
)
from tests.core.test_train import settings

TIMEOUT_S = 60.0  # generous: CI machines with two busy cores start torch slowly


def collect_until(run: TrainingProcess, done, timeout: float = TIMEOUT_S) -> list:
    """Events until one satisfies done (the whole batch it came in is returned)."""
    seen: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = run.events(timeout=0.1)
        seen += batch
        if any(done(e) for e in batch):
            return seen
        if run.final_event is not None:
            break
    raise AssertionError(f"no such event within {timeout} s; the last ones: {seen[-5:]}")


def collect_for(run: TrainingProcess, seconds: float) -> list:
    seen: list = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        seen += run.events(timeout=min(left, 0.1))
    return seen


def steps(events) -> list[int]:
    return [e.step for e in events if isinstance(e, Progress) and not e.message]


def is_marked(message):
    return lambda e: isinstance(e, Progress) and e.message == message


@pytest.mark.slow  # starts processes that import torch: run by .ci/run
def test_pause_resume_stop_while_paused_then_resume_the_run(tiny_data, tmp_path):
    out = tmp_path / "m"
    with TrainingProcess(settings(tiny_data, out, epochs=1000), threads=1) as run:
        seen = collect_until(run, lambda e: isinstance(e, Progress) and e.step >= 4)
        assert run.is_alive and run.exitcode is None
        assert isinstance(seen[0], Started) and seen[0].threads == 1

        run.pause()
        seen += (batch := collect_until(run, is_marked(PAUSED_MESSAGE)))
        paused_at = next(e for e in batch if is_marked(PAUSED_MESSAGE)(e)).step
        assert paused_at >= 4 and run.paused
        quiet = collect_for(run, 0.5)
        assert not steps(quiet) and max(steps(seen)) == paused_at

        run.resume()
        seen += quiet + collect_until(
            run, lambda e: isinstance(e, Progress) and e.step > paused_at + 2)
        assert any(is_marked(RESUMED_MESSAGE)(e) for e in seen)

        run.pause()
        seen += collect_until(run, is_marked(PAUSED_MESSAGE))
        run.stop()  # while paused: still saves and exits
        assert run.join(timeout=15.0)
        seen += run.events()
    assert run.exitcode == 0 and not run.is_alive
    stopped = seen[-1]
    assert isinstance(stopped, Stopped) and run.final_event is stopped
    assert stopped.path == out and stopped.step == max(steps(seen))
    assert steps(seen) == sorted(set(steps(seen)))  # throttled, but in order and no repeats
    previews = [e for e in seen if isinstance(e, Preview)]
    assert previews and all(p.images.dtype == np.uint8 for p in previews)
    model, info = checkpoints.load(out)
    assert info.training["steps"] == stopped.step

    # A resumed run carries on from the saved step to the end of its budget.
    epochs = stopped.step // 3 + 1  # 3 steps an epoch: the next epoch's end is ahead
    with TrainingProcess(settings(tiny_data, out, epochs=epochs, resume=True), threads=1) as run:
        seen = collect_until(run, lambda e: isinstance(e, Result))
        assert run.join(timeout=15.0)
    assert run.exitcode == 0
    assert steps(seen)[0] == stopped.step + 1
    result = seen[-1]
    assert isinstance(result, Result) and result.value == out
    assert result.summary["steps"] == epochs * 3 == steps(seen)[-1]
    assert any(isinstance(e, Saved) for e in seen)
    assert checkpoints.load(out)[1].training["steps"] == epochs * 3


@pytest.mark.slow  # starts processes that import torch: run by .ci/run
def test_a_missing_dataset_is_an_error_event_not_a_hang(tiny_data, tmp_path):
    bad = settings(tiny_data, tmp_path / "m", epochs=1)
    bad.data = str(tmp_path / "no-such-folder")
    with TrainingProcess(bad, threads=1) as run:
        seen = collect_until(run, lambda e: isinstance(e, Failed))
        assert run.join(timeout=15.0)
    failed = seen[-1]
    assert failed.error_type == "DatasetError" and "no-such-folder" in failed.message
    assert "Traceback" in failed.details
    assert run.exitcode == 1 and run.events() == []


def test_kill_ends_the_child_and_says_so(tiny_data, tmp_path):
    run = TrainingProcess(settings(tiny_data, tmp_path / "m", epochs=1000), threads=1)
    run.start()
    run.kill()  # while it is still importing torch: no graceful anything
    assert not run.is_alive and run.exitcode != 0
    events = run.events()
    assert isinstance(events[-1], Failed) and events[-1].error_type == "Killed"
    assert run.final_event is events[-1] and run.events() == []


def test_progress_and_previews_are_throttled_latest_wins():
    sent, now = [], [0.0]
    outbox = _Outbox(sent.append, clock=lambda: now[0])
    image = np.zeros((1, 2, 2, 1), np.uint8)
    for step in range(1, 101):  # 128 steps a second (exact in binary)
        now[0] = step / 128
        outbox.send(Progress(step, 100))
        if step % 10 == 0:
            outbox.send(Preview(step, image))
    outbox.send(Progress(50, 100, message="a note"))  # messages always go, after what waits
    progress = [e.step for e in sent if isinstance(e, Progress)]
    assert len(progress) <= 10 and progress[0] == 1 and progress[-2:] == [100, 50]
    previews = [e.step for e in sent if isinstance(e, Preview)]
    assert previews == [10, 80, 100]  # at most every 0.5 s; the newest held one goes last


def test_a_pause_spends_none_of_the_time_budget():
    from genplay.core.train_process import _PausableClock

    clock = _PausableClock()
    clock.pause()
    held = clock()
    time.sleep(0.05)
    assert clock() == held  # a minutes budget, the images/s and the ETA stand still
    before = time.monotonic()
    clock.resume()
    now = clock()
    assert 0 <= now - held <= time.monotonic() - before + 1e-9  # the pause left no trace


@pytest.mark.slow  # starts three processes that import torch
def test_a_two_process_run_pauses_and_stops_together(tiny_data, tmp_path):
    out = tmp_path / "m"
    with TrainingProcess(settings(tiny_data, out, epochs=1000), threads=1, nproc=2) as run:
        seen = collect_until(run, lambda e: isinstance(e, Progress) and e.step >= 4)
        assert isinstance(seen[0], Started)
        run.pause()
        seen += (batch := collect_until(run, is_marked(PAUSED_MESSAGE)))
        paused_at = next(e for e in batch if is_marked(PAUSED_MESSAGE)(e)).step
        assert not steps(collect_for(run, 0.5))  # the other process waits with it
        run.resume()
        seen += collect_until(run, lambda e: isinstance(e, Progress) and e.step > paused_at)
        run.stop()  # agreed between the two: both stop at one step, rank 0 saves it
        seen += collect_until(run, lambda e: isinstance(e, Stopped))
        assert run.join(timeout=15.0)
    stopped = seen[-1]
    assert isinstance(stopped, Stopped) and stopped.path == out
    assert stopped.step >= max(steps(seen))
    info = checkpoints.load(out)[1]
    assert info.training["steps"] == stopped.step and info.training["processes"] == 2
    assert [(f.is_alive(), f.exitcode) for f in run._followers] == [(False, 0)]
