"""genplay pull's core (core/hub.py) against a local stand-in for the Hugging Face Hub
(tests/hub_server.py): only the files genplay opens come, progress, resume of a cut
transfer, Cancel, never replacing a folder unasked, and one-line errors."""

from __future__ import annotations

import json
import random
import sys
import threading

import pytest

from genplay.core import cancel, hub, hub_transfer
from genplay.core.errors import GenplayError
from genplay.core.events import Progress, Result
from tests import hub_server
from tests.hub_server import pipeline_files

REPO = "google/ddpm-tiny"
WEIGHTS = "unet/diffusion_pytorch_model.safetensors"
NEEDED = ["model_index.json", "scheduler/scheduler_config.json", "unet/config.json", WEIGHTS]


def big_weights(n: int = 300_000) -> bytes:
    return random.Random(n).randbytes(n)


def run(*args, **kwargs) -> tuple[list[Progress], Result]:
    events = list(hub.pull(*args, **kwargs))
    assert isinstance(events[-1], Result)
    assert all(isinstance(e, Progress) for e in events[:-1])
    return events[:-1], events[-1]


def files_under(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def one_line_error(*args, **kwargs) -> str:
    with pytest.raises(GenplayError) as caught:
        list(hub.pull(*args, **kwargs))
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- names -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, repo, revision, file", [
    ("hf://google/ddpm-cifar10-32", "google/ddpm-cifar10-32", None, None),
    ("google/ddpm-cifar10-32", "google/ddpm-cifar10-32", None, None),
    ("  hf://google/ddpm-cifar10-32/ ", "google/ddpm-cifar10-32", None, None),
    ("hf://ai-forever/Real-ESRGAN@v1.0/RealESRGAN_x4.pth", "ai-forever/Real-ESRGAN", "v1.0",
     "RealESRGAN_x4.pth"),
    ("owner/name@refs%2Fpr%2F3", "owner/name", "refs/pr/3", None),
    ("https://huggingface.co/google/ddpm-cifar10-32", "google/ddpm-cifar10-32", None, None),
    ("https://huggingface.co/google/ddpm-cifar10-32/tree/fp32", "google/ddpm-cifar10-32",
     "fp32", None),
    ("https://hf.co/o/n/blob/main/models/x2.safetensors", "o/n", "main",
     "models/x2.safetensors"),
    ("A_b.c/x-1.2_y", "A_b.c/x-1.2_y", None, None),
])
def test_a_model_is_named_as_the_hub_names_it(text, repo, revision, file):
    assert hub.parse_spec(text) == hub.Spec(repo, revision, file)


@pytest.mark.parametrize("text, says", [
    ("ddpm-cifar10-32", "give the model as OWNER/NAME"),
    ("", "give the model as OWNER/NAME"),
    ("hf://google/", "give the model as OWNER/NAME"),
    ("google/ddpm--cifar", "not a Hub name"),
    ("google/ddpm..cifar", "not a Hub name"),
    ("google/-ddpm", "not a Hub name"),
    ("google/ddpm.", "not a Hub name"),
    ("goo gle/ddpm", "not a Hub name"),
    ("google/" + "x" * 97, "not a Hub name"),
    ("google/ddpm.git", "never ends with .git"),
    ("google/ddpm@", "is not a revision"),
    ("google/ddpm@a b", "is not a revision"),
    ("google/ddpm/../../etc/passwd.pth", "is not a weights file"),
    ("google/ddpm/notes.txt", "is not a weights file"),
    ("hf://datasets/mnist/mnist", "is not a model repository"),
    ("https://example.com/google/ddpm", "not a Hugging Face Hub address"),
])
def test_a_bad_name_is_one_line_saying_what_is_wrong(text, says):
    with pytest.raises(GenplayError, match=says) as caught:
        hub.parse_spec(text)
    assert "\n" not in str(caught.value)


def test_folder_names_carry_the_revision_and_a_chosen_file():
    assert hub.folder_name(hub.Spec("google/ddpm", "main")) == "google--ddpm"
    assert hub.folder_name(hub.Spec("google/ddpm", "refs/pr/3")) == "google--ddpm@refs_pr_3"
    assert hub.folder_name(hub.Spec("o/n", "a" * 40, "sub/x4.pth")) == "o--n--x4@aaaaaaaaaaaa"


