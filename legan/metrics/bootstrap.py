"""Percentile bootstrap intervals for per-image metrics."""

from __future__ import annotations

import numpy as np

ERR_VALUES = "bootstrap_interval needs a non-empty 1-d array of finite values, got shape {shape}"
ERR_LEVEL = "bootstrap_interval: level must be in (0, 1), got {level}"


def bootstrap_means(values, n: int = 1000, seed: int = 0) -> np.ndarray:
    """(n,) means of `values` resampled with replacement."""
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(ERR_VALUES.format(shape=values.shape))
    rng = np.random.default_rng(seed)
    return values[rng.integers(0, values.size, size=(n, values.size))].mean(axis=1)


def percentile_interval(samples, level: float = 0.95) -> tuple[float, float]:
    """The central `level` interval of bootstrap samples (also for SetMetric.bootstrap())."""
    if not 0.0 < level < 1.0:
        raise ValueError(ERR_LEVEL.format(level=level))
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(np.asarray(samples, np.float64), [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_interval(values, n: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-image values."""
    return percentile_interval(bootstrap_means(values, n, seed), level)
