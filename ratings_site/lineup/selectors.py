"""Reads about lineups that other apps need. Kept apart from services.py, which imports
studies.services: studies.services asks `lineups_unanswered` before a batch is submitted."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from ratings_site.studies.models import Assignment, Study

from .models import Lineup, LineupView, Vote


def view_deadline(study: Study, served_at: datetime) -> datetime:
    return served_at + timedelta(seconds=study.viewing_seconds + study.answer_grace_seconds)


def lineups_unanswered(*, assignment: Assignment, now: datetime | None = None) -> int:
    """Lineups still open to this assignment (unvoted and not past their window). Zero when
    the batch may be submitted. Used by studies.services.assignment_submit."""
    now = now or timezone.now()
    study = assignment.batch.study
    open_ = 0
    views = dict(LineupView.objects.filter(assignment=assignment).values_list("lineup_id", "served_at"))
    voted = set(Vote.objects.filter(assignment=assignment).values_list("lineup_id", flat=True))
    for lineup_id in Lineup.objects.filter(batch_id=assignment.batch_id).values_list("id", flat=True):
        if lineup_id in voted:
            continue
        served_at = views.get(lineup_id)
        if served_at is None or now <= view_deadline(study, served_at):
            open_ += 1
    return open_
