"""The OOD benchmark on untrained tiny checkpoints and tiny IDX datasets in tmp_path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks import ood
from genplay.core import checkpoints, registry
from genplay.core.ops import outliers
from tests.conftest import TINY_CONFIGS, make_idx_dataset

pytestmark = pytest.mark.usefixtures("only_data_root")

# family -> the dataset its tiny checkpoint claims to be trained on
TRAINED_ON = {"vae": "fashion-mnist", "pixelcnn": "mnist", "gan": "mnist", "flow": "cifar"}


@pytest.fixture
def ckpt_dir(tmp_path) -> Path:
    root = tmp_path / "checkpoints"
    for family, dataset in TRAINED_ON.items():
        model = registry.build(family, **TINY_CONFIGS[family]).eval()
        checkpoints.save(model, root / f"{family}-{dataset}", dataset=dataset, recipe="test")
    return root




def test_identical_in_and_out_data_give_chance_auroc(ckpt_dir, tmp_path):
    root = tmp_path / "data"
    make_idx_dataset(root / "fashion-mnist", seed=0)
    shutil.copytree(root / "fashion-mnist", root / "mnist")
    result = ood.run(ckpt_dir, limit=8, data_root=str(root), threads=1)
    rows = {r["model"]: r for r in result["rows"]}
    assert sorted(rows) == ["pixelcnn-mnist", "vae-fashion-mnist"]  # density + known dataset
    assert rows["vae-fashion-mnist"]["out_dataset"] == "mnist"
    assert rows["pixelcnn-mnist"]["out_dataset"] == "fashion-mnist"
    assert [s["model"] for s in result["skipped"]] == ["flow-cifar"]
    for family, row in (("vae", rows["vae-fashion-mnist"]), ("pixelcnn", rows["pixelcnn-mnist"])):
        model = registry.build(family, **TINY_CONFIGS[family])
        assert row["methods"] == list(row["auroc"]) == outliers.available_methods(model)
        assert row["in_images"] == row["out_images"] == row["speed_images"] == 8
        # the same images, scored with the same seed: every score ties, AUROC is chance
        assert row["auroc"] == {m: 0.5 for m in row["methods"]}
        # ... and at 5% false positives on the inliers about 5% of the same images are
        # flagged (ties at the threshold are not), their median percentile near the middle
        assert all(0.0 <= f <= 0.125 for f in row["flagged"].values())
        assert all(25 <= p <= 75 for p in row["median_percentile"].values())
        assert row["in_bpd"] == row["out_bpd"] and np.isfinite(row["in_bpd"])
        assert row["typical_bpd_source"] == ood.SOURCE_IN_TEST
        assert row["typical_bpd"] == pytest.approx(row["in_bpd"])
        assert row["images_per_s"] > 0 and row["images_per_s_all"] > 0


def test_main_prints_one_table_and_writes_json_with_reference_typicality(
    ckpt_dir, tmp_path, capsys
):
    root = tmp_path / "data"
    make_idx_dataset(root / "fashion-mnist", seed=0)
    make_idx_dataset(root / "mnist", seed=1)
    vae = ckpt_dir / "vae-fashion-mnist"
    outliers.save_reference(vae, {"bpd": np.zeros(3)}, 2.5, checkpoints.weights_hash(vae))
    outliers.save_reference(ckpt_dir / "pixelcnn-mnist", {"bpd": np.zeros(3)}, 9.0, "stale")
    out = tmp_path / "ood.json"
    ood.main(["--dir", str(ckpt_dir), "--limit", "6", "--threads", "1", "--json", str(out),
              "--data-root", str(root)])
    lines = capsys.readouterr().out.splitlines()
    tables = [[]]
    for line in lines:
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    table, speeds, flags = tables[0], tables[1], tables[2]
    assert len(flags) == 4  # a row per (model, outlier set): a figure where it has an AUROC
    for row, flag_row in zip(table[2:], flags[2:]):
        assert flag_row.count("%") == len(row.split(" | ")[5:-2]) - row.count("–")
    methods = list(outliers.METHODS)
    assert table[0].split(" | ")[5:-2] == [f"AUROC {m}" for m in methods]
    assert len(table) == 4 and len(speeds) == 4  # header, rule, two rows each
    assert speeds[0].split(" | ")[1:] == [f"img/s {m}" for m in methods[:-1]] + [
        f"img/s {methods[-1]} |"]
    pixelcnn_cells = next(line for line in table if "pixelcnn-mnist" in line).split(" | ")
    assert pixelcnn_cells[5 + methods.index("elbo")] == "–"
    assert pixelcnn_cells[5 + methods.index("recon")] == "–"
    saved = json.loads(out.read_text())
    assert {"torch", "genplay", "threads", "limit", "rows", "skipped"} <= set(saved)
    assert saved["limit"] == 6 and saved["threads"] == 1
    rows = {r["model"]: r for r in saved["rows"]}
    assert rows["vae-fashion-mnist"]["typical_bpd_source"] == ood.SOURCE_REFERENCE
    assert rows["vae-fashion-mnist"]["typical_bpd"] == 2.5
    stale = rows["pixelcnn-mnist"]
    assert stale["typical_bpd_source"] == ood.SOURCE_IN_TEST and "other weights" in (
        stale["typical_bpd_note"])
    # the fallback is fitted on inliers only, never on the outliers
    assert stale["typical_bpd"] == pytest.approx(stale["in_bpd"]) != stale["out_bpd"]
    for row in rows.values():
        assert row["in_images"] == row["out_images"] == 6
        assert all(0.0 <= v <= 1.0 for v in row["auroc"].values())
        assert row["best_method"] == max(row["auroc"], key=row["auroc"].get)


def test_missing_or_conflated_datasets_are_skipped_not_fatal(ckpt_dir, tmp_path, capsys):
    root = tmp_path / "data"
    make_idx_dataset(root / "fashion-mnist")  # no mnist at all
    result = ood.run(ckpt_dir, limit=4, data_root=str(root), threads=1)
    assert result["rows"] == []
    reasons = {s["model"]: s["reason"] for s in result["skipped"]}
    assert "'mnist' (test split) is not on this computer" in reasons["vae-fashion-mnist"]
    assert "'mnist' (test split) is not on this computer" in reasons["pixelcnn-mnist"]
    assert "skipping vae-fashion-mnist" in capsys.readouterr().err
    # a root holding IDX files itself would serve both datasets: no row compares it with itself
    result = ood.run(ckpt_dir, limit=4, data_root=str(root / "fashion-mnist"), threads=1)
    assert result["rows"] == []
    reasons = {s["model"]: s["reason"] for s in result["skipped"]}
    assert "same folder" in reasons["vae-fashion-mnist"]
    assert "same folder" in reasons["pixelcnn-mnist"]


def test_an_energy_model_gets_an_energy_row_merged_into_earlier_results(tmp_path, capsys):
    root = tmp_path / "data"
    make_idx_dataset(root / "fashion-mnist", seed=0)
    make_idx_dataset(root / "mnist", seed=1)
    ckpts = tmp_path / "checkpoints"
    vae = registry.build("vae", **TINY_CONFIGS["vae"]).eval()
    checkpoints.save(vae, ckpts / "vae-fashion-mnist", dataset="fashion-mnist", recipe="test")
    common = ["--dir", str(ckpts), "--limit", "6", "--threads", "1", "--data-root", str(root),
              "--json", str(tmp_path / "ood.json")]
    ood.main(common)
    first = json.loads((tmp_path / "ood.json").read_text())
    ebm = registry.build("ebm", **TINY_CONFIGS["ebm"]).eval()
    checkpoints.save(ebm, ckpts / "ebm-mnist", dataset="mnist", recipe="test")
    capsys.readouterr()
    ood.main([*common, "--models", "ebm-mnist"])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| ebm-mnist"))
    cells = row.split(" | ")
    assert cells[3].startswith("(") and cells[4].startswith("(")  # mean energies, no bpd
    assert cells[5 + list(outliers.METHODS).index("bpd")] == "–"
    assert "**" in cells[5 + list(outliers.METHODS).index("energy")]  # its only score
    assert "ebm-mnist: no typical bpd (an energy model)" in out
    merged = json.loads((tmp_path / "ood.json").read_text())
    assert [r["model"] for r in merged["rows"]] == ["ebm-mnist", "vae-fashion-mnist"]
    assert merged["rows"][1] == first["rows"][0]  # measured before, kept as it was
    with pytest.MonkeyPatch.context() as patch:  # refused before any scoring, not after
        patch.setattr(ood, "run", lambda *a, **k: pytest.fail("scored rows it cannot merge"))
        with pytest.raises(SystemExit, match="threads"):
            ood.main([*common[:5], "2", *common[6:], "--models", "ebm-mnist"])


def test_doodles_are_the_mnist_test_digits_drawn_dark_on_white(tmp_path):
    root = tmp_path / "data"
    make_idx_dataset(root / "mnist", seed=1)
    sets = ood._Datasets(str(root), limit=5)
    digits = sets.test_images("mnist", (3, 16, 16))
    doodles = sets.test_images(ood.DOODLES, (3, 16, 16))
    assert doodles.shape == digits.shape == (5, 3, 16, 16)
    assert np.allclose(doodles, 1.0 - digits) and doodles.mean() > 0.5  # mostly white
    assert sets.folder(ood.DOODLES) == sets.folder("mnist")
