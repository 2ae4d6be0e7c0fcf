"""genplay pull, against a local stand-in for the Hugging Face Hub (tests/hub_server.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genplay.cli import main
from tests import hub_server
from tests.hub_server import pipeline_files

REPO = "google/ddpm-tiny"
WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_pull_puts_a_pipeline_in_the_model_folder_and_says_what_next(stand_in_hub, tmp_path,
                                                                     capsys):
    files = pipeline_files()
    stand_in_hub.add(REPO, files)
    code, out, _ = run(capsys, "pull", f"hf://{REPO}")
    folder = tmp_path / "models" / "google--ddpm-tiny"
    assert code == 0
    assert f"{REPO}: 4 files (" in out and f"into {folder}" in out
    assert f"next: genplay sample {folder}, or pick it in the app's model list" in out
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]

    code, out, _ = run(capsys, "pull", REPO)
    assert code == 0 and f"{REPO} is already in {folder}" in out and "--overwrite" in out


def test_pull_to_a_folder_of_ones_choice_with_a_revision_and_a_file(stand_in_hub, tmp_path, capsys):
    stand_in_hub.add("ai-forever/Real-ESRGAN", {"RealESRGAN_x2.pth": b"2" * 300,
                                         "RealESRGAN_x4.pth": b"4" * 300}, ("main", "v1"))
    code, _, err = run(capsys, "pull", "ai-forever/Real-ESRGAN", "--to", tmp_path / "mine")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "genplay pull: error: ai-forever/Real-ESRGAN holds 2 weight files" in err
    code, out, _ = run(capsys, "pull", "ai-forever/Real-ESRGAN", "--to", tmp_path / "mine",
                       "--revision", "v1", "--file", "RealESRGAN_x4.pth")
    weights = tmp_path / "mine" / "ai-forever--Real-ESRGAN--RealESRGAN_x4@v1" / "RealESRGAN_x4.pth"
    assert code == 0 and weights.read_bytes() == b"4" * 300
    assert "ai-forever/Real-ESRGAN: 1 file (0.3 kB) into" in out
    assert f"next: genplay upscale {weights} IMAGE --scale N" in out


def test_a_resumed_pull_says_how_much_it_had(stand_in_hub, capsys):
    files = pipeline_files(bytes(range(256)) * 1000)
    stand_in_hub.add(REPO, files)
    stand_in_hub.drops[WEIGHTS] = 99  # more breaks than the retries allow
    code, _, err = run(capsys, "pull", REPO)
    assert code == 2 and "broke off at" in err and "pull again to go on" in err
    stand_in_hub.drops.clear()
    code, out, _ = run(capsys, "pull", REPO)
    assert code == 0 and "of it from an earlier try" in out


@pytest.mark.parametrize("argv, says", [
    (["pull", "ddpm"], "give the model as OWNER/NAME"),
    (["pull", "google/no-such-model"], "no model google/no-such-model on 127.0.0.1:"),
    (["pull", REPO, "--revision", "nope"], "has no revision 'nope'"),
    (["pull", f"{REPO}@v1", "--revision", "v2"], "names revision 'v1' and --revision says"),
])
def test_pull_mistakes_are_one_line(stand_in_hub, capsys, argv, says):
    stand_in_hub.add(REPO, pipeline_files())
    code, _, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("genplay pull: error: ") and says in lines[0]


def test_pull_offline_says_what_to_do(stand_in_hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{hub_server.closed_port()}")
    code, _, err = run(capsys, "pull", REPO)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "genplay pull needs the internet to reach 127.0.0.1:" in err


def test_the_help_loads_no_hub_library():
    code = ("import sys\nfrom genplay.cli import main\ntry:\n    main(['pull', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('huggingface_hub', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "hf://OWNER/NAME" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
