"""One training run per folder at a time: a lock file naming its holder.

``folder/.genplay-run.lock`` is created exclusively (O_EXCL) by the process that trains
into the folder, holds JSON ``{"pid", "host", "started", "ticks", "token"}`` (ticks: the
process's start time in the kernel's clock ticks since boot, where /proc has it, so a
process id used again by another program is not taken for the run; token: which lock of
the process it is), and is removed when the run ends, however it ends short of being
killed.

A lock left by a killed process on this computer is stale (its process is gone, a zombie,
or another program now has its id) and is taken over; so is one too damaged to read that
is older than a few seconds (a process killed while it wrote it). One held by a live
process, or by another computer (whose processes cannot be seen), is a one-line refusal
naming the holder. A run confirms before each save that the lock still names it, so two
runs can never both write one folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from genplay.core.errors import GenplayError

LOCK_FILE = ".genplay-run.lock"
DAMAGED_AFTER_S = 5.0  # an unreadable lock older than this was left half-written by a kill


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in ticks) of a process from /proc; None where it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and ")"
        return fields[0], fields[19]  # fields 3 (state) and 22 (starttime) of proc(5)
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int, ticks: Any = None) -> bool:
    """Whether process pid of this computer runs (and is the one that started at ticks)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        if state == "Z":  # ended; only its parent has not collected it yet
            return False
        if isinstance(ticks, str) and ticks and ticks != started:  # the id was used again
            return False
    return True


class RunLock:
    """Held while a run writes into folder; a context manager."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.held = False
        stat = _proc_stat(os.getpid())
        self.me = {"pid": os.getpid(), "host": socket.gethostname(),
                   "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                   "ticks": stat[1] if stat else None, "token": secrets.token_hex(8)}

    # --- reading ----------------------------------------------------------------------------
    def _read(self) -> tuple[bytes | None, dict]:
        """The lock's bytes (None: there is none) and what they say ({} if unreadable)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None, {}
        except OSError:
            return b"", {}
        try:
            holder = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            return raw, {}
        return raw, holder if isinstance(holder, dict) else {}

    def _is_mine(self, holder: dict) -> bool:
        return holder.get("token") == self.me["token"]

    def _stale(self, holder: dict) -> bool:
        if not holder:
            try:
                age = time.time() - self.path.stat().st_mtime
            except OSError:
                return False
            return age > DAMAGED_AFTER_S
        pid = holder.get("pid")
        return (type(pid) is int and holder.get("host") == self.me["host"]
                and not _alive(pid, holder.get("ticks")))

    def _refusal(self, holder: dict) -> str:
        if not holder:
            return (f"{self.folder} is locked by {self.path.name}, which cannot be read; if no "
                    f"run trains there, delete {self.path}")
        pid, host = holder.get("pid"), holder.get("host")
        since = str(holder.get("started", "?"))[:40]
        if host == self.me["host"]:
            return (f"{self.folder} is being trained by process {pid} (started {since}); "
                    "wait for it to end or stop it, or train into another folder")
        return (f"{self.folder} is being trained by process {pid} on {str(host)[:80]} (started "
                f"{since}); wait for it to end or stop it; if that run is gone, delete "
                f"{self.path}")

    def refusal(self) -> str | None:
        """Why a run could not take this folder's lock now (None: it could); reads only."""
        raw, holder = self._read()
        if raw is None or self._is_mine(holder) or self._stale(holder):
            return None
        return self._refusal(holder)

    # --- taking and giving back -------------------------------------------------------------
    def _take_over(self, raw: bytes) -> None:
        """Removes the stale lock whose bytes are raw, unless another run replaced it since:
        the lock is renamed away first (only one of two runs taking it over at once gets
        it), and put back if it is no longer the stale one."""
        aside = self.path.with_name(f"{LOCK_FILE}.{secrets.token_hex(6)}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:  # another run took it over first
            return
        with contextlib.suppress(OSError):
            if aside.read_bytes() != raw:  # a live run's new lock: give it back
                os.link(aside, self.path)  # (unless yet another run has one there now)
        aside.unlink(missing_ok=True)

    def acquire(self) -> RunLock:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GenplayError(f"{self.folder}: cannot be created ({exc.strerror or exc})"
                               ) from None
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                raw, holder = self._read()
                if raw is not None and self._stale(holder):
                    self._take_over(raw)
                    continue
                if raw is None:  # it went away this instant
                    continue
                raise GenplayError(self._refusal(holder)) from None
            except OSError as exc:
                raise GenplayError(f"{self.folder}: cannot be written "
                                   f"({exc.strerror or exc})") from None
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.me, f)
            self.held = True
            return self
        raise GenplayError(f"{self.folder}: another run is taking it this instant; try again")

    def confirm(self) -> None:
        """Before a save: the lock still names this run (it is put back if someone deleted
        it); a GenplayError if another run has it, so this one never writes over it."""
        raw, holder = self._read()
        if raw is None:
            self.acquire()  # deleted by hand: take it again, or say who has it now
            return
        if not self._is_mine(holder):
            raise GenplayError(f"{self.folder}: another process ({holder.get('pid', '?')}) "
                               "took over this run's folder; this run stopped without "
                               "saving over it")

    def release(self) -> None:
        if self.held and self._is_mine(self._read()[1]):
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def leftovers(folder: str | os.PathLike) -> list[Path]:
    """Stale locks renamed aside by a takeover that was killed before it removed them."""
    folder = Path(folder)
    return [p for p in folder.glob(f"{LOCK_FILE}.*.stale") if p.is_file()]
