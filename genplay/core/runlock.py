"""One training run per folder at a time: a lock file naming its holder.

``folder/.genplay-run.lock`` is created exclusively (O_EXCL) by the process that trains
into the folder and removed when it ends, however it ends short of being killed. A lock
left by a killed process on this computer is seen to be stale (its process is gone) and
taken over; one held by a live process, or by another computer, is a one-line refusal
naming the holder.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from genplay.core.errors import GenplayError

LOCK_FILE = ".genplay-run.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


class RunLock:
    """Held while a run writes into folder; a context manager."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.held = False

    def _holder(self) -> dict:
        try:
            holder = json.loads(self.path.read_text(encoding="utf-8"))
            return holder if isinstance(holder, dict) else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._holder()
                pid, host = holder.get("pid"), holder.get("host")
                if isinstance(pid, int) and host == me["host"] and not _alive(pid):
                    self.path.unlink(missing_ok=True)  # its process is gone: stale
                    continue
                if not holder:  # being written this instant, or damaged: say so
                    raise GenplayError(f"{self.path.parent} is locked by {self.path} (unreadable"
                                       "); if no run trains there, delete that file") from None
                where = "" if host == me["host"] else f" on {host}"
                raise GenplayError(
                    f"{self.path.parent} is being trained by process {pid}{where} (since "
                    f"{holder.get('started', '?')}); wait for it to end or stop it, or choose "
                    f"another folder (if that run is gone, delete {self.path.name})") from None
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise GenplayError(f"{self.path.parent}: could not take its lock")

    def release(self) -> None:
        if self.held and self._holder().get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
