"""genplay export --to diffusers: a v2 diffusion model written as a diffusers pipeline
computes what genplay's computes, in diffusers' own UNet2DModel and scheduler."""

from __future__ import annotations

import json

import pytest
import torch

from genplay.core import checkpoints, registry
from genplay.core.errors import GenplayError
from genplay.core.events import final_value
from genplay.core.export import export_steps, unet_config, unet_state
from genplay.core.models import diffusion_pipeline as pipeline

diffusers = pytest.importorskip("diffusers")

CONFIGS = {
    "classes-attention": dict(image_size=8, base_channels=8, blocks_per_level=1,
                              attention_heads=2, timesteps=50, num_classes=3),
    "28px-two-levels": dict(image_size=28, base_channels=8, blocks_per_level=1,
                            attention_heads=4, timesteps=40, num_classes=0, prediction="eps"),
    "rgb-no-attention": dict(image_size=16, channels=3, base_channels=8, blocks_per_level=2,
                             attention_heads=0, timesteps=30, num_classes=0),
}


def scrambled(config: dict) -> torch.nn.Module:
    """A model whose every weight is random: zero-initialised layers would hide a swapped
    or dropped weight."""
    torch.manual_seed(0)
    model = registry.build("diffusion", **config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model


@pytest.mark.parametrize("name", CONFIGS)
def test_the_unet2dmodel_computes_what_genplay_computes(name):
    model = scrambled(CONFIGS[name])
    unet = diffusers.UNet2DModel(**{k: v for k, v in unet_config(model.config).items()
                                   if not k.startswith("_")}).eval()
    missing, unexpected = unet.load_state_dict(unet_state(model), strict=False)
    assert not missing and not unexpected
    c, s = model.config.channels, model.config.image_size
    x = torch.randn(3, c, s, s, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0, 7, model.config.timesteps - 1])
    labels = torch.tensor([0, 2, 3]) if model.config.num_classes else None  # 3: "no class"
    with torch.no_grad():
        ours = model.net(x, t, labels)
        theirs = unet(x, t, class_labels=labels).sample
    assert ours.abs().mean() > 0.05  # the comparison means something
    assert torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()


def exported(tmp_path, config: dict, name: str = "model"):
    model = scrambled(config)
    folder = tmp_path / name
    checkpoints.save(model, folder, dataset="test", recipe="test",
                     class_names=[f"c{i}" for i in range(model.config.num_classes)] or None)
    out = tmp_path / f"{name}-diffusers"
    final_value(export_steps(folder, out))
    return model, folder, out


def test_diffusers_opens_the_folder_and_its_ddim_gives_genplays_images(tmp_path):
    model, _, out = exported(tmp_path, CONFIGS["classes-attention"])
    pipe = diffusers.DDPMPipeline.from_pretrained(out)
    unet, scheduler = pipe.unet.eval(), pipe.scheduler
    ab = scheduler.alphas_cumprod.double()
    assert torch.allclose(ab, model.schedule.alpha_bar, rtol=1e-5)
    assert scheduler.config.prediction_type == "v_prediction"

    # genplay's DDIM (eta 0, unconditional) against DDIM written on diffusers' network and
    # diffusers' alphas, over the same timesteps from the same noise
    noise = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    timesteps = pipeline.timesteps_for("ddim", model.schedule, 6)
    ours = final_value(pipeline.denoise_steps(model, noise, timesteps, "ddim", {}, None,
                                              preview=False))
    x = noise
    null = torch.full((2,), model.config.num_classes)
    with torch.no_grad():
        for i, t in enumerate(timesteps):
            a, s = ab[t].float().sqrt(), (1 - ab[t]).float().sqrt()
            v = unet(x, torch.full((2,), t), class_labels=null).sample
            x0 = (a * x - s * v).clamp(-1, 1)
            eps = (x - a * x0) / s
            ab_u = ab[timesteps[i + 1]].float() if i + 1 < len(timesteps) else torch.tensor(1.0)
            x = ab_u.sqrt() * x0 + (1 - ab_u).sqrt() * eps
    theirs = ((x + 1) / 2).clamp(0, 1).numpy()
    assert abs(ours - theirs).max() < 1e-4


