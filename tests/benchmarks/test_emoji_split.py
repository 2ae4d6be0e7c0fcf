"""benchmarks/emoji_split.py: what the built emoji split is, on the tiny fixture packages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks import emoji_split
from genplay.core import checkpoints, datasets, emoji, registry
from genplay.core.events import Result
from tests.core.test_emoji import make_packages


def test_the_split_is_described_with_its_floors(tmp_path, no_datasets):
    for event in datasets.import_copy("emoji", make_packages(tmp_path / "packages")):
        if isinstance(event, Result):
            break
    torch.manual_seed(0)
    net = registry.build("classifier", image_size=16, channels=3, base_channels=2,
                         feature_dim=4, num_classes=len(emoji.CATEGORIES)).eval()
    checkpoints.save(net, tmp_path / "classifier-emoji", dataset="emoji", recipe="test",
                     class_names=list(emoji.CATEGORIES))
    result = emoji_split.main(["--classifier", str(tmp_path / "classifier-emoji"),
                               "--json", str(tmp_path / "split.json")])
    assert result["pictures"] == {"train": 21, "test": 13} and result["split_version"] == 2
    assert result["twins_moved"] == []
    for split in ("train", "test"):
        assert sum(result["category_share"][split]) == pytest.approx(1.0)
    assert result["test_within_rms"]["0.01"] == 0 and result["nearest_rms_min"] > 0.01
    assert set(result["fid_floor"]) == {"64", "32"}
    for floors in result["fid_floor"].values():
        assert floors["random"] >= 0 and floors["category_matched"] >= 0
    assert result["fid_floor"]["64"] != result["fid_floor"]["32"]
    assert Path(tmp_path / "split.json").is_file()
