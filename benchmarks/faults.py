"""Reliability: every command that reads or writes files, against a corpus of bad inputs
and a set of faults, as a table of outcomes.

    python -m benchmarks.faults [--json benchmarks/results/faults.json] [--timeout 60]

Each cell ends in one of:
- handled: exit 0, or exit 2 with a one-line message; no traceback; no file of the
  user's changed;
- traceback: a Python traceback reached the user;
- hang: no answer within --timeout seconds;
- crash: the process died (a signal, or an exit code other than 0, 1, 2);
- data lost: a file the user had (an input, a file in the way) changed or vanished.

The corpus (built in a temporary folder: broken, odd and hostile image files, a FIFO, a
folder named like an image, links that lead nowhere) goes through every command that
reads pictures; each command runs as a real `genplay` process. The faults: outputs
aimed at inputs and at the user's other files, a run killed at every write of its
saves, two runs on one folder, Ctrl-C twice, and a hundred cancelled jobs in the app's
engine (memory measured).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import report

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"
OUTCOMES = ("handled", "traceback", "hang", "crash", "data lost")


# --- the corpus ---------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png(width: int, height: int, rows: bytes, extra: bytes = b"") -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + extra
            + _png_chunk(b"IDAT", zlib.compress(rows, 9)) + _png_chunk(b"IEND", b""))


def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def build_corpus(folder: Path) -> list[tuple[str, Path]]:
    """(name, path) of each bad or odd input, written into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    gray = Image.fromarray(digit)
    photo = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    good_png = _save(gray, "PNG")
    files: dict[str, bytes | None] = {
        "good-digit.png": good_png,
        "good-photo.jpg": _save(photo, "JPEG"),
        "empty.png": b"",
        "text.png": b"hello, not a picture\n",
        "utf16-text.png": "not a picture".encode("utf-16"),
        "html.png": b"<!doctype html><html><body>hi</body></html>",
        "pdf.png": b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
        "zip.png": None,  # filled below
        "truncated.png": good_png[: len(good_png) // 2],
        "truncated.jpg": _save(photo, "JPEG")[:300],
        "bad-crc.png": good_png[:-20] + bytes(4) + good_png[-16:],
        "zero-width.png": _png(0, 28, b""),
        "bomb-30000x30000.png": _png(30000, 30000, bytes(30001) * 64),
        "very-wide-1x20000.png": _png(20000, 1, b"\x00" + bytes(20000)),
        "very-tall-20000x1.png": _png(1, 20000, b"\x00\x00" * 20000),
        "huge-text-chunk.png": _png(28, 28, b"\x00" + bytes(28) * 28 + bytes(27 * 0),
                                    _png_chunk(b"tEXt", b"k\x00" + b"x" * (8 << 20))),
        "tiny-1x1.png": _save(Image.new("L", (1, 1), 200), "PNG"),
        "gray16.png": _save(Image.fromarray(digit.astype(np.uint16) * 257), "PNG"),
        "float01.tif": _save(Image.fromarray(digit.astype(np.float32) / 255), "TIFF"),
        "float-nan.tif": _save(Image.fromarray(np.full((28, 28), np.nan, np.float32)), "TIFF"),
        "rgba-transparent.png": _save(Image.new("RGBA", (28, 28), (0, 0, 0, 0)), "PNG"),
        "palette.png": _save(gray.convert("P"), "PNG"),
        "bilevel.png": _save(gray.convert("1"), "PNG"),
        "la.png": _save(gray.convert("LA"), "PNG"),
        "cmyk.jpg": _save(photo.convert("CMYK"), "JPEG"),
        "animated.gif": _save(gray, "GIF", save_all=True,
                              append_images=[Image.new("L", (28, 28), 0)]),
        "multipage.tif": _save(gray, "TIFF", save_all=True,
                               append_images=[Image.new("L", (28, 28), 0)]),
        "image.bmp": _save(gray, "BMP"),
        "image.webp": _save(photo, "WEBP"),
        "icon.ico": _save(photo, "ICO"),
        "png-named.jpg": good_png,
        "no-suffix": good_png,
        "ünïcødé ✓.png": good_png,
        "pgm-16bit.pgm": b"P5 28 28 65535\n" + bytes(28 * 28 * 2),
        "ppm-truncated.ppm": b"P6 64 64 255\n" + bytes(100),
        "gzip.png": gzip.compress(good_png),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("inside.png", good_png)
    files["zip.png"] = buffer.getvalue()
    out = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        out.append((name, path))
    special = [("fifo.png", lambda p: os.mkfifo(p)),
               ("folder.png", lambda p: p.mkdir()),
               ("empty-folder", lambda p: p.mkdir()),
               ("dangling-link.png", lambda p: p.symlink_to(folder / "nowhere.png")),
               ("link-loop.png", lambda p: p.symlink_to(p)),
               ("sparse-2GB.png", lambda p: os.truncate(_touch(p), 2 << 30)),
               ("missing.png", lambda p: None)]
    for name, make in special:
        path = folder / name
        if hasattr(os, "mkfifo") or name != "fifo.png":
            make(path)
            out.append((name, path))
    (folder / "folder.png" / "inside.png").write_bytes(good_png)
    return out


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


# --- running a command --------------------------------------------------------------------------
def _fingerprint(folder: Path) -> dict[str, str]:
    """What the user's files are: the hash of each regular file (no FIFOs, no sparse giants
    read: their size and mtime stand in)."""
    prints = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            prints[str(path)] = "other"
            continue
        stat = path.stat()
        if stat.st_size > 64 << 20:
            prints[str(path)] = f"{stat.st_size}:{stat.st_mtime_ns}"
        else:
            prints[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return prints


def run_cell(argv: list[str], timeout: float, watch: Path, env: dict) -> dict:
    """Runs genplay argv as a user would; its outcome and what it said."""
    before = _fingerprint(watch)
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "genplay", *argv], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"outcome": "hang", "seconds": timeout, "said": ""}
    seconds = time.monotonic() - start
    after = _fingerprint(watch)
    lost = [p for p, h in before.items() if after.get(p) != h]
    err = done.stderr.strip()
    lines = [line for line in err.splitlines() if line.strip()
             and not line.startswith(("\r", "  0%"))]
    said = lines[-1] if lines else ""
    if lost:
        outcome = "data lost"
    elif "Traceback (most recent call last)" in err:
        outcome = "traceback"
    elif done.returncode not in (0, 1, 2):
        outcome = "crash"
    else:
        outcome = "handled"
    return {"outcome": outcome, "code": done.returncode, "seconds": round(seconds, 2),
            "said": said[:300], "lost": lost}


# --- the corpus through every command that reads pictures ---------------------------------------
def picture_commands(out: Path) -> dict[str, list[str]]:
    """Each command that reads a picture, with FILE for the corpus file."""
    return {
        "upscale": ["upscale", str(CHECKPOINTS / "superres-mnist"), "FILE", "--scale", "2",
                    "-o", str(out / "upscaled.png")],
        "score": ["score", str(CHECKPOINTS / "vae-mnist"), "FILE"],
        "sketch": ["sketch", str(CHECKPOINTS / "diffusion-mnist"), "FILE", "--steps", "2",
                   "-n", "1", "-o", str(out / "sketched.png")],
        "inpaint": ["inpaint", str(CHECKPOINTS / "diffusion-mnist"), "FILE", "--mask", "FILE",
                    "--steps", "2", "-n", "1", "-o", str(out / "filled.png")],
        "interpolate": ["interpolate", str(CHECKPOINTS / "vae-mnist"), "--from", "FILE",
                        "--to", "3", "--frames", "2", "-o", str(out / "walk.png")],
    }


def corpus_matrix(work: Path, timeout: float, env: dict, only: set[str] | None) -> dict:
    corpus = build_corpus(work / "corpus")
    out = work / "outputs"
    out.mkdir()
    rows = {}
    for command, argv in picture_commands(out).items():
        if only and command not in only:
            continue
        for name, path in corpus:
            cell = run_cell([str(path) if a == "FILE" else a for a in argv], timeout,
                            work / "corpus", env)
            rows.setdefault(name, {})[command] = cell
            print(f"{command:<12} {name:<26} {cell['outcome']:<10} {cell['said'][:90]}",
                  file=sys.stderr, flush=True)
    return rows


# --- damaged checkpoints through the commands that load models -----------------------------------
def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def tiny_mnist(home: Path) -> None:
    """A tiny MNIST-format dataset under home/mnist, so eval has a test split to read."""
    rng = np.random.default_rng(0)
    folder = home / "mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", 64), ("t10k", 32)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz",
                   rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))


