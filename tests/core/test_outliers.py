"""Outlier scores on tiny models, and reading them: percentiles, thresholds, AUROC."""

from __future__ import annotations

import numpy as np
import pytest

from genplay.core import registry
from genplay.core.errors import GenplayError
from genplay.core.ops.outliers import (
    auroc,
    available_methods,
    compression_bpd,
    false_positive_rate,
    percentile_of,
    score_images,
    threshold_at_fpr,
)
from tests.conftest import TINY_CONFIGS


def tiny(family):
    return registry.build(family, **TINY_CONFIGS[family]).eval()


def scores(model, images, method, **kw):
    return list(score_images(model, images, method, **kw))[-1].value


def test_methods_follow_capabilities():
    assert available_methods(tiny("vae")) == ["bpd", "complexity", "typicality", "elbo", "recon"]
    assert available_methods(tiny("gan")) == ["recon"]
    assert available_methods(tiny("pixelcnn")) == ["bpd", "complexity", "typicality"]
    assert available_methods(tiny("flow")) == ["bpd", "complexity", "typicality", "recon"]
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
