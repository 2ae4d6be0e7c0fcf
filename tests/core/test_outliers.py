"""Outlier scores on tiny models, and reading them: percentiles, thresholds, AUROC."""

from __future__ import annotations

import numpy as np
import pytest

from genplay.core import registry
from genplay.core.errors import GenplayError
from genplay.core.ops.outlier_figures import (
    auroc,
    false_positive_rate,
    percentile_of,
    threshold_at_fpr,
)
from genplay.core.ops.outliers import available_methods, compression_bpd, score_images
from tests.conftest import TINY_CONFIGS


def tiny(family):
    return registry.build(family, **TINY_CONFIGS[family]).eval()


def scores(model, images, method, **kw):
    return list(score_images(model, images, method, **kw))[-1].value


def test_methods_follow_capabilities():
    assert available_methods(tiny("vae")) == ["bpd", "complexity", "typicality", "elbo", "recon"]
    assert available_methods(tiny("gan")) == ["recon"]
    assert available_methods(tiny("pixelcnn")) == ["bpd", "complexity", "typicality"]
    assert available_methods(tiny("flow")) == ["bpd", "complexity", "typicality"]
    assert available_methods(tiny("classifier")) == []


@pytest.mark.parametrize("family", ["vae", "pixelcnn", "flow", "gan"])
def test_every_available_score_runs_and_is_seeded(family):
    model = tiny(family)
    images = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    for method in available_methods(model):
        kw = {"typical_bpd": 5.0} if method == "typicality" else {}
        if method == "recon" and family == "gan":
            continue  # encoding by optimisation: covered by the GAN's own tests
        first = scores(model, images, method, batch_size=2, **kw)
        again = scores(model, images, method, batch_size=2, **kw)
        assert first.shape == (5,) and np.isfinite(first).all()
        np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("family", ["vae", "flow"])
def test_a_score_does_not_depend_on_the_other_scores_asked_for(family):
    # the CLI asks for one score, the app for all of them: both must give the same figures
    from genplay.core.ops.outliers import score_many

    model = tiny(family)
    images = np.random.default_rng(2).random((7, 1, 8, 8)).astype(np.float32)
    every = [m for m in available_methods(model) if m != "recon"]
    together = list(score_many(model, images, every, batch_size=3, typical_bpd=5.0))[-1].value
    for method in every:
        alone = scores(model, images, method, batch_size=3, typical_bpd=5.0)
        np.testing.assert_array_equal(alone, together[method])


def test_complexity_is_bpd_minus_png_bits():
    model = tiny("pixelcnn")
    images = np.zeros((2, 1, 8, 8), np.float32)
    images[1] = np.random.default_rng(1).integers(0, 256, (1, 8, 8)) / 255
    bpd = scores(model, images, "bpd")
    pixels = (images * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
    png = compression_bpd(pixels)
    assert png[0] < png[1]  # a blank image compresses far better than noise
    np.testing.assert_allclose(scores(model, images, "complexity"), bpd - png, rtol=1e-6)
    np.testing.assert_allclose(scores(model, images, "typicality", typical_bpd=1.0),
                               np.abs(bpd - 1.0), rtol=1e-6)


def test_vae_elbo_score_is_above_the_iwae_bpd_on_average():
    model = tiny("vae")
    images = np.random.default_rng(2).random((16, 1, 8, 8)).astype(np.float32)
    assert scores(model, images, "elbo").mean() >= scores(model, images, "bpd").mean() - 1e-3


def test_bad_requests_are_user_errors():
    with pytest.raises(GenplayError, match="cannot compute the 'bpd'"):
        scores(tiny("gan"), np.zeros((1, 1, 8, 8)), "bpd")
    with pytest.raises(GenplayError, match="unknown score method"):
        scores(tiny("vae"), np.zeros((1, 1, 8, 8)), "magic")
    with pytest.raises(GenplayError, match="typicality score needs"):
        scores(tiny("vae"), np.zeros((1, 1, 8, 8)), "typicality")


def test_percentiles_and_thresholds():
    reference = np.arange(1, 101, dtype=float)  # 1..100
    np.testing.assert_allclose(percentile_of([0.5, 1, 50, 100, 1000], reference),
                               [0, 1, 50, 100, 100])
    threshold = threshold_at_fpr(reference, 0.05)
    assert threshold == 95 and false_positive_rate(reference, threshold) == 0.05
    with pytest.raises(GenplayError):
        threshold_at_fpr(reference, 0.0)


def test_auroc_closed_forms():
    assert auroc([1, 2, 3], [4, 5]) == 1.0
    assert auroc([4, 5], [1, 2, 3]) == 0.0
    assert auroc([1, 1], [1, 1]) == 0.5
    assert auroc([1, 2], [2, 3]) == pytest.approx(0.875)  # one tie counts half
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=2000), rng.normal(loc=1.0, size=2000)
    # two unit Gaussians one sd apart: AUROC = Phi(1 / sqrt(2)) = 0.760
    assert auroc(a, b) == pytest.approx(0.760, abs=0.02)


