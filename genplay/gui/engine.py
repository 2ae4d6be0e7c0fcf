"""The background thread that owns the models and runs every slow piece of work.

The UI never calls PyTorch itself. It submits a job (a core function or generator
plus its arguments, optionally naming a checkpoint the job runs on) and gets
progress, previews, results and errors back as Qt signals carrying plain Python
and numpy values, in the UI thread.

- A generator job yields core events (Progress, Preview, Partial, Result); each
  yield is a point where Cancel takes effect.
- Interactive jobs name a ``key`` (e.g. "latent-slider"): a newer job with the same
  key replaces one still waiting and cancels one running, and results of any job
  that is no longer the newest of its key are dropped, so a slider drag never shows
  a stale image.
- An exception becomes an ``error`` for that job and the engine keeps running.
- Models are cached by checkpoint folder (least recently used dropped first).
- Downloads run in a second thread of their own (``lane="downloads"``), so fetching a
  dataset never holds up the models' work; both lanes report through the same signals.
"""

from __future__ import annotations

import ctypes
import itertools
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from genplay.core import cancel
from genplay.core.errors import GenplayError


def release_freed_memory() -> None:
    """Gives memory freed by a job back to the system (glibc keeps it otherwise): a job
    cancelled half-way leaves large freed buffers, and a user cancelling sample after
    sample saw the app grow by a few hundred MB. A no-op where there is no glibc."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


class Cancelled(Exception):
    """Raised inside a job's thread when the job was cancelled."""


@dataclass
class _Job:
    id: int
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    checkpoint: Path | None
    key: str | None
    label: str
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Callbacks:
    on_result: Callable[[Any, dict], None] | None = None
    on_progress: Callable[[int, int | None, str], None] | None = None
    on_preview: Callable[[Any], None] | None = None
    on_partial: Callable[[Any], None] | None = None
    on_error: Callable[[str], None] | None = None
    on_done: Callable[[bool], None] | None = None


