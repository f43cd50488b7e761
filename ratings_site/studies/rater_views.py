"""The pages raters see: the invitation's instructions and consent, the rating page, the end page.

Server-rendered HTML with plain forms, so it works without a build step (and without
JavaScript); a small script adds keyboard keys and the countdowns.
"""
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ratings_site.crowd.browser_keys import browser_cookie_set, browser_id_new, browser_id_read, browser_key, network_key
from ratings_site.crowd.services import invitation_access, invitation_rater_known, invitation_redeem
from ratings_site.crowd.models import Rater
from ratings_site.media import media_headers_set

from ratings_site.core.errors import ServiceError

from . import errors
from .models import Assignment, BatchItem, ItemView, Rating, Study
from .selectors import study_is_full, study_task_summary
from .services import (
    assignment_access,
    assignment_allocate,
    assignment_check_open,
    assignment_consent,
    assignment_submit,
    item_next,
    rating_submit,
)

SESSION_RATERS = "raters_by_study"
VIEW_SLACK_SECONDS = 5  # network delay between serving the page and fetching the image


def _error(request, exc: ServiceError, template="rating/message.html", **context):
    return render(request, template, {"message": exc.message, "code": exc.code, **context}, status=exc.status)


def _full(request, study: Study):
    return render(request, "rating/full.html", {"study": study, "message": errors.STUDY_FULL, "code": "study_full"}, status=409)


def _instructions(request, study: Study, *, token: str, error: str | None = None, status: int = 200):
    """The instructions, examples, pay, time and consent: what a rater reads before the first image."""
    context = {"study": study, "summary": study_task_summary(study), "example_token": token, "error": error}
    return render(request, "rating/instructions.html", context, status=status)


def _consented(request) -> bool:
    return request.POST.get("consent") == "yes"


def _session_rater(request, study_id: int) -> Rater | None:
    rater_id = request.session.get(SESSION_RATERS, {}).get(str(study_id))
    return Rater.objects.filter(pk=rater_id).first() if rater_id else None


def _remember_rater(request, study_id: int, rater: Rater) -> None:
    known = dict(request.session.get(SESSION_RATERS, {}))
    known[str(study_id)] = rater.pk
    request.session[SESSION_RATERS] = known


@require_http_methods(["GET", "POST"])
def invitation_page(request, token: str):
    try:
        invitation = invitation_access(token=token)
    except ServiceError as exc:
        return _error(request, exc)
    study = invitation.study
    rater = _session_rater(request, study.pk)
    if rater is None and study.status == Study.Status.RUNNING and study_is_full(study):
        return _full(request, study)
    if request.method == "GET":
        if hasattr(study, "lineup"):  # a lineup study: its own instructions, with real examples of the targets
            from ratings_site.lineup.rater_views import instructions_page

            return instructions_page(request, study.lineup, token=token, invitation=True)
        return _instructions(request, study, token=token)
    if not _consented(request) and not hasattr(study, "lineup"):
        return _instructions(request, study, token=token, error=errors.CONSENT_REQUIRED, status=400)
    # The signed browser cookie and (optionally) the network key recognise a person who comes
    # back through an open link with a fresh session: they get their earlier rater, so never a
    # second slot on the same batch. What this does and does not stop: crowd/browser_keys.py.
    browser_id = browser_id_read(request) or browser_id_new()
    keys = {"browser_key": browser_key(browser_id), "network_key": network_key(request)}
    try:
        rater = rater or invitation_rater_known(invitation=invitation, **keys)
        if rater is None:
            rater = invitation_redeem(invitation=invitation, **keys)
        _remember_rater(request, study.pk, rater)
        assignment = assignment_allocate(study=study, rater=rater)
    except ServiceError as exc:
        if exc.code in ("no_batch", "used_up") and study_is_full(study):
            response = _full(request, study)
        else:
            response = _error(request, exc)
    else:
        if _consented(request):
            assignment_consent(assignment=assignment)
        response = HttpResponseRedirect(reverse("rating:rate", args=[assignment.token]))
    browser_cookie_set(response, browser_id)
    return response


def example_image(request, token: str, kind: str):
    """The instructions' example faces, for whoever holds an invitation or assignment token."""
    study = Study.objects.filter(invitations__token=token).first() or Study.objects.filter(batches__assignments__token=token).first()
    image = getattr(study, f"example_{kind}", None) if study and kind in ("natural", "unnatural") else None
    if image is None:
        raise Http404("No such example.")
    return FileResponse(image.shown_file.open("rb"))