def test_score_files_streams_chunks_and_reports_unreadable_files(tmp_path):
    from PIL import Image

    from genplay.core.events import Partial, Result
    from genplay.core.images import find_images
    from genplay.core.ops.outliers import score_files

    (tmp_path / "sub").mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (12, 9), dtype=np.uint8)).save(
            tmp_path / "sub" / f"{i}.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "notes.txt").write_text("not an image")
    files = find_images([tmp_path, tmp_path / "missing.png"])
    assert [f.name for f in files] == ["bad.png", *[f"{i}.png" for i in range(5)], "missing.png"]
    model = tiny("vae")
    events = list(score_files(model, files, ["bpd", "recon"], chunk=3, batch_size=2))
    parts = [e.value for e in events if isinstance(e, Partial)]
    assert [p["start"] for p in parts] == [0, 3, 6]
    errors = [e for p in parts for e in p["errors"]]
    assert [bool(e) for e in errors] == [True, False, False, False, False, False, True]
    assert "bad.png" in errors[0] and "missing.png" in errors[-1]
    bpd = np.concatenate([p["scores"]["bpd"] for p in parts])
    assert np.isnan(bpd[[0, 6]]).all() and np.isfinite(bpd[1:6]).all()
    assert parts[0]["pixels"].shape == (3, 8, 8, 1) and parts[0]["pixels"].dtype == np.uint8
    assert events[-1] == Result({"scored": 5, "unreadable": 2})
    # the scores are those of the images as the model sees them
    seen = np.concatenate([p["pixels"] for p in parts])[1:6]
    direct = scores(model, seen.transpose(0, 3, 1, 2) / 255.0, "recon")
    np.testing.assert_allclose(np.concatenate([p["scores"]["recon"] for p in parts])[1:6],
                               direct, rtol=1e-5)


def test_score_files_can_take_pictures_as_they_are(tmp_path):
    """A model of a folder of colour pictures scores a light picture as it learnt it, not
    inverted as a dark-on-light drawing would be for a digit model."""
    from PIL import Image

    from genplay.core.events import Partial
    from genplay.core.images import load_image, prepare_for_model
    from genplay.core.ops.outliers import score_files

    pixels = np.zeros((12, 10, 3), np.uint8) + np.array((240, 230, 120), np.uint8)
    pixels[4:8, 3:7] = (200, 20, 20)
    Image.fromarray(pixels).save(tmp_path / "light.png")
    model = registry.build("ebm", **{**TINY_CONFIGS["ebm"], "channels": 3}).eval()

    def seen(**kw):
        events = score_files(model, [tmp_path / "light.png"], ["energy"], **kw)
        return next(e.value for e in events if isinstance(e, Partial))["pixels"][0]

    def prepared(invert):
        return prepare_for_model(load_image(tmp_path / "light.png"), size=8, channels=3,
                                 invert=invert)[0]

    assert np.array_equal(seen(invert=False), prepared(False))
    assert np.array_equal(seen(), prepared(True))  # the default still decides from the border


def test_rows_threshold_and_export(tmp_path):
    import csv
    import io
    import json

    from genplay.core.ops.outlier_figures import verdict_rows, write_rows

    reference = np.arange(100, dtype=np.float64)
    rows = verdict_rows(["a", "b", "c"], ["", "", "cannot read c"],
                        np.array([10.0, 95.5, np.nan]), reference, threshold=94.0)
    assert [r["verdict"] for r in rows] == ["inlier", "outlier", "unreadable"]
    assert rows[0]["percentile"] == pytest.approx(11.0) and rows[2]["score"] is None
    out = io.StringIO()
    write_rows(out, rows, "csv", {"method": "bpd"})
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["verdict"] for r in table] == ["inlier", "outlier", "unreadable"]
    out = io.StringIO()
    write_rows(out, rows, "json", {"method": "bpd"})
    assert json.loads(out.getvalue())["method"] == "bpd"
    with pytest.raises(GenplayError):
        write_rows(io.StringIO(), rows, "xlsx", {})


