"""The adaptive rating rule: which image should the next rating go to? (numpy, no Django)

The platform decides this in one SQL statement (ratings_site/studies/adaptive_sql.py); this
module is the same rule in numpy, used by the platform's fallback path, its property tests
and the simulation experiment (quality/experiments/adaptive.py). Keep the two in step.

Per image, from its ratings so far (n, sum s1, sum of squares s2) and the slots already
taken t (rated or being rated):

- noise variance, shrunk towards the study's pooled value sigma0^2 with the weight of k0
  ratings (k0 estimated from how much the images' spreads really differ, priors_estimate), and, once Q is calibrated on enough labels, one more pseudo-rating
  from Q's disagreement with the crowd (E[(q - mean)^2] = tau^2 + sigma^2 / n, so
  n * ((q - mean)^2 - tau^2) estimates sigma^2):
      var = (k0 * sigma0^2 + (s2 - s1^2/n) + w * max(0, n ((q - mean)^2 - tau^2)))
            / (k0 + n - 1 + w)
- the stopping rule: the half-width of the 90% interval of the mean, Z90 * sqrt(var / n),
  is at most the study's `half_width`, and n >= min_raters;
- the expected gain of one more rating: the drop in the mean's variance,
  var / t - var / (t + 1) = var / (t (t + 1)); images below min_raters come first.

An image may take the next rating when it has fewer than max_raters slots taken, has not met
the stopping rule, and this rater has never had it. Strata stay balanced: only strata whose
slots per image are within STRATA_TOLERANCE of the least-served stratum that can still take
ratings are considered. Ties go to the lowest index (the pool's id order).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z90 = 1.6448536269514722
PRIOR_WEIGHT = 2.0
STRATA_TOLERANCE = 0.5
DEFAULT_SIGMA0_SQ = 2.0  # before any image has two ratings: about the paper-scale spread
MIN_IMAGES_FOR_PRIOR = 10
MIN_IMAGES_FOR_Q = 30  # "enough labels" before Q's view counts
MIN_TAU_SQ = 0.05
BELOW_MIN_BONUS = 1000.0
MAX_PRIOR_WEIGHT = 200.0


@dataclass(frozen=True)
class Rule:
    min_raters: int = 2
    max_raters: int = 7
    half_width: float = 0.75
    sigma0_sq: float = DEFAULT_SIGMA0_SQ
    tau_sq: float | None = None  # Q's error variance; None: Q not used
    prior_weight: float = PRIOR_WEIGHT  # pseudo-ratings behind sigma0^2 (empirical Bayes, see priors_estimate)


@dataclass
class PoolState:
    n: np.ndarray  # ratings so far
    s1: np.ndarray  # sum of ratings
    s2: np.ndarray  # sum of squared ratings
    taken: np.ndarray  # slots taken (rated or being rated)
    stratum: np.ndarray  # int codes
    q: np.ndarray  # Q's prediction, NaN where none

    @classmethod
    def empty(cls, size: int, stratum=None, q=None) -> "PoolState":
        zeros = np.zeros(size, dtype=float)
        return cls(zeros.copy(), zeros.copy(), zeros.copy(), np.zeros(size, dtype=int),
                   np.zeros(size, dtype=int) if stratum is None else np.asarray(stratum),
                   np.full(size, np.nan) if q is None else np.asarray(q, dtype=float))

    def add(self, index: int, score: float) -> None:
        self.n[index] += 1
        self.s1[index] += score
        self.s2[index] += score * score
        self.taken[index] += 1


def variance_hat(state: PoolState, rule: Rule) -> np.ndarray:
    n = state.n
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, state.s1 / np.maximum(n, 1), 0.0)
        ss = np.maximum(state.s2 - np.where(n > 0, state.s1**2 / np.maximum(n, 1), 0.0), 0.0)
    use_q = (rule.tau_sq is not None) & ~np.isnan(state.q) & (n > 0)
    w = use_q.astype(float)
    tau_sq = rule.tau_sq if rule.tau_sq is not None else 0.0
    dq = np.where(use_q, np.maximum(0.0, n * ((np.nan_to_num(state.q) - mean) ** 2 - tau_sq)), 0.0)
    k0 = rule.prior_weight
    return (k0 * rule.sigma0_sq + ss + w * dq) / (k0 + np.maximum(n - 1, 0) + w)


def half_width(state: PoolState, rule: Rule) -> np.ndarray:
    var = variance_hat(state, rule)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(state.n > 0, Z90 * np.sqrt(var / np.maximum(state.n, 1)), np.inf)


def stopped(state: PoolState, rule: Rule) -> np.ndarray:
    return (state.n >= rule.min_raters) & (half_width(state, rule) <= rule.half_width)


def priority(state: PoolState, rule: Rule) -> np.ndarray:
    var = variance_hat(state, rule)
    t = state.taken.astype(float)
    gain = np.where(t > 0, var / np.maximum(t * (t + 1), 1), var)
    return np.where(t < rule.min_raters, BELOW_MIN_BONUS * (rule.min_raters - t) + gain, gain)


def open_images(state: PoolState, rule: Rule) -> np.ndarray:
    """Images that may still take a rating from someone (the study goes on while any does)."""
    return (state.taken < rule.max_raters) & ~stopped(state, rule)


def strata_allowed(state: PoolState, eligible: np.ndarray) -> np.ndarray:
    """Per image: whether its stratum is within tolerance of the least-served eligible stratum."""
    codes, inverse = np.unique(state.stratum, return_inverse=True)
    per = np.bincount(inverse, weights=state.taken, minlength=len(codes)) / np.bincount(inverse, minlength=len(codes))
    has = np.bincount(inverse, weights=eligible, minlength=len(codes)) > 0
    if not has.any():
        return np.zeros(len(state.n), dtype=bool)
    floor = per[has].min()
    return (per <= floor + STRATA_TOLERANCE + 1e-9)[inverse]


def choose(state: PoolState, rule: Rule, mine: np.ndarray | None = None) -> int | None:
    """Index of the image the next rating should go to, or None when none may take it.
    `mine`: images this rater already had."""
    eligible = open_images(state, rule)
    if mine is not None:
        eligible &= ~np.asarray(mine, dtype=bool)
    if not eligible.any():
        return None
    candidates = eligible & strata_allowed(state, eligible)
    key = np.where(candidates, priority(state, rule), -np.inf)
    return int(np.argmax(key))  # argmax takes the first of equal keys: the lowest index


def priors_estimate(state: PoolState, empirical_weight: bool = True) -> dict:
    """The study-level priors: pooled noise variance, how many ratings' worth of weight it
    gets, and Q's error variance once Q is calibrated on enough labelled images. Stored on
    the study, read by the SQL.

    The weight is empirical Bayes (moment matching, in the spirit of Smyth's moderated
    variances, 2004): the spread of the images' sample variances beyond what sampling alone
    gives (Var(s^2 | sigma^2) = 2 sigma^4 / (n - 1), unbiasedly 2 s^4 / (n + 1)) is the
    images' real difference in spread. None beyond sampling: a heavy prior, so allocation
    stays near even instead of chasing noise; much: a light one. Scaled-inverse-chi-square
    prior with d0 degrees of freedom: Var(sigma^2) = 2 sigma0^4 / (d0 - 4)."""
    rated = state.n >= 2
    out: dict = {"sigma0_sq": DEFAULT_SIGMA0_SQ, "tau_sq": None, "prior_weight": PRIOR_WEIGHT}
    if rated.sum() >= MIN_IMAGES_FOR_PRIOR:
        n = state.n[rated]
        ss = state.s2[rated] - state.s1[rated] ** 2 / n
        out["sigma0_sq"] = float(max(ss.sum() / (n - 1).sum(), 0.05))
        if empirical_weight:
            s2 = np.maximum(ss / (n - 1), 0.0)
            between = np.var(s2) - np.mean(2 * s2**2 / (n + 1))
            d0 = 2 * out["sigma0_sq"] ** 2 / between + 4 if between > 0 else MAX_PRIOR_WEIGHT
            out["prior_weight"] = float(np.clip(d0, PRIOR_WEIGHT, MAX_PRIOR_WEIGHT))
    with_q = rated & ~np.isnan(state.q)
    if with_q.sum() >= MIN_IMAGES_FOR_Q:
        n = state.n[with_q]
        mean = state.s1[with_q] / n
        sampling = out["sigma0_sq"] / n  # what the crowd mean's own noise explains
        out["tau_sq"] = float(max(np.mean((state.q[with_q] - mean) ** 2 - sampling), MIN_TAU_SQ))
    return out


def rule_from(study_fields: dict, priors: dict | None) -> Rule:
    priors = priors or {}
    return Rule(
        min_raters=int(study_fields["min_raters"]), max_raters=int(study_fields["max_raters"]),
        half_width=float(study_fields["stop_half_width"]),
        sigma0_sq=float(priors.get("sigma0_sq") or DEFAULT_SIGMA0_SQ), tau_sq=priors.get("tau_sq"),
        prior_weight=float(priors.get("prior_weight") or PRIOR_WEIGHT),
    )
