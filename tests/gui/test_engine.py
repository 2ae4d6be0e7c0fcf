"""The background engine: results, progress, cancel, latest-wins, errors, models, shutdown."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from genplay.core.errors import GenplayError
from genplay.core.events import Progress, Result
from genplay.gui.engine import Engine


@pytest.fixture
def engine(qtbot):
    e = Engine(cache_size=2)
    yield e
    assert e.shutdown(2000)


def slow_steps(n, delay=0.01):
    for i in range(n):
        time.sleep(delay)
        yield Progress(i + 1, n, "working")
    yield Result(torch.ones(2, 2), {"z": torch.zeros(3)})


def test_plain_function_result(engine, qtbot):
    got = []
    engine.submit(lambda a, b: a + b, 2, 3, on_result=lambda v, s: got.append(v))
    qtbot.waitUntil(lambda: got == [5], timeout=5000)


def test_generator_progress_and_tensors_become_numpy(engine, qtbot):
    steps, results = [], []
    engine.submit(slow_steps, 5, on_progress=lambda s, t, m: steps.append((s, t)),
                  on_result=lambda v, s: results.append((v, s)))
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert steps == [(i, 5) for i in range(1, 6)]
    value, summary = results[0]
    assert isinstance(value, np.ndarray) and isinstance(summary["z"], np.ndarray)


def test_cancel_stops_a_long_job(engine, qtbot):
    done, results = [], []
    job = engine.submit(slow_steps, 10_000, on_result=lambda v, s: results.append(v),
                        on_done=done.append)
    qtbot.wait(50)
    engine.cancel(job)
    qtbot.waitUntil(lambda: done == [True], timeout=3000)
    assert results == []


def test_latest_wins_drops_stale_results(engine, qtbot):
    results, finished = [], []
    for value in range(30):
        engine.submit(lambda v: (time.sleep(0.005), v)[1], value, key="slider",
                      on_result=lambda v, s: results.append(v),
                      on_done=lambda c: finished.append(c))
    qtbot.waitUntil(lambda: len(finished) == 30, timeout=5000)
    assert results[-1] == 29
    assert len(results) < 30  # superseded requests were dropped, not all computed
    assert results == sorted(results)


def test_errors_become_messages_and_the_engine_keeps_working(engine, qtbot):
    errors, results = [], []

    def bad():
        raise GenplayError("this image is too large")

    def bug():
        return 1 / 0

    engine.submit(bad, on_error=errors.append)
    engine.submit(bug, on_error=errors.append)
    engine.submit(lambda: "fine", on_result=lambda v, s: results.append(v))
    qtbot.waitUntil(lambda: results == ["fine"], timeout=5000)
    assert errors[0] == "this image is too large"
    assert errors[1].startswith("Internal error: ZeroDivisionError")


def test_models_are_loaded_once_cached_and_unloaded(engine, qtbot, tiny_checkpoints):
    seen = []
    for _ in range(2):
        engine.submit(lambda model: id(model), checkpoint=tiny_checkpoints / "vae-tiny",
                      on_result=lambda v, s: seen.append(v))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10000)
    assert seen[0] == seen[1]
    assert [p.name for p, _ in engine.loaded_models()] == ["vae-tiny"]
    assert engine.loaded_models()[0][1] > 0
    engine.unload()
    assert engine.loaded_models() == []


def test_broken_checkpoint_is_an_error_message(engine, qtbot, tmp_path):
    errors = []
    engine.submit(lambda model: None, checkpoint=tmp_path / "nothing", on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert "no such checkpoint folder" in errors[0]


def test_shutdown_during_a_long_job_is_quick(qtbot):
    e = Engine()
    e.submit(slow_steps, 100_000)
    qtbot.wait(50)
    start = time.monotonic()
    assert e.shutdown(2000)
    assert time.monotonic() - start < 2.0


def test_a_download_runs_beside_a_busy_model_lane_and_cancel_reaches_both(engine, qtbot):
    import threading

    release = threading.Event()

    def busy_model_work():
        while not release.is_set():
            time.sleep(0.01)
            yield Progress(0, None, "busy")

    finished, fetched = [], []
    engine.submit(busy_model_work, on_done=finished.append)
    engine.submit(lambda: "dataset", lane="downloads", on_result=lambda v, s: fetched.append(v))
    qtbot.waitUntil(lambda: fetched == ["dataset"], timeout=5000)
    assert not finished  # the models' lane is still at its work
    engine.submit(slow_steps, 1000, lane="downloads", on_done=finished.append)
    engine.cancel()  # both lanes
    qtbot.waitUntil(lambda: finished == [True, True], timeout=5000)
    with pytest.raises(ValueError, match="unknown lane"):
        engine.submit(lambda: 0, lane="elsewhere")


def test_a_core_wait_sees_cancel_and_the_engine_goes_on(engine, qtbot):
    from genplay.core import cancel

    def waits_on_the_outside_world():
        while not cancel.requested():  # as a read of a stalled file does
            time.sleep(0.01)
        raise cancel.Stopped

    finished, later = [], []
    job = engine.submit(waits_on_the_outside_world, on_done=finished.append)
    qtbot.wait(50)
    engine.cancel(job)
    qtbot.waitUntil(lambda: finished == [True], timeout=5000)
    assert not cancel.requested()  # this thread never was the job's
    engine.submit(lambda: "next", on_result=lambda v, s: later.append(v))
    qtbot.waitUntil(lambda: later == ["next"], timeout=5000)
