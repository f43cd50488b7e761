"""Job bookkeeping shared by every kind of background work: the rows the runner
(`runner.py`) and the sweep (`sweep.py`) write."""
from __future__ import annotations

import logging
import socket
import time
import traceback
from typing import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import KombuError

from .kinds import job_kind, tasks_modules_load
from .models import Job

logger = logging.getLogger(__name__)

BROKER_UNREACHABLE = (
    "Queued, but the task queue could not be reached ({error}); the job is sent automatically "
    "as soon as it is back. Nothing was lost."
)


def job_create(*, kind: str, study=None, params: dict | None = None, user=None) -> Job:
    return Job.objects.create(kind=kind, study=study, params=params or {}, created_by=user)


def job_queue(*, kind: str, study=None, params: dict | None = None, user=None, after_job: Job | None = None) -> Job:
    """Create a job of `kind` and send it once the row is committed; with `after_job`, it
    waits until that job ends (the runner releases it)."""
    if job_kind(kind) is None:
        raise ValueError(f"no job kind {kind!r} is declared")
    params = dict(params or {})
    if after_job is not None:
        params["after_job"] = after_job.pk
        return job_create(kind=kind, study=study, params=params, user=user)
    return job_enqueue(job=job_create(kind=kind, study=study, params=params, user=user))


def job_enqueue(*, job: Job, task=None) -> Job:
    """Mark the job asked-to-run and send its task once the row is committed, so the worker
    always finds it. A broker that is down does not fail the caller: the job stays queued
    with a message saying so, and the sweep sends it later. (`task` is read from the job's
    kind; the argument remains for callers that still pass it.)"""
    job.queued_at = timezone.now()
    Job.objects.filter(pk=job.pk).update(queued_at=job.queued_at)
    job_id = job.pk
    transaction.on_commit(lambda: job_send(job_id=job_id, task=task))
    if not transaction.get_connection().in_atomic_block:  # sent already: show the caller how it went
        job.refresh_from_db()
    return job


def job_send(*, job_id: int, task=None) -> bool:
    """Hand the job's task message to the broker; False (and the job says why) when the
    broker is unreachable."""
    kind = job_kind(Job.objects.values_list("kind", flat=True).get(pk=job_id))
    task = kind.task if kind is not None else task
    if task is None:
        raise ValueError(f"job #{job_id}: no task is declared for its kind")
    # Recorded before sending: an eager (test) run finishes inside apply_async.
    Job.objects.filter(pk=job_id).update(sent_at=timezone.now(), sends=F("sends") + 1)
    if task.app.conf.task_always_eager:
        task.apply_async(args=[job_id])
        return True
    try:
        task.apply_async(args=[job_id])
    except (KombuError, OSError) as exc:
        logger.warning("job #%s not sent, the broker is unreachable: %s", job_id, exc)
        Job.objects.filter(pk=job_id).update(
            sent_at=None, sends=F("sends") - 1, message=BROKER_UNREACHABLE.format(error=type(exc).__name__)[:500]
        )
        return False
    Job.objects.filter(pk=job_id, message__startswith=BROKER_UNREACHABLE[:20]).update(message="")
    return True


def task_send(name: str, *args) -> bool:
    """Send the Celery task `name` (looked up by name, so a service need not import the
    tasks module that imports it back); False when the broker is unreachable."""
    from celery import current_app

    tasks_modules_load()
    task = current_app.tasks[name]
    try:
        task.apply_async(args=args)
    except (KombuError, OSError) as exc:
        if task.app.conf.task_always_eager:
            raise
        logger.warning("task %s%s not sent, the broker is unreachable: %s", name, args, exc)
        return False
    return True


def job_waiting_for_broker(job: Job) -> bool:
    job.refresh_from_db(fields=["status", "sent_at", "queued_at", "message"])
    return job.status == Job.Status.QUEUED and job.queued_at is not None and job.sent_at is None


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
