"""Upscaler weights of the ESRGAN family (core/formats/upscaler_file.py and
core/models/upscaler_nets.py): tiny RRDBNet and SRVGGNetCompact state dicts are written here
with the published key names (BasicSR/Real-ESRGAN's, the ESRGAN repository's and BSRGAN's,
the first ESRGAN's sequential ones), saved as .safetensors and .pth, recognised, loaded and
run against a reference forward pass written here from the papers' code, independently of
genplay's modules. Pickles that name code are refused without running; damaged files,
folders and FIFOs are one-line errors; a fake spandrel module exercises the spandrel route."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

import genplay.core.models.upscaler_nets as nets  # registers the families before the registry
from genplay.core import registry
from genplay.core.errors import CheckpointError, GenplayError
from genplay.core.events import Result
from genplay.core.formats import WEIGHT_SUFFIXES, upscaler_file
from genplay.core.models import capabilities as caps
from genplay.core.ops import superres as superres_ops

torch.set_num_threads(1)


# --- published state dicts, built here -------------------------------------------------------
def _conv(g: torch.Generator, cin: int, cout: int) -> dict[str, torch.Tensor]:
    scale = (2.0 / (9 * cin)) ** 0.5
    return {"weight": torch.randn(cout, cin, 3, 3, generator=g) * scale,
            "bias": torch.randn(cout, generator=g) * 0.05}


def rrdb_new(channels=3, nf=8, nb=1, gc=4, upsamples=2, unshuffle=1, seed=0):
    """BasicSR's RRDBNet names (Real-ESRGAN's published x4plus, x2plus)."""
    g = torch.Generator().manual_seed(seed)
    state = {}

    def put(name, cin, cout):
        for kind, t in _conv(g, cin, cout).items():
            state[f"{name}.{kind}"] = t

    put("conv_first", channels * unshuffle ** 2, nf)
    for i in range(nb):
        for r in (1, 2, 3):
            for j in range(1, 6):
                put(f"body.{i}.rdb{r}.conv{j}", nf + (j - 1) * gc, nf if j == 5 else gc)
    put("conv_body", nf, nf)
    for k in range(1, upsamples + 1):
        put(f"conv_up{k}", nf, nf)
    put("conv_hr", nf, nf)
    put("conv_last", nf, channels)
    return state


def to_old(state, nb, upsamples):
    """The first ESRGAN's sequential names: model.0, model.1.sub.N.RDBk.convj.0, the body's
    last conv as model.1.sub.<nb>, then [upsample, conv, lrelu] per stage, HR conv, lrelu,
    last conv."""
    fixed = {"conv_first": "model.0", "conv_body": f"model.1.sub.{nb}",
             "conv_hr": f"model.{3 * upsamples + 2}", "conv_last": f"model.{3 * upsamples + 4}"}
    fixed.update({f"conv_up{k}": f"model.{3 * k}" for k in range(1, upsamples + 1)})
    old = {}
    for name, t in state.items():
        layer, kind = name.rsplit(".", 1)
        if layer.startswith("body."):
            _, i, rdb, conv = layer.split(".")
            old[f"model.1.sub.{i}.RDB{rdb[3:]}.{conv}.0.{kind}"] = t
        else:
            old[f"{fixed[layer]}.{kind}"] = t
    return old


def to_trunk(state):
    """The ESRGAN repository's and BSRGAN's names."""
    fixed = {"conv_body": "trunk_conv", "conv_hr": "HRconv", "conv_up1": "upconv1",
             "conv_up2": "upconv2", "conv_up3": "upconv3"}
    trunk = {}
    for name, t in state.items():
        layer, kind = name.rsplit(".", 1)
        if layer.startswith("body."):
            _, i, rdb, conv = layer.split(".")
            trunk[f"RRDB_trunk.{i}.RDB{rdb[3:]}.{conv}.{kind}"] = t
        else:
            trunk[f"{fixed.get(layer, layer)}.{kind}"] = t
    return trunk


def srvgg(channels=3, nf=8, nconv=2, scale=4, seed=0):
    """Real-ESRGAN's SRVGGNetCompact names: body.N convs and PReLUs."""
    g = torch.Generator().manual_seed(seed)
    state, index = {}, 0
    for cin, cout in [(channels, nf)] + [(nf, nf)] * nconv:
        for kind, t in _conv(g, cin, cout).items():
            state[f"body.{index}.{kind}"] = t
        state[f"body.{index + 1}.weight"] = torch.rand(nf, generator=g) * 0.3
        index += 2
    for kind, t in _conv(g, nf, channels * scale * scale).items():
        state[f"body.{index}.{kind}"] = t
    return state