def _edit_config(folder: Path, change) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def _damage_weights(folder: Path, how: str) -> None:
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = bytearray()
    elif how == "0xFF block":
        middle = header + (len(data) - header) // 2
        data[middle : middle + 4096] = b"\xff" * 4096
    elif how == "all NaN":
        body = np.frombuffer(bytes(data[header:]), np.float32).copy()
        body[:] = np.nan
        data = data[:header] + bytearray(body.tobytes())
    path.write_bytes(bytes(data))


def checkpoint_corpus(folder: Path) -> list[tuple[str, Path]]:
    """Copies of checkpoints/vae-mnist, each damaged one way."""
    base = CHECKPOINTS / "vae-mnist"

    def channels(v):
        return lambda c: c["config"].__setitem__("channels", v)

    cases = {
        "channels 1000000": lambda f: _edit_config(f, channels(1_000_000)),
        "channels -3": lambda f: _edit_config(f, channels(-3)),
        "channels 'three'": lambda f: _edit_config(f, channels("three")),
        "channels 2.5": lambda f: _edit_config(f, channels(2.5)),
        "latent_dim 250000": lambda f: _edit_config(
            f, lambda c: c["config"].__setitem__("latent_dim", 250_000)),
        "image_shape disagrees": lambda f: _edit_config(
            f, lambda c: c.__setitem__("image_shape", [3, 64, 64])),
        "config not JSON": lambda f: (f / "config.json").write_text("{nope"),
        "config FIFO": lambda f: ((f / "config.json").unlink(), os.mkfifo(f / "config.json")),
        "metrics not JSON": lambda f: (f / "metrics.json").write_text("{nope"),
        "metrics FIFO": lambda f: ((f / "metrics.json").unlink(),
                                   os.mkfifo(f / "metrics.json")),
        "weights FIFO": lambda f: ((f / "model.safetensors").unlink(),
                                   os.mkfifo(f / "model.safetensors")),
        "weights truncated": lambda f: _damage_weights(f, "truncated"),
        "weights empty": lambda f: _damage_weights(f, "empty"),
        "weights 4 KB of 0xFF": lambda f: _damage_weights(f, "0xFF block"),
        "weights all NaN": lambda f: _damage_weights(f, "all NaN"),
        "weights missing": lambda f: (f / "model.safetensors").unlink(),
    }
    out = []
    for name, damage in cases.items():
        path = folder / name.replace(" ", "-").replace("'", "")
        shutil.copytree(base, path)
        (path / "reference_scores.npz").unlink(missing_ok=True)
        damage(path)
        out.append((name, path))
    return out