def test_the_sidecar_keeps_the_classes_and_the_no_class_label(tmp_path):
    model, _, out = exported(tmp_path, CONFIGS["classes-attention"])
    sidecar = json.loads((out / "genplay.json").read_text())
    assert sidecar["class_names"] == ["c0", "c1", "c2"]
    assert sidecar["null_class"] == 3
    config = json.loads((out / "unet" / "config.json").read_text())
    assert config["num_class_embeds"] == 4


def test_an_unconditional_model_samples_in_diffusers_own_pipeline(tmp_path):
    _, _, out = exported(tmp_path, CONFIGS["rgb-no-attention"])
    pipe = diffusers.DDPMPipeline.from_pretrained(out)
    images = pipe(batch_size=2, num_inference_steps=3, output_type="np",
                  generator=torch.Generator().manual_seed(0)).images
    assert images.shape == (2, 16, 16, 3)
    assert images.min() >= 0 and images.max() <= 1


def test_what_does_not_export_is_refused_in_one_line(tmp_path, tiny_checkpoints):
    with pytest.raises(GenplayError, match="diffusion models only"):
        final_value(export_steps(tiny_checkpoints / "vae-tiny", tmp_path / "out"))
    v1 = scrambled(dict(CONFIGS["classes-attention"], layout="v1"))
    checkpoints.save(v1, tmp_path / "v1", dataset="test", recipe="test")
    with pytest.raises(GenplayError, match="first U-Net layout"):
        final_value(export_steps(tmp_path / "v1", tmp_path / "v1-out"))
    assert not (tmp_path / "v1-out").exists()


def test_an_existing_folder_is_never_replaced_unless_asked_and_only_a_pipeline(tmp_path):
    _, folder, out = exported(tmp_path, CONFIGS["rgb-no-attention"])
    with pytest.raises(GenplayError, match="already exists"):
        final_value(export_steps(folder, out))
    final_value(export_steps(folder, out, overwrite=True))  # a pipeline folder: replaced
    assert (out / "model_index.json").is_file()
    mine = tmp_path / "my-photos"
    mine.mkdir()
    (mine / "holiday.png").write_bytes(b"not really")
    with pytest.raises(GenplayError, match="not a diffusers pipeline folder"):
        final_value(export_steps(folder, mine, overwrite=True))
    assert (mine / "holiday.png").read_bytes() == b"not really"


def test_checkpoints_saved_before_the_layout_field_are_v1(tmp_path):
    model = scrambled(CONFIGS["rgb-no-attention"])
    checkpoints.save(model, tmp_path / "old", dataset="test", recipe="test")
    path = tmp_path / "old" / "config.json"
    saved = json.loads(path.read_text())
    del saved["config"]["layout"]
    path.write_text(json.dumps(saved))
    assert checkpoints.read_info(tmp_path / "old").config["layout"] == "v1"
    fresh = registry.build("diffusion", **CONFIGS["rgb-no-attention"])
    assert fresh.config.layout == "v2"


def test_the_exported_folder_opens_in_genplay_and_samples_the_same_images(tmp_path):
    model, _, out = exported(tmp_path, CONFIGS["classes-attention"])
    opened, info = checkpoints.load(out)
    assert (info.format, info.family, info.dataset) == ("diffusers", "diffusers", "test")
    assert opened.class_choices() == ["c0", "c1", "c2"]
    assert [o.name for o in opened.sample_options()] == [o.name for o in model.sample_options()]
    for opts in ({"sampler": "dpmpp", "steps": 6},
                 {"sampler": "ddpm", "steps": 5, "class": 1, "guidance": 2.0}):
        ours = model.sample(3, torch.Generator().manual_seed(5), **opts)
        again = opened.sample(3, torch.Generator().manual_seed(5), **opts)
        assert ours.std() > 0.01
        assert (ours - again).abs().max() < 1e-4, opts
