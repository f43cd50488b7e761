"""Confirming MTurk submissions from MTurk's records, then paying, rejecting, bonusing, blocking."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from mturk.assignments import approve_assignment, list_assignments, reject_assignment, send_bonus
from mturk.client import Environment
from mturk.costs import to_money
from mturk.errors import HITNotFoundError, MTurkError, NotReviewedError
from mturk.hits import delete_hit, expire_hit
from mturk.records import AssignmentRef, HitRef, WorkerRef
from mturk.verification import UNKNOWN_ASSIGNMENT, verify_submission
from mturk.workers import block_worker
from ratings_site.crowd.providers.base import SyncReport
from ratings_site.core.errors import ServiceError
from ratings_site.jobs.runner import job_inline

from . import errors
from .errors import mturk_message
from .common import MARKET_SYNC, require_same_environment
from .models import MarketplaceSubmission, MoneyAction, PublishedTask
from .money import money_move
from .mturk_specs import PROVIDER, published_tasks
from .submissions import (
    APPROVE,
    HOLD,
    REJECT,
    labels_refresh_if_complete,
    pending_submissions,
    review_decision,
    submission_confirm,
    submission_discard,
    unreviewed_confirmed,
)

ORPHAN_FEEDBACK = (
    "We received no completed ratings for this assignment: the task was submitted on MTurk without the rating "
    "page having been finished."
)
MSG_ORPHAN_HELD = "Assignment {assignment_id} by {worker_id} on HIT {hit_id} was submitted on MTurk with no finished work here; review it before auto-approval pays it."
MSG_NOT_CONFIRMED = "Only confirmed submissions can be paid, rejected or bonused; this one is {verification}."
MSG_BONUS_SENT = "A bonus was already sent for this submission ({reference})."
MSG_BONUS_POSITIVE = "A bonus must be a positive amount; got {amount}."
Payment = MarketplaceSubmission.Payment


def _ref(sub: MarketplaceSubmission) -> AssignmentRef:
    return AssignmentRef(sub.external_assignment_id, sub.task.external_id, sub.worker_id, Environment.parse(sub.environment))


def sync_submissions(provider) -> SyncReport:
    study, market = provider.study, provider.market
    report = SyncReport()
    if market is None:
        report.messages.append(errors.NO_SETTINGS)
        return report
    with job_inline(kind=MARKET_SYNC, study=study, message="synced") as result:
        try:
            client = provider.client()
            _verify_pending(client, study, market, report)
            for sub in unreviewed_confirmed(study, PROVIDER):
                _review(client, market, sub, report)
            _reconcile_orphans(client, study, market, report)
        except MTurkError as exc:
            report.messages.append(mturk_message(exc))
        result.update(confirmed=report.confirmed, rejected=report.rejected, freed=report.freed, held=report.held,
                      messages=report.messages[:20], _quiet=_nothing_happened(report))
    labels_refresh_if_complete(study, report.confirmed)
    return report


def _nothing_happened(report: SyncReport) -> bool:
    return not (report.confirmed or report.rejected or report.freed or report.held or report.messages)


def _verify_pending(client, study, market, report: SyncReport) -> None:
    cutoff = timezone.now() - timedelta(minutes=market.unverified_grace_minutes)
    for sub in pending_submissions(study, PROVIDER):
        verdict = verify_submission(client, sub.task.external_id, sub.external_assignment_id, sub.worker_id)
        if verdict.ok:
            submission_confirm(sub, marketplace_status=verdict.status)
            report.confirmed += 1
        elif verdict.reason == UNKNOWN_ASSIGNMENT and sub.assignment.submitted_at and sub.assignment.submitted_at > cutoff:
            continue  # MTurk shows an assignment only after the worker's externalSubmit: wait a little
        else:
            report.freed += submission_discard(sub, reason=verdict.reason, marketplace_status=verdict.status)
            report.rejected += 1


def _review(client, market, sub: MarketplaceSubmission, report: SyncReport) -> None:
    decision = review_decision(sub, market)
    try:
        if sub.marketplace_status == "Approved":
            sub.payment = Payment.APPROVED  # MTurk already auto-approved (and paid) it
        elif decision == APPROVE:
            money_move(action=MoneyAction.Action.APPROVE, study=sub.study, submission=sub, via="marketplace sync",
                       amount=market.reward_per_batch, detail="gold checks passed",
                       call=lambda: approve_assignment(client, _ref(sub)))
            sub.payment = Payment.APPROVED
        elif decision == REJECT:
            money_move(action=MoneyAction.Action.REJECT, study=sub.study, submission=sub, via="marketplace sync",
                       detail=market.rejection_feedback,
                       call=lambda: reject_assignment(client, _ref(sub), market.rejection_feedback))
            sub.payment = Payment.REJECTED
        elif decision == HOLD:
            sub.payment = Payment.HELD
            report.held += 1
        sub.message = ""
    except MTurkError as exc:
        sub.message = mturk_message(exc)[:500]
        report.messages.append(sub.message)
    sub.save(update_fields=["payment", "gold_checks", "gold_passed", "message"])


def _reconcile_orphans(client, study, market, report: SyncReport) -> None:
    """Work MTurk has as Submitted but we never received finished: auto-approval would pay it."""
    counted = set(
        MarketplaceSubmission.objects.filter(
            study=study, provider=PROVIDER, environment=study.provider_environment,
            verification=MarketplaceSubmission.Verification.CONFIRMED,
        ).values_list("external_assignment_id", "worker_id")
    )
    for task in published_tasks(study).exclude(external_id="").exclude(status__in=[PublishedTask.Status.DELETED, PublishedTask.Status.MISSING]):
        try:
            submitted = list_assignments(client, HitRef(task.external_id, client.environment), statuses=("Submitted",))
        except HITNotFoundError:
            message = errors.HIT_GONE.format(hit_id=task.external_id, environment=task.environment)
            PublishedTask.objects.filter(pk=task.pk).update(status=PublishedTask.Status.MISSING, message=message)
            report.messages.append(message)
            continue
        for record in submitted:
            if (record.assignment_id, record.worker_id) in counted:
                continue
            if market.on_gold_failure == "reject":
                money_move(action=MoneyAction.Action.REJECT, study=study, via="marketplace sync",
                           detail=f"{record.assignment_id}: {ORPHAN_FEEDBACK}",
                           call=lambda: reject_assignment(client, record.ref, ORPHAN_FEEDBACK))
                report.rejected += 1
            else:
                report.held += 1
                report.messages.append(MSG_ORPHAN_HELD.format(
                    assignment_id=record.assignment_id, worker_id=record.worker_id, hit_id=task.external_id))


# --- a researcher's decisions ------------------------------------------------------------

def _check(provider, sub: MarketplaceSubmission) -> None:
    require_same_environment(provider.study, sub.environment)
    if sub.verification != MarketplaceSubmission.Verification.CONFIRMED:
        raise ServiceError(MSG_NOT_CONFIRMED.format(verification=sub.verification), code="not_confirmed", status=409)


def _call(fn):
    try:
        return fn()
    except MTurkError as exc:
        raise ServiceError(mturk_message(exc), code="mturk_error", status=502) from exc


def approve(provider, sub: MarketplaceSubmission) -> None:
    _check(provider, sub)
    _call(lambda: approve_assignment(provider.client(), _ref(sub), override_rejection=sub.payment == Payment.REJECTED))
    MarketplaceSubmission.objects.filter(pk=sub.pk).update(payment=Payment.APPROVED, message="")


def reject(provider, sub: MarketplaceSubmission, feedback: str) -> None:
    _check(provider, sub)
    _call(lambda: reject_assignment(provider.client(), _ref(sub), feedback))
    MarketplaceSubmission.objects.filter(pk=sub.pk).update(payment=Payment.REJECTED, message="")


def bonus(provider, sub: MarketplaceSubmission, amount, reason: str) -> Decimal:
    _check(provider, sub)
    if sub.bonus_reference:
        raise ServiceError(MSG_BONUS_SENT.format(reference=sub.bonus_reference[:12]), code="bonus_sent", status=409)
    value = _call(lambda: to_money(amount))
    if value <= 0:
        raise ServiceError(MSG_BONUS_POSITIVE.format(amount=value), code="bad_amount")
    sent = _call(lambda: send_bonus(provider.client(), _ref(sub), value, reason))
    MarketplaceSubmission.objects.filter(pk=sub.pk).update(bonus_paid=value, bonus_reference=sent.token)
    return sent.cost.total


def block(provider, sub: MarketplaceSubmission, reason: str) -> None:
    require_same_environment(provider.study, sub.environment)
    _call(lambda: block_worker(provider.client(), WorkerRef(sub.worker_id, Environment.parse(sub.environment)), reason))
    MarketplaceSubmission.objects.filter(pk=sub.pk).update(blocked=True)


def close_hits(provider) -> list[str]:
    """Expire every HIT, then delete those MTurk allows (no longer live, all reviewed)."""
    messages = []
    tasks = list(published_tasks(provider.study).exclude(external_id="").exclude(
        status__in=[PublishedTask.Status.DELETED, PublishedTask.Status.MISSING]))
    if not tasks:
        return messages
    client = provider.client_or_refuse()
    for task in tasks:
        ref = HitRef(task.external_id, client.environment)
        try:
            expire_hit(client, ref)
            delete_hit(client, ref)
        except HITNotFoundError:
            status, message = PublishedTask.Status.MISSING, errors.HIT_GONE.format(hit_id=task.external_id, environment=task.environment)
        except NotReviewedError as exc:
            status, message = PublishedTask.Status.EXPIRED, exc.message
        except MTurkError as exc:
            status, message = task.status, mturk_message(exc)
        else:
            status, message = PublishedTask.Status.DELETED, ""
        PublishedTask.objects.filter(pk=task.pk).update(status=status, message=message[:500])
        if message:
            messages.append(message)
    return messages