# --- reference forward passes (the published architectures, written with F.conv2d) -----------
def _c(state, name, x):
    return F.conv2d(x, state[f"{name}.weight"], state[f"{name}.bias"], padding=1)


def rrdb_reference(state, x, nb, upsamples, unshuffle):
    lrelu = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
    if unshuffle > 1:
        x = F.pixel_unshuffle(x, unshuffle)
    feat = _c(state, "conv_first", x)
    h = feat
    for i in range(nb):
        block_in = h
        for r in (1, 2, 3):
            x0 = h
            x1 = lrelu(_c(state, f"body.{i}.rdb{r}.conv1", x0))
            x2 = lrelu(_c(state, f"body.{i}.rdb{r}.conv2", torch.cat([x0, x1], 1)))
            x3 = lrelu(_c(state, f"body.{i}.rdb{r}.conv3", torch.cat([x0, x1, x2], 1)))
            x4 = lrelu(_c(state, f"body.{i}.rdb{r}.conv4", torch.cat([x0, x1, x2, x3], 1)))
            x5 = _c(state, f"body.{i}.rdb{r}.conv5", torch.cat([x0, x1, x2, x3, x4], 1))
            h = x5 * 0.2 + x0
        h = h * 0.2 + block_in
    h = feat + _c(state, "conv_body", h)
    for k in range(1, upsamples + 1):
        h = lrelu(_c(state, f"conv_up{k}", F.interpolate(h, scale_factor=2, mode="nearest")))
    return _c(state, "conv_last", lrelu(_c(state, "conv_hr", h)))


def srvgg_reference(state, x, nconv, scale):
    h = x
    for i in range(nconv + 1):
        h = F.prelu(_c(state, f"body.{2 * i}", h), state[f"body.{2 * i + 1}.weight"])
    h = _c(state, f"body.{2 * nconv + 2}", h)
    return F.pixel_shuffle(h, scale) + F.interpolate(x, scale_factor=scale, mode="nearest")


# --- files -----------------------------------------------------------------------------------
def write(path, state, wrapper=None, legacy=False):
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state if wrapper is None else {wrapper: state}, path,
                   _use_new_zipfile_serialization=not legacy)
    return path


def opened(path):
    described = upscaler_file.describe(path)
    cls = registry.get(described.family)
    model = cls(cls.Config.from_dict(described.config))
    upscaler_file.load_weights(model, path)
    return described, model.eval()


# (file name, state, wrapper, expected family, scale, channels, blocks or convs, reference)
RRDB_X4 = rrdb_new()
CASES = {
    "rrdb-x4-new.safetensors": (RRDB_X4, None, "rrdbnet", 4, 3, 1, (1, 2, 1)),
    "rrdb-x4-ema.pth": (RRDB_X4, "params_ema", "rrdbnet", 4, 3, 1, (1, 2, 1)),
    "rrdb-x4-old.pth": (to_old(RRDB_X4, 1, 2), None, "rrdbnet", 4, 3, 1, (1, 2, 1)),
    "rrdb-x4-trunk.pth": (to_trunk(RRDB_X4), None, "rrdbnet", 4, 3, 1, (1, 2, 1)),
    "rrdb-x2-unshuffle.pth": (rrdb_new(unshuffle=2, seed=1), "params_ema", "rrdbnet", 2, 3, 1,
                              (1, 2, 2)),
    "rrdb-x1-unshuffle.safetensors": (rrdb_new(nb=2, unshuffle=4, seed=2), None, "rrdbnet", 1,
                                      3, 2, (2, 2, 4)),
    "rrdb-x2-old-grey.pth": (to_old(rrdb_new(channels=1, upsamples=1, seed=3), 1, 1), None,
                             "rrdbnet", 2, 1, 1, (1, 1, 1)),
    "rrdb-x8-new.safetensors": (rrdb_new(upsamples=3, seed=4), None, "rrdbnet", 8, 3, 1,
                                (1, 3, 1)),
    "srvgg-x4.pth": (srvgg(), "params", "srvgg", 4, 3, 2, None),
    "srvgg-x4-grey.safetensors": (srvgg(channels=1, nconv=3, seed=5), None, "srvgg", 4, 1, 3,
                                  None),
}