def checkpoint_matrix(work: Path, timeout: float, env: dict) -> dict:
    corpus = checkpoint_corpus(work / "checkpoints")
    out = work / "ckpt-outputs"
    out.mkdir()
    rows = {}
    for name, path in corpus:
        commands = {
            "sample": ["sample", str(path), "-n", "4", "-o", str(out / "grid.png")],
            "eval": ["eval", str(path), "--dry-run", "--limit", "8", "--samples", "8",
                     "--iwae-k", "2"],
            "score": ["score", str(path), str(ROOT / "resources" / "samples" / "mnist")],
        }
        for command, argv in commands.items():
            cell = run_cell(argv, timeout, path, env)
            rows.setdefault(name, {})[command] = cell
            print(f"{command:<12} {name:<26} {cell['outcome']:<10} {cell['said'][:90]}",
                  file=sys.stderr, flush=True)
    return rows


# --- outputs aimed at the user's files ------------------------------------------------------------
TINY_VAE = ["--set", "base_channels=4", "--set", "latent_dim=4", "--set", "batch_size=8"]


def write_matrix(work: Path, timeout: float, env: dict) -> dict:
    """Each writing command aimed at an input, at a file genplay did not write, or re-run
    into a folder it filled before: the user's files must come out as they went in."""
    rows = {}

    def case(name: str, argv: list[str], before: list[list[str]] = ()) -> None:
        folder = work / "writes" / name.replace(" ", "-").replace("'", "")
        folder.mkdir(parents=True)
        (folder / "digit.png").write_bytes(
            (ROOT / "resources" / "samples" / "mnist" / "3-3-test0011.png").read_bytes())
        (folder / "notes.png").write_bytes(b"my notes, not a picture")
        (folder / "README.txt").write_text("my readme\n")
        (folder / "pictures").mkdir()
        shutil.copy(folder / "digit.png", folder / "pictures" / "a.png")
        (folder / "my-run").mkdir()
        (folder / "my-run" / "config.json").write_text('{"mine": true}')
        (folder / "my-run" / "metrics.json").write_text("not JSON, my own notes")

        def fill(a: str) -> str:
            return a.replace("W/", str(folder) + "/")

        for earlier in before:  # a first run whose outputs are now the user's
            subprocess.run([sys.executable, "-m", "genplay", *map(fill, earlier)], env=env,
                           cwd=ROOT, capture_output=True, timeout=timeout)
        cell = run_cell([fill(a) for a in argv], timeout, folder, env)
        rows[name] = {"result": cell}
        print(f"{'writes':<12} {name:<40} {cell['outcome']:<10} {cell['said'][:90]}",
              file=sys.stderr, flush=True)

    sr, vae, diff = (str(CHECKPOINTS / n) for n in ("superres-mnist", "vae-mnist",
                                                    "diffusion-mnist"))
    case("upscale -o its input", ["upscale", sr, "W/digit.png", "--scale", "2",
                                  "-o", "W/digit.png"])
    case("sketch -o its input", ["sketch", diff, "W/digit.png", "--steps", "2", "-n", "1",
                                 "-o", "W/digit.png"])
    case("inpaint -o its input", ["inpaint", diff, "W/digit.png", "--mask", "W/digit.png",
                                  "--steps", "2", "-n", "1", "-o", "W/digit.png"])
    case("interpolate -o its input", ["interpolate", vae, "--from", "W/digit.png", "--to", "3",
                                      "--frames", "2", "-o", "W/digit.png"])
    case("sample -o notes.png (not genplay's)", ["sample", vae, "-n", "4",
                                                 "-o", "W/notes.png"])
    case("sample -o README.txt", ["sample", vae, "-n", "4", "-o", "W/README.txt"])
    again = ["sample", vae, "-n", "4", "--out-dir", "W/samples"]
    case("sample again into its --out-dir", again, [again])
    again = ["sketch", diff, "W/digit.png", "--steps", "2", "-n", "2", "--out-dir", "W/sk"]
    case("sketch again into its --out-dir", again, [again])
    case("upscale FOLDER --out-dir FOLDER", ["upscale", sr, "W/pictures", "--scale", "2",
                                             "--out-dir", "W/pictures"])
    case("train --out a folder of the user's", ["train", "vae", "--data", "mnist", "--epochs",
                                                "1", *TINY_VAE, "--out", "W/my-run"])
    return rows


