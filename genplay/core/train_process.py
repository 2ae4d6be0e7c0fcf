"""A training run in a child process of its own, with its own thread budget.

PyTorch's kernels slow down many times over when their threads outnumber the free
cores, so the GUI cannot let a training run and interactive inference both take every
core; nor can it run training on its engine thread without blocking the sliders. A
child process with ``threads`` threads trains while the parent keeps the other cores.

The parent polls :meth:`TrainingProcess.events` (never blocks for long) and steers the
run with :meth:`pause`, :meth:`resume` and :meth:`stop`; the child checks these between
training steps. The first event is :class:`Started`; the last is exactly one of the
train generator's :class:`Result`, :class:`Stopped` (stop(): the generator was closed,
which saved the last completed step) or :class:`Failed` (an error in the child, or a
child that died or was killed).

The child is started with "spawn", never "fork": a forked copy of a process that holds
torch's thread pools (or Qt's) can deadlock. Spawning costs a fresh interpreter that
imports torch: a second or two before the first step.

With nproc > 1 the run is nproc children of one process group on this machine
(core.distributed; one per GPU where the settings say cuda): rank 0 sends the events and
takes pause and stop, the others train in silence. A pause holds the others at their next
gradient average; a stop is agreed between them, so all save at the same step.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import multiprocessing
import os
import queue as queue_module
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genplay.core import checkpoints, runtime
from genplay.core.errors import GenplayError
from genplay.core.events import Preview, Progress, Result
from genplay.core.train import TrainSettings, train

PAUSED_MESSAGE = "paused"
RESUMED_MESSAGE = "resumed"
# Latest-wins throttles (seconds) for the events a fast run yields every step or two: a
# tiny model makes hundreds of steps a second, and the GUI redraws what it gets.
THROTTLE_S: dict[type, float] = {Progress: 0.1, Preview: 0.5}
_CONTROL_POLL_S = 0.05  # how often a paused child looks for resume / stop


@dataclass(frozen=True)
class Started:
    """The child is up and has its thread budget; the run's own events follow."""

    pid: int
    threads: int


@dataclass(frozen=True)
class Stopped:
    """The run was stopped on request; ``path`` holds its checkpoint (None: nothing saved)."""

    step: int  # the step the checkpoint holds
    path: Path | None


@dataclass(frozen=True)
class Failed:
    """The run ended with an error; ``message`` is meant for the user."""

    message: str
    error_type: str = ""  # e.g. "DatasetError"
    details: str = ""  # the child's traceback, for a log or a "details" button


FINAL_EVENTS = (Result, Stopped, Failed)