# --- pulling a pipeline ----------------------------------------------------------------------
def test_a_pipeline_brings_only_what_genplay_opens(stand_in_hub, tmp_path):
    files = pipeline_files(big_weights())
    commit = stand_in_hub.add(REPO, files)
    progress, result = run(f"hf://{REPO}")

    folder = tmp_path / "models" / "google--ddpm-tiny"  # GENPLAY_MODELS: user_model_dir()
    assert result.value == folder
    assert files_under(folder) == sorted([*NEEDED, hub.RECORD])
    for name in NEEDED:
        assert (folder / name).read_bytes() == files[name]
    assert not (tmp_path / "models" / hub.PARTIAL).exists()
    # nothing else was asked for: no pickle, fp16 copy, ONNX, Flax or README
    asked = {p for m, p, _ in stand_in_hub.requests if "/resolve/" in p}
    assert asked == {f"/{REPO}/resolve/{commit}/{name}" for name in NEEDED}

    summary = result.summary
    total = sum(len(files[n]) for n in NEEDED)
    assert summary["kind"] == "pipeline" and summary["commit"] == commit
    assert summary["model"] == str(folder) and not summary["already"]
    assert summary["bytes"] == total == summary["downloaded"]
    assert hub.pulled_model(folder) == folder
    record = json.loads((folder / hub.RECORD).read_text())
    assert record["source"] == f"hf://{REPO}" and record["revision"] == "main"
    assert hub.source_of(folder) == f"hf://{REPO}" and hub.source_of(tmp_path) == ""
    assert record["files"] == {n: len(files[n]) for n in NEEDED}

    # progress: the bytes of the files, never backwards, ending at the total
    counted = [p for p in progress if p.total is not None]
    assert progress[0].total is None and "asking 127.0.0.1" in progress[0].message
    assert all(p.total == total for p in counted)
    steps = [p.step for p in counted]
    assert steps == sorted(steps) and steps[-1] == total
    assert {p.message for p in counted} <= set(NEEDED) and WEIGHTS in {p.message for p in counted}


def test_progress_is_throttled_to_a_few_events_a_second(stand_in_hub, monkeypatch):
    stand_in_hub.add(REPO, pipeline_files(big_weights(1_000_000)))
    stand_in_hub.slow.add(WEIGHTS)  # about 0.7 s of small pieces
    monkeypatch.setattr(hub_transfer, "REPORT_EVERY_S", 0.25)
    progress, _ = run(REPO)
    during = [p for p in progress if p.message == WEIGHTS]
    assert 2 <= len(during) <= 8  # not one per piece (62 of them)


def test_an_fp16_file_comes_only_when_it_is_the_only_one(stand_in_hub):
    files = pipeline_files(fp16=True)
    del files[WEIGHTS]
    half = files["unet/diffusion_pytorch_model.fp16.safetensors"]
    stand_in_hub.add(REPO, files)
    _, result = run(REPO)
    folder = result.value
    assert (folder / "unet/diffusion_pytorch_model.fp16.safetensors").read_bytes() == half
    assert not (folder / WEIGHTS).exists()
    assert "half-precision" in result.summary["note"]


@pytest.mark.parametrize("files, says", [
    (pipeline_files(components={"vae": ["diffusers", "AutoencoderKL"],
                                "text_encoder": ["transformers", "CLIPTextModel"]}),
     "is a DDPMPipeline with vae, text_encoder: genplay opens pipelines of one UNet2DModel"),
    (pipeline_files(unet_class="UNet2DConditionModel"),
     "UNet is a UNet2DConditionModel: genplay opens pipelines of a UNet2DModel"),
    ({k: v for k, v in pipeline_files().items() if not k.endswith(".safetensors")},
     "publishes its UNet as a pickle only (unet/diffusion_pytorch_model.bin)"),
    ({k: v for k, v in pipeline_files().items() if k != "unet/config.json"},
     "lacks unet/config.json"),
])
def test_a_pipeline_genplay_cannot_open_is_refused_before_any_weights(stand_in_hub, tmp_path,
                                                                      files, says):
    stand_in_hub.add(REPO, files)
    assert says in one_line_error(REPO)
    assert stand_in_hub.weights_requests() == []
    assert not (tmp_path / "models" / "google--ddpm-tiny").exists()


