"""Claimed marketplace work: recording it, confirming it (it counts) or discarding it (never counts)."""
from __future__ import annotations

import numpy as np
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ratings_site.labels.compute import RatingArrays, raters_gold_check
from ratings_site.studies.models import Assignment, Rating, Study

from .models import MarketplaceSettings, MarketplaceSubmission, OnGoldFailure, PublishedTask

APPROVE, REJECT, HOLD = "approve", "reject", "hold"


def submission_record(*, task: PublishedTask, assignment: Assignment, external_assignment_id: str, worker_id: str) -> MarketplaceSubmission:
    """The row for this (environment, assignment id, worker id); one per piece of work."""
    key = dict(provider=task.provider, environment=task.environment, external_assignment_id=external_assignment_id, worker_id=worker_id)
    with transaction.atomic():
        existing = MarketplaceSubmission.objects.select_for_update().filter(assignment=assignment).first()
        if existing is not None:
            if (existing.external_assignment_id, existing.worker_id) != (external_assignment_id, worker_id):
                # The worker returned the task and took it again under a new assignment id.
                existing.external_assignment_id = external_assignment_id
                existing.task = task
                existing.save(update_fields=["external_assignment_id", "task"])
            return existing
        return MarketplaceSubmission.objects.create(study_id=task.study_id, task=task, assignment=assignment, **key)


def submission_for_key(*, provider: str, environment: str, external_assignment_id: str, worker_id: str):
    return (
        MarketplaceSubmission.objects.select_related("assignment")
        .filter(provider=provider, environment=environment, external_assignment_id=external_assignment_id, worker_id=worker_id)
        .first()
    )


def gold_result(assignment: Assignment, min_pass_rate: float) -> tuple[int, int, bool]:
    """(checks, passed, ok) for one batch, by the same rule labels use (raters_gold_check)."""
    rows = list(
        Rating.objects.filter(assignment=assignment).values_list("score", "item__gold_id", "item__gold__min_score", "item__gold__max_score")
    )
    if not rows:
        return 0, 0, True
    table = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
    n = len(rows)
    arrays = RatingArrays(
        image_id=np.arange(n, dtype=np.int64), rater_id=np.zeros(n, dtype=np.int64), batch_id=np.zeros(n, dtype=np.int64),
        score=table[:, 0], is_gold=~np.isnan(table[:, 1]), gold_min=table[:, 2], gold_max=table[:, 3],
    )
    result = raters_gold_check(arrays, min_pass_rate)
    return int(result.gold_checks[0]), int(result.gold_passed[0]), not bool(result.excluded[0])


def review_decision(sub: MarketplaceSubmission, market: MarketplaceSettings) -> str:
    checks, passed, ok = gold_result(sub.assignment, sub.study.gold_min_pass_rate)
    sub.gold_checks, sub.gold_passed = checks, passed
    if ok:
        return APPROVE
    return {OnGoldFailure.REJECT: REJECT, OnGoldFailure.HOLD: HOLD, OnGoldFailure.APPROVE: APPROVE}[market.on_gold_failure]


def submission_confirm(sub: MarketplaceSubmission, *, marketplace_status: str) -> None:
    """The marketplace's own records show this work: its ratings now count."""
    with transaction.atomic():
        sub.verification = MarketplaceSubmission.Verification.CONFIRMED
        sub.verification_reason = "verified"
        sub.marketplace_status = marketplace_status or ""
        sub.verified_at = timezone.now()
        sub.save(update_fields=["verification", "verification_reason", "marketplace_status", "verified_at"])
        Assignment.objects.filter(pk=sub.assignment_id).update(verified=True)


def submission_discard(sub: MarketplaceSubmission, *, reason: str, marketplace_status: str | None = None) -> bool:
    """Never count this work, and free its batch slot for a real rater. True if a slot was freed."""
    with transaction.atomic():
        sub.verification = MarketplaceSubmission.Verification.REJECTED
        sub.verification_reason = reason[:40]
        sub.marketplace_status = marketplace_status or ""
        sub.verified_at = timezone.now()
        sub.save(update_fields=["verification", "verification_reason", "marketplace_status", "verified_at"])
        freed = Assignment.objects.filter(
            pk=sub.assignment_id, status__in=[Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED]
        ).update(status=Assignment.Status.REJECTED, verified=False)
        if freed:
            study_reopen_if_unfilled(sub.study)
    return bool(freed)


def study_reopen_if_unfilled(study: Study) -> None:
    """A study completed with work that turned out forged is running again until filled."""
    study.refresh_from_db(fields=["status"])
    if study.status != Study.Status.COMPLETE:
        return
    unfilled = (
        study.batches.annotate(done=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED)))
        .filter(done__lt=study.raters_per_batch)
        .exists()
    )
    if unfilled:
        Study.objects.filter(pk=study.pk).update(status=Study.Status.RUNNING, completed_at=None)


def pending_submissions(study: Study, provider: str):
    return (
        MarketplaceSubmission.objects.filter(
            study=study, provider=provider, environment=study.provider_environment,
            verification=MarketplaceSubmission.Verification.PENDING, assignment__status=Assignment.Status.SUBMITTED,
        )
        .select_related("assignment", "task", "study")
        .order_by("pk")
    )


def unreviewed_confirmed(study: Study, provider: str):
    return (
        MarketplaceSubmission.objects.filter(
            study=study, provider=provider, environment=study.provider_environment,
            verification=MarketplaceSubmission.Verification.CONFIRMED, payment=MarketplaceSubmission.Payment.UNREVIEWED,
        )
        .select_related("assignment", "task", "study")
        .order_by("pk")
    )


def labels_refresh_if_complete(study: Study, confirmed: int) -> None:
    """Newly counted work completes a filled study, or changes a finished study's labels."""
    from ratings_site.studies.services import study_complete_if_filled

    study.refresh_from_db(fields=["status"])
    if confirmed and study.status == Study.Status.RUNNING and study_complete_if_filled(study=study):
        return  # completing starts the labels job
    if confirmed and study.status == Study.Status.COMPLETE:
        from ratings_site.labels.services import labels_job_start

        transaction.on_commit(lambda: labels_job_start(study_id=study.pk))