class TrainingProcess:
    """One training run in a spawned child process; no Qt, so the CLI and tests can use it.

    ``with TrainingProcess(settings, threads) as run:`` starts it and, on leaving, stops it
    (killing it if it does not exit in time).
    """

    def __init__(self, settings: TrainSettings, threads: int, nproc: int = 1) -> None:
        self.settings = settings
        self.threads = max(1, int(threads))
        self.nproc = max(1, int(nproc))
        self._followers: list[Any] = []
        self._context = multiprocessing.get_context("spawn")
        self._queue = self._context.Queue()
        self._paused = self._context.Event()
        self._stop = self._context.Event()
        self._process: Any = None
        self._inbox: collections.deque[Any] = collections.deque()
        self._final: Any = None
        self._killed = False

    # --- lifetime ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("this training process was already started")
        worlds = [None] if self.nproc == 1 else [
            (rank, self.nproc, _free_port()) for rank in range(self.nproc)]
        if len(worlds) > 1:
            worlds = [(rank, size, worlds[0][2]) for rank, size, _ in worlds]
        self._process = self._context.Process(
            target=_child_main, name=f"genplay-train-{self.settings.family}",
            args=(self.settings, self.threads, self._queue, self._paused, self._stop,
                  worlds[0]),
            daemon=True,  # never outlives the app, even if the app dies without stop()
        )
        self._process.start()
        for world in worlds[1:]:
            follower = self._context.Process(
                target=_follower_main, name=f"genplay-train-{self.settings.family}-{world[0]}",
                args=(self.settings, self.threads, self._stop, world), daemon=True)
            follower.start()
            self._followers.append(follower)

    @property
    def is_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        """None while running (or before start); 0 after a finished or stopped run."""
        return None if self._process is None else self._process.exitcode

    @property
    def paused(self) -> bool:
        """Whether a pause was asked for (the child confirms with a "paused" Progress)."""
        return self._paused.is_set()

    @property
    def final_event(self) -> Result | Stopped | Failed | None:
        """The run's last event once events() has returned it, else None."""
        return self._final

    # --- control ----------------------------------------------------------------------------
    def pause(self) -> None:
        """The child stops after the step in flight and waits, keeping the run open."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def stop(self) -> None:
        """Asks the child to save the last completed step, send Stopped and exit; returns
        at once (see join). Works while paused too."""
        self._stop.set()

    def kill(self) -> None:
        """Last resort: ends the child now. Only its last periodic save remains (or, killed
        in the middle of a save, a folder that resumes or that a fresh run takes); the lock it
        leaves in the folder names a dead process, so the next run takes it over."""
        for follower in self._followers:
            if follower.is_alive():
                follower.kill()
                follower.join(5.0)
        if self._process is None or not self._process.is_alive():
            return
        self._killed = True
        self._process.kill()
        self._process.join(5.0)

    def join(self, timeout: float | None = None) -> bool:
        """Waits for the child to exit, keeping what it sends for events(); True if it did.
        Drains the queue while waiting: a child cannot exit with events still unread."""
        if self._process is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._process.is_alive():
            left = _CONTROL_POLL_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            self._inbox.extend(self._receive(min(left, _CONTROL_POLL_S)))
            self._process.join(0)
        self._inbox.extend(self._receive(0.0))
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stops the run and waits for it to save and exit; kills it after timeout seconds."""
        if self._process is None:
            return
        self.stop()
        if not self.join(timeout):
            self.kill()
        for follower in self._followers:  # they stop at the step rank 0 stops at
            follower.join(max(1.0, timeout / 2))
            if follower.is_alive():
                follower.kill()

    def __enter__(self) -> TrainingProcess:
        if self._process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- events -----------------------------------------------------------------------------
    def events(self, timeout: float = 0.0) -> list[Any]:
        """What the child sent since the last call, oldest first. Returns at once when
        something is there; else waits up to timeout seconds for the first event.

        Once the child has exited without a final event (it crashed, or was killed) the
        list ends with a Failed that says so, so a caller never waits for a run that is over.
        """
        if self._process is None:
            return []
        exited = not self._process.is_alive()  # before draining: all it sent is readable now
        if not self._inbox:
            self._inbox.extend(self._receive(0.0 if exited else timeout))
        else:
            self._inbox.extend(self._receive(0.0))
        out = list(self._inbox)
        self._inbox.clear()
        for event in out:
            if isinstance(event, FINAL_EVENTS):
                self._final = event
        if exited and self._final is None:
            code = self._process.exitcode
            self._final = Failed(
                "the training process was stopped by kill(); its last periodic save remains"
                if self._killed else
                f"the training process ended unexpectedly (exit code {code})",
                "Killed" if self._killed else "ProcessDied",
            )
            out.append(self._final)
        return out

    def _receive(self, timeout: float) -> list[Any]:
        # After kill() the pipe may end in half a message that nobody will complete.
        if self._killed:
            return []
        received = []
        try:
            received.append(self._queue.get(timeout=timeout) if timeout > 0
                            else self._queue.get_nowait())
            while True:
                received.append(self._queue.get_nowait())
        except queue_module.Empty:
            pass
        return received


# --- the child ---------------------------------------------------------------------------------
class _PausableClock:
    """time.monotonic that stands still while paused, so a pause spends none of a minutes
    budget and leaves the images/s and the ETA as they were."""

    def __init__(self) -> None:
        self._paused_total = 0.0
        self._paused_at: float | None = None

    def __call__(self) -> float:
        now = time.monotonic()
        held = now - self._paused_at if self._paused_at is not None else 0.0
        return now - self._paused_total - held

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = time.monotonic()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += time.monotonic() - self._paused_at
            self._paused_at = None


