"""The user's files under bad input: nothing replaced unasked, nothing that hangs.

Every command runs in a thread joined with a time limit, so a regression that blocks
fails here instead of hanging the suite."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from genplay.cli import main
from genplay.core import checkpoints, files
from genplay.core.errors import ImageError
from genplay.core.images import load_image
from genplay.core.ops.outliers import save_reference
from tests.conftest import write_image_and_mask

LIMIT_S = 20.0


def run_out(capsys, *argv) -> tuple[int, str, str]:
    """genplay argv within LIMIT_S seconds: (exit code, stdout, stderr)."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault(
        "code", main([str(a) for a in argv])), daemon=True)
    thread.start()
    thread.join(LIMIT_S)
    assert not thread.is_alive(), f"genplay {' '.join(map(str, argv))} hung"
    captured = capsys.readouterr()
    return box["code"], captured.out, captured.err


def run(capsys, *argv) -> tuple[int, str]:
    """genplay argv within LIMIT_S seconds: (exit code, stderr)."""
    code, _, err = run_out(capsys, *argv)
    return code, err


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
                 ["interpolate", ck / "vae-tiny", "--from", 1, "--to", fifo,
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


@pytest.fixture
def scorable(tiny_checkpoints, tmp_path):
    """A copy of vae-tiny with reference bits/dim, so that score can run."""
    folder = tmp_path / "vae-scored"
    shutil.copytree(tiny_checkpoints / "vae-tiny", folder)
    save_reference(folder, {"bpd": np.linspace(1.0, 9.0, 50)}, None,
                   checkpoints.weights_hash(folder))
    return folder


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_score_lists_a_fifo_as_unreadable_and_fails_when_nothing_was_scored(
        capsys, scorable, tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    good, _ = write_image_and_mask(tmp_path)
    code, out, err = run_out(capsys, "score", scorable, fifo, "--method", "bpd")
    assert code == 2 and "none of the 1 files could be read" in err
    assert "x.png: not a regular file (a FIFO)" in out
    code, out, err = run_out(capsys, "score", scorable, fifo, good, "--method", "bpd",
                             "--csv")
    assert code == 0, err
    assert "not a regular file (a FIFO)" in out and good.name in out


def test_a_stalled_read_gives_up_in_every_command_that_reads_a_users_file(
        capsys, tiny_checkpoints, scorable, tmp_path, monkeypatch):
    """A network share that never answers, for each file a command reads: the command
    gives up after files.READ_TIMEOUT_S (0.2 s here) with one line, or lists the file."""
    good, mask = write_image_and_mask(tmp_path)
    slow, sidecar = tmp_path / "slow.png", tmp_path / "slow.json"
    shutil.copy(good, slow)
    sidecar.write_text("{}")
    release = threading.Event()
    real = files._read

    def stalled(path, *args):
        if Path(path).name.startswith("slow"):
            release.wait(30)
        return real(path, *args)

    monkeypatch.setattr(files, "_read", stalled)
    monkeypatch.setattr(files, "READ_TIMEOUT_S", 0.2)
    ck, out = tiny_checkpoints, tmp_path / "o.png"
    try:
        for argv in (["upscale", ck / "superres-tiny", slow, "--scale", 2, "-o", out],
                     ["upscale", ck / "superres-tiny", good, "--scale", 2, "--reference", slow,
                      "-o", out],
                     ["sketch", ck / "diffusion-tiny", slow, "--steps", 2, "-o", out],
                     ["inpaint", ck / "diffusion-tiny", slow, "--mask", mask, "-o", out],
                     ["inpaint", ck / "diffusion-tiny", good, "--mask", slow, "-o", out],
                     ["interpolate", ck / "vae-tiny", "--from", slow, "--to", 1, "-o", out],
                     ["interpolate", ck / "vae-tiny", "--from", 1, "--to", slow, "-o", out],
                     ["sample", "--replay", sidecar, "-o", out],
                     ["score", scorable, slow, "--method", "bpd"]):
            start = time.monotonic()
            code, stdout, err = run_out(capsys, *argv)
            assert time.monotonic() - start < 10, argv[0]
            said = err if argv[0] != "score" else stdout
            assert code == 2 and "reading took longer than 0.2 s" in said, (argv, err)
            assert len(err.strip().splitlines()) == 1, err
            assert not out.exists()
    finally:
        release.set()


def test_interpolate_replaces_its_own_gif_and_npz_but_not_ones_changed_since(
        capsys, tiny_checkpoints, tmp_path):
    strip, gif, npz = tmp_path / "strip.png", tmp_path / "walk.gif", tmp_path / "z.npz"
    argv = ["interpolate", tiny_checkpoints / "vae-tiny", "--from", 1, "--to", 2,
            "--frames", 2, "-o", strip, "--gif", gif, "--npz", npz]
    assert run(capsys, *argv)[0] == 0
    code, err = run(capsys, *argv)  # running it again replaces what it wrote
    assert code == 0, err
    gif.write_bytes(gif.read_bytes() + b"mine")  # the user's now
    kept = digest(gif)
    code, err = run(capsys, *argv)
    assert code == 2 and "walk.gif exists and was not written by genplay" in err, err
    assert digest(gif) == kept
    assert run(capsys, *argv, "--overwrite")[0] == 0 and digest(gif) != kept
    # two outputs of one run never share a file
    code, err = run(capsys, *argv[:-4], "--gif", tmp_path / "." / "strip.png")
    assert code == 2 and "-o and --gif both name" in err, err
    assert load_image(strip).size


def test_a_folder_is_not_upscaled_into_itself_even_when_named_like_an_image(
        capsys, tiny_checkpoints, tmp_path):
    folder = tmp_path / "x.png"
    folder.mkdir()
    image, _ = write_image_and_mask(folder)
    before = sorted(p.name for p in folder.iterdir())
    code, err = run(capsys, "upscale", tiny_checkpoints / "superres-tiny", folder, "--scale", 2,
                    "--out-dir", folder)
    assert code == 2 and "is inside the input folder" in err, err
    assert sorted(p.name for p in folder.iterdir()) == before
    # an --out-dir named like an image is still a folder to fill
    code, err = run(capsys, "upscale", tiny_checkpoints / "superres-tiny", folder, "--scale", 2,
                    "--out-dir", tmp_path / "big.png")
    assert code == 0, err
    assert (tmp_path / "big.png").is_dir() and any((tmp_path / "big.png").iterdir())
