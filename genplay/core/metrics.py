"""Pure quality figures on numpy arrays: FID and KID between two feature sets, PSNR and
SSIM of an image against its original. numpy only: no torch, no models, nothing of genplay
but its error type, so any layer may use them; measuring a checkpoint is core/evaluation.py.

FID/KID as genplay reports them use the penultimate layer of a small classifier trained
per dataset (core/models/features.py), not Inception: they rank genplay models against
each other and against the real-vs-real floor, and cannot be compared with published FIDs.
"""

from __future__ import annotations

import math

import numpy as np

from genplay.core.errors import GenplayError


# --- distances between feature sets --------------------------------------------------------
def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, dtype=np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), via symmetric eigensolves.

    tr((S1 S2)^1/2) equals the trace of the square root of the symmetric matrix
    S1^1/2 S2 S1^1/2, which avoids the complex results of a general sqrtm.
    """
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    eig = np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.sqrt(eig).sum())


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def kid(features_a: np.ndarray, features_b: np.ndarray, subsets: int = 100,
        subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic polynomial kernel, mean and std over random subsets."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least two images on each side")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


# --- fidelity of one image to another (super-resolution) ------------------------------------
# Rows per band: PSNR and SSIM work through big images a band at a time, so a 100-megapixel
# comparison needs a few band-sized float64 buffers, not several image-sized ones.
BAND_ROWS = 256
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # an 11x11 window, as in Wang et al. 2004


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two HW or HWC arrays of one shape, as HWC views (nothing copied)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise GenplayError(f"cannot compare images of shapes {a.shape} and {b.shape}")
    if a.ndim not in (2, 3) or 0 in a.shape:
        raise GenplayError(f"expected (H, W) or (H, W, C) images, got shape {a.shape}")
    return (a[..., None], b[..., None]) if a.ndim == 2 else (a, b)


def psnr(a: np.ndarray, b: np.ndarray, max_value: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, 10 log10(max^2 / MSE); inf for equal images."""
    a, b = _pair(a, b)
    squared = 0.0
    for start in range(0, a.shape[0], BAND_ROWS):
        diff = a[start:start + BAND_ROWS].astype(np.float64) - b[start:start + BAND_ROWS]
        squared += float(np.square(diff).sum())
    mse = squared / a.size
    return math.inf if mse == 0 else 10.0 * math.log10(max_value**2 / mse)


def _window_filter(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Separable weighted sums over the window, only where it fits inside x ("valid")."""
    r = len(weights) - 1
    rows = sum(w * x[k:x.shape[0] - r + k] for k, w in enumerate(weights))
    return sum(w * rows[:, k:x.shape[1] - r + k] for k, w in enumerate(weights))


def ssim(a: np.ndarray, b: np.ndarray, max_value: float = 255.0) -> float:
    """Mean structural similarity (Wang et al. 2004): local means, variances and covariance
    under a Gaussian window (sigma 1.5, 11x11, K1 0.01, K2 0.03), averaged over every
    position where the window fits and over the channels. 1 for equal images, negative
    for anti-correlated ones. Images under 11 pixels a side get a window that fits them."""
    a, b = _pair(a, b)
    height, width, channels = a.shape
    r = min(SSIM_RADIUS, (min(height, width) - 1) // 2)
    weights = np.exp(-0.5 * (np.arange(-r, r + 1) / SSIM_SIGMA) ** 2)
    weights /= weights.sum()
    c1, c2 = (0.01 * max_value) ** 2, (0.03 * max_value) ** 2
    total, count = 0.0, 0
    for c in range(channels):
        # Output rows [start, end) of the valid map need input rows [start, end + 2r).
        for start in range(0, height - 2 * r, BAND_ROWS):
            end = min(height - 2 * r, start + BAND_ROWS)
            x = a[start:end + 2 * r, :, c].astype(np.float64)
            y = b[start:end + 2 * r, :, c].astype(np.float64)
            mx, my = _window_filter(x, weights), _window_filter(y, weights)
            vx = _window_filter(x * x, weights) - mx * mx
            vy = _window_filter(y * y, weights) - my * my
            cov = _window_filter(x * y, weights) - mx * my
            local = ((2 * mx * my + c1) * (2 * cov + c2)
                     / ((mx * mx + my * my + c1) * (vx + vy + c2)))
            total += float(local.sum())
            count += local.size
    return total / count
