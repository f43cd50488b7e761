"""The Fréchet distance between two Gaussians, the one formula FID and FD-dlib128 share.

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

tr((S1 S2)^(1/2)) is computed in its symmetric eigenvalue form: with R = S1^(1/2) (from
eigh, negative round-off eigenvalues clipped to 0), S1 S2 is similar to R S2 R, which is
symmetric positive semi-definite, so the trace is the sum of the square roots of its
eigenvalues. Unlike scipy.linalg.sqrtm on the non-symmetric product, this never produces
complex parts, also when a covariance is singular (fewer images than feature dimensions).
"""

from __future__ import annotations

import numpy as np

ERR_FEATURES = "Fréchet distance needs two (N, D) feature arrays with the same D and N >= 2, got {a} and {b}"


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) * 0.5)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) * 0.5), 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N - 1) covariance of (N, D) features, as FID computes them."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance_features(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two (N, D) feature sets."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(ERR_FEATURES.format(a=a.shape, b=b.shape))
    return frechet_distance(*gaussian_statistics(a), *gaussian_statistics(b))
