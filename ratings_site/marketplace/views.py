"""Where marketplace workers arrive: MTurk's ExternalQuestion page and Prolific's study link.

Both end on the platform's own rating page (/rate/<token>/). What the URL says about the
worker is a claim; it is recorded under the marketplace's key and counts only after a sync
confirms it from the marketplace's records.
"""
from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from mturk.errors import InvalidRequestError
from mturk.questions import parse_worker_params
from ratings_site.crowd.services import rater_get_or_create
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment, Study
from ratings_site.studies.selectors import study_task_summary
from ratings_site.studies.services import assignment_access, assignment_allocate

from . import errors
from .models import PublishedTask
from .submissions import submission_for_key, submission_record
from .submit_hosts import submit_target

PROLIFIC_COMPLETION_URL = "https://app.prolific.com/submissions/complete"
MSG_OTHER_BATCH = "You still have an unfinished batch of this study: finish it (or return its task) first."


def _message(request, message: str, status: int, code: str = "marketplace"):
    return render(request, "rating/message.html", {"message": message, "code": code}, status=status)


def _study(study_id: int, provider: str) -> Study | None:
    return Study.objects.filter(pk=study_id, provider=provider).first()


def _task(study: Study, provider: str, external_id: str) -> PublishedTask | None:
    return (
        PublishedTask.objects.select_related("batch")
        .filter(study=study, provider=provider, environment=study.provider_environment, external_id=external_id)
        .exclude(external_id="")
        .first()
    )


def _continue(request, assignment: Assignment):
    """Send the worker to the rating page; inside MTurk's frame, offer it in a new tab
    (first-party cookies and no frame restrictions there)."""
    if assignment.status == Assignment.Status.SUBMITTED:
        return HttpResponseRedirect(reverse("rating:done", args=[assignment.token]))
    url = reverse("rating:rate", args=[assignment.token])
    if request.headers.get("Sec-Fetch-Dest") == "iframe":
        return render(request, "marketplace/mturk_start.html", {"study": assignment.batch.study, "rate_url": url})
    return HttpResponseRedirect(url)


@xframe_options_exempt
@require_GET
def mturk_entry(request, study_id: int):
    study = _study(study_id, "mturk")
    if study is None:
        return _message(request, errors.NOT_A_MARKETPLACE_STUDY.format(provider="MTurk"), 404)
    try:
        visit = parse_worker_params(request.GET)
    except InvalidRequestError as exc:
        return _message(request, exc.message, 400, "missing_parameters")
    task = _task(study, "mturk", visit.hit_id)
    if task is None or task.batch is None:
        return _message(request, errors.UNKNOWN_TASK, 404, "unknown_task")
    if visit.is_preview:
        if hasattr(study, "lineup"):  # a lineup study previews its own task
            return render(request, "lineup/mturk_preview.html", {"study": study, "lineup_study": study.lineup})
        return render(request, "marketplace/mturk_preview.html",
                      {"study": study, "scores": range(0, 11), "summary": study_task_summary(study)})
    try:
        environment, submit_url = submit_target(visit.turk_submit_to or "")
    except InvalidRequestError:
        return _message(request, errors.BAD_SUBMIT_HOST, 400, "bad_submit_host")
    if environment != study.provider_environment:
        return _message(request, errors.WRONG_ENVIRONMENT.format(expected=study.provider_environment, got=environment), 400)
    with transaction.atomic():  # the slot, the assignment id and the claim are written together, or not at all
        existing = submission_for_key(
            provider="mturk", environment=environment, external_assignment_id=visit.assignment_id, worker_id=visit.worker_id
        )
        if existing is not None and existing.assignment.status in (Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED):
            return _continue(request, existing.assignment)  # a reload, or a replayed link: the same work
        rater = rater_get_or_create(provider="mturk", environment=environment, external_id=visit.worker_id)
        try:
            assignment = assignment_allocate(
                study=study, rater=rater, batch=task.batch, external_assignment_id=visit.assignment_id, submit_to=submit_url
            )
        except ServiceError as exc:
            return _message(request, exc.message, exc.status, exc.code)
        if assignment.batch_id != task.batch_id:
            return _message(request, MSG_OTHER_BATCH, 409, "other_batch")
        if (assignment.external_assignment_id, assignment.external_submit_to) != (visit.assignment_id, submit_url):
            # Returned and accepted again: MTurk gave a new assignment id for the same slot.
            Assignment.objects.filter(pk=assignment.pk).update(external_assignment_id=visit.assignment_id, external_submit_to=submit_url)
        submission_record(task=task, assignment=assignment, external_assignment_id=visit.assignment_id, worker_id=visit.worker_id)
        return _continue(request, assignment)


@require_GET
def prolific_entry(request, study_id: int):
    study = _study(study_id, "prolific")
    if study is None:
        return _message(request, errors.NOT_A_MARKETPLACE_STUDY.format(provider="Prolific"), 404)
    values = {k: request.GET.get(k, "").strip() for k in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")}
    for name, value in values.items():
        if not value:
            return _message(request, errors.MISSING_PARAMETERS.format(name=name), 400, "missing_parameters")
    task = _task(study, "prolific", values["STUDY_ID"])
    if task is None:
        return _message(request, errors.UNKNOWN_TASK, 404, "unknown_task")
    environment = study.provider_environment
    with transaction.atomic():  # the slot, the relay and the claim are written together, or not at all
        existing = submission_for_key(
            provider="prolific", environment=environment, external_assignment_id=values["SESSION_ID"], worker_id=values["PROLIFIC_PID"]
        )
        if existing is not None and existing.assignment.status in (Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED):
            return _continue(request, existing.assignment)
        rater = rater_get_or_create(provider="prolific", environment=environment, external_id=values["PROLIFIC_PID"])
        try:
            assignment = assignment_allocate(study=study, rater=rater, external_assignment_id=values["SESSION_ID"])
        except ServiceError as exc:
            return _message(request, exc.message, exc.status, exc.code)
        relay = request.build_absolute_uri(reverse("marketplace:prolific_complete", args=[assignment.token]))
        Assignment.objects.filter(pk=assignment.pk).update(external_assignment_id=values["SESSION_ID"], external_submit_to=relay)
        submission_record(task=task, assignment=assignment, external_assignment_id=values["SESSION_ID"], worker_id=values["PROLIFIC_PID"])
        return HttpResponseRedirect(reverse("rating:rate", args=[assignment.token]))


@csrf_exempt  # the done page's plain form; this view only redirects, it changes nothing
@require_http_methods(["GET", "POST"])
def prolific_complete(request, token: str):
    """Send a participant who finished back to Prolific with the study's completion code."""
    try:
        assignment = assignment_access(token=token)
    except ServiceError as exc:
        return _message(request, exc.message, exc.status, exc.code)
    if assignment.status != Assignment.Status.SUBMITTED:
        return HttpResponseRedirect(reverse("rating:rate", args=[assignment.token]))
    base = getattr(settings, "MARKETPLACE_PROLIFIC_COMPLETION_URL", PROLIFIC_COMPLETION_URL)
    return HttpResponseRedirect(f"{base}?cc={assignment.completion_code}")
