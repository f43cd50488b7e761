"""Adaptive studies: spend raters where the labels are least certain.

How it fits the platform (the fixed design is untouched):
- At launch the study's budget buys `ceil(rating_budget / items_per_batch)` batches with ONE
  rater each (so marketplaces publish, and the budget guard prices, exactly what will be
  paid). A batch starts empty except for the study's gold items, placed at seeded random
  positions; the sampled images (balanced across strata as in any study) form the pool.
- Each time a rater asks for the next image, an empty position of their batch is filled
  with the pool image the rule ranks first (quality/adaptive_rule.py), in one SQL statement
  (adaptive_sql.py); this module is the full service behind it (any database, races, the
  decisions the statement leaves to it).
- Paid per batch (MTurk, Prolific): the contents of each batch are decided as it is rated,
  so every next batch goes where the labels are least certain at that moment; the rater is
  paid the same per batch. Once every image meets the stopping rule a batch ends early and
  no new rater is taken; the study completes and the provider stops recruiting.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from quality.adaptive_rule import Z90, PoolState, choose, half_width, open_images, priors_estimate, rule_from, variance_hat

from . import errors
from .adaptive_sql import adaptive_item_next_fast
from ratings_site.core.errors import ServiceError
from ratings_site.core.selectors import number_next
from .models import AdaptiveImage, Assignment, Batch, BatchItem, ItemView, Rating, Study
from .next_item import NextItem, answer_deadline

OCCUPYING = (Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED)
FIELDS = ("min_raters", "max_raters", "stop_half_width")
# A pause stops recruiting, not the raters already at work: their batches still fill.
FILLING = (Study.Status.RUNNING, Study.Status.PAUSED)


def _stratum_label(metadata: dict, keys: list[str]) -> str:
    return " x ".join(str((metadata or {}).get(k, "")) for k in keys)


def adaptive_batches_build(*, study: Study, image_ids: list[int]) -> int:
    """The pool and the study's empty batches, with gold items at seeded random positions."""
    from ratings_site.catalog.models import Image

    keys = list(study.strata or [])
    metadata = dict(Image.objects.filter(id__in=image_ids).values_list("id", "metadata"))
    AdaptiveImage.objects.bulk_create(
        AdaptiveImage(study=study, image_id=i, stratum=_stratum_label(metadata.get(i), keys)) for i in sorted(image_ids)
    )
    golds = list(study.gold_items.all())
    batches = Batch.objects.bulk_create(Batch(study=study, index=i) for i in range(study.n_batches))
    items = []
    for batch in batches:
        slots = batch_slots(study, batch.index) + len(golds)
        positions = random.Random(f"{study.seed}:{batch.index}").sample(range(slots), len(golds))
        items += [BatchItem(batch=batch, image_id=g.image_id, gold=g, position=p) for g, p in zip(golds, positions)]
    BatchItem.objects.bulk_create(items, batch_size=2000)
    return len(batches)


def batch_slots(study: Study, index: int) -> int:
    """Pool images a batch holds: the last batch takes what is left of the budget."""
    return max(0, min(study.items_per_batch, study.rating_budget - index * study.items_per_batch))


# --- The pool's state ----------------------------------------------------------------

@dataclass
class Pool:
    ids: np.ndarray  # AdaptiveImage ids, ascending
    image_ids: np.ndarray
    strata: list[str]
    state: PoolState
    mine: np.ndarray  # the given rater already had the image


def pool_load(study: Study, rater_id: int | None = None) -> Pool:
    rows = list(AdaptiveImage.objects.filter(study=study).order_by("id").values_list("id", "image_id", "stratum", "q_pred"))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    labels = [r[2] for r in rows]
    codes = {label: k for k, label in enumerate(sorted(set(labels)))}
    state = PoolState.empty(
        len(rows), stratum=np.array([codes[x] for x in labels], dtype=int),
        q=np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=float),
    )
    mine = np.zeros(len(rows), dtype=bool)
    index = {pid: k for k, pid in enumerate(ids.tolist())}
    items = BatchItem.objects.filter(pool__study=study).values_list(
        "pool_id", "assignment__status", "assignment__rater_id", "ratings__score"
    )
    for pool_id, status, item_rater, score in items:
        k = index[pool_id]
        if rater_id is not None and item_rater == rater_id:
            mine[k] = True
        if status in OCCUPYING:
            state.taken[k] += 1
            if score is not None:
                state.n[k] += 1
                state.s1[k] += score
                state.s2[k] += score * score
    return Pool(ids, np.array([r[1] for r in rows], dtype=np.int64), labels, state, mine)


def study_rule(study: Study):
    return rule_from({f: getattr(study, f) for f in FIELDS}, study.adaptive_state)


def adaptive_priors_refresh(*, study: Study) -> dict:
    """Re-estimate the pooled noise variance and Q's error from the ratings so far; the SQL
    reads them from the study row. Runs once per batch allocation, not per item."""
    priors = priors_estimate(pool_load(study).state)
    Study.objects.filter(pk=study.pk).update(adaptive_state=priors)
    study.adaptive_state = priors
    return priors


def adaptive_has_work(*, study: Study, rater_id: int | None = None) -> bool:
    """Whether some image may still take a rating (from this rater, when given)."""
    pool = pool_load(study, rater_id)
    if rater_id is None:
        return bool(open_images(pool.state, study_rule(study)).any())
    return choose(pool.state, study_rule(study), pool.mine) is not None


def adaptive_finished(*, study: Study) -> bool:
    """Nobody is rating, and either the budget is spent or every image meets the rule."""
    if Assignment.objects.filter(batch__study=study, status=Assignment.Status.ACTIVE).exists():
        return False
    unspent = Batch.objects.filter(study=study).exclude(assignments__status=Assignment.Status.SUBMITTED).exists()
    return not unspent or not adaptive_has_work(study=study)


