"""Periodic marketplace work (Celery beat): resume unfinished publishing, then sync.

Beat entry (settings.CELERY_BEAT_SCHEDULE):
    "marketplace-sync": {"task": "ratings_site.marketplace.tasks.marketplace_sync_task", "schedule": 300.0}
"""
import logging

from celery import shared_task

from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Study

from .services import MARKETPLACES, publish_resume, publishing_unfinished, submissions_sync

log = logging.getLogger(__name__)
SYNCED_STATUSES = (Study.Status.RUNNING, Study.Status.PAUSED, Study.Status.COMPLETE)


@shared_task(acks_late=True)
def marketplace_sync_task(study_id: int | None = None) -> dict:
    studies = Study.objects.filter(provider__in=MARKETPLACES, status__in=SYNCED_STATUSES)
    if study_id is not None:
        studies = studies.filter(pk=study_id)
    summary = {}
    for study in studies:
        try:
            if study.status == Study.Status.RUNNING and publishing_unfinished(study):
                publish_resume(study=study)
            report = submissions_sync(study=study)
        except ServiceError as exc:
            log.warning("marketplace sync of study %s: %s", study.pk, exc.message)
            summary[study.pk] = {"error": exc.message}
            continue
        summary[study.pk] = {"confirmed": report.confirmed, "rejected": report.rejected, "held": report.held,
                             "freed": report.freed, "messages": report.messages}
    return summary