def test_a_revision_is_pulled_into_its_own_folder(stand_in_hub, tmp_path):
    files = pipeline_files()
    commit = stand_in_hub.add(REPO, files, revisions=("main", "fp32", "refs/pr/3"))
    _, result = run(REPO, revision="fp32")
    assert result.value == tmp_path / "models" / "google--ddpm-tiny@fp32"
    assert result.summary["revision"] == "fp32" and result.summary["commit"] == commit
    _, pr = run(REPO, revision="refs/pr/3")
    assert pr.value.name == "google--ddpm-tiny@refs_pr_3"
    assert ("GET", f"/api/models/{REPO}/revision/refs/pr/3", None) in stand_in_hub.requests
    _, by_commit = run(f"{REPO}@{commit}")
    assert by_commit.value.name == f"google--ddpm-tiny@{commit[:12]}"


# --- upscalers -------------------------------------------------------------------------------
def test_an_upscaler_brings_its_one_weights_file(stand_in_hub, tmp_path):
    stand_in_hub.add("someone/esrgan", {"RealESRGAN_x4plus.pth": b"p" * 5000, "README.md": b"#",
                                  "RealESRGAN_x4plus.safetensors": b"s" * 4000,
                                  "extras/other.pth": b"o" * 10})
    _, result = run("someone/esrgan", to=tmp_path / "mine")
    folder = tmp_path / "mine" / "someone--esrgan"
    # the same model as .pth and .safetensors: the safetensors one (no pickle)
    assert files_under(folder) == sorted(["RealESRGAN_x4plus.safetensors", hub.RECORD])
    assert result.summary["kind"] == "upscaler"
    assert result.summary["model"] == str(folder / "RealESRGAN_x4plus.safetensors")
    # what the model list opens in such a folder
    assert hub.pulled_model(folder) == folder / "RealESRGAN_x4plus.safetensors"
    assert hub.source_of(folder / "RealESRGAN_x4plus.safetensors") == "hf://someone/esrgan"
    (folder / "RealESRGAN_x4plus.safetensors").write_bytes(b"cut")
    assert hub.pulled_model(folder) is None
    assert hub.pulled_model(tmp_path) is None


def test_several_upscalers_in_a_repository_are_chosen_by_name(stand_in_hub, tmp_path):
    files = {"RealESRGAN_x2.pth": b"2" * 3000, "RealESRGAN_x4.pth": b"4" * 3000,
             "RealESRGAN_x8.pth": b"8" * 3000}
    stand_in_hub.add("ai-forever/Real-ESRGAN", files)
    message = one_line_error("ai-forever/Real-ESRGAN")
    assert ("holds 3 weight files (RealESRGAN_x2.pth, RealESRGAN_x4.pth, RealESRGAN_x8.pth); "
            "name one, as ai-forever/Real-ESRGAN/RealESRGAN_x2.pth (genplay pull: --file "
            "RealESRGAN_x2.pth)") in message
    assert stand_in_hub.weights_requests() == []

    _, result = run("ai-forever/Real-ESRGAN", file="RealESRGAN_x4.pth")
    assert result.value.name == "ai-forever--Real-ESRGAN--RealESRGAN_x4"
    assert (result.value / "RealESRGAN_x4.pth").read_bytes() == files["RealESRGAN_x4.pth"]
    _, again = run("hf://ai-forever/Real-ESRGAN/RealESRGAN_x4.pth")
    assert again.summary["already"]
    assert "has no file x3.pth" in one_line_error("ai-forever/Real-ESRGAN", file="x3.pth")


# --- resume and cancel -----------------------------------------------------------------------
def test_a_cut_transfer_is_resumed_by_the_next_pull(stand_in_hub, tmp_path):
    files = pipeline_files(big_weights())
    stand_in_hub.add(REPO, files)
    stand_in_hub.drops[WEIGHTS] = 1
    message = one_line_error(REPO, retries=0)
    assert "the download of unet/diffusion_pytorch_model.safetensors broke off at" in message
    assert "pull again to go on from there" in message
    models = tmp_path / "models"
    assert not (models / "google--ddpm-tiny").exists()  # nothing that looks complete
    staged = next((models / hub.PARTIAL).glob(f"google--ddpm-tiny.*/{WEIGHTS}.incomplete"))
    have = staged.stat().st_size
    assert 0 < have < len(files[WEIGHTS])
    assert staged.read_bytes() == files[WEIGHTS][:have]

    _, result = run(REPO)
    assert stand_in_hub.downloads(WEIGHTS)[-1] == f"bytes={have}-"
    assert (result.value / WEIGHTS).read_bytes() == files[WEIGHTS]
    assert result.summary["resumed"] >= have
    assert result.summary["downloaded"] == result.summary["bytes"] - result.summary["resumed"]
    assert not (models / hub.PARTIAL).exists()


