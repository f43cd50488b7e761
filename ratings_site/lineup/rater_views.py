"""The pages a lineup rater sees: instructions with real examples of the targets, one
lineup at a time (its images only inside the viewing window), and the end page.

Raters arrive through the studies' entry points (invitation, MTurk, Prolific), which all
end on /rate/<token>/; that page sends lineup studies here.
"""
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from ratings_site.core.errors import ServiceError
from ratings_site.media import stored_file_response
from ratings_site.studies.models import Assignment
from ratings_site.studies.selectors import image_window_open, study_for_token
from ratings_site.studies.services import assignment_access, assignment_check_open

from .models import Candidate, Lineup, LineupStudy, LineupView, TargetExample, Vote
from .services import lineup_assignment_submit, lineup_next, vote_submit

SESSION_SEEN = "lineup_instructions_seen"
REFERENCE = "ref"


def _error(request, exc: ServiceError):
    return render(request, "rating/message.html", {"message": exc.message, "code": exc.code}, status=exc.status)


def instructions_context(lineup_study: LineupStudy, *, token: str) -> dict:
    examples = list(lineup_study.examples.all())
    for e in examples:
        e.url = reverse("lineup:example", args=[token, e.pk])
    return {
        "study": lineup_study.study, "lineup_study": lineup_study, "candidates": len(lineup_study.model_names),
        "expressions": [e for e in examples if e.kind == TargetExample.Kind.EXPRESSION],
        "lightings": [e for e in examples if e.kind == TargetExample.Kind.LIGHTING],
        "token": token,
    }


def instructions_page(request, lineup_study: LineupStudy, *, token: str, invitation: bool = False):
    """Shown before the first lineup; also the invitation page of a lineup study."""
    seen = dict(request.session.get(SESSION_SEEN, {}))
    seen[str(lineup_study.pk)] = True
    request.session[SESSION_SEEN] = seen
    return render(request, "lineup/instructions.html",
                  {**instructions_context(lineup_study, token=token), "invitation": invitation})


@require_http_methods(["GET", "POST"])
def vote_page(request, token: str):
    try:
        assignment = assignment_access(token=token)
    except ServiceError as exc:
        return _error(request, exc)
    study = assignment.batch.study
    lineup_study = get_object_or_404(LineupStudy, pk=study.pk)
    if assignment.status == Assignment.Status.SUBMITTED:
        return HttpResponseRedirect(reverse("lineup:done", args=[token]))
    error, status = None, 200
    if request.method == "POST":
        try:
            vote_submit(assignment=assignment, lineup_id=request.POST.get("lineup"), slot=request.POST.get("choice"))
            return HttpResponseRedirect(request.path)  # post/redirect/get: a reload never votes again
        except ServiceError as exc:
            if exc.code in ("finished", "abandoned", "closed"):
                return _error(request, exc)
            error, status = exc.message, exc.status
    started = (request.GET.get("start") or request.session.get(SESSION_SEEN, {}).get(str(study.pk))
               or LineupView.objects.filter(assignment=assignment).exists())
    if not started and request.method == "GET":
        try:
            assignment_check_open(assignment)
        except ServiceError as exc:
            return _error(request, exc)
        return instructions_page(request, lineup_study, token=token)
    try:
        nxt = lineup_next(assignment=assignment)
        if nxt is None:
            lineup_assignment_submit(assignment=assignment)
            return HttpResponseRedirect(reverse("lineup:done", args=[token]))
    except ServiceError as exc:
        if exc.code == "finished":
            return HttpResponseRedirect(reverse("lineup:done", args=[token]))
        return _error(request, exc)
    slots = [{"slot": i, "url": reverse("lineup:image", args=[token, nxt.lineup.pk, i])} for i in range(len(nxt.order))]
    context = {
        "study": study, "lineup_study": lineup_study, "next": nxt, "lineup": nxt.lineup, "slots": slots,
        "reference_url": reverse("lineup:image", args=[token, nxt.lineup.pk, REFERENCE]),
        "examples": {(e.kind, e.value): reverse("lineup:example", args=[token, e.pk]) for e in lineup_study.examples.all()},
        "percent": int(100 * (nxt.position - 1) / nxt.total), "error": error,
    }
    context["expression_example"] = context["examples"].get(("expression", nxt.lineup.target_expression))
    context["lighting_example"] = context["examples"].get(("lighting", nxt.lineup.target_lighting))
    return render(request, "lineup/vote.html", context, status=status)


@require_GET
def lineup_image(request, token: str, lineup_id: int, slot: str):
    """A lineup's images, only to the assignment it was shown to and only inside its viewing
    window. The URL names a screen slot, never a candidate: the address says nothing of the model."""
    try:
        assignment = assignment_access(token=token)
        assignment_check_open(assignment)
    except ServiceError as exc:
        return _error(request, exc)
    view = LineupView.objects.filter(assignment=assignment, lineup_id=lineup_id).select_related("lineup").first()
    if view is None:
        return _error(request, ServiceError("That lineup is not being shown to you.", code="not_served", status=403))
    if not image_window_open(study=assignment.batch.study, served_at=view.served_at):
        return _error(request, ServiceError("The viewing time for this lineup is over.", code="view_over", status=403))
    if slot == REFERENCE:
        return stored_file_response(view.lineup.reference.name)
    if not slot.isdigit() or int(slot) >= len(view.order):
        return _error(request, ServiceError("No such image in this lineup.", code="bad_choice", status=404))
    candidate = Candidate.objects.get(pk=view.order[int(slot)])
    return stored_file_response(candidate.image.name)


@require_GET
def example_image(request, token: str, example_id: int):
    """The real target examples: shown to anyone holding the study's invitation or one of
    its assignments, at any time (they are not what is being judged)."""
    study = study_for_token(token)
    example = TargetExample.objects.filter(pk=example_id, lineup_study_id=study.pk).first() if study else None
    if example is None:
        return _error(request, ServiceError("No such example.", code="unknown_example", status=404))
    return stored_file_response(example.image.name)


def done_page(request, token: str):
    try:
        assignment = assignment_access(token=token)
    except ServiceError as exc:
        return _error(request, exc)
    if assignment.status != Assignment.Status.SUBMITTED:
        return HttpResponseRedirect(reverse("lineup:vote", args=[token]))
    rated = Vote.objects.filter(assignment=assignment).count()
    total = Lineup.objects.filter(batch_id=assignment.batch_id).count()
    return render(request, "rating/done.html", {"assignment": assignment, "rated": rated, "total": total})
