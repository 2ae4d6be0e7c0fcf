"""diffusers pipeline folders opened as genplay diffusion models (core/formats/diffusers_folder.py,
core/models/diffusers_unet.py): tiny random UNet2DModels saved by diffusers' own
save_pretrained, opened, run through every loop, and checked against diffusers itself
(the schedule's alphas, its DDIM and DPM-Solver++ loops on the same noise and timesteps)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("diffusers")

from diffusers import (  # noqa: E402
    DDIMScheduler,
    DDPMPipeline,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    UNet2DModel,
)
from safetensors.torch import load_file, save_file  # noqa: E402

import genplay.core.models.diffusers_unet as diffusers_unet  # noqa: E402 (registers it)
from genplay.core import registry  # noqa: E402
from genplay.core.errors import CheckpointError, GenplayError  # noqa: E402
from genplay.core.events import Preview, Progress, Result, final_value  # noqa: E402
from genplay.core.formats import diffusers_folder as fmt  # noqa: E402
from genplay.core.models import capabilities as caps  # noqa: E402
from genplay.core.models import diffusion_pipeline as pipeline  # noqa: E402
from genplay.core.models import diffusion_samplers as samplers  # noqa: E402
from genplay.core.models.base import encode  # noqa: E402

WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


def tiny_unet(size: int, channels: int, classes: int | None = None,
              out_channels: int | None = None) -> UNet2DModel:
    torch.manual_seed(size + channels + (classes or 0))
    return UNet2DModel(
        sample_size=size, in_channels=channels, out_channels=out_channels or channels,
        block_out_channels=(8, 16), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"), layers_per_block=1, norm_num_groups=4,
        attention_head_dim=4, num_class_embeds=classes).eval()


def save(folder: Path, unet: UNet2DModel, scheduler, **kwargs) -> Path:
    DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(folder, **kwargs)
    return folder


def opened(folder: Path, trust_pickle: bool = False):
    """(model, described), the way core.checkpoints opens a folder of another format."""
    assert fmt.recognise(folder)
    described = fmt.describe(folder)
    cls = registry.get(described.family)
    model = cls(cls.Config.from_dict(described.config))
    fmt.load_weights(model, folder, trust_pickle=trust_pickle)
    model.class_names = described.class_names
    return model.eval(), described


# name: (size, channels, prediction_type, scheduler class, classes, genplay.json)
CASES = {
    "grey8-eps-ddpm": (8, 1, "epsilon", DDPMScheduler, None, None),
    "rgb16-v-ddim": (16, 3, "v_prediction", DDIMScheduler, None, None),
    "rgb8-classes": (8, 3, "epsilon", DDPMScheduler, 3, None),
    "grey8-genplay-export": (8, 1, "sample", DDPMScheduler, 3,
                             {"class_names": ["cat", "dog"], "null_class": 2,
                              "dataset": "pets", "recipe": "test"}),
}


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory) -> dict[str, tuple[Path, UNet2DModel]]:
    root = tmp_path_factory.mktemp("pipelines")
    made = {}
    for name, (size, channels, prediction, scheduler, classes, extra) in CASES.items():
        unet = tiny_unet(size, channels, classes)
        folder = save(root / name, unet, scheduler(num_train_timesteps=50,
                                                   prediction_type=prediction))
        if extra:
            (folder / "genplay.json").write_text(json.dumps(extra))
        made[name] = (folder, unet)
    return made


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- open, and every loop ------------------------------------------------------------------------
@pytest.mark.parametrize("name", CASES)
def test_a_pipeline_opens_with_every_capability_of_genplays_diffusion(pipelines, name):
    folder, unet = pipelines[name]
    size, channels, prediction, _scheduler, classes, extra = CASES[name]
    model, described = opened(folder)
    assert described.family == "diffusers" and described.image_shape == (channels, size, size)
    assert described.architecture.startswith(
        f"diffusers UNet2DModel {size}x{size} {'RGB' if channels == 3 else 'grey'}, ")
    assert described.architecture.endswith(
        f"predicts {({'epsilon': 'eps', 'v_prediction': 'v'}).get(prediction, prediction)}")
    assert caps.capabilities_of(type(model)) == caps.capabilities_of(registry.get("diffusion"))
    assert caps.hooks_of(model) == caps.hooks_of(registry.get("diffusion"))
    assert caps.fact(model, "partial_chunks") and caps.sketch_method(model) == "sdedit"

    # The loaded network is the saved one.
    x = torch.randn(2, channels, size, size, generator=seeded(0))
    t = torch.tensor([0, 49])
    labels = torch.tensor([0, 1]) if classes else None
    with torch.no_grad():
        assert torch.equal(model.network(x, t, labels), unet(x, t, class_labels=labels).sample)

    # Sampling with step previews, deterministic for a seed.
    options = {o.name: o for o in model.sample_options()}
    events = list(model.sample_steps(3, seeded(1), steps=4))
    assert [e.step for e in events if isinstance(e, Progress)] == [1, 2, 3, 4]
    assert all(e.images.shape == (3, size, size, channels)
               for e in events if isinstance(e, Preview))
    assert isinstance(events[-1], Result) and events[-1].value.shape == (3, channels, size, size)
    assert (events[-1].value == model.sample(3, seeded(1), steps=4).numpy()).all()
    assert model.sample(3, seeded(1), steps=4, sampler="ddim").min() >= 0

    # Classes: with "no class" (an export): any or a named class, with guidance; without
    # it: always a class, no guidance.
    if extra:
        assert model.class_choices() == ["cat", "dog"] and "guidance" in options
        assert options["class"].choices == ("mixed", "any", "cat", "dog")
        assert model.class_labels(2, None) is None
        assert model.sample(2, seeded(2), steps=3, **{"class": "dog", "guidance": 2.0}).shape \
            == (2, channels, size, size)
        assert any("pets" in note for note in described.notes)
    elif classes:
        assert model.class_choices() == ["0", "1", "2"] and "guidance" not in options
        assert model.class_labels(2, None).tolist() == [0, 0]
        assert not torch.equal(model.sample(2, seeded(2), steps=3, **{"class": "2"}),
                               model.sample(2, seeded(2), steps=3, **{"class": "0"}))
    else:
        assert "class" not in options

    # DDIM inversion and decoding (a random network: shapes and determinism only).
    image = torch.rand(2, channels, size, size, generator=seeded(3))
    z = encode(model, image, steps=3)
    assert z.shape == image.shape and torch.equal(z, encode(model, image, steps=3))
    decoded = model.preview_decode(z, 3)
    assert decoded.shape == image.shape and torch.equal(decoded, model.preview_decode(z, 3))

    # SDEdit and inpainting: the held pixels come back exactly.
    sketch = final_value(model.condition_steps(image, 0.5, seeded(4), steps=4))
    assert sketch.shape == image.shape
    hole = torch.zeros(size, size, dtype=torch.bool)
    hole[2:6, 2:6] = True
    filled = torch.from_numpy(final_value(model.inpaint_steps(image, hole, seeded(5), steps=3)))
    assert torch.equal(filled[:, :, ~hole], image[:, :, ~hole])
    assert not torch.equal(filled[:, :, hole], image[:, :, hole])

    # The bound: finite, per image and per pixel.
    eight_bit = (image * 255).round() / 255
    assert torch.isfinite(model.log_prob(eight_bit)).all() and model.log_prob(eight_bit).shape \
        == (2,)
    assert model.pixel_nll(eight_bit).shape == (2, size, size)


def test_the_model_builds_on_the_meta_device_for_the_memory_estimate(pipelines):
    described = fmt.describe(pipelines["rgb16-v-ddim"][0])
    cls = registry.get("diffusers")
    with torch.device("meta"):
        model = cls(cls.Config.from_dict(described.config))
    assert next(model.parameters()).is_meta and model.schedule.alpha_bar.device.type == "cpu"


# --- against diffusers itself ---------------------------------------------------------------------
@pytest.mark.parametrize("schedule", ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid",
                                      "laplace", "trained"])
def test_the_schedule_is_the_schedulers_alphas_cumprod(pipelines, tmp_path, schedule):
    folder = tmp_path / "pipe"
    shutil.copytree(pipelines["grey8-eps-ddpm"][0], folder)
    if schedule == "trained":
        scheduler = DDPMScheduler(trained_betas=torch.linspace(1e-3, 0.05, 300).tolist())
    else:
        scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule=schedule,
                                  beta_start=0.00085 if schedule == "scaled_linear" else 0.0001)
    scheduler.save_pretrained(folder / "scheduler")
    described = fmt.describe(folder)
    model = registry.get("diffusers")(registry.get("diffusers").Config.from_dict(
        described.config))
    expected = scheduler.alphas_cumprod.double()  # diffusers computes in float32
    assert model.schedule.timesteps == len(expected)
    assert torch.allclose(model.schedule.alpha_bar, expected, rtol=3e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["grey8-eps-ddpm", "rgb16-v-ddim"])
@pytest.mark.parametrize("clip", [False, True])
def test_ddim_at_eta_0_is_diffusers_ddim_loop(pipelines, name, clip):
    """diffusers' DDIMScheduler (its "leading" spacing steps back by T // steps, as genplay's
    ddim does over the same list) and genplay's ddim, on the same noise: the same images.
    clip: diffusers' clip_sample with use_clipped_model_output is genplay's clipping
    denoiser, which its samplers use."""
    folder, unet = pipelines[name]
    model, _ = opened(folder)
    ddim = DDIMScheduler.from_pretrained(folder, subfolder="scheduler", clip_sample=clip)
    ddim.set_timesteps(10)
    timesteps = ddim.timesteps.tolist()
    assert timesteps == list(range(45, -1, -5))
    z = torch.randn(4, *model.image_shape, generator=seeded(6))
    x = z
    with torch.no_grad():
        for t in ddim.timesteps:
            x = ddim.step(unet(x, t).sample, t, x, eta=0.0,
                          use_clipped_model_output=True).prev_sample
    if clip:
        ours = final_value(pipeline.denoise_steps(model, z, timesteps, "ddim", {}, None))
        ours, theirs = torch.from_numpy(ours), ((x + 1) / 2).clamp(0, 1)
    else:
        *_, (_, _, ours) = samplers.ddim(model.denoiser(clip=False), model.schedule, z,
                                         timesteps)
        theirs = x
    assert theirs.abs().max() > 0.5  # a real image, not a degenerate one
    assert (ours - theirs).abs().max() < 1e-5


def test_dpm_solver_pp_is_diffusers_multistep_solver(pipelines):
    """genplay's dpmpp (DPM-Solver++(2M), first order at both ends) and diffusers'
    DPMSolverMultistepScheduler on the same custom timesteps."""
    folder, unet = pipelines["rgb16-v-ddim"]
    model, _ = opened(folder)
    timesteps = pipeline.timesteps_for("dpmpp", model.schedule, 8)
    dpm = DPMSolverMultistepScheduler.from_pretrained(folder, subfolder="scheduler")
    dpm.set_timesteps(timesteps=timesteps)
    z = torch.randn(2, *model.image_shape, generator=seeded(7))
    x = z
    with torch.no_grad():
        for t in dpm.timesteps:
            x = dpm.step(unet(x, t).sample, t, x).prev_sample
    *_, (_, _, ours) = samplers.dpmpp_2m(model.denoiser(clip=False), model.schedule, z,
                                         timesteps)
    assert (ours - x).abs().max() < 1e-4 * x.abs().max()


def test_half_precision_runs_the_unet_under_autocast(pipelines, monkeypatch):
    """On CUDA the UNet runs in bfloat16 (or float16); the samplers get float32. The same
    path on the CPU's autocast, which a test machine has."""
    folder, unet = pipelines["rgb16-v-ddim"]
    model, _ = opened(folder)
    x = torch.randn(2, 3, 16, 16, generator=seeded(8))
    t = torch.tensor([10, 40])
    assert diffusers_unet.half_precision(torch.device("cpu")) is None
    with torch.no_grad():
        full = model.network(x, t, None)
        monkeypatch.setattr(diffusers_unet, "half_precision", lambda device: torch.bfloat16)
        half = model.network(x, t, None)
    assert half.dtype == torch.float32 and not torch.equal(half, full)
    assert (half - full).abs().max() < 0.05 * full.abs().max()