def test_a_whole_part_left_by_a_killed_pull_is_checked_not_fetched_again(stand_in_hub):
    files = pipeline_files(big_weights())
    stand_in_hub.add(REPO, files)
    stand_in_hub.drops[WEIGHTS] = 1
    one_line_error(REPO, retries=0)
    staged = next(staging_root().glob(f"google--ddpm-tiny.*/{WEIGHTS}.incomplete"))
    staged.write_bytes(files[WEIGHTS][:-1] + b"!")  # all of it, but one byte wrong
    assert "arrived damaged" in one_line_error(REPO)
    assert len(stand_in_hub.downloads(WEIGHTS)) == 1  # checked, not asked for again
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_bytes(files[WEIGHTS])
    _, result = run(REPO)
    assert len(stand_in_hub.downloads(WEIGHTS)) == 1
    assert (result.value / WEIGHTS).read_bytes() == files[WEIGHTS]


def staging_root():
    """Where pulls keep what they have so far (GENPLAY_MODELS is the test's)."""
    from genplay.core.paths import user_model_dir

    return user_model_dir() / hub.PARTIAL


def test_a_transfer_that_breaks_off_is_retried_from_where_it_stopped(stand_in_hub):
    files = pipeline_files(big_weights())
    stand_in_hub.add(REPO, files)
    stand_in_hub.drops[WEIGHTS] = 2
    _, result = run(REPO, retries=2)
    ranges = stand_in_hub.downloads(WEIGHTS)
    assert ranges[0] is None and len(ranges) == 3
    assert all(r.startswith("bytes=") and r != "bytes=0-" for r in ranges[1:])
    assert (result.value / WEIGHTS).read_bytes() == files[WEIGHTS]


def test_cancel_stops_between_pieces_and_the_next_pull_goes_on(stand_in_hub, tmp_path, monkeypatch):
    monkeypatch.setattr(hub_transfer, "REPORT_EVERY_S", 0.0)
    files = pipeline_files(big_weights(1_000_000))
    stand_in_hub.add(REPO, files)
    stand_in_hub.slow.add(WEIGHTS)
    flag = threading.Event()
    with cancel.watching(flag), pytest.raises(cancel.Stopped):
        for event in hub.pull(REPO):
            if isinstance(event, Progress) and event.message == WEIGHTS and event.step > 1000:
                flag.set()
    models = tmp_path / "models"
    assert not (models / "google--ddpm-tiny").exists()
    staged = next((models / hub.PARTIAL).glob(f"google--ddpm-tiny.*/{WEIGHTS}.incomplete"))
    have = staged.stat().st_size
    assert 0 < have < len(files[WEIGHTS])

    stand_in_hub.slow.clear()
    _, result = run(REPO)
    assert stand_in_hub.downloads(WEIGHTS)[-1] == f"bytes={have}-"
    assert (result.value / WEIGHTS).read_bytes() == files[WEIGHTS]


@pytest.mark.skipif(sys.platform == "win32", reason="no lock on Windows")
def test_a_second_pull_of_a_model_being_pulled_is_refused(stand_in_hub, monkeypatch):
    monkeypatch.setattr(hub_transfer, "REPORT_EVERY_S", 0.0)
    stand_in_hub.add(REPO, pipeline_files(big_weights(500_000)))
    stand_in_hub.slow.add(WEIGHTS)
    first = hub.pull(REPO)
    next(e for e in first if isinstance(e, Progress) and e.message == WEIGHTS)
    assert "another genplay pull of google/ddpm-tiny into" in one_line_error(REPO)
    first.close()  # as the app's Cancel does: the lock goes with it
    stand_in_hub.slow.clear()
    _, result = run(REPO)
    assert not result.summary["already"]


