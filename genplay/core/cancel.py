"""A job's cancel request, where the core waits on something it does not control.

The app's engine registers the running job's cancel flag for its thread (``watching``);
core code that waits on the outside world (a file on a stalled network share) polls
``requested()`` and raises ``Stopped``, which the engine counts as a cancelled job. Where
nothing is registered (the command line, scripts) such waits end at their own time limit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


class Stopped(Exception):
    """The job this thread runs was cancelled while the core waited."""


@contextmanager
def watching(flag: threading.Event) -> Iterator[None]:
    """Makes flag this thread's cancel request for the duration."""
    previous = getattr(_local, "flag", None)
    _local.flag = flag
    try:
        yield
    finally:
        _local.flag = previous


def requested() -> bool:
    """Whether the job running in this thread has been cancelled."""
    flag = getattr(_local, "flag", None)
    return flag is not None and flag.is_set()
