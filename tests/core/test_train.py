"""The training loop: events, budgets, resume, and interruption that keeps a good checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genplay.core import checkpoints, runtime
from genplay.core.errors import CheckpointError, GenplayError
from genplay.core.events import Preview, Progress, Result, Saved, Validation
from genplay.core.train import BF16_EMULATED, TrainSettings, train
from tests.conftest import TINY_CONFIGS


def settings(tiny_data, out, family="gan", **kw):
    config = dict(TINY_CONFIGS[family])
    size = config.pop("image_size")
    return TrainSettings(family=family, data=str(tiny_data), out=out, size=size,
                         overrides=config, preview_every=2, recipe="test", **kw)


def test_events_of_a_short_run(tiny_data, tmp_path):
    events = list(train(settings(tiny_data, tmp_path / "m", epochs=2)))
    kinds = {type(e) for e in events}
    assert {Progress, Preview, Validation, Saved, Result} <= kinds
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == list(range(1, len(progress) + 1))
    assert progress[-1].total == len(progress) and progress[-1].images_per_s > 0
    assert [e.epoch for e in events if isinstance(e, Validation)] == [1, 2]
    preview = next(e for e in events if isinstance(e, Preview))
    assert preview.images.shape == (16, 8, 8, 1) and preview.images.dtype.name == "uint8"
    info = checkpoints.read_info(tmp_path / "m")
    assert info.training["steps"] == len(progress) and info.training["epochs"] == 2


def test_quick_epochs_validate_first_and_last_not_each(tiny_data, tmp_path):
    quick = settings(tiny_data, tmp_path / "a", epochs=5)
    quick.validate_every_s = 3600.0  # every epoch of the tiny set ends far sooner
    events = list(train(quick))
    assert [e.epoch for e in events if isinstance(e, Validation)] == [1, 5]
    assert checkpoints.read_info(tmp_path / "a").training["epochs"] == 5
    every = settings(tiny_data, tmp_path / "b", epochs=3)
    every.validate_every_s = 0.0
    assert [e.epoch for e in train(every) if isinstance(e, Validation)] == [1, 2, 3]


def test_a_run_killed_while_writing_its_checkpoint_stays_loadable_and_resumable(
        tiny_data, tmp_path, monkeypatch):
    out = tmp_path / "m"
    list(train(settings(tiny_data, out, family="vae", epochs=1)))
    steps_before = checkpoints.read_info(out).training["steps"]
    real_save = torch.save

    def dies_half_way(obj, f, *args, **kwargs):  # the process ends in the middle of a write
        Path(f).write_bytes(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        list(train(settings(tiny_data, out, family="vae", epochs=2, resume=True)))
    monkeypatch.setattr(torch, "save", real_save)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no half file left
    model, info = checkpoints.load(out)  # the newest weights, whole
    assert model.sample(2).shape[0] == 2
    # the trainer state is still the last whole one: resuming goes on from there
    done = list(train(settings(tiny_data, out, family="vae", epochs=2, resume=True)))
    assert done[-1].summary["steps"] == 2 * steps_before


def test_a_run_stopped_on_an_epochs_last_step_resumes_into_the_next_epoch(tiny_data, tmp_path):
    out = tmp_path / "m"
    run = train(settings(tiny_data, out, family="vae", epochs=4))
    per_epoch = None
    for event in run:
        if isinstance(event, Progress) and event.total:
            per_epoch = event.total // 4
            if event.step == 2 * per_epoch:  # the last step of epoch 2, before it is counted
                run.close()
                break
    assert checkpoints.read_info(out).training["steps"] == 2 * per_epoch
    resumed = list(train(settings(tiny_data, out, family="vae", epochs=4, resume=True)))
    progress = [e for e in resumed if isinstance(e, Progress) and e.total]
    assert progress[0].step == 2 * per_epoch + 1 and progress[0].epoch == 2
    assert resumed[-1].summary["epochs"] == 4


def test_same_seed_same_weights(tiny_data, tmp_path):
    for name in ("a", "b"):
        list(train(settings(tiny_data, tmp_path / name, family="vae", epochs=1)))
    assert checkpoints.weights_hash(tmp_path / "a") == checkpoints.weights_hash(tmp_path / "b")


def test_interrupting_keeps_a_loadable_checkpoint_and_resume_continues(tiny_data, tmp_path):
    out = tmp_path / "m"
    run = train(settings(tiny_data, out, family="vae", epochs=3))
    for event in run:
        if isinstance(event, Progress) and event.step == 5:
            run.close()  # what Ctrl-C / Cancel do
            break
    model, info = checkpoints.load(out)
    assert info.training["steps"] == 5
    steps = [e.step for e in train(settings(tiny_data, out, family="vae", epochs=3, resume=True))
             if isinstance(e, Progress)]
    assert steps[0] == 6 and steps[-1] == 9  # 30 training images / batch 8: 3 steps an epoch


def test_resumed_run_matches_an_uninterrupted_one(tiny_data, tmp_path):
    list(train(settings(tiny_data, tmp_path / "whole", family="classifier", epochs=2)))
    run = train(settings(tiny_data, tmp_path / "split", family="classifier", epochs=2))
    for event in run:
        if isinstance(event, Saved):  # end of epoch 1
            run.close()
            break
    list(train(settings(tiny_data, tmp_path / "split", family="classifier", epochs=2,
                        resume=True)))
    a, _ = checkpoints.load(tmp_path / "whole")
    b, _ = checkpoints.load(tmp_path / "split")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(va.float(), vb.float(), atol=1e-6), k


def test_refuses_to_overwrite_and_needs_something_to_resume(tiny_data, tmp_path):
    list(train(settings(tiny_data, tmp_path / "m", epochs=1)))
    with pytest.raises(GenplayError, match="already holds a checkpoint"):
        list(train(settings(tiny_data, tmp_path / "m", epochs=1)))
    with pytest.raises(CheckpointError, match="nothing to resume"):
        list(train(settings(tiny_data, tmp_path / "new", epochs=1, resume=True)))
    with pytest.raises(CheckpointError, match="holds a gan, not a vae"):
        list(train(settings(tiny_data, tmp_path / "m", family="vae", epochs=1, resume=True)))


def test_minutes_budget_and_missing_budget(tiny_data, tmp_path):
    events = list(train(settings(tiny_data, tmp_path / "m", minutes=0.002)))
    assert isinstance(events[-1], Result)
    with pytest.raises(GenplayError, match="give a budget"):
        list(train(settings(tiny_data, tmp_path / "n")))


def test_bad_config_override_is_a_user_error(tiny_data, tmp_path):
    s = settings(tiny_data, tmp_path / "m", epochs=1)
    s.overrides["wings"] = 2
    with pytest.raises(GenplayError, match="unknown config fields"):
        list(train(s))


def test_image_folder_with_unreadable_files_trains_on_the_rest(tmp_path):
    from PIL import Image

    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(12):
        Image.new("RGB", (20 + i, 30), (i * 20, 100, 200 - i * 10)).save(folder / f"{i}.png")
    (folder / "bad.jpg").write_bytes(b"\xff\xd8 nope")
    s = TrainSettings(family="vae", data=str(folder), out=tmp_path / "m", epochs=1, size=8,
                      channels=3, overrides={**{k: v for k, v in TINY_CONFIGS["vae"].items()
                                                if k != "image_size"}, "batch_size": 4},
                      preview_every=0)
    events = list(train(s))
    assert "skipped 1 unreadable" in events[0].message
    info = checkpoints.read_info(tmp_path / "m")
    assert info.image_shape == (3, 8, 8) and info.dataset == str(folder.resolve())


def test_perturbed_training_for_a_background_model(tiny_data, tmp_path):
    from genplay.core.train import perturb

    x = torch.rand(64, 3, 8, 8)
    y = perturb(x, 0.25, seed=3)
    changed = (y != x).any(dim=1)
    assert 0.18 < changed.float().mean() < 0.32  # about the rate, whole pixels at a time
    assert ((y != x) == changed[:, None]).float().mean() > 0.99
    assert torch.equal(y, perturb(x, 0.25, seed=3)) and not torch.equal(y, perturb(x, 0.25, 4))
    assert torch.equal(perturb(x, 0.0, seed=3), x)
    clean = tmp_path / "clean"
    noisy = tmp_path / "noisy"
    list(train(settings(tiny_data, clean, family="vae", epochs=1)))
    list(train(settings(tiny_data, noisy, family="vae", epochs=1, perturb=0.3)))
    assert checkpoints.read_info(noisy).training["perturb"] == 0.3
    assert "perturb" not in checkpoints.read_info(clean).training
    assert checkpoints.weights_hash(clean) != checkpoints.weights_hash(noisy)
    with pytest.raises(GenplayError, match="perturb"):
        list(train(settings(tiny_data, tmp_path / "bad", family="vae", epochs=1, perturb=1.5)))


def test_the_training_device_is_checked_and_auto_falls_back_to_the_cpu(tiny_data, tmp_path,
                                                                       monkeypatch):
    from genplay.core.train import training_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert training_device("cpu") == training_device("auto") == torch.device("cpu")
    with pytest.raises(GenplayError, match="no CUDA GPU here"):
        training_device("cuda")
    with pytest.raises(GenplayError, match="unknown device 'gpu'"):
        training_device("gpu")
    # a run on "auto" trains, and its checkpoint holds CPU tensors as every checkpoint does
    events = list(train(settings(tiny_data, tmp_path / "m", family="vae", epochs=1,
                                 device="auto")))
    assert isinstance(events[-1], Result)
    model, info = checkpoints.load(tmp_path / "m")
    assert model.device.type == "cpu" and "device" not in info.training


def _train_seeing_conv_dtypes(run: TrainSettings) -> tuple[list, set[torch.dtype]]:
    """The run's events and the dtypes its convolutions' outputs had while training."""
    seen: set[torch.dtype] = set()

    def conv_output(module, _inputs, output):
        if isinstance(module, torch.nn.Conv2d) and module.training:
            seen.add(output.dtype)

    hook = torch.nn.modules.module.register_module_forward_hook(conv_output)
    try:
        return list(train(run)), seen
    finally:
        hook.remove()


@pytest.mark.parametrize("family", ["vae", "diffusion"])
def test_bf16_autocast_and_channels_last_train_and_save_float32(tiny_data, tmp_path, family,
                                                                monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)  # whatever CI runs on
    events, seen = _train_seeing_conv_dtypes(settings(tiny_data, tmp_path / "run", family,
                                                      epochs=1, precision="bf16",
                                                      channels_last=True))
    assert seen == {torch.bfloat16}  # the training passes ran in bfloat16
    losses = [e.losses for e in events if isinstance(e, Progress) and e.losses]
    assert losses and all(torch.isfinite(torch.tensor(list(v.values()))).all() for v in losses)
    model, info = checkpoints.load(tmp_path / "run")
    assert all(t.dtype == torch.float32 for t in model.state_dict().values()
               if t.is_floating_point())
    assert info.training["precision"] == "bf16" and info.training["channels_last"] is True
    with pytest.raises(GenplayError, match="gradient scaler"):
        list(train(settings(tiny_data, tmp_path / "fp16", family, epochs=1, precision="fp16")))
    assert not (tmp_path / "fp16").exists()  # refused before anything was written


def test_bf16_on_a_cpu_without_bfloat16_instructions_trains_in_fp32(tiny_data, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    events, seen = _train_seeing_conv_dtypes(settings(tiny_data, tmp_path / "run", "vae",
                                                      epochs=1, precision="bf16"))
    assert seen == {torch.float32}  # emulated bfloat16 is slower: none of it ran
    messages = [e.message for e in events if isinstance(e, Progress) and e.message]
    assert messages.count(BF16_EMULATED) == 1
    assert "\n" not in BF16_EMULATED
    _, info = checkpoints.load(tmp_path / "run")
    assert info.training["precision"] == "fp32"  # what it trained in, not what was asked
    # an fp32 run has nothing to say and records nothing
    events = list(train(settings(tiny_data, tmp_path / "plain", "vae", epochs=1)))
    assert not [e for e in events if isinstance(e, Progress) and e.message == BF16_EMULATED]
    assert "precision" not in checkpoints.read_info(tmp_path / "plain").training