def reference(name, state, x):
    family_state = upscaler_new_names(name, state)
    nb, upsamples, unshuffle = CASES[name][6] or (0, 0, 0)
    if CASES[name][2] == "srvgg":
        return srvgg_reference(family_state, x, CASES[name][5], CASES[name][3])
    return rrdb_reference(family_state, x, nb, upsamples, unshuffle)


def upscaler_new_names(name, state):
    """The new-style state of a case (the reference is written with those names)."""
    if name.startswith("rrdb-x4"):
        return RRDB_X4
    if name == "rrdb-x2-old-grey.pth":
        return rrdb_new(channels=1, upsamples=1, seed=3)
    return state


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_weights_are_recognised_loaded_and_run_as_published(tmp_path, name):
    state, wrapper, family, scale, channels, size, _ = CASES[name]
    path = write(tmp_path / name, state, wrapper)
    assert upscaler_file.recognise(path)
    described, model = opened(path)
    assert (described.family, described.config["scale"], described.config["channels"]) == (
        family, scale, channels)
    assert described.config["blocks" if family == "rrdbnet" else "num_conv"] == size
    assert described.image_shape[0] == channels
    assert f"{scale}x" in described.architecture
    assert ("RRDBNet" if family == "rrdbnet" else "SRVGGNetCompact") in described.architecture
    assert ("grey" if channels == 1 else "RGB") in described.architecture
    assert caps.has_capability(model, caps.Upscaler) and model.scales == (scale,)
    assert caps.reach_of(model) > 0
    x = torch.rand(2, channels, 8, 12, generator=torch.Generator().manual_seed(7))
    y = model.upscale(x, scale)
    want = reference(name, state, x).clamp(0, 1)
    assert y.shape == want.shape == (2, channels, 8 * scale, 12 * scale)
    assert torch.allclose(y, want, atol=1e-5), (y - want).abs().max()
    # Any size: a pixel-unshuffled input is padded to whole blocks and the result cut back.
    assert model.upscale(x[..., :5, :7], scale).shape == (2, channels, 5 * scale, 7 * scale)
    with pytest.raises(GenplayError, match="only"):
        model.upscale(x, scale * 2 if scale < 8 else 2)
    with pytest.raises(GenplayError, match="channel"):
        model.upscale(torch.rand(1, 2, 4, 4), scale)


def test_the_ema_weights_are_preferred_and_the_wrapper_is_noted(tmp_path):
    path = tmp_path / "net_g.pth"
    torch.save({"params": rrdb_new(seed=9), "params_ema": RRDB_X4}, path)
    described, model = opened(path)
    assert any("params_ema" in note for note in described.notes)
    x = torch.rand(1, 3, 5, 5)
    assert torch.allclose(model.upscale(x, 4),
                          rrdb_reference(RRDB_X4, x, 1, 2, 1).clamp(0, 1), atol=1e-5)


def test_all_three_key_styles_of_the_same_weights_give_the_same_images(tmp_path):
    x = torch.rand(1, 3, 7, 9)
    outputs = []
    for name, state in (("new.pth", RRDB_X4), ("old.pth", to_old(RRDB_X4, 1, 2)),
                        ("trunk.safetensors", to_trunk(RRDB_X4)),
                        ("module.pth", {f"module.{k}": v for k, v in RRDB_X4.items()})):
        described, model = opened(write(tmp_path / name, state))
        assert described.config == outputs[0][0] if outputs else True
        outputs.append((described.config, model.upscale(x, 4)))
    assert all(torch.equal(outputs[0][1], y) for _, y in outputs[1:])
    lines = {upscaler_file.describe(tmp_path / n).architecture
             for n in ("new.pth", "old.pth")}
    assert lines == {"RRDBNet (Real-ESRGAN) 4x, 1 block, 8 features, RGB",
                     "RRDBNet (ESRGAN) 4x, 1 block, 8 features, RGB"}


def test_half_precision_weights_load_as_float32(tmp_path):
    path = write(tmp_path / "half.safetensors", {k: v.half() for k, v in srvgg().items()})
    described, model = opened(path)
    assert any("float32" in note for note in described.notes)
    assert next(model.parameters()).dtype == torch.float32


