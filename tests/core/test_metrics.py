"""FID and KID against values known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from genplay.core import metrics


def test_frechet_distance_closed_form():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    # Diagonal covariances: |mu1-mu2|^2 + sum (sqrt(a) - sqrt(b))^2 = 5 + (1 + 0 + 4)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(10.0)


def test_frechet_distance_of_rotated_covariances():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    s = q @ np.diag([1.0, 2.0, 3.0, 4.0]) @ q.T
    assert metrics.frechet_distance(np.zeros(4), s, np.zeros(4), s) == pytest.approx(0, abs=1e-8)


def test_fid_and_kid_order_distributions():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(1500, 8)), rng.normal(size=(1500, 8))
    far = rng.normal(loc=0.5, size=(1500, 8))
    assert metrics.fid(a, b) < 0.1 < metrics.fid(a, far)
    same, _ = metrics.kid(a, b, subsets=10, subset_size=500)
    diff, _ = metrics.kid(a, far, subsets=10, subset_size=500)
    assert abs(same) < 0.01 < diff


def test_kid_needs_two_images():
    with pytest.raises(ValueError):
        metrics.kid(np.zeros((1, 3)), np.zeros((5, 3)))