def adaptive_allocation_check(*, study: Study, rater) -> None:
    """Before a rater gets a batch: refresh the priors, and refuse when there is nothing
    this rater could rate."""
    adaptive_priors_refresh(study=study)
    if not adaptive_has_work(study=study, rater_id=rater.pk):
        raise ServiceError(errors.ADAPTIVE_NOTHING_LEFT, code="no_batch", status=409)


# --- Serving -------------------------------------------------------------------------

def adaptive_item_next(*, assignment: Assignment, now: datetime | None = None):
    """The adaptive item the rater should see now, or None when the batch is done."""
    study = assignment.batch.study
    if now is None and connection.vendor == "postgresql" and study.status in FILLING:
        fast = adaptive_item_next_fast(token=assignment.token)
        if fast is not None:
            return NextItem(
                item=BatchItem.objects.get(pk=fast["item"]), served_at=None, position=fast["position"],
                total=fast["total"], view_seconds_left=fast["view_seconds_left"],
                answer_seconds_left=fast["answer_seconds_left"],
            )
    now = now or timezone.now()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                # Serialise fills within the study; the unique slots guard the fast path's races.
                Study.objects.select_for_update().filter(pk=study.pk).first()
                return _serve(assignment, study, now)
        except IntegrityError:
            continue  # someone took that slot a moment ago: decide again
    raise ServiceError(errors.ADAPTIVE_BUSY, code="busy", status=503)


def _serve(assignment, study, now):
    slots = batch_slots(study, assignment.batch.index) + study.gold_items.count()
    own = {
        item.position: item
        for item in BatchItem.objects.filter(batch_id=assignment.batch_id).filter(
            Q(assignment=assignment) | Q(assignment__isnull=True, gold__isnull=False)
        )
    }
    rated = set(Rating.objects.filter(assignment=assignment).values_list("item_id", flat=True))
    served = dict(ItemView.objects.filter(assignment=assignment).values_list("item_id", "served_at"))
    pool = None
    for position in range(slots):
        item = own.get(position)
        if item is None and study.status in FILLING:
            if pool is None:
                pool = pool_load(study, assignment.rater_id)
            k = choose(pool.state, study_rule(study), pool.mine)
            if k is None:
                continue  # every image meets the rule or has its raters: this batch ends early
            item = BatchItem.objects.create(
                batch_id=assignment.batch_id, image_id=int(pool.image_ids[k]), position=position,
                assignment=assignment, pool_id=int(pool.ids[k]),
                pool_seq=number_next(BatchItem.objects.filter(pool_id=int(pool.ids[k])), "pool_seq"),
            )
        if item is None or item.pk in rated:
            continue
        served_at = served.get(item.pk)
        if served_at is not None and now > answer_deadline(study, served_at):
            continue
        if served_at is None:
            served_at = ItemView.objects.create(assignment=assignment, item=item, served_at=now).served_at
        elapsed = (now - served_at).total_seconds()
        return NextItem(
            item=item, served_at=served_at, position=position + 1, total=slots,
            view_seconds_left=max(study.viewing_seconds - elapsed, 0.0),
            answer_seconds_left=max(study.viewing_seconds + study.answer_grace_seconds - elapsed, 0.0),
        )
    return None


# --- Q's predictions -----------------------------------------------------------------

def adaptive_q_predictions_store(*, study: Study, predictions: dict[int, float], version: str = "") -> int:
    """Store Q's predicted mean per image (image id -> score) where the SQL can read it."""
    rows = list(AdaptiveImage.objects.filter(study=study, image_id__in=list(predictions)))
    for row in rows:
        row.q_pred, row.q_version = float(predictions[row.image_id]), version
    AdaptiveImage.objects.bulk_update(rows, ["q_pred", "q_version"], batch_size=2000)
    return len(rows)


# --- The study page ------------------------------------------------------------------

def adaptive_progress(study: Study) -> dict:
    """What the study page shows live: spent, done by the rule, raters per image, cost to finish."""
    pool = pool_load(study)
    rule = study_rule(study)
    state = pool.state
    meets = (state.n >= rule.min_raters) & (half_width(state, rule) <= rule.half_width)
    spent = int(state.n.sum())
    histogram = {int(k): int(v) for k, v in zip(*np.unique(state.n.astype(int), return_counts=True))}
    # To finish: every open image needs enough ratings for its current spread to meet the
    # rule, between min and max raters (an estimate: spreads move as ratings arrive).
    var = np.maximum(variance_hat(state, rule), 1e-9)
    needed = np.ceil(var * (Z90 / max(rule.half_width, 1e-9)) ** 2)
    target = np.clip(needed, rule.min_raters, rule.max_raters)
    to_go = int(np.where(meets, 0, np.maximum(target - state.n, 0)).sum())
    remaining_budget = max((study.rating_budget or 0) - int(state.taken.sum()), 0)
    projected = min(to_go, remaining_budget)
    per_batch = study.items_per_batch or 1
    cost = {"ratings": projected, "batches": math.ceil(projected / per_batch)}
    reward = _reward_per_batch(study)
    if reward is not None:
        cost["money"] = float(reward) * cost["batches"]
    return {
        "images": len(pool.ids), "ratings_spent": spent, "budget": study.rating_budget,
        "meeting_rule": int(meets.sum()), "raters_per_image": histogram,
        "to_finish": cost, "budget_short": to_go > remaining_budget,
        "priors": study.adaptive_state,
    }


def _reward_per_batch(study: Study):
    market = getattr(study, "marketplace", None)  # no marketplace row: no money column
    return getattr(market, "reward_per_batch", None)
