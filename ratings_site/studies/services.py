"""Writes for studies: launching, allocating batches to raters, serving items, ratings."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, FilteredRelation, Q
from django.utils import timezone

from ratings_site.crowd.models import Rater
from ratings_site.crowd.providers import provider_for
from ratings_site.core.errors import ServiceError
from ratings_site.jobs.services import task_send

from . import errors
from .inputs import BIGINT_MAX, id_in_range, whole_number_parse
from .models import Assignment, Batch, BatchItem, ItemView, Rating, Study, completion_code
from .next_item import NextItem, answer_deadline  # noqa: F401  (NextItem: callers import it from here)
from .sampling import study_sample_plan

OCCUPYING = (Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED)
ACTIVITY_RESOLUTION_SECONDS = 10


def _insert_once(model, **fields):
    """INSERT a row guarded by a unique constraint. In autocommit mode the statement is
    atomic by itself; inside a transaction a savepoint keeps a duplicate from breaking it."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return model.objects.create(**fields)
    return model.objects.create(**fields)


# --- Creating ------------------------------------------------------------------------

def study_create(*, name: str, sources=(), user=None, **fields) -> Study:
    """A draft study, validated (`full_clean`) before it is written, with its sources."""
    with transaction.atomic():
        study = Study(name=name, created_by=user, **fields)
        study.full_clean()
        study.save()
        study.sources.set(sources)
    return study


def study_save(*, study: Study, user=None) -> Study:
    """Save a study edited in the admin; the first save records who created it."""
    if not study.created_by_id and user is not None and user.is_authenticated:
        study.created_by = user
    study.full_clean()
    study.save()
    return study


# --- Launching -----------------------------------------------------------------------

def study_batches_build(*, study: Study) -> int:
    """Split the sampled images into the study's batches and mix gold items into each."""
    plan = study_sample_plan(study)
    if not plan.ok:
        raise ServiceError(" ".join(plan.problems), code="sample_short")
    if study.adaptive:
        from .adaptive import adaptive_batches_build

        return adaptive_batches_build(study=study, image_ids=plan.image_ids)
    golds = list(study.gold_items.all())
    batches = Batch.objects.bulk_create(Batch(study=study, index=i) for i in range(study.n_batches))
    items = []
    for batch in batches:
        members = [(image_id, None) for image_id in plan.image_ids[batch.index :: study.n_batches]]
        members += [(gold.image_id, gold) for gold in golds]
        random.Random(f"{study.seed}:{batch.index}").shuffle(members)
        items += [
            BatchItem(batch=batch, image_id=image_id, position=pos, gold=gold)
            for pos, (image_id, gold) in enumerate(members)
        ]
    BatchItem.objects.bulk_create(items, batch_size=2000)
    return len(batches)


PUBLISH_TASK = "ratings_site.studies.tasks.study_publish_task"


