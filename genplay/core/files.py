"""Reading the user's files without hanging and writing without loss.

Reading: only regular files (a FIFO or a device named like an image would block forever),
no more bytes than a limit, within a time limit (a stalled network share), and giving way
to the job's Cancel in the app (core.cancel). The open and the read happen in a
helper thread that the caller waits on; a read that never returns is left to that daemon
thread, and never holds up the caller, the app or the process's exit.

Writing: atomically (a temporary file in the same folder, then a rename), so a crash never
leaves half a file over a good one.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

from genplay.core import cancel
from genplay.core.errors import GenplayError

READ_TIMEOUT_S = 20.0  # a local file is read in well under this; a stalled share is not
_POLL_S = 0.05
_UMASK = os.umask(0)
os.umask(_UMASK)

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def kind_of(mode: int) -> str:
    """What a file that is not a regular one is, in words."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: str | os.PathLike, error: type[GenplayError] = GenplayError
                  ) -> os.stat_result:
    """The stat of path, a regular file (links followed); error otherwise, in one line.
    stat never blocks on a FIFO, so this is safe to call anywhere."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{os.fspath(path)}: no such file") from None
    except OSError as exc:
        raise error(f"{os.fspath(path)}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{os.fspath(path)}: is a folder, not a file")
        raise error(f"{os.fspath(path)}: not a regular file ({kind_of(st.st_mode)})")
    return st


def _read(path: str | os.PathLike, limit: int, error: type[GenplayError]) -> bytes:
    name = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a
        # writer; fstat then says what it is. Harmless for regular files.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a folder, not a file") from None
    except PermissionError:
        raise error(f"{name}: permission denied") from None
    except OSError as exc:
        raise error(f"{name}: cannot be opened ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{name}: not a regular file ({kind_of(st.st_mode)})")
        if st.st_size > limit:
            raise error(f"{name}: {st.st_size / 2**20:.0f} MB, more than the "
                        f"{limit / 2**20:.0f} MB a file of this kind may have")
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{name}: cannot be read ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:  # it grew since fstat
        raise error(f"{name}: more than the {limit / 2**20:.0f} MB a file of this kind may have")
    return data


def read_bytes(path: str | os.PathLike, *, limit: int,
               error: type[GenplayError] = GenplayError,
               timeout: float | None = None) -> bytes:
    """The bytes of a regular file of at most limit bytes, read within timeout seconds
    (READ_TIMEOUT_S by default). Anything else is error (one line); a Cancel of the
    app's running job raises cancel.Stopped."""
    timeout = READ_TIMEOUT_S if timeout is None else timeout
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["data"] = _read(path, limit, error)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    reader = threading.Thread(target=work, name="genplay-read", daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while reader.is_alive():
        reader.join(_POLL_S)
        if not reader.is_alive():
            break
        if cancel.requested():
            raise cancel.Stopped
        if time.monotonic() > deadline:
            raise error(f"{os.fspath(path)}: reading took longer than {timeout:g} s "
                        "(a stalled network share?)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["data"]  # type: ignore[return-value]


def read_json_object(path: str | os.PathLike, *, limit: int,
                     error: type[GenplayError] = GenplayError, missing: str = "") -> dict:
    """A JSON object from a regular file of at most limit bytes; error (one line) for a
    missing file ("PARENT: no NAME" + missing), a FIFO, bad UTF-8 or JSON, or another type."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise error(f"{path.parent}: no {path.name}{missing}")
    check_regular(path, error)  # before any open: a FIFO would block the reader
    raw = read_bytes(path, limit=limit, error=error)
    try:
        data = json.loads(raw.decode("utf-8"))
    # ValueError: bad UTF-8, bad JSON, a number of thousands of digits; deep nesting recurses
    except (ValueError, RecursionError) as exc:
        lines = str(exc).strip().splitlines()
        raise error(f"{path}: unreadable JSON ({lines[0] if lines else type(exc).__name__})"
                    ) from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object, not {type(data).__name__}")
    return data


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Calls write(temporary path) then renames the temporary file onto path.

    The file gets the user's usual permissions: some writers (safetensors) create
    owner-only files, which would stay unreadable to others after the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def stale_temporaries(folder: str | os.PathLike, older_than_s: float = 0.0) -> list[Path]:
    """The temporary files atomic_write left in folder when its process was killed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    return [p for p in folder.glob(".*.tmp") if p.is_file()
            and now - p.stat().st_mtime >= older_than_s]
