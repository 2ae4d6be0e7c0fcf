"""The user's files under bad input: nothing replaced unasked, nothing that hangs.

Every command runs in a thread joined with a time limit, so a regression that blocks
fails here instead of hanging the suite."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from genplay.cli import main
from genplay.core import files
from genplay.core.errors import ImageError
from genplay.core.images import load_image
from tests.conftest import write_image_and_mask

LIMIT_S = 20.0


def run(capsys, *argv) -> tuple[int, str]:
    """genplay argv within LIMIT_S seconds: (exit code, stderr)."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault(
        "code", main([str(a) for a in argv])), daemon=True)
    thread.start()
    thread.join(LIMIT_S)
    assert not thread.is_alive(), f"genplay {' '.join(map(str, argv))} hung"
    return box["code"], capsys.readouterr().err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pictures(tmp_path):
    image, mask = write_image_and_mask(tmp_path)
    notes = tmp_path / "notes.png"
    notes.write_bytes(b"my notes, not a picture")
    readme = tmp_path / "README.txt"
    readme.write_text("mine\n")
    return tmp_path, image, mask, notes, readme


def writing_commands(ckpts: Path, image: Path, mask: Path) -> dict[str, list]:
    return {
        "upscale": ["upscale", ckpts / "superres-tiny", image, "--scale", "2"],
        "sketch": ["sketch", ckpts / "diffusion-tiny", image, "--steps", 2, "-n", 1],
        "inpaint": ["inpaint", ckpts / "diffusion-tiny", image, "--mask", mask, "--steps", 2],
        "interpolate": ["interpolate", ckpts / "vae-tiny", "--from", image, "--to", 3,
                        "--frames", 2],
        "sample": ["sample", ckpts / "vae-tiny", "-n", 2],
    }


@pytest.mark.parametrize("command", ["upscale", "sketch", "inpaint", "interpolate", "sample"])
def test_outputs_never_replace_an_input_or_a_file_genplay_did_not_write(
        capsys, tiny_checkpoints, pictures, command):
    folder, image, mask, notes, readme = pictures
    argv = writing_commands(tiny_checkpoints, image, mask)[command]
    before = {p: digest(p) for p in (image, mask, notes, readme)}
    targets = [notes, readme] + ([image] if command != "sample" else [])
    for target in targets:
        code, err = run(capsys, *argv, "-o", target)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "--overwrite" in err
    assert {p: digest(p) for p in before} == before
    # a PNG genplay wrote is replaced by running the command again
    out = folder / "result.png"
    assert run(capsys, *argv, "-o", out)[0] == 0
    assert run(capsys, *argv, "-o", out)[0] == 0
    # and --overwrite replaces what the user says may go
    code, err = run(capsys, *argv, "-o", readme, "--overwrite")
    assert code == 0, err
    assert load_image(readme).size  # a PNG now, as asked


@pytest.mark.parametrize("command", ["sample", "sketch"])
def test_a_second_run_into_an_out_dir_adds_its_files(capsys, tiny_checkpoints, pictures,
                                                     command):
    folder, image, mask, *_ = pictures
    argv = [*writing_commands(tiny_checkpoints, image, mask)[command], "--out-dir",
            folder / "results"]
    assert run(capsys, *argv)[0] == 0
    first = {p: digest(p) for p in (folder / "results").iterdir()}
    assert run(capsys, *argv)[0] == 0
    second = {p: digest(p) for p in (folder / "results").iterdir()}
    assert len(second) == 2 * len(first) and all(second[p] == h for p, h in first.items())
    assert run(capsys, *argv, "--overwrite")[0] == 0
    assert len(list((folder / "results").iterdir())) == len(second)


def test_an_out_dir_inside_the_input_folder_is_refused(capsys, tiny_checkpoints, pictures):
    folder, *_ = pictures
    code, err = run(capsys, "upscale", tiny_checkpoints / "superres-tiny", folder, "--scale", 2,
                    "--out-dir", folder / "bigger")
    assert code == 2 and "is inside the input folder" in err
    assert not (folder / "bigger").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_named_like_an_image_is_refused_by_every_command(capsys, tiny_checkpoints,
                                                                tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    sidecar = tmp_path / "saved.json"
    os.mkfifo(sidecar)
    ck = tiny_checkpoints
    for argv in (["upscale", ck / "superres-tiny", fifo, "--scale", 2, "-o", tmp_path / "o.png"],
                 ["sketch", ck / "diffusion-tiny", fifo, "-o", tmp_path / "o.png"],
                 ["inpaint", ck / "diffusion-tiny", fifo, "--mask", fifo,
                  "-o", tmp_path / "o.png"],
                 ["interpolate", ck / "vae-tiny", "--from", fifo, "--to", 1,
                  "-o", tmp_path / "o.png"],
                 ["sample", "--replay", sidecar, "-o", tmp_path / "o.png"]):
        code, err = run(capsys, *argv)
        assert code == 2 and "not a regular file (a FIFO)" in err, (argv[0], err)


def test_a_stalled_read_gives_up_and_cancel_ends_it_at_once(tmp_path, monkeypatch):
    from genplay.core import cancel

    path = tmp_path / "slow.png"
    path.write_bytes(b"\x89PNG")
    release = threading.Event()
    real = files._read

    def stalled(*args):  # a network share that does not answer
        release.wait(30)
        return real(*args)

    monkeypatch.setattr(files, "_read", stalled)
    monkeypatch.setattr(files, "READ_TIMEOUT_S", 0.3)
    start = time.monotonic()
    with pytest.raises(ImageError, match=r"slow\.png: reading took longer than 0\.3 s"):
        load_image(path)
    assert time.monotonic() - start < 3
    flag = threading.Event()
    flag.set()  # the app's Cancel, pressed while the read waits
    with cancel.watching(flag), pytest.raises(cancel.Stopped):
        files.read_bytes(path, limit=100, timeout=30)
    release.set()