def study_launch(*, study: Study) -> Study:
    """Run the study; recruiting on its provider follows in a task. A broker that is down
    does not undo the launch: the marketplace sync resumes unfinished publishing."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if study.status not in (Study.Status.DRAFT, Study.Status.PAUSED):
            raise ServiceError(errors.LAUNCH_WRONG_STATE.format(status=study.status), code="wrong_state", status=409)
        provider = provider_for(study)
        problems = provider.check_launch()
        if problems:
            raise ServiceError(" ".join(problems), code="provider_refused")
        was_draft = study.status == Study.Status.DRAFT
        if study.adaptive and was_draft:
            study.adaptive_clean()  # the batches the budget buys, whatever the form said
            study.save(update_fields=["raters_per_batch", "n_batches"])
        if was_draft and not study.batches.exists():
            study_batches_build(study=study)
        study.status = Study.Status.RUNNING
        study.launched_at = study.launched_at or timezone.now()
        study.save(update_fields=["status", "launched_at"])
        if not was_draft:
            provider.resume()
        study_id = study.pk
        transaction.on_commit(lambda: task_send(PUBLISH_TASK, study_id))
    return study


def study_pause(*, study: Study) -> Study:
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if study.status != Study.Status.RUNNING:
            raise ServiceError(errors.PAUSE_WRONG_STATE.format(status=study.status), code="wrong_state", status=409)
        study.status = Study.Status.PAUSED
        study.save(update_fields=["status"])
        provider_for(study).pause()
    return study


def study_complete_if_filled(*, study: Study) -> bool:
    """Complete the study when every batch has its raters' *verified* submissions.

    Self-hosted work is verified on submit; marketplace work only once the marketplace's own
    records confirm it (marketplace sync), so forged claims can never complete a study."""
    needed = study.raters_per_batch
    if study.adaptive:
        from .adaptive import adaptive_finished

        unfilled = not adaptive_finished(study=study)
    else:
        counted = Q(assignments__status=Assignment.Status.SUBMITTED, assignments__verified=True)
        unfilled = (
            study.batches.annotate(done=Count("assignments", filter=counted))
            .filter(done__lt=needed)
            .exists()
        )
    if unfilled or study.status == Study.Status.COMPLETE:
        return False
    Study.objects.filter(pk=study.pk).update(status=Study.Status.COMPLETE, completed_at=timezone.now())
    if study.adaptive:
        provider_for(study).pause()  # stopped early by the rule: stop recruiting
    if hasattr(study, "lineup"):
        return True  # votes, not ratings: no naturalness labels to compute
    from ratings_site.labels.services import labels_job_start

    transaction.on_commit(lambda: labels_job_start(study_id=study.pk))
    return True


# --- Allocation ----------------------------------------------------------------------

def assignments_expire_stale(*, study: Study | None = None, now: datetime | None = None) -> int:
    """Free the slots of raters who went idle, so someone else can take the batch."""
    now = now or timezone.now()
    studies = [study] if study else Study.objects.filter(status__in=[Study.Status.RUNNING, Study.Status.PAUSED])
    freed = 0
    for s in studies:
        cutoff = now - timedelta(minutes=s.slot_timeout_minutes)
        freed += Assignment.objects.filter(
            batch__study=s, status=Assignment.Status.ACTIVE, last_activity_at__lt=cutoff
        ).update(status=Assignment.Status.ABANDONED)
    return freed


def slot_holders(*, now: datetime, prefix: str = "") -> Q:
    """Which assignments hold a batch slot.

    An active rater holds it until idle (assignments_expire_stale); verified work holds it for
    good. Submitted work not yet verified is a claim (a marketplace id anyone can type into a
    URL): it holds the slot as a reservation that expires CLAIM_RESERVATION_MINUTES after
    submission, even if no sync ever runs; the marketplace sync confirms it or discards it."""
    reserved_since = now - timedelta(minutes=settings.MARKETPLACE_CLAIM_RESERVATION_MINUTES)
    return Q(**{f"{prefix}status": Assignment.Status.ACTIVE}) | Q(
        **{f"{prefix}status": Assignment.Status.SUBMITTED}
    ) & (Q(**{f"{prefix}verified": True}) | Q(**{f"{prefix}submitted_at__gte": reserved_since}))


def _adaptive_allocation_check(*, study: Study, rater: Rater) -> None:
    """Adaptive: refresh the priors and refuse a rater who could rate nothing; a study whose
    every image meets the stopping rule completes here (committed before the refusal)."""
    from .adaptive import adaptive_allocation_check

    refused = None
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        busy = Assignment.objects.filter(batch__study=study, rater=rater, status=Assignment.Status.ACTIVE).exists()
        if busy or study.status != Study.Status.RUNNING:
            return
        assignments_expire_stale(study=study)
        try:
            adaptive_allocation_check(study=study, rater=rater)
        except ServiceError as exc:
            refused = exc
            study_complete_if_filled(study=study)
    if refused is not None:
        raise refused


def assignment_allocate(
    *, study: Study, rater: Rater, batch: Batch | None = None, external_assignment_id: str = "", submit_to: str = ""
) -> Assignment:
    """Give a rater a batch that still needs raters and that they have not had before.

    `batch` pins the choice (a marketplace task that stands for one batch, e.g. a HIT)."""
    if study.adaptive:
        _adaptive_allocation_check(study=study, rater=rater)
    with transaction.atomic():
        # One allocation at a time per study, so two raters never take the last slot together.
        study = Study.objects.select_for_update().get(pk=study.pk)
        current = (
            Assignment.objects.filter(batch__study=study, rater=rater, status=Assignment.Status.ACTIVE)
            .select_related("batch")
            .first()
        )
        if current:
            return current
        if study.status != Study.Status.RUNNING:
            raise ServiceError(errors.STUDY_NOT_RUNNING.format(status=study.status), code="not_running", status=409)
        assignments_expire_stale(study=study)
        candidates = Batch.objects.filter(study=study)
        if batch is not None:
            candidates = candidates.filter(pk=batch.pk)
        batch = (
            candidates
            .exclude(assignments__rater=rater)
            .annotate(taken=Count("assignments", filter=slot_holders(now=timezone.now(), prefix="assignments__")))
            .filter(taken__lt=study.raters_per_batch)
            .order_by("-taken", "index")  # fill batches one after another: labels arrive sooner
            .first()
        )
        if batch is None:
            raise ServiceError(errors.NO_BATCH_AVAILABLE, code="no_batch", status=409)
        return Assignment.objects.create(
            batch=batch, rater=rater, external_assignment_id=external_assignment_id, external_submit_to=submit_to
        )


def assignment_consent(*, assignment: Assignment, now: datetime | None = None) -> Assignment:
    """Record that the rater accepted the study's consent statement (the first time only)."""
    Assignment.objects.filter(pk=assignment.pk, consented_at__isnull=True).update(consented_at=now or timezone.now())
    assignment.refresh_from_db(fields=["consented_at"])
    return assignment