@require_http_methods(["GET", "POST"])
def rate_page(request, token: str):
    try:
        assignment = assignment_access(token=token)
    except ServiceError as exc:
        return _error(request, exc)
    if hasattr(assignment.batch.study, "lineup"):  # every provider lands here; lineups have their own page
        return HttpResponseRedirect(reverse("lineup:vote", args=[token]))
    error = None
    status = 200
    if assignment.consented_at is None and assignment.status == Assignment.Status.ACTIVE:
        # Marketplace workers arrive here directly: the consent comes before the first image.
        study = assignment.batch.study
        if request.method == "GET":
            return _instructions(request, study, token=token)
        if not _consented(request):
            return _instructions(request, study, token=token, error=errors.CONSENT_REQUIRED, status=400)
        assignment_consent(assignment=assignment)
        return HttpResponseRedirect(request.path)
    if request.method == "POST" and _consented(request) and "score" not in request.POST:
        return HttpResponseRedirect(request.path)  # consent given twice (a second tab): nothing to do
    if request.method == "POST":
        try:
            rating_submit(assignment=assignment, item_id=request.POST.get("item"), score=request.POST.get("score"))
            return HttpResponseRedirect(request.path)  # post/redirect/get: a reload never resubmits
        except ServiceError as exc:
            if exc.code in ("finished", "abandoned", "closed"):
                return _error(request, exc)
            error, status = exc.message, exc.status
    try:
        nxt = item_next(assignment=assignment)
        if nxt is None:
            assignment = assignment_submit(assignment=assignment)
            return HttpResponseRedirect(reverse("rating:done", args=[assignment.token]))
    except ServiceError as exc:
        if exc.code == "finished":
            return HttpResponseRedirect(reverse("rating:done", args=[assignment.token]))
        return _error(request, exc)
    study = assignment.batch.study
    notice = None
    missed = request.GET.get("missed", "")
    if missed.isdigit() and int(missed) != nxt.item.pk and not Rating.objects.filter(assignment=assignment, item_id=int(missed)).exists():
        notice = errors.MISSED_PREVIOUS  # the page's countdown ran out; the server skipped the image too
    context = {
        "assignment": assignment,
        "study": study,
        "next": nxt,
        "error": error,
        "notice": notice,
        "scores": range(0, 11),
        "image_url": reverse("rating:image", args=[assignment.token, nxt.item.pk]),
        "answered": nxt.position - 1,
        "percent": int(100 * (nxt.position - 1) / nxt.total),
    }
    return render(request, "rating/rate.html", context, status=status)


def rate_image(request, token: str, item_id: int):
    """Serve an item's image only inside its viewing window: the server, not the page,
    decides how long a face can be seen."""
    try:
        assignment = assignment_access(token=token)
        assignment_check_open(assignment)
    except ServiceError as exc:
        return _error(request, exc)
    view = ItemView.objects.filter(assignment=assignment, item_id=item_id).select_related("item__image").first()
    if view is None:
        return _error(request, ServiceError("That image is not being shown to you.", code="not_served", status=403))
    elapsed = (timezone.now() - view.served_at).total_seconds()
    if elapsed > assignment.batch.study.viewing_seconds + VIEW_SLACK_SECONDS:
        return _error(request, ServiceError("The viewing time for this image is over.", code="view_over", status=403))
    name = view.item.image.shown_file.name
    try:
        default_storage.path(name)
    except NotImplementedError:
        # Remote storage (S3): a short-lived signed URL, fetched by the browser over HTTPS.
        return HttpResponseRedirect(default_storage.url(name))
    response = media_headers_set(FileResponse(default_storage.open(name, "rb")))
    response["Cache-Control"] = "private, no-store"
    return response


def done_page(request, token: str):
    try:
        assignment = assignment_access(token=token)
    except ServiceError as exc:
        return _error(request, exc)
    if hasattr(assignment.batch.study, "lineup"):
        return HttpResponseRedirect(reverse("lineup:done", args=[token]))
    if assignment.status != Assignment.Status.SUBMITTED:
        return HttpResponseRedirect(reverse("rating:rate", args=[assignment.token]))
    rated = assignment.ratings.count()
    total = BatchItem.objects.filter(batch_id=assignment.batch_id).count()
    return render(request, "rating/done.html", {"assignment": assignment, "rated": rated, "total": total})
