"""Checkpoint folders: round trip, scan without weights, and a clear error for each breakage."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from genplay.core import checkpoints, registry
from genplay.core.errors import CheckpointError
from tests.conftest import TINY_CONFIGS


@pytest.fixture
def saved(tmp_path):
    model = registry.build("vae", **TINY_CONFIGS["vae"])
    folder = tmp_path / "vae-tiny"
    checkpoints.save(model, folder, dataset="mnist", recipe="genplay train vae ...",
                     training={"steps": 2}, class_names=["a", "b"])
    return folder


def _edit_config(folder, **changes):
    path = folder / checkpoints.CONFIG_FILE
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key].update(value)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def test_round_trip_keeps_metadata(saved):
    model, info = checkpoints.load(saved)
    assert info.family == "vae" and info.dataset == "mnist"
    assert info.image_shape == (1, 8, 8) and info.class_names == ["a", "b"]
    assert info.recipe.startswith("genplay train") and info.training["steps"] == 2
    assert not model.training
    assert len(checkpoints.weights_hash(saved)) == 16


def test_files_are_json_and_safetensors_only(saved):
    assert sorted(p.name for p in saved.iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((saved / "config.json").read_text())["format_version"] == 1


@pytest.mark.parametrize("breakage,message", [
    ("unknown family", "unknown model family 'dragon'"),
    ("missing config", "no config.json"),
    ("corrupt config", "unreadable JSON"),
    ("bad config field", "invalid config"),
    ("missing weights", "no model.safetensors"),
    ("corrupt weights", "corrupt weights file"),
    ("mismatched weights", "do not match config.json"),
    ("future format", "format 99 is not supported"),
    ("not a folder", "no such checkpoint folder"),
])
def test_broken_checkpoints_give_clear_errors(saved, breakage, message):
    folder = saved
    if breakage == "unknown family":
        _edit_config(saved, family="dragon")
    elif breakage == "missing config":
        (saved / "config.json").unlink()
    elif breakage == "corrupt config":
        (saved / "config.json").write_text("{not json")
    elif breakage == "bad config field":
        _edit_config(saved, config={"wings": 2})
    elif breakage == "missing weights":
        (saved / "model.safetensors").unlink()
    elif breakage == "corrupt weights":
        (saved / "model.safetensors").write_bytes(b"\x00" * 100)
    elif breakage == "mismatched weights":
        _edit_config(saved, config={"base_channels": 8})
    elif breakage == "future format":
        _edit_config(saved, format_version=99)
    elif breakage == "not a folder":
        folder = saved / "nope"
    with pytest.raises(CheckpointError, match=message):
        checkpoints.load(folder)


def test_mismatch_error_names_a_parameter_and_shapes(saved):
    _edit_config(saved, config={"latent_dim": 5})
    with pytest.raises(CheckpointError, match=r"wrong shapes \(e\.g\. \S+: \(\d+"):
        checkpoints.load(saved)


def test_scan_lists_good_checkpoints_and_reports_broken_ones(saved, tmp_path):
    shutil.copytree(saved, tmp_path / "broken")
    (tmp_path / "broken" / "config.json").write_text("[]")
    (tmp_path / "not-a-checkpoint").mkdir()
    checkpoints.write_metrics(saved, {"fid": 1.5})
    found, broken = checkpoints.scan(tmp_path)
    assert [i.name for i in found] == ["vae-tiny"]
    assert found[0].metrics == {"fid": 1.5}
    assert [p.name for p, _ in broken] == ["broken"]


def test_scan_does_not_read_weights(saved, monkeypatch):
    monkeypatch.setattr(checkpoints, "load_file", lambda *a: pytest.fail("weights were read"))
    found, _ = checkpoints.scan(saved.parent)
    assert found


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "x.json"
    checkpoints.write_json(target, {"v": 1})

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        checkpoints.atomic_write(target, fail)
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_loading_never_unpickles(saved, monkeypatch):
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was used"))
    checkpoints.load(saved)


def test_saved_files_get_the_usual_permissions(saved):
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "model.safetensors"):
        mode = stat.S_IMODE((saved / name).stat().st_mode)
        assert mode == 0o666 & ~umask, (name, oct(mode))