def assignment_check_consented(assignment: Assignment) -> None:
    if assignment.consented_at is None:
        raise ServiceError(errors.CONSENT_REQUIRED, code="consent_required", status=403)


# --- Serving items and taking ratings ------------------------------------------------

def assignment_access(*, token: str) -> Assignment:
    try:
        # get(), not first(): no ORDER BY; the token is unique.
        return Assignment.objects.select_related("batch__study").get(token=token)
    except Assignment.DoesNotExist:
        raise ServiceError(errors.UNKNOWN_ASSIGNMENT, code="unknown_assignment", status=404)


def assignment_check_open(assignment: Assignment) -> None:
    status = assignment.status
    if status == Assignment.Status.ACTIVE:
        return
    if status == Assignment.Status.SUBMITTED:
        raise ServiceError(errors.ASSIGNMENT_FINISHED, code="finished", status=409)
    if status == Assignment.Status.ABANDONED:
        minutes = assignment.batch.study.slot_timeout_minutes
        raise ServiceError(errors.ASSIGNMENT_ABANDONED.format(minutes=minutes), code="abandoned", status=410)
    raise ServiceError(errors.ASSIGNMENT_CLOSED.format(status=status), code="closed", status=409)


_deadline = answer_deadline


def item_next(*, assignment: Assignment, now: datetime | None = None) -> NextItem | None:
    """The item the rater should see now (showing it starts its window), or None when the
    batch is done. An item whose answer window closed unanswered is skipped."""
    assignment_check_open(assignment)
    if assignment.batch.study.adaptive:
        from .adaptive import adaptive_item_next

        return adaptive_item_next(assignment=assignment, now=now)
    now = now or timezone.now()
    study = assignment.batch.study
    # One read: the batch's items, left-joined to this assignment's ratings and views.
    rows = (
        BatchItem.objects.filter(batch_id=assignment.batch_id)
        .annotate(
            mine=FilteredRelation("ratings", condition=Q(ratings__assignment_id=assignment.pk)),
            seen=FilteredRelation("itemview", condition=Q(itemview__assignment_id=assignment.pk)),
        )
        .order_by("position")
        .values_list("id", "gold_id", "mine__id", "seen__served_at")
    )
    items, rated, served = [], set(), {}
    for item_id, gold_id, rating_id, served_at in rows:
        items.append((item_id, gold_id))
        if rating_id is not None:
            rated.add(item_id)
        if served_at is not None:
            served[item_id] = served_at
    for index, (item_id, gold_id) in enumerate(items):
        if item_id in rated:
            continue
        served_at = served.get(item_id)
        if served_at is not None and now > _deadline(study, served_at):
            continue  # missed: the label will show fewer ratings for this image
        if served_at is None:
            try:
                served_at = _insert_once(ItemView, assignment=assignment, item_id=item_id, served_at=now).served_at
            except IntegrityError:  # a parallel request served it a moment ago
                served_at = ItemView.objects.get(assignment=assignment, item_id=item_id).served_at
        elapsed = (now - served_at).total_seconds()
        return NextItem(
            item=BatchItem(pk=item_id, batch_id=assignment.batch_id, position=index, gold_id=gold_id),
            served_at=served_at,
            position=index + 1,
            total=len(items),
            view_seconds_left=max(study.viewing_seconds - elapsed, 0.0),
            answer_seconds_left=max(study.viewing_seconds + study.answer_grace_seconds - elapsed, 0.0),
        )
    return None


