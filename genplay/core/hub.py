"""Models from the Hugging Face Hub: ``genplay pull hf://OWNER/NAME`` and the app's
"Download from the Hub…" dialog.

Only the files genplay opens are fetched, never the whole repository:

- a diffusers pipeline (the repository has ``model_index.json``): ``model_index.json``,
  ``scheduler/scheduler_config.json``, ``unet/config.json`` and the UNet's safetensors
  weights (the full-precision file; an ``.fp16`` one only when it is the only one).
  Pickles (``.bin``, ``.ckpt``), ONNX and Flax files and other components never come. A
  pipeline with more than a UNet and a scheduler (a VAE, a text encoder: latent or
  text-to-image models) or whose UNet is not a ``UNet2DModel`` is refused from its small
  JSON files, before any weights are downloaded.
- an upscaler's weights (no ``model_index.json``): the one ``.safetensors`` or ``.pth``
  file at the top of the repository, or the one the user names (``--file``, or
  ``hf://OWNER/NAME/FILE``) when there are several.

A model lands in ``user_model_dir()/OWNER--NAME`` (``@REVISION`` added for another
revision than main, ``--FILE`` for a chosen file), with ``pulled.json`` saying where it came
from. Files are downloaded into ``.partial/`` beside it, each checked against the Hub's
SHA-256 (or git blob id), and the folder is placed with one rename only when every file is
there: a cut or cancelled pull never leaves a folder that looks complete, and the next pull
goes on from the bytes it has (HTTP range requests). huggingface_hub 2.x itself starts an
interrupted file over (its temporary files are unique to a call and deleted on failure), so
genplay streams the files itself through huggingface_hub's HTTP session, which brings the
user's token (gated and private models), proxy settings and the Hub's error codes.

huggingface_hub is an optional extra (``pip install 'genplay[diffusers]'``), imported only
inside the functions that need it. HF_ENDPOINT is read when a pull starts (huggingface_hub
reads it once, at import), so a mirror, or a test's local server, works at any time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from genplay import __version__
from genplay.core.errors import GenplayError
from genplay.core.events import Progress, Result
from genplay.core.files import atomic_write, read_bytes
from genplay.core.hub_transfer import Meter, Remote, Transfer, reason
from genplay.core.paths import user_model_dir

__all__ = ["Spec", "folder_name", "parse_spec", "pull", "pulled_model", "resolve_spec"]

INSTALL = "pip install 'genplay[diffusers]'"
RECORD = "pulled.json"  # in a pulled folder: where it came from, and its files
PARTIAL = ".partial"  # beside the models: downloads under way, and their locks
DEFAULT_REVISION = "main"
OPEN_HINT = "open it with 'genplay sample PATH' or File > Open checkpoint folder…"

PIPELINE_CONFIGS = ("model_index.json", "scheduler/scheduler_config.json", "unet/config.json")
UNET_WEIGHTS = "unet/diffusion_pytorch_model.safetensors"
PIPELINE_PARTS = frozenset({"unet", "scheduler"})
UPSCALER_SUFFIXES = (".safetensors", ".pth")

JSON_LIMIT = 1 << 20  # bytes: a pipeline's JSON files are a few hundred bytes

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?")
_HUB_HOSTS = ("huggingface.co", "www.huggingface.co", "hf.co")
_OTHER_REPO_KINDS = ("datasets", "spaces", "buckets", "kernels")
_HALF = re.compile(r"\.(fp16|bf16)\.", re.IGNORECASE)
_COMMIT = re.compile(r"[0-9a-f]{40}")


# --- what to pull ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """A model on the Hub: OWNER/NAME, and optionally a revision and (for an upscaler
    repository holding several weight files) the file."""

    repo_id: str
    revision: str | None = None
    file: str | None = None

    @property
    def source(self) -> str:
        return f"hf://{self.repo_id}"


def _check_name(part: str, what: str, text: str) -> None:
    if not _NAME.fullmatch(part) or "--" in part or ".." in part:
        raise GenplayError(
            f"{text!r}: {what} {part!r} is not a Hub name (letters, digits, '-', '_' and '.', "
            "at most 96, starting and ending with a letter or digit, no '--' or '..')")


def _check_revision(revision: str) -> str:
    if (not revision or len(revision) > 200 or revision.startswith(("/", "-"))
            or ".." in revision or any(c.isspace() or not c.isprintable() for c in revision)):
        raise GenplayError(f"{revision!r} is not a revision (a branch, a tag or a commit, as "
                           "main, v1.0 or refs/pr/3)")
    return revision


def _check_file(path: str) -> str:
    parts = path.split("/")
    if (not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts)
            or not path.lower().endswith(UPSCALER_SUFFIXES)):
        raise GenplayError(f"{path!r} is not a weights file in a repository (a .safetensors "
                           "or .pth file, as RealESRGAN_x4.pth)")
    return path


def parse_spec(text: str) -> Spec:
    """A model named as hf://OWNER/NAME, OWNER/NAME or a huggingface.co address, with
    optionally @REVISION after the name and /FILE after that (hf://OWNER/NAME@v1/x4.pth).
    GenplayError (one line) for anything else."""
    raw = text
    text = text.strip()
    revision: str | None = None
    file: str | None = None
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        url = urlsplit(text)
        if url.hostname not in _HUB_HOSTS:
            raise GenplayError(f"{raw!r}: not a Hugging Face Hub address; give the model as "
                               "OWNER/NAME, e.g. google/ddpm-cifar10-32")
        parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
        if len(parts) >= 4 and parts[2] in ("tree", "blob", "resolve"):
            revision = parts[3]
            file = "/".join(parts[4:]) or None
            parts = parts[:2]
        text = "/".join(parts)
    elif lowered.startswith("hf://"):
        text = text[5:]
    text = text.strip("/")
    if text.split("/", 1)[0] in _OTHER_REPO_KINDS:
        raise GenplayError(f"{raw!r} is not a model repository: genplay pull fetches models "
                           "(OWNER/NAME)")
    parts = text.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise GenplayError(f"{raw!r}: give the model as OWNER/NAME (or hf://OWNER/NAME), e.g. "
                           "google/ddpm-cifar10-32")
    owner, name = parts[0], parts[1]
    if "@" in name:
        name, _, at = name.partition("@")
        revision = unquote(at)
    if len(parts) > 2:
        file = "/".join(parts[2:])
    _check_name(owner, "owner", raw)
    _check_name(name, "name", raw)
    if name.lower().endswith(".git"):
        raise GenplayError(f"{raw!r}: a model name never ends with .git")
    if revision is not None:
        _check_revision(revision)
    if file is not None:
        _check_file(file)
    return Spec(f"{owner}/{name}", revision, file)


def resolve_spec(spec: str | Spec, revision: str | None = None,
                 file: str | None = None) -> Spec:
    """The spec with the revision and file given beside it (--revision, --file) merged in,
    the revision main when none is given. GenplayError (one line) if they disagree."""
    parsed = spec if isinstance(spec, Spec) else parse_spec(spec)
    if revision is not None:
        _check_revision(revision)
        if parsed.revision is not None and parsed.revision != revision:
            raise GenplayError(f"{spec}: names revision {parsed.revision!r} and --revision says "
                               f"{revision!r}; give one")
    if file is not None:
        _check_file(file)
        if parsed.file is not None and parsed.file != file:
            raise GenplayError(f"{spec}: names file {parsed.file!r} and --file says {file!r}; "
                               "give one")
    return Spec(parsed.repo_id, revision or parsed.revision or DEFAULT_REVISION,
                file or parsed.file)


def _safe(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:limit].strip(".") or "_"


def folder_name(spec: Spec) -> str:
    """OWNER--NAME, then --FILE (a chosen weights file's stem) and @REVISION (unless
    main; a commit by its first 12 digits)."""
    owner, name = spec.repo_id.split("/")
    folder = f"{owner}--{name}"
    if spec.file:
        folder += f"--{_safe(Path(spec.file).stem)}"
    revision = spec.revision or DEFAULT_REVISION
    if revision != DEFAULT_REVISION:
        folder += "@" + (revision[:12] if _COMMIT.fullmatch(revision) else _safe(revision))
    return folder


# --- the Hub's answers -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    kind: str  # "pipeline" or "upscaler"
    files: tuple[Remote, ...]
    model: str  # what to open, relative to the folder ("" for the folder itself)
    known: dict[str, bytes]  # files already fetched to decide (the pipeline's JSON)
    note: str = ""


def _listing(info: Any, repo_id: str) -> tuple[str, dict[str, Remote]]:
    """(commit, {path: file}) from huggingface_hub's ModelInfo."""
    commit = getattr(info, "sha", None)
    siblings = getattr(info, "siblings", None)
    if not commit or siblings is None:
        raise GenplayError(f"the Hub's answer about {repo_id} names no commit or no files; "
                           "if HF_ENDPOINT is set, check that it is a Hugging Face Hub")
    files = {}
    for s in siblings:
        if s.size is None:
            raise GenplayError(f"the Hub's answer about {repo_id} gives no size for "
                               f"{s.rfilename}; if HF_ENDPOINT is set, check that it is a Hub")
        lfs = s.lfs
        files[s.rfilename] = Remote(s.rfilename, int(s.size),
                                     lfs.get("sha256") if lfs else None, s.blob_id)
    return commit, files


def _json(data: bytes, path: str, repo_id: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise GenplayError(f"{repo_id}: {path} is not a JSON object, so it is no diffusers "
                           "pipeline genplay can open")
    return value


def _plan(spec: Spec, files: dict[str, Remote],
          fetch: Callable[[Remote], bytes]) -> _Plan:
    """Chooses the files genplay needs (fetching small JSON files to decide)."""
    repo = spec.repo_id
    if "model_index.json" in files:
        return _plan_pipeline(spec, files, fetch)
    weights = sorted(p for p in files if "/" not in p and p.lower().endswith(UPSCALER_SUFFIXES))
    if spec.file is not None:
        if spec.file not in files:
            listed = ", ".join(weights) or "none at its top level"
            raise GenplayError(f"{repo} has no file {spec.file} at this revision (its weight "
                               f"files: {listed})")
        chosen = spec.file
    else:
        by_stem: dict[str, list[str]] = {}
        for path in weights:
            by_stem.setdefault(Path(path).stem, []).append(path)
        # one model in two formats: the safetensors file (no pickle to read)
        models = [next((p for p in paths if p.lower().endswith(".safetensors")), paths[0])
                  for paths in by_stem.values()]
        if not models:
            raise GenplayError(
                f"{repo} has neither model_index.json (a diffusers pipeline) nor .safetensors "
                ".pth weights at its top level: genplay pull fetches those two kinds")
        if len(models) > 1:
            raise GenplayError(
                f"{repo} holds {len(models)} weight files ({', '.join(models)}); name one, as "
                f"{repo}/{models[0]} (genplay pull: --file {models[0]})")
        chosen = models[0]
    return _Plan("upscaler", (files[chosen],), chosen, {})


def _plan_pipeline(spec: Spec, files: dict[str, Remote],
                   fetch: Callable[[Remote], bytes]) -> _Plan:
    repo = spec.repo_id
    if spec.file is not None:
        raise GenplayError(f"{repo} is a diffusers pipeline; a file is named only for an "
                           "upscaler's repository")
    known = {"model_index.json": fetch(files["model_index.json"])}
    index = _json(known["model_index.json"], "model_index.json", repo)
    kind = str(index.get("_class_name", "pipeline"))
    parts = [k for k, v in index.items() if not k.startswith("_") and isinstance(v, list)
             and len(v) == 2 and v[0] is not None and v[1] is not None]
    others = [k for k in parts if k not in PIPELINE_PARTS]
    if others or "unet" not in parts:
        what = f"with {', '.join(others[:4])}" if others else "without a unet"
        raise GenplayError(
            f"{repo} is a {kind} {what}: genplay opens pipelines of one UNet2DModel and a "
            "scheduler (DDPM, DDIM, PNDM …), not latent or text-to-image ones")
    missing = [p for p in PIPELINE_CONFIGS if p not in files]
    if missing:
        raise GenplayError(f"{repo} lacks {', '.join(missing)}, so it is no complete "
                           "diffusers pipeline")
    known["unet/config.json"] = fetch(files["unet/config.json"])
    unet = _json(known["unet/config.json"], "unet/config.json", repo)
    if unet.get("_class_name") != "UNet2DModel":
        named = unet.get("_class_name", "model of no stated class")
        raise GenplayError(f"{repo}'s UNet is a {named}: genplay opens pipelines of a "
                           "UNet2DModel (unconditional or class-conditional), not "
                           "text-to-image ones")
    weights, note = _unet_weights(repo, files)
    chosen = (*PIPELINE_CONFIGS, weights)
    return _Plan("pipeline", tuple(files[p] for p in chosen), "", known, note)


def _unet_weights(repo: str, files: dict[str, Remote]) -> tuple[str, str]:
    """The UNet's safetensors file: the full-precision one, else the only one (fp16)."""
    in_unet = sorted(p for p in files if p.startswith("unet/") and p.count("/") == 1)
    tensors = [p for p in in_unet if p.endswith(".safetensors")]
    if UNET_WEIGHTS in tensors:
        return UNET_WEIGHTS, ""
    full = [p for p in tensors if not _HALF.search(p)]
    if len(full) == 1:
        return full[0], ""
    if not full and len(tensors) == 1:
        return tensors[0], f"only half-precision weights ({tensors[0]}) are published"
    if tensors:
        raise GenplayError(f"{repo} has several UNet weight files ({', '.join(tensors)}) and "
                           f"no {UNET_WEIGHTS}; genplay opens a pipeline with one")
    pickles = [p for p in in_unet if p.endswith((".bin", ".ckpt", ".pt", ".pth"))]
    if pickles:
        raise GenplayError(
            f"{repo} publishes its UNet as a pickle only ({pickles[0]}), and genplay pull "
            "fetches safetensors only; look for a safetensors conversion among the "
            "repository's pull requests and pull it with --revision refs/pr/N")
    raise GenplayError(f"{repo} has no UNet weights ({UNET_WEIGHTS})")


# --- talking to the Hub ----------------------------------------------------------------------
def _libraries() -> tuple[Any, Any]:
    """huggingface_hub and the HTTP library under its session (httpx2 in huggingface_hub
    2.x, httpx in 1.x), imported on first use: an optional extra."""
    try:
        import huggingface_hub
        import huggingface_hub.constants
        import huggingface_hub.errors
        import huggingface_hub.utils  # noqa: F401 (the submodules used as attributes)
    except ImportError:
        raise GenplayError(f"downloading from the Hugging Face Hub needs the huggingface_hub "
                           f"library: {INSTALL}") from None
    too_old = GenplayError(f"genplay pull needs huggingface_hub 1.0 or later (this is "
                           f"{huggingface_hub.__version__}): {INSTALL} --upgrade")
    if not re.match(r"[1-9]", huggingface_hub.__version__):  # 0.x: requests, not httpx
        raise too_old
    try:
        import httpx2 as http
    except ImportError:
        try:
            import httpx as http
        except ImportError:
            raise too_old from None
    return huggingface_hub, http


def _endpoint(hf: Any) -> str:
    """HF_ENDPOINT as it is now (huggingface_hub read it once, at import)."""
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/")
    return endpoint or hf.constants.ENDPOINT


def _offline_env() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")


@contextlib.contextmanager
def _explained(spec: Spec, endpoint: str, hf: Any, http: Any) -> Iterator[None]:
    """The Hub's and the network's exceptions as one-line GenplayErrors that say what to do."""
    errors = hf.errors
    host = urlsplit(endpoint).netloc or endpoint
    page = f"{endpoint}/{spec.repo_id}"
    repo = spec.repo_id
    try:
        yield
    except errors.OfflineModeIsEnabled:
        raise GenplayError("HF_HUB_OFFLINE is set, so nothing is downloaded: unset it to pull, "
                           f"or copy the model's folder from another computer and {OPEN_HINT}"
                           ) from None
    except errors.GatedRepoError:
        raise GenplayError(f"{repo} is gated: accept its conditions on {page} with your account, "
                           "log in here (hf auth login, or set HF_TOKEN), then pull again"
                           ) from None
    except errors.RevisionNotFoundError:
        raise GenplayError(f"{repo} has no revision {spec.revision!r}; see its branches and tags "
                           f"on {page}") from None
    except errors.RepositoryNotFoundError:
        raise GenplayError(f"no model {repo} on {host} (check the name on {page}; a private "
                           "model needs you logged in: hf auth login, or HF_TOKEN)") from None
    except errors.DisabledRepoError:
        raise GenplayError(f"{repo} has been disabled on the Hub") from None
    except errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise GenplayError(f"{host} refused access to {repo} (HTTP {status}): log in with an "
                               "account that may read it (hf auth login, or HF_TOKEN)") from None
        if isinstance(exc, errors.EntryNotFoundError) or status == 404:
            raise GenplayError(f"{repo}: a file listed by the Hub is missing from revision "
                               f"{spec.revision!r} (HTTP 404); pull again later") from None
        if status == 429:
            raise GenplayError(f"{host} says too many requests; wait a few minutes and pull "
                               "again") from None
        raise GenplayError(f"{host} answered HTTP {status} for {repo}; try again later "
                           f"({reason(exc)})") from None
    except http.ProxyError as exc:
        raise GenplayError(f"the proxy refused the connection to {host} ({reason(exc)}); check "
                           "HTTPS_PROXY / HTTP_PROXY") from None
    except (http.ConnectError, http.ConnectTimeout) as exc:
        raise GenplayError(
            f"genplay pull needs the internet to reach {host} ({reason(exc)}); copy the "
            f"model's folder from another computer instead and {OPEN_HINT}") from None
    except http.TransportError as exc:
        raise GenplayError(f"the connection to {host} failed ({reason(exc)}); pull again to go "
                           "on from there") from None


# --- on disk ---------------------------------------------------------------------------------
def _record(folder: Path) -> dict[str, Any] | None:
    path = folder / RECORD
    try:
        value = json.loads(read_bytes(path, limit=JSON_LIMIT))
    except (GenplayError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _complete(folder: Path, spec: Spec) -> dict[str, Any] | None:
    """The record of folder if it holds every file of a pull of the same model, revision
    and file; None if not."""
    record = _record(folder)
    if (record is None or str(record.get("repo_id", "")).lower() != spec.repo_id.lower()
            or record.get("revision") != spec.revision or record.get("file") != spec.file
            or pulled_model(folder) is None):
        return None
    return record


def source_of(path: str | os.PathLike) -> str:
    """Where genplay pull fetched a model from ("hf://owner/name", with @revision when not
    main), read from the pulled.json of its folder (or of the folder of a weights file);
    "" for a model that was not pulled."""
    path = Path(path)
    for folder in (path, path.parent):
        record = _record(folder) if (folder / RECORD).is_file() else None
        if record is not None and isinstance(record.get("source"), str):
            return record["source"]
    return ""


def pulled_model(folder: str | os.PathLike) -> Path | None:
    """What a folder genplay pull placed holds to open: the folder itself (a pipeline) or
    the upscaler's weights file in it; None for any other folder, or one missing files.
    Reads pulled.json and stats the files only (the model list's scan can call it)."""
    folder = Path(folder)
    record = _record(folder)
    if record is None or not isinstance(record.get("files"), dict):
        return None
    model = record.get("model", "")
    if not isinstance(model, str) or model not in ("", *record["files"]):
        return None
    for name, size in record["files"].items():
        try:
            st = os.stat(folder / name)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return None
    return folder / model if model else folder


@contextlib.contextmanager
def _locked(path: Path, repo: str) -> Iterator[None]:
    """One pull at a time into a folder (an advisory lock, gone with its process)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock (the app runs one download at a time)
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise GenplayError(f"another genplay pull of {repo} into {path.parent.parent} is "
                               "running; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _place(staging: Path, dest: Path, partial: Path) -> None:
    """Moves the finished staging folder to dest (replacing an existing dest only now)."""
    old = None
    if dest.exists() or dest.is_symlink():
        old = partial / f"{dest.name}.replaced-{secrets.token_hex(4)}"
        os.replace(dest, old)
    try:
        os.replace(staging, dest)
    except OSError:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _clear_stale(partial: Path, name: str, keep: Path) -> None:
    """Staging folders of this model for another commit: their bytes are another version."""
    for p in partial.glob(f"{name}.*"):
        tail = p.name[len(name) + 1:]
        if p != keep and p.is_dir() and re.fullmatch(r"[0-9a-f]{12}", tail):
            shutil.rmtree(p, ignore_errors=True)


# --- pulling ---------------------------------------------------------------------------------
def pull(spec: str | Spec, *, revision: str | None = None, file: str | None = None,
         to: str | os.PathLike | None = None, overwrite: bool = False,
         timeout: float = 30.0, retries: int = 3,
         token: str | bool | None = None) -> Iterator[Progress | Result]:
    """Downloads a model from the Hub into to (default user_model_dir()) / folder_name.

    Yields Progress(bytes done, bytes in all, message=the file) a few times a second, then
    Result(folder, summary); summary["model"] is the path to open (the folder, or an
    upscaler's weights file in it), summary["already"] says the folder was there. A folder
    that exists is never replaced unless overwrite; one holding this same pull is the
    result as it is. Raises GenplayError (one line) for what the user can act on, and
    cancel.Stopped when the job is cancelled (the bytes so far stay for the next pull)."""
    wanted = resolve_spec(spec, revision, file)
    root = Path(to).expanduser() if to is not None else user_model_dir()
    dest = root / folder_name(wanted)
    base = {"repo_id": wanted.repo_id, "revision": wanted.revision, "source": wanted.source}
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise GenplayError(f"{dest} exists and is not a folder; move it away to pull "
                               f"{wanted.repo_id} there")
        record = _complete(dest, wanted)
        if record is not None and not overwrite:
            model = dest / record.get("model", "")
            yield Result(dest, {**base, "already": True, "commit": record.get("commit"),
                                "kind": record.get("kind"), "model": str(model),
                                "files": sorted(record["files"]),
                                "bytes": sum(record["files"].values()), "downloaded": 0})
            return
        if not overwrite:
            raise GenplayError(f"{dest} exists and is not this model's complete download; "
                               "move it away, or pull with overwrite (genplay pull "
                               "--overwrite) to replace it")
    if _offline_env():
        raise GenplayError("HF_HUB_OFFLINE is set, so nothing is downloaded: unset it to pull, "
                           f"or copy the model's folder from another computer and {OPEN_HINT}")
    hf, http = _libraries()
    endpoint = _endpoint(hf)
    host = urlsplit(endpoint).netloc or endpoint
    yield Progress(0, None, message=f"asking {host} about {wanted.repo_id}")
    with _explained(wanted, endpoint, hf, http):
        api = hf.HfApi(endpoint=endpoint, token=token, library_name="genplay",
                       library_version=__version__)
        info = api.model_info(wanted.repo_id, revision=wanted.revision, files_metadata=True,
                              timeout=timeout)
        commit, files = _listing(info, wanted.repo_id)
        transfer = Transfer(hf, http, wanted.repo_id, commit, endpoint, token, timeout, retries)
        plan = _plan(wanted, files, transfer.small)
        summary = yield from _download(transfer, wanted, plan, dest, overwrite)
    yield Result(dest, {**base, **summary})


def _download(transfer: Transfer, spec: Spec, plan: _Plan, dest: Path,
              overwrite: bool) -> Iterator[Progress]:
    """Fetches the plan's files into a staging folder and places it; returns the summary."""
    commit = transfer.commit
    partial = dest.parent / PARTIAL
    staging = partial / f"{dest.name}.{commit[:12]}"
    total = sum(f.size for f in plan.files)
    try:
        with _locked(partial / f"{dest.name}.lock", spec.repo_id):
            if (dest.exists() or dest.is_symlink()) and not overwrite:  # placed meanwhile
                raise GenplayError(f"{dest} appeared while this pull ran; pull again")
            staging.mkdir(parents=True, exist_ok=True)
            _clear_stale(partial, dest.name, staging)
            present = {f.path: _present(staging, f) for f in plan.files}
            resumed = sum(present.values())
            meter = Meter(resumed, total)
            yield Progress(resumed, total, message=plan.files[0].path)
            for remote in plan.files:
                target = staging / remote.path
                if target.is_file() and target.stat().st_size == remote.size:
                    continue  # checked when it arrived
                target.parent.mkdir(parents=True, exist_ok=True)
                if remote.path in plan.known:
                    data = plan.known[remote.path]
                    atomic_write(target, lambda tmp, data=data: tmp.write_bytes(data))
                    event = meter.add(remote.size, remote.path, force=True)
                    yield event
                    continue
                part = target.with_name(target.name + ".incomplete")
                yield from transfer.fetch(remote, part, meter)
                os.replace(part, target)
            record = {"source": spec.source, "repo_id": spec.repo_id,
                      "revision": spec.revision, "commit": commit, "file": spec.file,
                      "kind": plan.kind, "model": plan.model,
                      "files": {f.path: f.size for f in plan.files},
                      "endpoint": transfer.endpoint,
                      "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      "genplay_version": __version__}
            atomic_write(staging / RECORD, lambda tmp: tmp.write_text(
                json.dumps(record, indent=2) + "\n", encoding="utf-8"))
            _place(staging, dest, partial)
            (partial / f"{dest.name}.lock").unlink(missing_ok=True)
    except OSError as exc:  # the local disk: full, read-only, a permission
        hub_errors = transfer.hf.errors
        if isinstance(exc, (hub_errors.HfHubHTTPError, hub_errors.OfflineModeIsEnabled)):
            raise  # the Hub's answers (OSErrors too): _explained says them
        raise GenplayError(f"cannot write the download into {dest.parent} "
                           f"({exc.strerror or exc})") from None
    with contextlib.suppress(OSError):
        partial.rmdir()  # only when empty: other pulls may be under way
    summary = {"already": False, "commit": commit, "kind": plan.kind,
               "model": str(dest / plan.model), "files": [f.path for f in plan.files],
               "bytes": total, "downloaded": total - resumed, "resumed": resumed}
    if plan.note:
        summary["note"] = plan.note
    return summary


def _present(staging: Path, remote: Remote) -> int:
    """Bytes of a file already in the staging folder (whole, or the part downloaded); a
    file or part of another size than the Hub lists is removed."""
    target = staging / remote.path
    part = target.with_name(target.name + ".incomplete")
    for path, fits in ((target, lambda n: n == remote.size), (part, lambda n: n <= remote.size)):
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            if fits(size):
                return size
            path.unlink()
    return 0