@pytest.mark.parametrize("family", ["pixelcnn", "vae", "flow"])
def test_pixel_bits(family):
    import torch

    from genplay.core.ops.outliers import pixel_bits

    model = tiny(family)
    x = torch.rand(3, 1, 8, 8)
    bits = pixel_bits(model, x)
    assert bits.shape == (3, 8, 8) and np.isfinite(bits).all()
    if family == "pixelcnn":  # exact: the pixels' bits add up to the image's
        q = torch.round(x * 255) / 255
        total = -model.log_prob(q).double().numpy() / np.log(2)
        np.testing.assert_allclose(bits.sum(axis=(1, 2)), total, rtol=1e-5)
    assert isinstance(model.pixel_bits_note, str)
    assert pixel_bits(tiny("gan"), x) is None


def test_likelihood_ratio_with_a_background_model(tmp_path, tiny_checkpoints):
    import shutil

    from genplay.core import checkpoints
    from genplay.core.evaluation import measure_reference
    from genplay.core.events import final_value
    from genplay.core.ops.outliers import load_background, load_reference, score_many

    main = tmp_path / "pixelcnn"
    shutil.copytree(tiny_checkpoints / "pixelcnn-tiny", main)
    model, _ = checkpoints.load(main)
    assert load_background(main) is None and "ratio" not in available_methods(model)
    images = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    with pytest.raises(GenplayError, match="ratio"):
        final_value(score_many(model, images, ["ratio"]))

    # a background identical to the model: the ratio is exactly zero
    shutil.copytree(main, main / "background", ignore=shutil.ignore_patterns("background"))
    background = load_background(main)
    assert available_methods(model, background) == ["bpd", "complexity", "ratio", "typicality"]
    values = final_value(score_many(model, images, ["bpd", "ratio"], background=background))
    np.testing.assert_allclose(values["ratio"], 0.0, atol=1e-9)

    # another model as background: the ratio is the difference of the two bits/dim
    shutil.rmtree(main / "background")
    shutil.copytree(tiny_checkpoints / "vae-tiny", main / "background")
    background = load_background(main)
    values = final_value(score_many(model, images, ["bpd", "ratio"], background=background))
    bg_bpd = final_value(score_many(background, images, ["bpd"]))["bpd"]
    np.testing.assert_allclose(values["ratio"], values["bpd"] - bg_bpd, rtol=1e-5)

    # eval measures its reference; it is stored with the others
    final_value(measure_reference(main))
    reference, _ = load_reference(main, checkpoints.weights_hash(main))
    assert set(reference) == {"bpd", "complexity", "ratio", "typicality"}
    from PIL import Image

    from genplay.cli import main as cli

    Image.new("L", (8, 8), 200).save(tmp_path / "x.png")
    assert cli(["score", str(main), str(tmp_path / "x.png"), "--method", "ratio"]) == 0

    # a background of another image shape is refused with a clear message
    shutil.rmtree(main / "background")
    shutil.copytree(tiny_checkpoints / "classifier-tiny", main / "background")
    with pytest.raises(GenplayError, match="background"):
        load_background(main)


def test_reference_scores_that_cannot_be_written_are_one_line(tmp_path, tiny_checkpoints,
                                                                monkeypatch):
    import errno
    import shutil

    from genplay.core import evaluation
    from genplay.core.errors import GenplayError
    from genplay.core.events import final_value

    folder = tmp_path / "vae"
    shutil.copytree(tiny_checkpoints / "vae-tiny", folder)

    def full_disk(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evaluation, "store_evaluation", full_disk)
    with pytest.raises(GenplayError, match="could not write the reference scores into .*"
                                           "No space left on device"):
        final_value(evaluation.measure_reference(folder))


