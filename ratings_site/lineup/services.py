"""Writes for lineup studies: importing one from a comparison run, serving lineups in a
fresh order per rater, and taking votes under the naturalness study's rules (a server-side
window from when the lineup was first shown, one vote per lineup, refusals for replays and
for lineups outside the rater's batch)."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import FilteredRelation, Q
from django.utils import timezone

from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment, Batch, Study
from ratings_site.studies.services import assignment_check_open, assignment_submit

from . import errors
from .importing import LineupImportError, LineupPlan, lineup_plan
from .models import Candidate, Lineup, LineupStudy, LineupView, TargetExample, Vote
from .selectors import view_deadline as _deadline

INSTRUCTIONS = (
    "Each row shows a real photo of a person (bright light, neutral expression) and several computer-edited "
    "versions of the same person. Pick the one edited image that best shows the target expression AND the "
    "target lighting while still looking like the same person."
)
MARKETPLACE_TITLE = "Pick the edited face that best matches a target"
MARKETPLACE_DESCRIPTION = ("Look at rows of edited face photos and pick, in each row, the one that best matches a "
                           "target expression and lighting while keeping the person's identity.")
_order_rng = random.SystemRandom()  # each rater's order is fresh and unpredictable


# --- Import -------------------------------------------------------------------------------

def _save(field_file, name: str, data: bytes, written: list[str]) -> None:
    field_file.save(name, ContentFile(data), save=False)
    written.append(field_file.name)


def lineup_study_write(*, plan: LineupPlan, name: str, lineups_per_batch: int | None = None, raters_per_batch: int = 17,
                       provider: str = Study.Provider.SELF_HOSTED, environment: str | None = None,
                       viewing_seconds: int = 60, answer_grace_seconds: int = 60, seed: int = 0,
                       reference_expression: str = "neutral", reference_lighting: str = "frontal",
                       simulated: bool = False, user=None) -> LineupStudy:
    """Write a checked plan as a draft study; on any failure nothing is left, files included."""
    total = len(plan.lineups)
    per_batch = lineups_per_batch or total
    for label, value, minimum in (("lineups per batch", per_batch, 1), ("raters per batch", raters_per_batch, 1),
                                  ("viewing seconds", viewing_seconds, 1)):
        if value < minimum:
            raise LineupImportError(errors.BAD_NUMBER.format(name=label, minimum=minimum, value=value))
    if per_batch > total:
        raise LineupImportError(errors.BATCH_TOO_LARGE.format(per_batch=per_batch, total=total))
    n_batches = math.ceil(total / per_batch)
    if environment is None:
        environment = Study.Environment.LIVE if provider == Study.Provider.SELF_HOSTED else Study.Environment.SANDBOX
    written: list[str] = []
    try:
        with transaction.atomic():
            study = Study(
                name=name, description=f"Lineup study of {', '.join(plan.model_names)} ({total} lineups).",
                instructions=INSTRUCTIONS, provider=provider, provider_environment=environment, sample_size=total,
                seed=seed, n_batches=n_batches, raters_per_batch=raters_per_batch, viewing_seconds=viewing_seconds,
                answer_grace_seconds=answer_grace_seconds, created_by=user,
            )
            try:
                study.full_clean()
            except Exception as exc:  # ValidationError: one readable line
                raise LineupImportError(f"the study settings are not valid: {exc}")
            study.save()
            lineup_study = LineupStudy.objects.create(
                study=study, run_folder=str(plan.files.eval_dir), model_names=plan.model_names, seed=seed,
                reference_expression=reference_expression, reference_lighting=reference_lighting,
                provenance=plan.provenance, simulated=simulated,
            )
            batches = Batch.objects.bulk_create(Batch(study=study, index=i) for i in range(n_batches))
            prefix = f"{study.pk}"
            for planned in plan.lineups:
                # Striped like naturalness batches (lineup i in batch i mod n), the layout MTurk's
                # duration estimate assumes.
                lineup = Lineup(
                    lineup_study=lineup_study, batch=batches[planned.index % n_batches], index=planned.index,
                    position=planned.index // n_batches, subject=planned.subject, pair_id=planned.pair_id,
                    target_expression=planned.target_expression, target_lighting=planned.target_lighting,
                )
                _save(lineup.reference, f"{prefix}/{planned.reference_name}", planned.reference, written)
                lineup.save()
                for c in planned.candidates:
                    candidate = Candidate(lineup=lineup, model_name=c.model_name, q_score=c.q_score)
                    _save(candidate.image, f"{prefix}/{c.name}", c.data, written)
                    candidate.save()
            for e in plan.examples:
                example = TargetExample(lineup_study=lineup_study, kind=e.kind, value=e.value)
                _save(example.image, f"{prefix}/{e.name}", e.data, written)
                example.save()
            if provider in (Study.Provider.MTURK, Study.Provider.PROLIFIC):
                from ratings_site.marketplace.models import MarketplaceSettings

                MarketplaceSettings.objects.create(study=study, title=MARKETPLACE_TITLE,
                                                   description=MARKETPLACE_DESCRIPTION, keywords="image, faces, choice")
    except BaseException:
        for name_ in written:
            default_storage.delete(name_)
        raise
    return lineup_study


def lineup_study_import(*, folder, name: str, subjects: int = 30, models: list[str] | None = None, seed: int = 0,
                        evalset=None, results=None, reference_expression: str = "neutral",
                        reference_lighting: str = "frontal", **options) -> LineupStudy:
    plan = lineup_plan(folder=folder, subjects=subjects, models=models, seed=seed, evalset=evalset, results=results,
                       reference_expression=reference_expression, reference_lighting=reference_lighting)
    return lineup_study_write(plan=plan, name=name, seed=seed, reference_expression=reference_expression,
                              reference_lighting=reference_lighting, **options)


# --- Serving lineups and taking votes -----------------------------------------------------

@dataclass
class NextLineup:
    lineup: Lineup
    order: list[int]  # candidate ids, left to right
    served_at: datetime
    position: int  # 1-based
    total: int
    view_seconds_left: float
    answer_seconds_left: float


def _insert_once(model, **fields):
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return model.objects.create(**fields)
    return model.objects.create(**fields)


def lineup_next(*, assignment: Assignment, now: datetime | None = None) -> NextLineup | None:
    """The lineup to show now (showing starts its window, in an order drawn for this rater),
    or None when the batch is done. A lineup whose window closed unanswered is skipped."""
    assignment_check_open(assignment)
    now = now or timezone.now()
    study = assignment.batch.study
    rows = list(
        Lineup.objects.filter(batch_id=assignment.batch_id)
        .annotate(
            mine=FilteredRelation("votes", condition=Q(votes__assignment_id=assignment.pk)),
            seen=FilteredRelation("views", condition=Q(views__assignment_id=assignment.pk)),
        )
        .order_by("position")
        .values_list("id", "mine__id", "seen__served_at", "seen__order")
    )
    for index, (lineup_id, vote_id, served_at, order) in enumerate(rows):
        if vote_id is not None:
            continue
        if served_at is not None and now > _deadline(study, served_at):
            continue
        if served_at is None:
            order = list(Candidate.objects.filter(lineup_id=lineup_id).values_list("id", flat=True))
            _order_rng.shuffle(order)
            try:
                view = _insert_once(LineupView, assignment=assignment, lineup_id=lineup_id, served_at=now, order=order)
            except IntegrityError:  # a parallel request served it a moment ago: keep its order
                view = LineupView.objects.get(assignment=assignment, lineup_id=lineup_id)
            served_at, order = view.served_at, view.order
        elapsed = (now - served_at).total_seconds()
        return NextLineup(
            lineup=Lineup.objects.get(pk=lineup_id), order=list(order), served_at=served_at, position=index + 1,
            total=len(rows), view_seconds_left=max(study.viewing_seconds - elapsed, 0.0),
            answer_seconds_left=max(study.viewing_seconds + study.answer_grace_seconds - elapsed, 0.0),
        )
    return None


def _int(raw, message: str, code: str) -> int:
    if isinstance(raw, bool):
        raise ServiceError(message, code=code)
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise ServiceError(message, code=code)


def vote_submit(*, assignment: Assignment, lineup_id, slot, now: datetime | None = None) -> tuple[Vote, bool]:
    """Store one choice: `slot` is the screen position (0 = first shown) the rater picked.
    Returns (vote, created); sending the same choice again is a no-op, a different one is refused."""
    assignment_check_open(assignment)
    now = now or timezone.now()
    lineup_id = _int(lineup_id, errors.LINEUP_NOT_IN_BATCH, "not_in_batch")
    slot = _int(slot, errors.CHOICE_NOT_IN_LINEUP, "bad_choice")
    view = LineupView.objects.filter(assignment=assignment, lineup_id=lineup_id).first()
    if view is None:
        if not Lineup.objects.filter(pk=lineup_id, batch_id=assignment.batch_id).exists():
            raise ServiceError(errors.LINEUP_NOT_IN_BATCH, code="not_in_batch", status=403)
        raise ServiceError(errors.LINEUP_NOT_SERVED, code="not_served", status=409)
    if not 0 <= slot < len(view.order):
        raise ServiceError(errors.CHOICE_NOT_IN_LINEUP, code="bad_choice")
    candidate_id = view.order[slot]
    existing = Vote.objects.filter(assignment=assignment, lineup_id=lineup_id).first()
    if existing is not None:
        if existing.candidate_id != candidate_id:
            raise ServiceError(errors.ALREADY_VOTED, code="already_voted", status=409)
        return existing, False
    deadline = _deadline(assignment.batch.study, view.served_at)
    if now > deadline:
        raise ServiceError(errors.WINDOW_CLOSED.format(seconds=(now - deadline).total_seconds()),
                           code="window_closed", status=409)
    names = dict(Candidate.objects.filter(lineup_id=lineup_id).values_list("id", "model_name"))
    try:
        vote = _insert_once(
            Vote, assignment=assignment, lineup_id=lineup_id, candidate_id=candidate_id, screen_position=slot,
            order=[names[c] for c in view.order],
            response_ms=max(int((now - view.served_at).total_seconds() * 1000), 0),
        )
    except IntegrityError:  # the same vote raced in twice
        existing = Vote.objects.get(assignment=assignment, lineup_id=lineup_id)
        if existing.candidate_id != candidate_id:
            raise ServiceError(errors.ALREADY_VOTED, code="already_voted", status=409)
        return existing, False
    Assignment.objects.filter(pk=assignment.pk).update(last_activity_at=now)
    return vote, True


def lineup_assignment_submit(*, assignment: Assignment, now: datetime | None = None) -> Assignment:
    """The studies' own submit: it refuses while lineups are open, verifies by provider,
    and completes the study when every batch has its raters."""
    return assignment_submit(assignment=assignment, now=now)
