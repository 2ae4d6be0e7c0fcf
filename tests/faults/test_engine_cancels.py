"""A hundred jobs cancelled in a row: the engine keeps no trace of them and its memory
stays bounded."""

from __future__ import annotations

import os

import pytest

from genplay.gui.engine import Engine
from tests.conftest import TINY_CONFIGS


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_a_hundred_cancelled_jobs_leave_nothing_behind(qtbot, tiny_checkpoints):
    from genplay.core.ops.sampling import sample_with as _sample

    assert "diffusion" in TINY_CONFIGS
    engine = Engine()
    checkpoint = tiny_checkpoints / "diffusion-tiny"
    finished: list[bool] = []

    def cycles(n: int, start: int) -> None:
        for i in range(start, start + n):
            job = engine.submit(_sample, 64, i, {"steps": 50}, checkpoint=checkpoint,
                                key="sampling", on_done=finished.append)
            qtbot.wait(5)
            engine.cancel(job)
        qtbot.waitUntil(lambda: len(finished) == start + n and not engine.is_busy(),
                        timeout=30000)

    try:
        cycles(10, 0)  # warm-up: the model loaded, the allocator at its working size
        before = _rss_mb()
        cycles(100, 10)
        growth = _rss_mb() - before
    finally:
        assert engine.shutdown(5000)
    assert len(finished) == 110  # each one told its panel it ended
    assert not engine._callbacks and not engine._keys and not engine._errors
    assert growth < 50, f"{growth:.0f} MB more after 100 cancelled jobs"