def test_the_features_score_with_a_feature_bank(tmp_path, model_with_classifier, capsys):
    import shutil

    import torch

    from genplay.cli import main as cli
    from genplay.core import checkpoints
    from genplay.core.data import load_dataset
    from genplay.core.events import final_value
    from genplay.core.models.features import Classifier, ClassifierConfig
    from genplay.core.nearest import BANK_FILE
    from genplay.core.ops.outliers import load_bank, load_reference, outlier_facts, score_many

    root = tmp_path / "models"
    shutil.copytree(model_with_classifier.parent, root)
    main = root / "vae-mnist"
    model, _ = checkpoints.load(main)
    assert load_bank(main) == (None, "") and "features" not in available_methods(model)
    # eval makes the bank (the training split in the classifier's features) and measures
    # the score on the test split with it
    assert cli(["eval", str(main), "--scores-only", "--feature-bank"]) == 0
    assert (main / BANK_FILE).is_file()
    bank, note = load_bank(main)
    assert note == "" and "features" in available_methods(model, bank=bank)
    reference, _ = load_reference(main, checkpoints.weights_hash(main))
    assert "features" in reference and len(reference["features"]) == len(
        load_dataset("mnist", "test", size=8))
    train = load_dataset("mnist", "train", size=8).as_float(slice(0, 3)).numpy()
    flat = np.full((2, 1, 8, 8), 0.5, np.float32)
    values = final_value(score_many(model, np.concatenate([train, flat]), ["features"],
                                    bank=bank))["features"]
    assert values[:3].max() < 0.1 * values[3:].min()  # training images: (about) themselves
    facts = outlier_facts(model, str(main))
    assert "features" in facts["methods"] and facts["bank_note"] == ""
    from PIL import Image

    Image.fromarray((flat[0, 0] * 255).astype(np.uint8)).save(tmp_path / "grey.png")
    capsys.readouterr()
    assert cli(["score", str(main), str(tmp_path / "grey.png")]) == 0  # features: the default
    assert "features score" in capsys.readouterr().out
    # the bank's rows: a middle stage's channel statistics and the penultimate features,
    # each part of length 1
    stage = 4 * bank.net.config.base_channels  # mean and spread of 2 x base channels
    parts = bank.features.split([stage, bank.net.config.feature_dim], dim=1)
    assert all(torch.allclose(h.norm(dim=1), torch.ones(len(h)), atol=1e-2) for h in parts)
    # a bank of another kind (an older genplay's penultimate features alone) is refused
    # in one line that says how to make it again
    with np.load(main / BANK_FILE) as saved:
        kept = {k: saved[k] for k in saved.files}
    np.savez(main / BANK_FILE, features=kept["features"], classifier_hash=kept["classifier_hash"])
    bank, note = load_bank(main)
    assert bank is None and "another kind of features" in note and "--feature-bank" in note
    np.savez(main / BANK_FILE, **kept)
    # a classifier with other weights: the bank no longer means anything, and says so;
    # the other scores stay
    torch.manual_seed(1)
    other = Classifier(ClassifierConfig(image_size=8, base_channels=4, feature_dim=64)).eval()
    checkpoints.save(other, root / "classifier-mnist", dataset="mnist", recipe="test",
                     class_names=[str(i) for i in range(10)])
    bank, note = load_bank(main)
    assert bank is None and "other classifier weights" in note
    facts = outlier_facts(model, str(main))
    assert "features" not in facts["methods"] and facts["methods"]
    assert "other classifier weights" in facts["bank_note"]
    capsys.readouterr()
    assert cli(["score", str(main), str(tmp_path / "grey.png"), "--method", "features"]) != 0
    assert "other classifier weights" in capsys.readouterr().err


