"""A local HTTP server standing in for the Hugging Face Hub, for the tests of genplay pull
(core, CLI, app): what the download tests use instead of the network.

It answers what huggingface_hub 2.4's HfApi.model_info (``GET /api/models/OWNER/NAME
/revision/REV?blobs=true``) and file downloads (``HEAD`` and ``GET /OWNER/NAME/resolve/REV
/PATH``) ask, as the Hub does: the file list with sizes, git blob ids and LFS SHA-256s;
``X-Repo-Commit``, ``ETag`` and ``X-Linked-*`` headers; a redirect of LFS files to a
"CDN" path; range requests (206); and the Hub's error codes (``X-Error-Code`` RepoNotFound,
RevisionNotFound, EntryNotFound, GatedRepo). A test can make a file's transfer break off
half-way (``drops``), arrive damaged (``damaged``) or trickle (``slow``).

``start(monkeypatch, tmp_path)`` serves it for one test: HF_ENDPOINT points at it,
GENPLAY_MODELS and HF_HOME at tmp_path, no token or offline mode leaks in from the machine,
and nothing is read from or written to the user's home.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pth", ".ckpt", ".onnx", ".msgpack")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeRepo:
    files: dict[str, bytes]
    commit: str
    revisions: dict[str, str] = field(default_factory=dict)  # name -> commit
    gated: bool = False

    def is_lfs(self, path: str) -> bool:
        return path.endswith(LFS_SUFFIXES)


class HubServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range)
        self.transfers: list[tuple[str, str | None]] = []  # (file path, Range) of each GET
        self.drops: dict[str, int] = {}  # file path -> transfers still to break off
        self.damaged: set[str] = set()  # file paths served with a wrong byte
        self.slow: set[str] = set()  # file paths sent in small pieces with pauses
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        """The same server by another name: another origin, as the Hub's CDN is (a token
        is not sent there)."""
        return f"http://localhost:{self.server_address[1]}"

    def add(self, repo_id: str, files: dict[str, bytes], revisions: tuple[str, ...] = ("main",),
            gated: bool = False) -> str:
        """Serves a repository; returns its commit."""
        content = json.dumps({p: git_blob_id(d) for p, d in sorted(files.items())})
        commit = hashlib.sha1((repo_id + content).encode()).hexdigest()
        self.repos[repo_id] = FakeRepo(dict(files), commit, {r: commit for r in revisions},
                                       gated)
        return commit

    def downloads(self, path: str) -> list[str | None]:
        """The Range header of each GET of a file's bytes (None: from the start)."""
        return [r for p, r in self.transfers if p == path]

    def weights_requests(self) -> list[str]:
        return [p for m, p, _ in self.requests if p.endswith(LFS_SUFFIXES)]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: HubServer

    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)

    # --- routing ---------------------------------------------------------------------------
    def _answer(self, body: bool) -> None:
        url = urlsplit(self.path)
        with self.server.lock:
            self.server.requests.append((self.command, unquote(url.path),
                                         self.headers.get("Range")))
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            revision = parts[5] if len(parts) >= 6 and parts[4] == "revision" else "main"
            self._model_info("/".join(parts[2:4]), revision, body)
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
        elif parts[0] == "cdn" and len(parts) == 3:
            self._cdn("/".join(parts[1:]).split("/", 1), body)
        else:
            self._error(404, "", "Not found")

    def _error(self, status: int, code: str, message: str) -> None:
        data = json.dumps({"error": message}).encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _repo(self, repo_id: str, revision: str) -> tuple[FakeRepo, str] | None:
        repo = self.server.repos.get(repo_id)
        if repo is None:
            # the Hub answers 401 to an anonymous caller, so a private model stays secret
            self._error(401, "RepoNotFound", "Repository not found")
            return None
        commit = repo.revisions.get(revision, revision if revision == repo.commit else None)
        if commit is None:
            self._error(404, "RevisionNotFound", "Invalid rev id: " + revision)
            return None
        return repo, commit

    # --- the API ---------------------------------------------------------------------------
    def _model_info(self, repo_id: str, revision: str, body: bool) -> None:
        found = self._repo(repo_id, revision)
        if found is None:
            return
        repo, commit = found
        siblings = []
        for path, data in sorted(repo.files.items()):
            entry = {"rfilename": path, "size": len(data), "blobId": git_blob_id(data)}
            if repo.is_lfs(path):
                entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                                "pointerSize": 134}
            siblings.append(entry)
        data = json.dumps({"id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                           "gated": "manual" if repo.gated else False, "disabled": False,
                           "tags": [], "siblings": siblings}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _resolve(self, repo_id: str, revision: str, path: str, body: bool) -> None:
        found = self._repo(repo_id, revision)
        if found is None:
            return
        repo, commit = found
        if repo.gated:
            self._error(401, "GatedRepo", "Access to model " + repo_id + " is restricted")
            return
        data = repo.files.get(path)
        if data is None:
            self._error(404, "EntryNotFound", "Entry not found")
            return
        if repo.is_lfs(path):  # the Hub sends LFS files' bytes from a CDN, another host
            sha = hashlib.sha256(data).hexdigest()
            self.send_response(302)
            self.send_header("Location", f"{self.server.cdn_url}/cdn/{sha}/{quote(path, safe='')}")
            self.send_header("X-Repo-Commit", commit)
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("ETag", f'"{git_blob_id(data)}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(path, data, body, {"X-Repo-Commit": commit,
                                      "ETag": f'"{git_blob_id(data)}"'})

    def _cdn(self, key: list[str], body: bool) -> None:
        sha, path = key[0], unquote(key[1]) if len(key) > 1 else ""
        for repo in self.server.repos.values():
            data = repo.files.get(path)
            if data is not None and hashlib.sha256(data).hexdigest() == sha:
                self._send(path, data, body, {"ETag": f'"{sha}"'})
                return
        self._error(404, "", "No such object")

    # --- bytes -----------------------------------------------------------------------------
    def _send(self, path: str, data: bytes, body: bool, headers: dict[str, str]) -> None:
        server = self.server
        if body:
            with server.lock:
                server.transfers.append((path, self.headers.get("Range")))
        if path in server.damaged:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        start = 0
        asked = self.headers.get("Range")
        if asked:
            first, _, last = asked.removeprefix("bytes=").partition("-")
            start = int(first)
            end = int(last) + 1 if last else len(data)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            data_out = data[start:end]
        else:
            self.send_response(200)
            data_out = data
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data_out)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not body:
            return
        with server.lock:
            drop = server.drops.get(path, 0) > 0 and self.command == "GET"
            if drop:
                server.drops[path] -= 1
        if drop:  # half the bytes asked for, then the connection breaks
            self.wfile.write(data_out[: len(data_out) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if path in server.slow:
            for i in range(0, len(data_out), 16384):
                self.wfile.write(data_out[i: i + 16384])
                self.wfile.flush()
                time.sleep(0.01)
            return
        self.wfile.write(data_out)


def closed_port() -> int:
    """A local port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(monkeypatch, tmp_path) -> HubServer:
    """Serves a fake Hub for one test and points huggingface_hub and genplay at it. The
    caller shuts it down (``stop``)."""
    from huggingface_hub import constants

    server = HubServer()
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("GENPLAY_MODELS", str(tmp_path / "models"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    # huggingface_hub read these when it was first imported, maybe before this test: no
    # token file of the machine's user, no offline mode, no telemetry (its user-agent
    # detection asks the real Hub for a list of coding agents and caches it in HF_HOME).
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    return server


def stop(server: HubServer) -> None:
    server.shutdown()
    server.server_close()


# --- repositories as the tests publish them --------------------------------------------------
def pipeline_files(weights: bytes = b"", fp16: bool = True, extra: bool = True,
                   unet_class: str = "UNet2DModel",
                   components: dict[str, list] | None = None) -> dict[str, bytes]:
    """A diffusers DDPM pipeline's files (the weights need not be real ones), with what
    genplay must leave on the Hub beside them (extra): a pickle, an fp16 copy, ONNX and
    Flax files, a README."""
    index = {"_class_name": "DDPMPipeline", "_diffusers_version": "0.1.1",
             "scheduler": ["diffusers", "DDPMScheduler"], "unet": ["diffusers", unet_class]}
    index.update(components or {})
    files = {
        "model_index.json": json.dumps(index, indent=2).encode(),
        "scheduler/scheduler_config.json": json.dumps(
            {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000,
             "beta_schedule": "linear"}).encode(),
        "unet/config.json": json.dumps(
            {"_class_name": unet_class, "sample_size": 32, "in_channels": 3}).encode(),
        "unet/diffusion_pytorch_model.safetensors": weights or bytes(range(256)) * 40,
    }
    if fp16:
        files["unet/diffusion_pytorch_model.fp16.safetensors"] = b"half" * 100
    if extra:
        files.update({
            "README.md": b"# a DDPM\n",
            "unet/diffusion_pytorch_model.bin": b"pickle" * 100,
            "unet/model.onnx": b"onnx" * 10,
            "flax_model.msgpack": b"flax" * 10,
        })
    return files
