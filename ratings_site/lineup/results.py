"""What a lineup study found: the paper's human-preference share per model with bootstrap
intervals (lineups resampled), rater agreement (Fleiss' kappa), a position-bias check and
the correlation between Q's score of an image and the votes it got.

Only votes of submitted, verified assignments count, as only verified ratings make labels.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from statsmodels.stats.inter_rater import fleiss_kappa

from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment

from . import errors
from .models import Candidate, Lineup, LineupStudy, Vote

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


@dataclass
class ModelPreference:
    model: str
    votes: int
    share: float
    share_lo: float
    share_hi: float
    mean_q: float | None


@dataclass
class LineupResults:
    study_name: str
    simulated: bool
    lineups: int
    lineups_with_votes: int
    raters: int
    votes: int
    models: list[ModelPreference]
    kappa: float | None
    observed_agreement: float | None  # share of agreeing rater pairs per lineup, averaged
    kappa_lineups: int
    kappa_raters_per_lineup: int
    kappa_note: str
    position_votes: list[int]
    position_chi2: float | None
    position_p: float | None
    q_spearman: float | None
    q_spearman_p: float | None
    q_images: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def counted_votes(lineup_study: LineupStudy):
    return Vote.objects.filter(
        lineup__lineup_study=lineup_study, assignment__status=Assignment.Status.SUBMITTED, assignment__verified=True
    )


def _kappa(table: np.ndarray) -> tuple[float | None, float | None, int, int, str]:
    """Fleiss' kappa needs the same number of raters per lineup: it uses the lineups with
    the most common count (at least 2), and says how many that is. With the observed
    agreement beside it: when one model takes most votes, kappa stays low however much
    raters agree (chance agreement is high then)."""
    per_row = table.sum(axis=1)
    counts = Counter(int(n) for n in per_row if n >= 2)
    if not counts:
        return None, None, 0, 0, "no lineup has 2 or more votes"
    n, _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    rows = table[per_row == n]
    observed = float((((rows ** 2).sum(axis=1) - n) / (n * (n - 1))).mean())
    if len(rows) < 2:
        return None, observed, len(rows), n, "fewer than 2 lineups with the same number of votes"
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(fleiss_kappa(rows, method="fleiss"))
    if np.isnan(value):
        return None, observed, len(rows), n, "undefined: every vote went to one model"
    return value, observed, len(rows), n, f"over {len(rows)} lineups with {n} votes each"


def lineup_results(lineup_study: LineupStudy, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> LineupResults:
    models = list(lineup_study.model_names)
    col = {m: j for j, m in enumerate(models)}
    lineup_ids = list(Lineup.objects.filter(lineup_study=lineup_study).order_by("index").values_list("id", flat=True))
    row = {lid: i for i, lid in enumerate(lineup_ids)}
    votes = list(counted_votes(lineup_study).values_list("lineup_id", "candidate__model_name", "screen_position",
                                                         "candidate_id", "assignment__rater_id"))
    if not votes:
        raise ServiceError(errors.NO_VOTES.format(study=lineup_study.study), code="no_votes", status=409)
    table = np.zeros((len(lineup_ids), len(models)), dtype=np.int64)  # (lineups, models) vote counts
    positions = np.zeros(len(models), dtype=np.int64)
    per_image: Counter = Counter()
    for lineup_id, model, position, candidate_id, _ in votes:
        table[row[lineup_id], col[model]] += 1
        positions[position] += 1
        per_image[candidate_id] += 1
    total = table.sum()
    shares = table.sum(axis=0) / total
    # Bootstrap over lineups: rows of one lineup are not independent of each other.
    voted = table[table.sum(axis=1) > 0]
    rng = np.random.default_rng(seed)
    draws = voted[rng.integers(0, len(voted), size=(samples, len(voted)))].sum(axis=1)  # (samples, models)
    draws = draws / draws.sum(axis=1, keepdims=True)
    alpha = (1 - CONFIDENCE) / 2
    lo, hi = np.quantile(draws, alpha, axis=0), np.quantile(draws, 1 - alpha, axis=0)

    q_rows = list(Candidate.objects.filter(lineup__lineup_study=lineup_study).values_list("id", "model_name", "q_score"))
    q_by_model: dict[str, list[float]] = {}
    q_pairs = []
    for candidate_id, model, q in q_rows:
        if q is not None:
            q_by_model.setdefault(model, []).append(q)
            q_pairs.append((q, per_image.get(candidate_id, 0)))
    rho = p_rho = None
    notes = []
    if len(q_pairs) >= 3 and len({q for q, _ in q_pairs}) > 1 and len({v for _, v in q_pairs}) > 1:
        result = stats.spearmanr([q for q, _ in q_pairs], [v for _, v in q_pairs])
        rho, p_rho = float(result.statistic), float(result.pvalue)
    else:
        notes.append("Q vs votes: not computed (fewer than 3 images with a Q score, or no variation)")
    chi2 = p_chi = None
    if positions.sum() > 0:
        test = stats.chisquare(positions)  # uniform over screen positions if order does not matter
        chi2, p_chi = float(test.statistic), float(test.pvalue)
    kappa, observed, k_lineups, k_n, k_note = _kappa(table)
    preferences = [
        ModelPreference(m, int(table[:, j].sum()), float(shares[j]), float(lo[j]), float(hi[j]),
                        float(np.mean(q_by_model[m])) if q_by_model.get(m) else None)
        for j, m in enumerate(models)
    ]
    return LineupResults(
        study_name=lineup_study.study.name, simulated=lineup_study.simulated, lineups=len(lineup_ids),
        lineups_with_votes=int(len(voted)), raters=len({v[4] for v in votes}), votes=int(total), models=preferences,
        kappa=kappa, observed_agreement=observed, kappa_lineups=k_lineups, kappa_raters_per_lineup=k_n, kappa_note=k_note,
        position_votes=[int(v) for v in positions], position_chi2=chi2, position_p=p_chi,
        q_spearman=rho, q_spearman_p=p_rho, q_images=len(q_pairs), notes=notes,
    )


def results_text(r: LineupResults) -> str:
    """A plain-text summary for the command line and the admin page."""
    lines = [f"{r.study_name}{' (SIMULATED raters)' if r.simulated else ''}: {r.votes} votes by {r.raters} raters "
             f"on {r.lineups_with_votes} of {r.lineups} lineups"]
    for m in r.models:
        q = f", mean Q {m.mean_q:.3f}" if m.mean_q is not None else ""
        lines.append(f"  {m.model:<16} {m.share:6.1%} [{m.share_lo:.1%}, {m.share_hi:.1%}]  ({m.votes} votes{q})")
    kappa = f"{r.kappa:.3f} ({r.kappa_note})" if r.kappa is not None else f"n/a ({r.kappa_note})"
    if r.observed_agreement is not None:
        kappa += f"; observed agreement {r.observed_agreement:.3f}"
    lines.append(f"Fleiss' kappa: {kappa}")
    if r.position_chi2 is not None:
        lines.append(f"votes by screen position {r.position_votes}: chi-square {r.position_chi2:.2f}, "
                     f"p = {r.position_p:.3g} (uniform if the order does not matter)")
    if r.q_spearman is not None:
        lines.append(f"Q score vs votes per image: Spearman {r.q_spearman:.3f}, p = {r.q_spearman_p:.3g}, "
                     f"{r.q_images} images")
    lines += r.notes
    return "\n".join(lines)