def test_bits_profile_statistics_and_rarity():
    from genplay.core.ops.outliers import FREE_BITS, BitsProfile, profile_statistics

    bits = np.zeros((2, 4, 4))
    bits[0, :2] = 6.0  # half the pixels cost 6 bits, half are free
    bits[1] = 3.0  # every pixel costs 3 bits
    stats = profile_statistics(bits, channels=3)
    np.testing.assert_allclose(stats[0], [1.0, 3.0, 0.5])  # bits/dim, spread, share free
    np.testing.assert_allclose(stats[1], [1.0, 0.0, 0.0])
    assert FREE_BITS > 0
    # training images like the first: the second, with the same bits/dim, is far rarer
    rng = np.random.default_rng(0)
    train = stats[0] + rng.normal(0, 0.05, (200, 3))
    profile = BitsProfile(train)
    rarity = profile.rarity(bits, channels=3)
    assert rarity.shape == (2,) and rarity[1] > rarity[0] + 10
    near = profile.rarity(np.stack([bits[0], bits[0] * 1.02, bits[0] * 1.2]), channels=3)
    assert near[0] < near[1] < near[2]  # rarer the further from the training images
    assert np.allclose(profile.rarity(bits, channels=3, chunk=1), rarity)


def test_the_profile_score_with_a_bits_profile(tmp_path, capsys):
    from PIL import Image

    from genplay.cli import main as cli
    from genplay.core import checkpoints
    from genplay.core.data import load_dataset
    from genplay.core.ops.outliers import (
        PROFILE_FILE,
        load_profile,
        load_reference,
        outlier_facts,
    )
    from tests.conftest import train_tiny

    folder = train_tiny(tmp_path / "pixelcnn-mnist", "pixelcnn", "mnist", TINY_CONFIGS["pixelcnn"])
    model, _ = checkpoints.load(folder)
    assert load_profile(folder) == (None, "") and "profile" not in available_methods(model)
    # eval makes the profile (the training split's statistics) and measures the score on
    # the test split with it
    assert cli(["eval", str(folder), "--scores-only", "--bits-profile"]) == 0
    profile, note = load_profile(folder)
    assert note == "" and (folder / PROFILE_FILE).is_file()
    size = TINY_CONFIGS["pixelcnn"]["image_size"]
    assert len(profile.statistics) == len(load_dataset("mnist", "train", size=size))
    assert "profile" in available_methods(model, profile=profile)
    reference, _ = load_reference(folder, checkpoints.weights_hash(folder))
    assert len(reference["profile"]) == len(load_dataset("mnist", "test", size=size))
    assert np.isfinite(reference["profile"]).all()
    assert "profile" in outlier_facts(model, str(folder))["methods"]
    assert checkpoints.read_info(folder).metrics["bits_profile"]["training_images"] == len(
        profile.statistics)
    Image.fromarray(np.full((size, size), 128, np.uint8)).save(tmp_path / "grey.png")
    capsys.readouterr()
    assert cli(["score", str(folder), str(tmp_path / "grey.png")]) == 0  # the default here
    assert "profile score" in capsys.readouterr().out
    # a profile made for other weights, or unreadable, costs this score alone, and says how
    # to make it again
    with np.load(folder / PROFILE_FILE) as saved:
        kept = {k: saved[k] for k in saved.files}
    np.savez(folder / PROFILE_FILE, **{**kept, "weights_hash": np.array("0" * 64)})
    profile, note = load_profile(folder)
    assert profile is None and "other weights" in note and "--bits-profile" in note
    facts = outlier_facts(model, str(folder))
    assert "profile" not in facts["methods"] and facts["methods"]
    assert "other weights" in facts["profile_note"]
    (folder / PROFILE_FILE).write_bytes(b"not an npz")
    profile, note = load_profile(folder)
    assert profile is None and "unreadable" in note
    capsys.readouterr()
    assert cli(["score", str(folder), str(tmp_path / "grey.png"), "--method", "profile"]) != 0
    assert "unreadable" in capsys.readouterr().err


def test_a_model_without_pixel_bits_has_no_bits_profile(tmp_path, tiny_checkpoints, capsys):
    import shutil

    from genplay.cli import main as cli

    folder = tmp_path / "gan"
    shutil.copytree(tiny_checkpoints / "gan-tiny", folder)
    before = sorted(p.name for p in folder.iterdir())
    assert cli(["eval", str(folder), "--scores-only", "--bits-profile"]) != 0
    assert "no bits profile" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == before