def test_damaged_bytes_are_thrown_away(stand_in_hub, tmp_path):
    stand_in_hub.add(REPO, pipeline_files(big_weights()))
    stand_in_hub.damaged.add(WEIGHTS)
    assert "arrived damaged (its checksum differs" in one_line_error(REPO)
    assert not list((tmp_path / "models").rglob("*.incomplete"))
    assert not (tmp_path / "models" / "google--ddpm-tiny").exists()


# --- a folder that is there --------------------------------------------------------------------
def test_a_folder_that_is_there_is_never_replaced_unasked(stand_in_hub, tmp_path):
    files = pipeline_files()
    stand_in_hub.add(REPO, files)
    _, first = run(REPO)
    folder = first.value

    stand_in_hub.requests.clear()
    progress, again = run(REPO)
    assert again.value == folder and again.summary["already"]
    assert stand_in_hub.requests == [] and progress == []  # known without asking the Hub

    (folder / WEIGHTS).write_bytes(b"edited by hand")
    assert "exists and is not this model's complete download" in one_line_error(REPO)
    assert (folder / WEIGHTS).read_bytes() == b"edited by hand"

    _, replaced = run(REPO, overwrite=True)
    assert (replaced.value / WEIGHTS).read_bytes() == files[WEIGHTS]
    assert not replaced.summary["already"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["google--ddpm-tiny"]


def test_an_own_folder_of_the_same_name_is_refused(stand_in_hub, tmp_path):
    stand_in_hub.add(REPO, pipeline_files())
    mine = tmp_path / "models" / "google--ddpm-tiny"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    assert "move it away, or pull with overwrite" in one_line_error(REPO)
    assert stand_in_hub.requests == [] and (mine / "notes.txt").read_text() == "mine"


# --- what goes wrong -------------------------------------------------------------------------
def test_a_missing_model_or_revision_says_so(stand_in_hub):
    stand_in_hub.add(REPO, pipeline_files())
    message = one_line_error("google/no-such-model")
    assert message.startswith("no model google/no-such-model on 127.0.0.1:")
    assert "hf auth login" in message
    message = one_line_error(REPO, revision="v9")
    assert message.startswith(f"{REPO} has no revision 'v9'; see its branches and tags on")


def test_a_gated_model_says_how_to_get_access(stand_in_hub):
    stand_in_hub.add("org/gated", {"x4.safetensors": b"x" * 100}, gated=True)
    message = one_line_error("org/gated")
    assert message.startswith("org/gated is gated: accept its conditions on")
    assert "HF_TOKEN" in message


def test_offline_says_what_to_do(stand_in_hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{hub_server.closed_port()}")
    message = one_line_error(REPO)
    assert message.startswith("genplay pull needs the internet to reach 127.0.0.1:")
    assert "copy the model's folder from another computer" in message
    assert "genplay sample PATH" in message and "Open checkpoint folder" in message

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert one_line_error(REPO).startswith("HF_HUB_OFFLINE is set, so nothing is downloaded")


def test_without_huggingface_hub_it_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("GENPLAY_MODELS", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    assert "pip install 'genplay[diffusers]'" in one_line_error(REPO)


def test_a_huggingface_hub_before_1_0_is_too_old(stand_in_hub, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "__version__", "0.24.6")
    assert "needs huggingface_hub 1.0 or later (this is 0.24.6)" in one_line_error(REPO)


def test_the_core_module_imports_no_hub_library_until_it_pulls():
    import subprocess

    code = ("import sys, genplay.core.hub as h; h.parse_spec('a/b'); "
            "print(sorted(m for m in ('huggingface_hub', 'torch', 'httpx2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_pulled_pipeline_is_listed_opened_and_sampled(stand_in_hub, tmp_path):
    pytest.importorskip("diffusers")
    from genplay.core import checkpoints
    from genplay.core.paths import user_model_dir
    from tests.foreign_models import pipeline_folder

    made = pipeline_folder(tmp_path / "made")
    files = {str(p.relative_to(made)): p.read_bytes() for p in made.rglob("*") if p.is_file()}
    stand_in_hub.add(REPO, files)
    run(f"hf://{REPO}")
    found, broken = checkpoints.scan(user_model_dir())
    assert not broken and [i.name for i in found] == ["google--ddpm-tiny"]
    assert found[0].family == "diffusers" and found[0].recipe == f"hf://{REPO}"
    model, _ = checkpoints.load(found[0].path)
    assert model.sample(2, steps=2).shape == (2, 3, 8, 8)