# --- training runs under faults --------------------------------------------------------------
KILL_AT = """
import os, signal, sys
from genplay.cli import main
k, calls, real = int(sys.argv[1]), [0], os.replace
def dying(*args, **kwargs):
    calls[0] += 1
    if calls[0] == k:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
os.replace = dying
sys.exit(main(sys.argv[2:]))
"""


def _train_argv(out: Path, epochs: int, *extra: str) -> list[str]:
    return ["train", "vae", "--data", "mnist", "--epochs", str(epochs), *TINY_VAE,
            "--out", str(out), *extra]


def _after_fault(out: Path, timeout: float, env: dict) -> dict:
    """What a user can do with the folder a fault left: resume it, or (no whole checkpoint
    in it) start afresh. Either works: handled; neither: the run's work is lost."""
    resume = (out / "config.json").exists()
    cell = run_cell(_train_argv(out, 3, *(["--resume"] if resume else [])), timeout,
                    out.parent / "untouched", env)
    if cell["outcome"] == "handled" and cell.get("code") != 0:
        cell = {**cell, "outcome": "data lost"}  # a dead end: neither resume nor restart
    cell["then"] = "resumed" if resume else "restarted"
    return cell


def run_matrix(work: Path, timeout: float, env: dict) -> dict:
    """A tiny run killed (SIGKILL) at each write of its saves; two runs on one folder;
    Ctrl-C twice."""
    root = work / "runs"
    (root / "untouched").mkdir(parents=True)
    rows: dict[str, dict] = {}
    count = root / "count"
    probe = subprocess.run([sys.executable, "-c", KILL_AT, "100000",
                            *_train_argv(count, 2)], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=timeout)
    writes = len([line for line in probe.stderr.splitlines() if "validation" in line]) * 3 + 3
    for k in range(1, writes + 1):
        out = root / f"killed-{k}"
        subprocess.run([sys.executable, "-c", KILL_AT, str(k), *_train_argv(out, 2)],
                       env=env, cwd=ROOT, capture_output=True, timeout=timeout)
        rows[f"SIGKILL at save write {k}"] = {"train": _after_fault(out, timeout, env)}
    # two runs on one folder: the second is refused while the first trains
    out = root / "shared"
    first = subprocess.Popen([sys.executable, "-m", "genplay", *_train_argv(out, 100000)],
                             env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not (out / ".genplay-run.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_cell(_train_argv(out, 3, "--resume"), timeout, root / "untouched", env)
    if second["outcome"] == "handled" and "being trained by process" not in second["said"]:
        second["outcome"] = "data lost"  # both wrote into the folder
    first.send_signal(signal.SIGINT)
    first.wait(timeout)
    rows["a second run on a training folder"] = {"train": second}
    # Ctrl-C twice, the second during the save the first asked for
    out = root / "interrupted"
    child = subprocess.Popen([sys.executable, "-m", "genplay", *_train_argv(out, 100000)],
                             env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not (out / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    child.send_signal(signal.SIGINT)
    err = child.communicate(timeout=timeout)[1]
    cell = _after_fault(out, timeout, env)
    if "Traceback (most recent call last)" in err:
        cell["outcome"] = "traceback"
    rows["Ctrl-C twice"] = {"train": cell}
    for name, cells in rows.items():
        print(f"{'runs':<12} {name:<40} {cells['train']['outcome']:<10} "
              f"{cells['train']['said'][:80]}", file=sys.stderr, flush=True)
    return rows


# --- the app's engine: a hundred cancelled jobs -------------------------------------------------
ENGINE_CANCELS = """
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from genplay.gui.app import create_app
from genplay.gui.engine import Engine
from genplay.gui.panels.sampling import _sample
app = create_app()
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
engine, done = Engine(), []
def cycles(n, start):
    for i in range(start, start + n):
        job = engine.submit(_sample, 64, i, {}, checkpoint=sys.argv[1], key="s",
                            on_done=done.append)
        end = time.monotonic() + 0.15
        while time.monotonic() < end:
            app.processEvents(); time.sleep(0.005)
        engine.cancel(job)
    end = time.monotonic() + 60
    while len(done) < start + n and time.monotonic() < end:
        app.processEvents(); time.sleep(0.01)
cycles(10, 0)
before = rss()
cycles(100, 10)
after = rss()
print(json.dumps({"before_mb": round(before), "after_mb": round(after),
                  "cancelled": sum(done), "finished": len(done)}))
engine.shutdown(5000)
"""


def engine_figures(timeout: float, env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", ENGINE_CANCELS,
                           str(CHECKPOINTS / "diffusion-mnist")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=max(timeout, 300))
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {"error": done.stderr[-300:]}


# --- the tables ------------------------------------------------------------------------------
def tally(rows: dict) -> Counter:
    return Counter(cell["outcome"] for cells in rows.values() for cell in cells.values())


def matrix_text(title: str, rows: dict) -> str:
    commands = sorted({c for cells in rows.values() for c in cells},
                      key=lambda c: list(next(iter(rows.values()))).index(c)
                      if c in next(iter(rows.values())) else 99)
    short = {"handled": "ok", "traceback": "TRACEBACK", "hang": "HANG", "crash": "CRASH",
             "data lost": "LOST"}
    lines = [f"### {title}", "", "| input | " + " | ".join(commands) + " |",
             "|---|" + "---|" * len(commands)]
    for name, cells in rows.items():
        lines.append(f"| {name} | " + " | ".join(
            short[cells[c]["outcome"]] if c in cells else "–" for c in commands) + " |")
    counts = tally(rows)
    lines += ["", ", ".join(f"{counts.get(o, 0)} {o}" for o in OUTCOMES)
              + f" (of {sum(counts.values())} runs)", ""]
    return "\n".join(lines)


def summary_text(sections: dict[str, dict]) -> str:
    lines = ["| section | runs | " + " | ".join(OUTCOMES) + " |",
             "|---|---|" + "---|" * len(OUTCOMES)]
    total = Counter()
    for title, rows in sections.items():
        counts = tally(rows)
        total += counts
        lines.append(f"| {title} | {sum(counts.values())} | "
                     + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES) + " |")
    lines.append(f"| all | {sum(total.values())} | "
                 + " | ".join(str(total.get(o, 0)) for o in OUTCOMES) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the figures here (and the tables beside it)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds a command may take before it counts as a hang")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS),
                        choices=list(SECTIONS))
    parser.add_argument("--commands", nargs="+", help="only these picture commands")
    parser.add_argument("--no-engine", dest="engine", action="store_false",
                        help="skip the hundred cancelled jobs in the app's engine")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="genplay-faults-"))
    home = work / "data"
    tiny_mnist(home)
    env = dict(os.environ, GENPLAY_DATA=str(home), GENPLAY_THREADS="1",
               QT_QPA_PLATFORM="offscreen")
    started = time.monotonic()
    sections = {}
    try:
        for name in args.sections:
            sections[name] = SECTIONS[name](work, args.timeout, env,
                                            set(args.commands or ()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    engine = engine_figures(args.timeout, env) if args.engine else None
    result = {"timeout_s": args.timeout, "seconds": round(time.monotonic() - started),
              "sections": sections, "engine_cancels": engine,
              "totals": {name: dict(tally(rows)) for name, rows in sections.items()}}
    text = "\n".join([summary_text(sections), ""] + [matrix_text(n, r)
                                                      for n, r in sections.items()])
    if engine and "error" not in engine:
        text += (f"\n100 sampling jobs of diffusion-mnist cancelled in a row in the app's "
                 f"engine: {engine['before_mb']} MB before, {engine['after_mb']} MB after "
                 f"({engine['after_mb'] - engine['before_mb']:+d} MB)\n")
    return report(result, text, args.json)


SECTIONS = {
    "pictures": lambda work, timeout, env, only: corpus_matrix(work, timeout, env, only),
    "checkpoints": lambda work, timeout, env, only: checkpoint_matrix(work, timeout, env),
    "writes": lambda work, timeout, env, only: write_matrix(work, timeout, env),
    "runs": lambda work, timeout, env, only: run_matrix(work, timeout, env),
}


if __name__ == "__main__":
    main()
