"""Job bookkeeping shared by every kind of background work."""
from __future__ import annotations

import socket
import time
import traceback
from datetime import timedelta
from typing import Callable

from django.conf import settings

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import Job


def job_create(*, kind: str, study=None, params: dict | None = None, user=None) -> Job:
    return Job.objects.create(kind=kind, study=study, params=params or {}, created_by=user)


def job_enqueue(*, job: Job, task) -> Job:
    """Send the task only once the job row is committed, so the worker always finds it."""
    job_id = job.pk
    transaction.on_commit(lambda: task.delay(job_id))
    return job


def job_start(*, job_id: int, worker: str | None = None) -> Job:
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.RUNNING, worker=worker or socket.gethostname(), error="", heartbeat_at=now, attempts=F("attempts") + 1
    )
    Job.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    return Job.objects.get(pk=job_id)


def job_progress(*, job_id: int, done: int, total: int, message: str = "", result: dict | None = None) -> None:
    fields = {"progress_done": done, "progress_total": total, "message": message[:500], "heartbeat_at": timezone.now()}
    if result is not None:
        fields["result"] = result
    Job.objects.filter(pk=job_id).update(**fields)


def job_cancel_requested(*, job_id: int) -> bool:
    return Job.objects.filter(pk=job_id, cancel_requested=True).exists()


def job_cancel_checker(*, job_id: int, every_seconds: float | None = None,
                       clock: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
    """A should_stop() for loops that call it every iteration (training): it asks the database
    at most once per `every_seconds` (settings.JOB_CANCEL_CHECK_SECONDS, default 5 s) and
    answers from the last look in between. The first call always asks; a cancel, once seen,
    stays seen."""
    interval = float(getattr(settings, "JOB_CANCEL_CHECK_SECONDS", 5.0) if every_seconds is None else every_seconds)
    state = {"asked_at": None, "cancelled": False}

    def should_stop() -> bool:
        now = clock()
        if not state["cancelled"] and (state["asked_at"] is None or now - state["asked_at"] >= interval):
            state["asked_at"] = now
            state["cancelled"] = job_cancel_requested(job_id=job_id)
        return state["cancelled"]

    return should_stop


def job_mark_cancelled(*, job_id: int, message: str = "cancelled") -> None:
    Job.objects.filter(pk=job_id).update(status=Job.Status.CANCELLED, finished_at=timezone.now(), message=message[:500])


def jobs_stale(*, kinds, stale_after: timedelta) -> list[Job]:
    """Running jobs whose worker went silent (killed, lost): candidates to resume."""
    cutoff = timezone.now() - stale_after
    return list(Job.objects.filter(kind__in=kinds, status=Job.Status.RUNNING, heartbeat_at__lt=cutoff))


def job_succeed(*, job_id: int, result: dict | None = None, message: str = "done") -> None:
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.SUCCEEDED, result=result or {}, finished_at=timezone.now(), message=message[:500]
    )


def job_fail(*, job_id: int, exc: BaseException) -> None:
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.FAILED,
        error=f"{type(exc).__name__}: {exc}",
        log_tail="".join(traceback.format_exception(exc))[-4000:],
        finished_at=timezone.now(),
    )


def job_cancel(*, job: Job) -> Job:
    if job.status in (Job.Status.QUEUED,):
        Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now())
    elif job.status == Job.Status.RUNNING:
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.refresh_from_db()
    return job
