"""The transfer half of genplay pull (core/hub.py): one file of a Hub repository streamed
through huggingface_hub's HTTP session (the user's token, proxies, the Hub's error codes),
from the bytes a part file already holds (an HTTP range request), checked as it arrives
against the Hub's checksum (SHA-256 for LFS files, git's blob id for the others), with
progress events at most every REPORT_EVERY_S and Cancel between chunks. A transfer that
breaks off is asked again for the rest, a few times, before it gives up with a one-line
error that says pulling again goes on from there.

Torch-free, and huggingface_hub is handed in (``hf``, its ``http`` errors): this module
imports neither.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genplay import __version__
from genplay.core import cancel
from genplay.core.errors import GenplayError
from genplay.core.events import Progress

__all__ = ["Digest", "Meter", "Remote", "Transfer", "mb", "reason", "wait"]

REPORT_EVERY_S = 0.25  # progress events at most this often (the last one of a file always)
RETRY_WAIT_S = 1.0  # before asking again for the rest of a file whose transfer broke off
HASH_BLOCK = 1 << 20
SMALL_FILE_LIMIT = 1 << 20  # bytes: a pipeline's JSON files are a few hundred bytes


@dataclass(frozen=True)
class Remote:
    """A file of the repository at one commit."""

    path: str
    size: int
    sha256: str | None  # the Hub's checksum of an LFS file
    blob_id: str | None  # git's id of the file (SHA-1 of "blob SIZE\0" and its bytes)


def reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 90 else text[:87] + "…"


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


class Meter:
    """Bytes done of the total, as Progress events at most every REPORT_EVERY_S."""

    def __init__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self._last = float("-inf")

    def add(self, n: int, message: str, force: bool = False) -> Progress | None:
        self.done += n
        now = time.monotonic()
        if not force and now - self._last < REPORT_EVERY_S:
            return None
        self._last = now
        return Progress(self.done, self.total, message=message)


class Digest:
    """The Hub's checksum of a file, computed as it arrives: SHA-256 for LFS files, git's
    blob id (SHA-1) for the others; None when the Hub gave neither."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.reset()

    def reset(self) -> None:
        if self.remote.sha256:
            self.hash, self.expected = hashlib.sha256(), self.remote.sha256
        elif self.remote.blob_id:
            self.hash, self.expected = hashlib.sha1(usedforsecurity=False), self.remote.blob_id
            self.hash.update(b"blob %d\0" % self.remote.size)
        else:
            self.hash, self.expected = None, None

    def update(self, data: bytes) -> None:
        if self.hash is not None:
            self.hash.update(data)

    def ok(self) -> bool:
        return self.hash is None or self.hash.hexdigest() == self.expected.lower()


def wait(seconds: float) -> None:
    """Sleeps, giving way to the job's Cancel."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cancel.requested():
            raise cancel.Stopped
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


class Transfer:
    """One pull's connection to the Hub: its session, headers and time limits."""

    def __init__(self, hf: Any, http: Any, repo_id: str, commit: str, endpoint: str,
                 token: str | bool | None, timeout: float, retries: int) -> None:
        self.hf, self.http, self.repo_id, self.commit = hf, http, repo_id, commit
        self.endpoint, self.timeout, self.retries = endpoint, timeout, retries
        self.session = hf.get_session()
        self.headers = hf.utils.build_hf_headers(token=token, library_name="genplay",
                                                 library_version=__version__)
        self.headers["Accept-Encoding"] = "identity"  # byte counts and ranges of the file

    def url(self, path: str) -> str:
        # the commit, not the branch: every file comes from the same version
        return self.hf.hf_hub_url(self.repo_id, path, revision=self.commit,
                                  endpoint=self.endpoint)

    def small(self, remote: Remote) -> bytes:
        """A small file (a pipeline's JSON), whole, checked against the Hub's checksum."""
        if remote.size > SMALL_FILE_LIMIT:
            raise GenplayError(f"{self.repo_id}: {remote.path} is {mb(remote.size)}, "
                               "far more than a pipeline's config")
        data = b""
        with self.session.stream("GET", self.url(remote.path), headers=self.headers,
                                 timeout=self.timeout, follow_redirects=True) as response:
            self.hf.utils.hf_raise_for_status(response)
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > remote.size:
                    break
        digest = Digest(remote)
        digest.update(data)
        if len(data) != remote.size or not digest.ok():
            raise GenplayError(f"{self.repo_id}: {remote.path} arrived damaged (its size "
                               "or checksum differs from the Hub's); pull again")
        return data

    def fetch(self, remote: Remote, part: Path, meter: Meter) -> Iterator[Progress]:
        """Streams a file into part, from the bytes part already has; retries a transfer
        that breaks off; checks the whole file's checksum."""
        digest = Digest(remote)
        have = part.stat().st_size if part.exists() else 0
        if have > remote.size:  # not a part of this file (_present has removed such parts)
            part.unlink()
            have = 0
        if have:
            with open(part, "rb") as fh:  # the checksum covers the bytes already here
                while block := fh.read(HASH_BLOCK):
                    if cancel.requested():
                        raise cancel.Stopped
                    digest.update(block)
        tries = 0
        while have < remote.size:
            headers = dict(self.headers)
            if have:
                headers["Range"] = f"bytes={have}-"
            try:
                with self.session.stream("GET", self.url(remote.path), headers=headers,
                                         timeout=self.timeout,
                                         follow_redirects=True) as response:
                    self.hf.utils.hf_raise_for_status(response)
                    if have and response.status_code != 206:  # the range was ignored
                        meter.done -= have
                        have = 0
                        digest.reset()
                    with open(part, "ab" if have else "wb") as fh:
                        for chunk in response.iter_bytes():
                            if cancel.requested():
                                raise cancel.Stopped
                            if have + len(chunk) > remote.size:
                                raise GenplayError(
                                    f"{remote.path}: the Hub sent more than the "
                                    f"{mb(remote.size)} it listed; pull again")
                            fh.write(chunk)
                            digest.update(chunk)
                            have += len(chunk)
                            tries = 0  # bytes came: the count of failures starts again
                            event = meter.add(len(chunk), remote.path)
                            if event is not None:
                                yield event
                if have < remote.size:
                    raise self.http.RemoteProtocolError("the server ended the file early")
            except (self.http.ConnectError, self.http.ConnectTimeout, self.http.ProxyError):
                raise  # no connection at all: the offline message
            except self.http.TransportError as exc:
                if tries >= self.retries:
                    raise GenplayError(
                        f"the download of {remote.path} broke off at {mb(have)} of "
                        f"{mb(remote.size)} ({reason(exc)}); pull again to go on from there"
                    ) from None
                tries += 1
                wait(RETRY_WAIT_S)
        if not digest.ok():
            part.unlink()
            raise GenplayError(f"{remote.path} arrived damaged (its checksum differs from the "
                               "Hub's); pull again to fetch it anew")
        event = meter.add(0, remote.path, force=True)
        if event is not None:
            yield event