# --- what is refused -------------------------------------------------------------------------
class Trap:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("legacy", [False, True])
def test_a_pickle_that_would_run_code_is_refused_without_running(tmp_path, legacy):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    state = dict(RRDB_X4, **{"conv_first.weight": Trap(str(marker))})
    torch.save({"params_ema": state}, path, _use_new_zipfile_serialization=not legacy)
    model = nets.RRDBNet(nets.RRDBNetConfig(features=8, blocks=1, growth=4))
    for attempt in (lambda: upscaler_file.describe(path),
                    lambda: upscaler_file.load_weights(model, path, trust_pickle=True)):
        with pytest.raises(CheckpointError, match="refused.*would run") as err:
            attempt()
        assert "\n" not in str(err.value) and "open" in str(err.value)
    assert not marker.exists()


def test_damaged_files_folders_and_fifos_are_one_line_errors(tmp_path):
    good_pth = write(tmp_path / "good.pth", srvgg())
    good_st = write(tmp_path / "good.safetensors", srvgg())
    broken = []
    for source, name in ((good_pth, "cut.pth"), (good_st, "cut.safetensors")):
        data = source.read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        broken.append(tmp_path / name)
    (tmp_path / "noise.pth").write_bytes(os.urandom(3000))
    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "legacy-cut.pth").write_bytes(
        write(tmp_path / "legacy.pt", srvgg(), legacy=True).read_bytes()[:500])
    (tmp_path / "folder.pth").mkdir()
    os.mkfifo(tmp_path / "fifo.safetensors")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    broken += [tmp_path / n for n in ("noise.pth", "empty.safetensors", "legacy-cut.pth",
                                      "folder.pth", "fifo.safetensors", "list.pth",
                                      "missing.pth")]
    model = nets.SRVGGNetCompact(nets.SRVGGConfig(num_feat=8, num_conv=2))
    for path in broken:
        for attempt in (upscaler_file.describe, lambda p: upscaler_file.load_weights(model, p)):
            with pytest.raises(CheckpointError) as err:
                attempt(path)
            assert "\n" not in str(err.value) and str(path) in str(err.value), str(err.value)
    assert not upscaler_file.recognise(tmp_path / "folder.pth")
    assert not upscaler_file.recognise(tmp_path / "fifo.safetensors")


def test_weights_that_do_not_fit_name_the_first_mismatch(tmp_path):
    wrong = dict(RRDB_X4, **{"body.0.rdb2.conv3.weight": torch.zeros(4, 15, 3, 3)})
    with pytest.raises(CheckpointError, match=r"e\.g\. body\.0\.rdb2\.conv3\.weight: "
                                              r"\(4, 15, 3, 3\) instead of \(4, 16, 3, 3\)"):
        upscaler_file.describe(write(tmp_path / "wrong.pth", wrong))
    plus = dict(to_old(RRDB_X4, 1, 2), **{"model.1.sub.0.RDB1.conv1x1.weight": torch.zeros(4)})
    with pytest.raises(CheckpointError, match=r"unexpected \(e\.g\. model\.1\.sub\.0\.RDB1"):
        upscaler_file.describe(write(tmp_path / "plus.pth", plus))
    # Loading into a model of another size: the first mismatch, nothing loaded.
    path = write(tmp_path / "x4.safetensors", RRDB_X4)
    bigger = nets.RRDBNet(nets.RRDBNetConfig(features=8, blocks=2, growth=4))
    with pytest.raises(CheckpointError, match=r"missing \(e\.g\. body\.1\."):
        upscaler_file.load_weights(bigger, path)
    nan = dict(srvgg(), **{"body.2.weight": torch.full((8, 8, 3, 3), float("nan"))})
    described = upscaler_file.describe(write(tmp_path / "nan.pth", nan))
    model = registry.get("srvgg")(nets.SRVGGConfig(**described.config))
    with pytest.raises(CheckpointError, match="body.2.weight are not numbers"):
        upscaler_file.load_weights(model, tmp_path / "nan.pth")


def test_an_unknown_architecture_says_what_genplay_knows(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "spandrel", None)  # `import spandrel` fails
    swinir = {"conv_first.weight": torch.zeros(8, 3, 3, 3),
              "layers.0.residual_group.blocks.0.norm1.weight": torch.zeros(8)}
    with pytest.raises(CheckpointError) as err:
        upscaler_file.describe(write(tmp_path / "swinir.pth", swinir))
    text = str(err.value)
    assert "RRDBNet" in text and "SRVGGNetCompact" in text and "conv_first.weight" in text
    assert "spandrel" in text and "\n" not in text


