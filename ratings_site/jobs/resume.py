"""Resuming a failed or cancelled job: the same row is queued again and its task re-sent.

Resumable job kinds keep their progress (run folders with checkpoints, per-image rows), so the
task picks up where the job stopped; quick kinds (labels, exports) simply run again."""
from __future__ import annotations

from django.db import transaction

from ratings_site.core.errors import ServiceError

from .kinds import job_kind
from .models import Job
from .services import job_enqueue

RESUMABLE_STATES = (Job.Status.FAILED, Job.Status.CANCELLED)
RESUME_WRONG_STATE = "Only a failed or cancelled job can be resumed; job #{pk} is {status}."
RESUME_UNKNOWN_KIND = "Jobs of kind '{kind}' cannot be resumed from here."


def job_resume(*, job: Job) -> Job:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in RESUMABLE_STATES:
            raise ServiceError(RESUME_WRONG_STATE.format(pk=job.pk, status=job.status), code="wrong_state", status=409)
        if job_kind(job.kind) is None:
            raise ServiceError(RESUME_UNKNOWN_KIND.format(kind=job.kind), code="not_resumable", status=409)
        Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, cancel_requested=False, error="", finished_at=None,
                                             message="resumed: queued")
        job_enqueue(job=job)  # the one runner sends its kind's task after commit
    job.refresh_from_db()
    return job


def job_live(job: Job) -> dict:
    """What the job page refreshes while it is open."""
    job.refresh_from_db()
    latest = (job.result or {}).get("latest") or {}
    return {
        "id": job.pk, "status": job.status, "done": job.progress_done, "total": job.progress_total,
        "percent": round(job.percent, 1), "message": job.message, "error": job.error,
        "latest": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in sorted(latest.items())},
        "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None,
        "finished": job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED),
        "resumable": job.status in RESUMABLE_STATES,
    }
