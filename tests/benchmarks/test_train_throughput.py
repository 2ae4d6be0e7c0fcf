"""benchmarks/train_throughput.py on tiny configs of two families and tiny data."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from benchmarks import train_throughput
from genplay.core import registry
from tests.conftest import TINY_CONFIGS, make_idx_dataset

FAMILIES = ("vae", "ebm")


@pytest.fixture
def root(tmp_path, only_data_root):
    root = tmp_path / "data"
    make_idx_dataset(root / "fashion-mnist", n_train=40, n_test=8)
    return root


def _tiny_sets(families) -> list[str]:
    return [arg for f in families for k, v in TINY_CONFIGS[f].items()
            for arg in ("--set", f"{f}.{k}={v}")]


@pytest.mark.slow  # times every family's training for seconds: run by .ci/run
def test_rows_json_and_no_scratch_left(root, tmp_path, monkeypatch, capsys):
    made: list[Path] = []

    class Recorded(tempfile.TemporaryDirectory):
        def __enter__(self):
            made.append(Path(super().__enter__()))
            return str(made[-1])

    monkeypatch.setattr(tempfile, "TemporaryDirectory", Recorded)
    out = tmp_path / "results" / "throughput.json"
    result = train_throughput.main([
        "--families", ",".join(FAMILIES), "--seconds", "0.5", "--warmup", "1",
        "--threads", "1", "--data-root", str(root), "--json", str(out), "--nproc", "1", "2",
        *_tiny_sets(FAMILIES)])
    printed = capsys.readouterr().out
    assert [(r["family"], r["processes"]) for r in result["rows"]] == [
        (f, n) for f in FAMILIES for n in (1, 2)]
    for row in result["rows"]:
        tiny = registry.build(row["family"], **TINY_CONFIGS[row["family"]])
        assert row["parameters"] == sum(p.numel() for p in tiny.parameters())
        assert row["image_size"] == 8 and row["batch_size"] == 8
        assert row["steps"] > 0 and row["images_per_s"] > 0
        # 40 images less 2 held out for validation, in whole batches of 8
        assert row["train_images"] == 38 and row["epoch_images"] == 32
        assert row["epoch_seconds_extrapolated"] == pytest.approx(32 / row["images_per_s"])
        assert row["images_per_s"] == pytest.approx(8 * row["steps"] / row["seconds"])
        assert (f"| {row['family']} | {row['processes']} | fp32 | {row['parameters']:,} | 8 "
                f"| {row['steps']} |") in printed
        one = next(r for r in result["rows"] if r["family"] == row["family"]
                   and r["processes"] == 1)
        assert row["scaling_efficiency"] == (None if row["processes"] == 1 else pytest.approx(
            row["images_per_s"] / (2 * one["images_per_s"])))
    assert result["threads"] == 1 and result["data"] == "fashion-mnist"
    assert "EXTRAPOLATED" in printed
    assert json.loads(out.read_text())["rows"] == result["rows"]
    assert out.with_suffix(".txt").read_text().strip() == printed.strip()
    # each family trained in a temporary folder of its own, deleted afterwards
    assert len(made) == 2 * len(FAMILIES) and not any(p.exists() for p in made)


def test_unknown_family_or_set_target_is_refused(root):
    with pytest.raises(SystemExit):
        train_throughput.main(["--families", "vae,nope", "--data-root", str(root)])
    with pytest.raises(SystemExit):
        train_throughput.main(["--families", "vae", "--set", "nope.x=1",
                               "--data-root", str(root)])


def test_sets_apply_to_all_families_or_to_one():
    sets = train_throughput._split_sets(["lr=0.01", "vae.latent_dim=4", "gan.latent_dim=8"],
                                        ["vae", "ebm"], registry.families())
    assert sets == {"vae": {"lr": 0.01, "latent_dim": 4}, "ebm": {"lr": 0.01}}