def test_recognise_goes_by_name_and_kind_only(tmp_path):
    for name in ["a.pth", "b.PT", "c.safetensors"] + [f"d{s}" for s in WEIGHT_SUFFIXES]:
        (tmp_path / name).write_bytes(b"anything")
        assert upscaler_file.recognise(tmp_path / name)
        assert upscaler_file.weights_file(tmp_path / name) == tmp_path / name
    for name in ("e.bin", "f.png", "g.onnx"):
        (tmp_path / name).write_bytes(b"anything")
        assert not upscaler_file.recognise(tmp_path / name)
    assert not upscaler_file.recognise(tmp_path / "missing.pth")
    folder = tmp_path / "genplay-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    assert not upscaler_file.recognise(folder / "model.safetensors")


# --- the networks in genplay's ops -----------------------------------------------------------
@pytest.mark.parametrize("name", ["rrdb-x4-new.safetensors", "rrdb-x2-unshuffle.pth",
                                  "srvgg-x4.pth"])
def test_tiles_overlapping_by_the_reach_join_without_seams(tmp_path, name):
    state, wrapper, _, scale, *_ = CASES[name]
    _, model = opened(write(tmp_path / name, state, wrapper))
    pixels = np.random.default_rng(0).integers(0, 256, (22, 26, 3), dtype=np.uint8)

    def result(**tiling):
        events = list(superres_ops.upscale_steps(model, pixels, scale, "net", **tiling))
        return events[-1].value["images"][0]

    whole = result(tile=64, overlap=0)
    assert whole.shape == (22 * scale, 26 * scale, 3)
    assert np.array_equal(result(tile=8, overlap=0), whole)  # the op overlaps by reach
    grey = list(superres_ops.upscale_steps(model, pixels[..., 0], scale, "net"))[-1]
    assert isinstance(grey, Result)
    grey = grey.value["images"][0]
    assert grey.shape == (22 * scale, 26 * scale, 1)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reach_is_how_far_an_output_pixel_reads(tmp_path, name):
    """The input rows an output row's gradient reaches lie within `reach` of the input row
    it enlarges, and some that far (ops.superres overlaps tiles by reach: no seams, and no
    more work than that needs)."""
    state, wrapper, _, scale, channels, *_ = CASES[name]
    _, model = opened(write(tmp_path / name, state, wrapper))
    reach = model.reach
    x = torch.rand(1, channels, 2 * reach + 16, 4, requires_grad=True)
    farthest = 0
    for row in range(reach + 8, reach + 8 + getattr(model, "unshuffle", 1)):  # each phase
        x.grad = None
        model(x)[..., scale * row:scale * (row + 1), :].sum().backward()
        touched = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)) > 0).flatten()
        farthest = max(farthest, int((touched - row).abs().max()))
    assert farthest == reach


@pytest.mark.parametrize("config", [
    nets.RRDBNetConfig(features=4, blocks=2, growth=3, scale=s, upsamples=u, channels=c,
                       in_channels=c, out_channels=c)
    for s, u, c in ((4, 2, 3), (2, 2, 1), (1, 2, 4), (2, 1, 3), (1, 0, 3), (8, 3, 3))] + [
    nets.SRVGGConfig(num_feat=4, num_conv=n, scale=s, activation=a, channels=c)
    for n, s, a, c in ((2, 4, "prelu", 3), (0, 2, "relu", 1), (1, 3, "leakyrelu", 4))])
def test_describing_knows_the_weight_shapes_without_building_the_network(config):
    cls = nets.RRDBNet if isinstance(config, nets.RRDBNetConfig) else nets.SRVGGNetCompact
    model = cls(config)
    assert cls.weight_shapes(config) == {k: tuple(v.shape) for k, v in
                                         model.state_dict().items()}
    assert cls.image_shape_for(config) == model.image_shape
    assert cls.reach_for(config) == model.reach


def test_an_rgba_network_takes_rgb_images():
    model = nets.SRVGGNetCompact(nets.SRVGGConfig(channels=4, num_feat=4, num_conv=1, scale=2))
    assert model.image_shape[0] == 3
    assert model.upscale(torch.rand(1, 3, 5, 6), 2).shape == (1, 3, 10, 12)
    assert model.upscale(torch.rand(1, 4, 5, 6), 2).shape == (1, 4, 10, 12)