@pytest.mark.parametrize(("capability", "dtype"), [((9, 0), torch.bfloat16),
                                                   ((8, 0), torch.bfloat16),
                                                   ((7, 5), torch.float16)])
def test_half_precision_is_bfloat16_where_the_gpu_computes_in_it(monkeypatch, capability,
                                                                  dtype):
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert diffusers_unet.half_precision(torch.device("cuda")) is dtype
    assert diffusers_unet.half_precision(torch.device("cpu")) is None


# --- weights --------------------------------------------------------------------------------------
def test_a_pickle_is_refused_unless_trusted_and_then_read_as_weights_only(tmp_path):
    unet = tiny_unet(8, 1)
    folder = save(tmp_path / "bin", unet, DDPMScheduler(num_train_timesteps=50),
                  safe_serialization=False)
    assert (folder / "unet/diffusion_pytorch_model.bin").is_file()
    assert any("--trust-pickle" in note for note in fmt.describe(folder).notes)
    with pytest.raises(CheckpointError, match=r"pickle \(\.bin\).*--trust-pickle"):
        opened(folder)
    model, _ = opened(folder, trust_pickle=True)
    x = torch.randn(1, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model.network(x, torch.tensor([5]), None),
                           unet(x, torch.tensor([5])).sample)


class _Marker:
    """A pickle that, if unpickled by a full pickle loader, creates a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (str(self.path),))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_malicious_pickle_is_refused_even_when_trusted(tmp_path, writer):
    """Both a zip archive (torch.save, read memory-mapped) and a plain pickle (the older
    format, read without mmap)."""
    folder = save(tmp_path / "evil", tiny_unet(8, 1), DDPMScheduler(num_train_timesteps=50))
    state = load_file(folder / WEIGHTS)
    (folder / WEIGHTS).unlink()
    marker = tmp_path / "it-ran"
    evil = {**state, "conv_in.weight": _Marker(marker)}
    file = folder / "unet/diffusion_pytorch_model.bin"
    if writer == "torch.save":
        torch.save(evil, file)
    else:
        file.write_bytes(pickle.dumps(evil, protocol=2))
    model = registry.get("diffusers")(registry.get("diffusers").Config.from_dict(
        fmt.describe(folder).config))
    asks = r" \(it asks for .*makedirs\)" if writer == "torch.save" else ""
    with pytest.raises(CheckpointError, match=f"refused: the pickle holds more than plain "
                                              f"tensors{asks}"):
        fmt.load_weights(model, folder, trust_pickle=True)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Marker(tmp_path / "control")))  # what a full loader would do
    assert (tmp_path / "control").exists()


def test_old_attention_names_and_float16_weights_load(tmp_path, pipelines):
    """Old pipelines (google/ddpm-cifar10-32) name attention query/key/value/proj_attn; the
    .fp16 variant is cast to float32."""
    source, unet = pipelines["rgb16-v-ddim"]
    folder = tmp_path / "old"
    shutil.copytree(source, folder)
    old = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    state = {}
    for key, value in load_file(folder / WEIGHTS).items():
        for new, before in old.items():
            key = key.replace(f".{new}.", f".{before}.")
        state[key] = value.half()
    assert any(".query." in k for k in state)
    (folder / WEIGHTS).unlink()
    save_file(state, folder / "unet/diffusion_pytorch_model.fp16.safetensors")
    model, _ = opened(folder)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert torch.equal(model.net.conv_in.weight, unet.conv_in.weight.half().float())


def test_weights_that_do_not_match_name_the_first_mismatch(tmp_path, pipelines):
    folder = tmp_path / "bad"
    shutil.copytree(pipelines["grey8-eps-ddpm"][0], folder)
    state = load_file(folder / WEIGHTS)
    model, _ = opened(folder)
    save_file({**state, "conv_in.weight": torch.zeros(8, 1, 5, 5)}, folder / WEIGHTS)
    with pytest.raises(CheckpointError, match=r"1 with wrong shapes \(e\.g\. conv_in\.weight"):
        fmt.load_weights(model, folder)
    del state["conv_out.bias"]
    save_file(state, folder / WEIGHTS)
    with pytest.raises(CheckpointError, match=r"1 missing \(e\.g\. conv_out\.bias\)"):
        fmt.load_weights(model, folder)
    state["conv_out.bias"] = torch.tensor([float("nan")])
    save_file(state, folder / WEIGHTS)
    with pytest.raises(CheckpointError, match="conv_out.bias are not numbers"):
        fmt.load_weights(model, folder)


# --- what is refused, in one line ---------------------------------------------------------------
def _edit(folder: Path, file: str, **changes) -> None:
    path = folder / file
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


REFUSALS = {
    "latent": ("model_index.json", {"vqvae": ["diffusers", "VQModel"]},
               "text-to-image and latent pipelines are not supported"),
    "text": ("model_index.json", {"text_encoder": ["transformers", "CLIPTextModel"]},
             "text-to-image and latent pipelines are not supported"),
    "conditioned unet": ("model_index.json", {"unet": ["diffusers", "UNet2DConditionModel"]},
                         "UNet2DConditionModel .*UNet2DModel networks only"),
    "ve scheduler": ("scheduler/scheduler_config.json", {"_class_name": "ScoreSdeVeScheduler"},
                     "variance-exploding"),
    "unknown scheduler": ("scheduler/scheduler_config.json",
                          {"_class_name": "FancyScheduler", "beta_schedule": None,
                           "beta_start": None, "beta_end": None, "trained_betas": None},
                          "no beta schedule"),
    "non-square": ("unet/config.json", {"sample_size": [8, 16]}, "square images only"),
    "four channels": ("unet/config.json", {"in_channels": 4, "out_channels": 4},
                      "4 channels"),
    "fourier": ("unet/config.json", {"time_embedding_type": "fourier"}, "continuous-time"),
    "prediction": ("scheduler/scheduler_config.json", {"prediction_type": "flow"},
                   "prediction_type 'flow'"),
    "beta schedule": ("scheduler/scheduler_config.json", {"beta_schedule": "exotic"},
                      "beta_schedule 'exotic'"),
    "null class": ("genplay.json", {"null_class": 0}, "null_class must be the UNet's last"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_what_genplay_cannot_open_is_refused_in_one_line(tmp_path, pipelines, case):
    file, changes, message = REFUSALS[case]
    folder = tmp_path / "pipe"
    shutil.copytree(pipelines["rgb8-classes"][0], folder)
    if not (folder / file).exists():
        (folder / file).write_text("{}")
    _edit(folder, file, **changes)
    assert fmt.recognise(folder)
    with pytest.raises(CheckpointError, match=message) as error:
        fmt.describe(folder)
    assert "\n" not in str(error.value)


def test_learned_variances_give_their_first_half(tmp_path):
    unet = tiny_unet(8, 3, out_channels=6)
    folder = save(tmp_path / "learned", unet,
                  DDPMScheduler(num_train_timesteps=50, variance_type="learned_range"))
    model, described = opened(folder)
    assert any("variances" in note for note in described.notes)
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model.network(x, torch.tensor([3]), None),
                           unet(x, torch.tensor([3])).sample[:, :3])
    assert model.sample(1, seeded(0), steps=2).shape == (1, 3, 8, 8)


def test_a_bare_unet_folder_points_to_its_pipeline(pipelines):
    folder = pipelines["grey8-eps-ddpm"][0]
    assert fmt.recognise(folder / "unet") and not fmt.recognise(folder / "scheduler")
    with pytest.raises(CheckpointError, match=f"no noise schedule; open {folder}"):
        fmt.describe(folder / "unet")


def test_a_genplay_checkpoint_folder_is_not_taken_for_a_pipeline(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert not fmt.recognise(tmp_path) and not fmt.recognise(tmp_path / "config.json")


def test_without_diffusers_building_says_how_to_install_it(pipelines, monkeypatch):
    described = fmt.describe(pipelines["grey8-eps-ddpm"][0])  # describing needs no diffusers
    monkeypatch.setitem(sys.modules, "diffusers", None)
    cls = registry.get("diffusers")
    with pytest.raises(GenplayError, match=r"pip install 'genplay\[diffusers\]'"):
        cls(cls.Config.from_dict(described.config))