def score_parse(raw) -> int:
    """A score from 0 to 10, in ASCII digits only (see inputs.py for why)."""
    score = whole_number_parse(raw)
    if score is None:
        raise ServiceError(errors.SCORE_NOT_INTEGER, code="not_integer")
    if not 0 <= score <= 10:
        raise ServiceError(errors.SCORE_OUT_OF_RANGE.format(score=score), code="out_of_range")
    return score


def item_id_parse(raw) -> int:
    """An item id as a whole number in the database's range, or a 400 that says so."""
    item_id = whole_number_parse(raw)
    if item_id is None:
        raise ServiceError(errors.ITEM_NOT_INTEGER, code="item_not_integer")
    if not id_in_range(item_id):
        raise ServiceError(errors.ITEM_OUT_OF_RANGE.format(maximum=BIGINT_MAX), code="item_out_of_range")
    return item_id


def rating_submit(*, assignment: Assignment, item_id, score, now: datetime | None = None) -> tuple[Rating, bool]:
    """Store one rating. Returns (rating, created); resubmitting the same score is a no-op."""
    score = score_parse(score)
    assignment_check_open(assignment)
    now = now or timezone.now()
    item_id = item_id_parse(item_id)
    view = ItemView.objects.filter(assignment=assignment, item_id=item_id).only("served_at").first()
    if view is None:
        if not BatchItem.objects.filter(pk=item_id, batch_id=assignment.batch_id).exists():
            raise ServiceError(errors.ITEM_NOT_IN_BATCH, code="not_in_batch")
        raise ServiceError(errors.ITEM_NOT_SERVED, code="not_served", status=409)
    study = assignment.batch.study
    deadline = _deadline(study, view.served_at)
    response_ms = int((now - view.served_at).total_seconds() * 1000)
    if now > deadline:
        existing = Rating.objects.filter(assignment=assignment, item_id=item_id).first()
        if existing is None:
            late = (now - deadline).total_seconds()
            raise ServiceError(errors.WINDOW_CLOSED.format(seconds=late), code="window_closed", status=409)
        if existing.score != score:
            raise ServiceError(errors.ALREADY_RATED.format(score=existing.score), code="already_rated", status=409)
        return existing, False
    try:
        rating = _insert_once(Rating, assignment=assignment, item_id=item_id, score=score, response_ms=max(response_ms, 0))
    except IntegrityError:
        existing = Rating.objects.get(assignment=assignment, item_id=item_id)
        if existing.score != score:
            raise ServiceError(errors.ALREADY_RATED.format(score=existing.score), code="already_rated", status=409)
        return existing, False
    if (now - assignment.last_activity_at).total_seconds() > ACTIVITY_RESOLUTION_SECONDS:
        # Idle detection works in minutes: one write every few seconds is plenty.
        Assignment.objects.filter(pk=assignment.pk).update(last_activity_at=now)
    return rating, True


def assignment_submit(*, assignment: Assignment, now: datetime | None = None) -> Assignment:
    """Close a batch once every item is answered or its window has passed."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = Assignment.objects.select_for_update().select_related("batch__study").get(pk=assignment.pk)
        if assignment.status == Assignment.Status.SUBMITTED:
            return assignment
        assignment_check_open(assignment)
        pending = item_next(assignment=assignment, now=now)
        if pending is not None:
            missing = pending.total - Rating.objects.filter(assignment=assignment).count()
            raise ServiceError(errors.NOT_FINISHED.format(missing=missing), code="not_finished", status=409)
        if hasattr(assignment.batch.study, "lineup"):  # a lineup study: its lineups, not items, must be done
            from ratings_site.lineup.selectors import lineups_unanswered

            missing = lineups_unanswered(assignment=assignment, now=now)
            if missing:
                raise ServiceError(errors.NOT_FINISHED.format(missing=missing), code="not_finished", status=409)
        provider = provider_for(assignment.batch.study)
        assignment.status = Assignment.Status.SUBMITTED
        assignment.submitted_at = now
        assignment.completion_code = completion_code()
        assignment.verified = provider.verifies_on_submit
        assignment.save(update_fields=["status", "submitted_at", "completion_code", "verified"])
        provider.on_submitted(assignment)
        study_complete_if_filled(study=assignment.batch.study)
    return assignment
