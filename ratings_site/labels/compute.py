"""Labels from ratings, vectorised with numpy (no Django here, so it can be benchmarked
and tested on its own).

Standard deviation uses ddof=1, the sample standard deviation: with three raters per
image the population formula (numpy's default, ddof=0) would understate the spread by a
factor sqrt(2/3). An image with one valid rating has no defined std (NaN).
"""
from __future__ import annotations

from dataclasses import dataclass

import krippendorff
import numpy as np

DDOF = 1
SCORE_LEVELS = 11  # 0..10


@dataclass
class RatingArrays:
    image_id: np.ndarray  # (N,) int
    rater_id: np.ndarray  # (N,) int
    batch_id: np.ndarray  # (N,) int
    score: np.ndarray  # (N,) float
    is_gold: np.ndarray  # (N,) bool
    gold_min: np.ndarray  # (N,) float, NaN where not gold
    gold_max: np.ndarray  # (N,) float


@dataclass
class RaterResult:
    rater_ids: np.ndarray
    n_ratings: np.ndarray
    gold_checks: np.ndarray
    gold_passed: np.ndarray
    excluded: np.ndarray
    mad_from_others: np.ndarray  # NaN where the rater shares no image with others


@dataclass
class LabelResult:
    image_ids: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n: np.ndarray
    raters: RaterResult
    valid: np.ndarray  # (N,) bool: the ratings that made the labels


def raters_gold_check(r: RatingArrays, min_pass_rate: float) -> RaterResult:
    rater_ids, inverse = np.unique(r.rater_id, return_inverse=True)
    k = len(rater_ids)
    passed = r.is_gold & (r.score >= r.gold_min) & (r.score <= r.gold_max)
    checks = np.bincount(inverse, weights=r.is_gold, minlength=k).astype(int)
    ok = np.bincount(inverse, weights=passed, minlength=k).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(checks > 0, ok / np.maximum(checks, 1), 1.0)
    excluded = rate < min_pass_rate
    n_ratings = np.bincount(inverse, weights=~r.is_gold, minlength=k).astype(int)
    return RaterResult(rater_ids, n_ratings, checks, ok, excluded, np.full(k, np.nan))


def _per_image(image_id: np.ndarray, score: np.ndarray):
    image_ids, inverse = np.unique(image_id, return_inverse=True)
    m = len(image_ids)
    n = np.bincount(inverse, minlength=m)
    total = np.bincount(inverse, weights=score, minlength=m)
    return image_ids, inverse, n, total


def labels_compute_arrays(
    r: RatingArrays, *, min_pass_rate: float = 0.75, excluded_raters: frozenset[int] = frozenset()
) -> LabelResult:
    """`excluded_raters`: raters a researcher excluded by hand; their ratings leave the labels
    but still count as evidence (their deviation from the others is still measured)."""
    raters = raters_gold_check(r, min_pass_rate)
    rater_index = np.searchsorted(raters.rater_ids, r.rater_id)
    measured = ~r.is_gold & ~raters.excluded[rater_index]
    manual = np.isin(r.rater_id, np.fromiter(excluded_raters, dtype=np.int64, count=len(excluded_raters)))
    valid = measured & ~manual

    image_ids, inverse, n, total = _per_image(r.image_id[valid], r.score[valid])
    scores = r.score[valid]
    mean = total / np.maximum(n, 1)
    deviation = scores - mean[inverse]
    squares = np.bincount(inverse, weights=deviation**2, minlength=len(image_ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.where(n > DDOF, np.sqrt(squares / np.maximum(n - DDOF, 1)), np.nan)

    # Each rater's mean absolute deviation from the mean of the *other* raters of an image,
    # over every rating that passed the gold checks (hand exclusions included: it is their evidence).
    _, m_inverse, m_n, m_total = _per_image(r.image_id[measured], r.score[measured])
    m_scores = r.score[measured]
    others = m_n[m_inverse] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        others_mean = (m_total[m_inverse] - m_scores) / others
    shared = others > 0
    measured_raters = rater_index[measured]
    k = len(raters.rater_ids)
    dev_sum = np.bincount(measured_raters[shared], weights=np.abs(m_scores - others_mean)[shared], minlength=k)
    dev_n = np.bincount(measured_raters[shared], minlength=k)
    raters.mad_from_others = np.where(dev_n > 0, dev_sum / np.maximum(dev_n, 1), np.nan)
    return LabelResult(image_ids, mean, std, n, raters, valid)


def krippendorff_alpha_interval(image_id: np.ndarray, score: np.ndarray) -> float | None:
    """Krippendorff's alpha for interval data (the `krippendorff` package), from the
    units x values count matrix; None where it is undefined (too few pairable ratings)."""
    if len(score) == 0:
        return None
    _, unit = np.unique(image_id, return_inverse=True)
    counts = np.zeros((unit.max() + 1, SCORE_LEVELS), dtype=float)
    np.add.at(counts, (unit, score.astype(int)), 1)
    counts = counts[counts.sum(axis=1) >= 2]
    if len(counts) == 0 or (counts.sum(axis=0) > 0).sum() < 2:
        return None
    value = krippendorff.alpha(
        value_counts=counts, value_domain=np.arange(SCORE_LEVELS, dtype=float), level_of_measurement="interval"
    )
    return None if not np.isfinite(value) else float(value)