class _Worker(QThread):
    """Runs jobs one after another; lives until ``stop``."""

    # job id, step, total (-1: unknown), message; 64-bit: a download counts bytes past 2 GiB
    progress = Signal(int, "qlonglong", "qlonglong", str)
    preview = Signal(int, object)
    partial = Signal(int, object)
    result = Signal(int, object, object)  # job id, value, summary
    failed = Signal(int, str)
    done = Signal(int, bool)  # job id, cancelled
    started_job = Signal(int, str)
    model_loaded = Signal(str)

    def __init__(self, device: str, cache_size: int, uses_torch: bool = True) -> None:
        super().__init__()
        self.uses_torch = uses_torch
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._running: _Job | None = None
        self._stopping = False
        self.device = device
        self.cache_size = cache_size
        self._models: OrderedDict[Path, Any] = OrderedDict()
        self._models_lock = threading.Lock()
        # models whose pickled weights (a diffusers .bin) the user agreed to load
        self.trusted_pickles: set[Path] = set()

    # --- called from the UI thread ----------------------------------------------------------
    def put(self, job: _Job) -> list[int]:
        """Queues a job; returns ids of waiting jobs it replaced (same key)."""
        with self._cond:
            replaced = []
            if job.key is not None:
                replaced = [j.id for j in self._queue if j.key == job.key]
                self._queue = [j for j in self._queue if j.key != job.key]
                if self._running is not None and self._running.key == job.key:
                    self._running.cancel.set()
            self._queue.append(job)
            self._cond.notify()
        return replaced

    def cancel(self, job_id: int | None) -> list[int]:
        """Cancels one job (or all when None); returns ids removed from the queue."""
        with self._cond:
            removed = [j.id for j in self._queue if job_id is None or j.id == job_id]
            self._queue = [j for j in self._queue if j.id not in removed]
            if self._running is not None and (job_id is None or self._running.id == job_id):
                self._running.cancel.set()
        return removed

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            for job in [self._running, *self._queue]:
                if job is not None:
                    job.cancel.set()
            self._queue.clear()
            self._cond.notify()

    def loaded_models(self) -> list[tuple[Path, int]]:
        """(checkpoint folder, bytes of parameters) of each cached model."""
        with self._models_lock:
            return [(path, sum(p.numel() * p.element_size() for p in m.parameters()))
                    for path, m in self._models.items()]

    def unload(self, path: Path | None = None) -> None:
        with self._models_lock:
            if path is None:
                self._models.clear()
            else:
                self._models.pop(path, None)

    # --- the thread ---------------------------------------------------------------------
    def run(self) -> None:
        if self.uses_torch:
            from genplay.core import runtime  # torch is imported here, off the UI thread

            runtime.set_threads()
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._running = self._queue.pop(0)
            self.started_job.emit(job.id, job.label)
            cancelled = False
            try:
                with cancel.watching(job.cancel):  # core waits see the job's Cancel
                    self._run(job)
            except (Cancelled, cancel.Stopped):
                cancelled = True
            except GenplayError as exc:
                self.failed.emit(job.id, str(exc))
            except Exception as exc:  # a bug: show it, keep the engine alive
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                traceback.print_exc()
                self.failed.emit(job.id, f"Internal error: {detail}")
            finally:
                with self._cond:
                    self._running = None
                cancelled = cancelled or job.cancel.is_set()
                if cancelled:
                    release_freed_memory()
                self.done.emit(job.id, cancelled)

    def model(self, path: Path) -> Any:
        from genplay.core import checkpoints

        with self._models_lock:
            if path in self._models:
                self._models.move_to_end(path)
                return self._models[path]
        model, _ = checkpoints.load(path, device=self.device,
                                    trust_pickle=path in self.trusted_pickles)
        with self._models_lock:
            self._models[path] = model
            while len(self._models) > self.cache_size:
                self._models.popitem(last=False)
        self.model_loaded.emit(str(path))
        return model

    def _run(self, job: _Job) -> None:
        from genplay.core.events import Partial, Preview, Progress, Result

        if job.cancel.is_set():
            raise Cancelled
        args = job.args
        if job.checkpoint is not None:
            args = (self.model(job.checkpoint), *args)
        out = job.fn(*args, **job.kwargs)
        if not isinstance(out, Iterator):  # a plain function's result, not a generator
            self.result.emit(job.id, _to_plain(out), {})
            return
        try:
            for event in out:
                if job.cancel.is_set():
                    raise Cancelled
                if isinstance(event, Progress):
                    total = -1 if event.total is None else event.total
                    self.progress.emit(job.id, event.step, total, event.message)
                elif isinstance(event, Preview):
                    self.preview.emit(job.id, _to_plain(event.images))
                elif isinstance(event, Partial):
                    self.partial.emit(job.id, _to_plain(event.value))
                elif isinstance(event, Result):
                    self.result.emit(job.id, _to_plain(event.value), _to_plain(event.summary))
        finally:
            out.close()


def _to_plain(value: Any) -> Any:
    """Tensors become numpy arrays, also inside dicts, lists and tuples: no tensor leaves."""
    torch = sys.modules.get("torch")  # loaded by the job if it made a tensor
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_plain(v) for v in value)
    return value