def test_configs_refuse_what_the_networks_cannot_be():
    for fields in ({"channels": 2, "in_channels": 2, "out_channels": 2},
                   {"out_channels": 1}, {"scale": 3}, {"scale": 1, "upsamples": 3},
                   {"image_size": 0}, {"blocks": True}):
        with pytest.raises(ValueError):
            nets.RRDBNetConfig(**fields)
    with pytest.raises(ValueError):
        nets.SRVGGConfig(activation="gelu")
    assert nets.RRDBNetConfig(image_size=1000).unshuffle == 2 ** 2 // 4
    model = nets.SRVGGNetCompact(nets.SRVGGConfig(num_feat=4, num_conv=1))
    with pytest.raises(NotImplementedError):
        model.train_step(torch.rand(1, 3, 8, 8), None, {}, 0)


# --- the spandrel route, with a fake spandrel ------------------------------------------------
class _FakeNet(nn.Module):
    """A x2 network that needs sides that are multiples of 4."""

    def __init__(self, state):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.load_state_dict({"conv.weight": state["fake.conv.weight"],
                              "conv.bias": state["fake.conv.bias"]})

    def forward(self, x):
        assert x.shape[-1] % 4 == 0 and x.shape[-2] % 4 == 0, x.shape
        return F.pixel_shuffle(self.conv(x), 2)


def fake_spandrel():
    module = types.ModuleType("spandrel")

    class UnsupportedModelError(Exception):
        pass

    class ImageModelDescriptor:
        def __init__(self, model):
            self.model = model
            self.scale, self.input_channels, self.output_channels = 2, 3, 3
            self.architecture = types.SimpleNamespace(id="FakeSR", name="Fake SR")
            self.size_requirements = types.SimpleNamespace(minimum=0, multiple_of=4,
                                                           square=False)
            self.calls = 0

        def __call__(self, image):
            self.calls += 1
            return self.model(image)

    class ModelLoader:
        def load_from_state_dict(self, state):
            if "fake.conv.weight" not in state:
                raise UnsupportedModelError
            return ImageModelDescriptor(_FakeNet(state))

    support = types.SimpleNamespace(architecture=types.SimpleNamespace(name="Fake SR"))
    module.ModelLoader = ModelLoader
    module.ImageModelDescriptor = ImageModelDescriptor
    module.UnsupportedModelError = UnsupportedModelError
    module.MAIN_REGISTRY = types.SimpleNamespace(architectures=lambda: [support])
    return module


def test_other_architectures_open_through_spandrel_where_it_is_installed(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "spandrel", fake_spandrel())
    g = torch.Generator().manual_seed(0)
    state = {"fake.conv.weight": torch.randn(12, 3, 3, 3, generator=g) * 0.2,
             "fake.conv.bias": torch.zeros(12)}
    path = write(tmp_path / "4x-fake.pth", state, "params")
    described, model = opened(path)
    assert described.family == "spandrel"
    assert described.config["architecture"] == "FakeSR" and described.config["scale"] == 2
    assert described.architecture == "Fake SR (through spandrel) 2x, RGB"
    assert caps.capabilities_of(model) == ["upscaler"] and caps.hooks_of(model) == []
    x = torch.rand(1, 3, 6, 10)
    y = model.upscale(x, 2)  # padded to 8x12 for the network, cut back
    assert y.shape == (1, 3, 12, 20)
    padded = F.pad(x, (0, 2, 0, 2), mode="replicate")
    want = F.pixel_shuffle(F.conv2d(padded, state["fake.conv.weight"], state["fake.conv.bias"],
                                    padding=1), 2)[..., :12, :20].clamp(0, 1)
    assert torch.allclose(y, want, atol=1e-6)
    assert model._run.calls == 1  # through the descriptor, as spandrel calls its models
    # Unknown to genplay and to spandrel: both named.
    with pytest.raises(CheckpointError, match=r"genplay opens RRDBNet.*nor does spandrel "
                                              r"\(Fake SR\)"):
        upscaler_file.describe(write(tmp_path / "other.pth", {"x.weight": torch.zeros(2)}))
    # genplay's own architectures never go to spandrel.
    assert upscaler_file.describe(write(tmp_path / "esrgan.pth", RRDB_X4)).family == "rrdbnet"
    # Weights of another spandrel network than the model was built for.
    other = nets.SpandrelUpscaler(nets.SpandrelConfig(architecture="FakeSR", scale=4))
    with pytest.raises(CheckpointError, match="scale 2"):
        upscaler_file.load_weights(other, path)