class _Outbox:
    """Sends events, holding back throttled kinds that come too soon: the newest waits and
    goes out when its interval has passed with the next of its kind, or with any other event."""

    def __init__(self, send: Callable[[Any], None], throttle: dict[type, float] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._throttle = THROTTLE_S if throttle is None else throttle
        self._clock = clock
        self._last_sent: dict[type, float] = {}
        self._held: dict[type, Any] = {}

    def send(self, event: Any) -> None:
        kind = type(event)
        interval = self._throttle.get(kind)
        if interval is None or getattr(event, "message", ""):  # messages are never dropped
            self.flush()
            self._send(event)
            self._last_sent[kind] = self._clock()
            return
        now = self._clock()
        if now - self._last_sent.get(kind, -np.inf) >= interval:
            self._held.pop(kind, None)
            self._send(event)
            self._last_sent[kind] = now
        else:
            self._held[kind] = event

    def flush(self) -> None:
        for kind, event in list(self._held.items()):
            self._send(event)
            self._last_sent[kind] = self._clock()
        self._held.clear()


def _as_sendable(event: Any) -> Any:
    if isinstance(event, Preview) and (event.images.dtype != np.uint8
                                       or not event.images.flags.c_contiguous):
        return dataclasses.replace(event, images=np.ascontiguousarray(event.images, np.uint8))
    return event


def _saved_step(out: Path) -> tuple[int, Path | None]:
    if not (out / checkpoints.WEIGHTS_FILE).exists():
        return 0, None
    try:
        return int(checkpoints.read_info(out).training.get("steps", 0)), out
    except (GenplayError, OSError, ValueError, TypeError):
        return 0, out


def run_controlled(settings: TrainSettings, send: Callable[[Any], None],
                   paused: Callable[[], bool], stop_requested: Callable[[], bool],
                   wait: Callable[[float], object] = time.sleep,
                   together: bool = False) -> int:
    """Iterates train(settings), sending its events, pausing and stopping between steps as
    the callables say; ends with one final event. Returns the exit code (0, or 1 on error).

    The child process's body, kept apart from the process so it can be read (and tested)
    on its own; ``wait(seconds)`` should return early when a stop is asked for. together:
    the run is one of several processes, which agree on a stop inside train(): it is
    iterated to its end (a Result that says "stopped") rather than closed here.
    """
    clock = _PausableClock()
    outbox = _Outbox(send)
    events = None
    last: Progress | None = None
    try:
        events = train(settings, clock=clock,
                       stop_requested=stop_requested if together else None)
        while together or not stop_requested():
            if paused():
                clock.pause()
                outbox.send(_marked(last, PAUSED_MESSAGE))
                while paused() and not stop_requested():
                    wait(_CONTROL_POLL_S)
                clock.resume()
                if stop_requested() and not together:
                    break
                outbox.send(_marked(last, RESUMED_MESSAGE))
            try:
                event = next(events)
            except StopIteration:  # the budget is spent; the Result went out before this
                outbox.flush()
                return 0
            if isinstance(event, Progress) and not event.message:
                last = event
            if together and isinstance(event, Result) and event.summary.get("stopped"):
                for _rest in events:  # to its end: the processes leave the group together
                    pass
                outbox.flush()
                send(Stopped(*_saved_step(settings.out)))
                return 0
            outbox.send(_as_sendable(event))
        events.close()  # saves the last completed step (if any step was made in this run)
        outbox.flush()
        step, path = _saved_step(settings.out)
        send(Stopped(step, path))
        return 0
    except Exception as exc:  # the run is over; the parent gets a message, never a hang
        if events is not None:
            with contextlib.suppress(Exception):  # the first error is the one to report
                events.close()
        outbox.flush()
        message = str(exc) if isinstance(exc, GenplayError) else f"{type(exc).__name__}: {exc}"
        send(Failed(message or type(exc).__name__, type(exc).__name__, traceback.format_exc()))
        return 1


def _marked(last: Progress | None, message: str) -> Progress:
    if last is None:
        return Progress(0, None, message=message)
    rate = 0.0 if message == PAUSED_MESSAGE else last.images_per_s
    return dataclasses.replace(last, images_per_s=rate, message=message)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A paused run holds the other processes at their next collective: far longer than the
# usual 30 minutes is no hang.
GROUP_TIMEOUT_S = 7 * 24 * 3600


def _join_world(world: tuple[int, int, int] | None) -> None:
    """The environment torchrun would give process rank of size (None: alone)."""
    if world is None:
        return
    rank, size, port = world
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                      GENPLAY_GROUP_TIMEOUT_S=str(GROUP_TIMEOUT_S))


def _follower_main(settings: TrainSettings, threads: int, stop: Any,
                   world: tuple[int, int, int]) -> None:
    """A process of a several-process run other than rank 0: trains, says nothing, stops
    where the others stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _join_world(world)
    runtime.set_threads(threads)
    parent = multiprocessing.parent_process()

    def stop_requested() -> bool:
        return stop.is_set() or (parent is not None and not parent.is_alive())

    try:
        for _event in train(settings, stop_requested=stop_requested):
            pass
    except Exception:  # rank 0 reports the run's failure; a follower only ends
        traceback.print_exc()
        sys.exit(1)
    from genplay.core.distributed import leave

    leave(0)


def _child_main(settings: TrainSettings, threads: int, events_queue: Any, paused: Any,
                stop: Any, world: tuple[int, int, int] | None = None) -> None:
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what a
    # Ctrl-C means (stop(), which saves), so the child does not die in mid-step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _join_world(world)
    threads = runtime.set_threads(threads)  # before any work: training keeps to its budget
    events_queue.put(Started(os.getpid(), threads))
    parent = multiprocessing.parent_process()

    def stop_requested() -> bool:
        # A parent that died without stop() (crash, kill) gets the same: save and exit.
        return stop.is_set() or (parent is not None and not parent.is_alive())

    code = run_controlled(settings, events_queue.put, paused.is_set, stop_requested, stop.wait,
                          together=world is not None)
    events_queue.close()
    events_queue.join_thread()  # everything sent is in the pipe before the exit code is
    if world is not None:
        from genplay.core.distributed import leave

        leave(code)
    sys.exit(code)