class Engine(QObject):
    """The UI side of the background thread. Create one per window; call ``shutdown``."""

    job_started = Signal(int, str)  # id, label
    job_progress = Signal(int, "qlonglong", "qlonglong", str)
    job_finished = Signal(int, bool, str)  # id, cancelled, error message ("" if none)
    models_changed = Signal()

    def __init__(self, device: str = "cpu", cache_size: int = 4, parent: QObject | None = None):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, _Callbacks] = {}
        self._latest: dict[str, int] = {}
        self._keys: dict[int, str | None] = {}
        self._errors: dict[int, str] = {}
        self._worker = self._start_worker(_Worker(device, cache_size))
        self._downloads: _Worker | None = None  # started with the first download

    def _start_worker(self, worker: _Worker) -> _Worker:
        worker.started_job.connect(self.job_started)
        worker.progress.connect(self._on_progress)
        worker.preview.connect(self._on_preview)
        worker.partial.connect(self._on_partial)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        worker.model_loaded.connect(self.models_changed)
        worker.start()
        return worker

    def _workers(self) -> list[_Worker]:
        return [w for w in (self._worker, self._downloads) if w is not None]

    @property
    def device(self) -> str:
        return self._worker.device

    def set_device(self, device: str) -> None:
        """Models move by being reloaded: clears the cache."""
        self._worker.device = device
        self.unload()

    def submit(
        self, fn: Callable[..., Any], *args: Any, checkpoint: str | Path | None = None,
        key: str | None = None, label: str = "", on_result=None, on_progress=None,
        on_preview=None, on_partial=None, on_error=None, on_done=None, lane: str = "models",
        **kwargs: Any,
    ) -> int:
        """Queues fn(model?, *args, **kwargs); the callbacks run in the UI thread. lane
        "downloads" runs it in the downloads thread (no models there)."""
        if lane == "downloads":
            if self._downloads is None:
                self._downloads = self._start_worker(_Worker("cpu", 0, uses_torch=False))
            worker = self._downloads
        elif lane == "models":
            worker = self._worker
        else:
            raise ValueError(f"unknown lane {lane!r}")
        job_id = next(self._ids)
        self._callbacks[job_id] = _Callbacks(on_result, on_progress, on_preview, on_partial,
                                             on_error, on_done)
        self._keys[job_id] = key
        if key is not None:
            self._latest[key] = job_id
        path = Path(checkpoint).resolve() if checkpoint is not None else None
        for old in worker.put(_Job(job_id, fn, args, kwargs, path, key, label)):
            self._finish(old, cancelled=True)
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Cancels one job, or every job when job_id is None."""
        for worker in self._workers():
            for old in worker.cancel(job_id):
                self._finish(old, cancelled=True)

    def is_busy(self) -> bool:
        return bool(self._callbacks)

    def loaded_models(self) -> list[tuple[Path, int]]:
        return self._worker.loaded_models()

    def trust_pickle(self, path: str | Path) -> None:
        """Loads this model's pickled weights (a diffusers .bin) from now on, with
        torch.load(weights_only=True), which runs no code; the user was asked."""
        self._worker.trusted_pickles.add(Path(path).resolve())

    def unload(self, path: str | Path | None = None) -> None:
        self._worker.unload(Path(path).resolve() if path is not None else None)
        self.models_changed.emit()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Cancels everything and joins the threads; True if they ended in time."""
        for worker in self._workers():
            worker.stop()
        ended = all([worker.wait(timeout_ms) for worker in self._workers()])
        self._callbacks.clear()
        return ended

    # --- dispatch in the UI thread ----------------------------------------------------------
    def _stale(self, job_id: int) -> bool:
        key = self._keys.get(job_id)
        return key is not None and self._latest.get(key) != job_id

    def _on_progress(self, job_id: int, step: int, total: int, message: str) -> None:
        self.job_progress.emit(job_id, step, total, message)
        cb = self._callbacks.get(job_id)
        if cb and cb.on_progress and not self._stale(job_id):
            cb.on_progress(step, None if total < 0 else total, message)

    def _on_preview(self, job_id: int, images: Any) -> None:
        cb = self._callbacks.get(job_id)
        if cb and cb.on_preview and not self._stale(job_id):
            cb.on_preview(images)

    def _on_partial(self, job_id: int, value: Any) -> None:
        cb = self._callbacks.get(job_id)
        if cb and cb.on_partial and not self._stale(job_id):
            cb.on_partial(value)

    def _on_result(self, job_id: int, value: Any, summary: Any) -> None:
        cb = self._callbacks.get(job_id)
        if cb and cb.on_result and not self._stale(job_id):
            cb.on_result(value, summary or {})

    def _on_failed(self, job_id: int, message: str) -> None:
        self._errors[job_id] = message
        cb = self._callbacks.get(job_id)
        if cb and cb.on_error and not self._stale(job_id):
            cb.on_error(message)

    def _on_done(self, job_id: int, cancelled: bool) -> None:
        self._finish(job_id, cancelled)

    def _finish(self, job_id: int, cancelled: bool) -> None:
        cb = self._callbacks.pop(job_id, None)
        self._keys.pop(job_id, None)
        error = self._errors.pop(job_id, "")
        if cb and cb.on_done:
            cb.on_done(cancelled)
        self.job_finished.emit(job_id, cancelled, error)
