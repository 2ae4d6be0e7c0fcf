"""A local HTTP server standing in for a dataset's publishers, and a tiny dataset in the
catalogue's place (the fixture ``published`` in conftest.py): what download tests (core,
CLI, app) use instead of the network."""

from __future__ import annotations

import http.server
import socket
import time

NAME = "mnist"


class DataServer(http.server.ThreadingHTTPServer):
    """Serves files under /good/, corrupt ones under /bad/, a 404 under /gone/; under
    /drop/ the first request of each file breaks off half-way, under /slow/ each file
    pauses half-way. Range requests work."""

    daemon_threads = True

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.dropped: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        server: DataServer = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        kind, _, name = self.path.strip("/").partition("/")
        body = server.files.get(name)
        if body is None or kind == "gone":
            self.send_error(404)
            return
        if kind == "bad":
            body = body[:-10] + bytes(10)
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if kind == "slow":  # half, a pause, the rest: time to press Cancel
            half = start + (len(body) - start) // 2
            self.wfile.write(body[start:half])
            self.wfile.flush()
            time.sleep(0.5)
            self.wfile.write(body[half:])
            return
        if kind == "drop" and name not in server.dropped:
            server.dropped.add(name)
            self.wfile.write(body[start: start + (len(body) - start) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # breaks off mid-file
            return
        self.wfile.write(body[start:])
