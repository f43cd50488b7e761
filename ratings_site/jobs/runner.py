"""The one runner every kind of job goes through.

A job kind declares only its work (`job_task(kind, work, name=...)`); the runner owns the
rest, once:

- **claim**: a delivery runs the job only if it is queued, or running with a silent
  heartbeat (its worker died). The claim is one UPDATE, so two deliveries of the same
  message never both run it, and a finished job never runs twice.
- **late ack**: tasks are acknowledged after they return and rejected (re-queued) when the
  worker is lost, so a `kill -9` leaves the message with the broker.
- **heartbeat**: a thread refreshes `heartbeat_at` while the work runs, so a long step
  without progress reports still looks alive, and a dead worker looks dead within
  `JOB_HEARTBEAT_STALE_SECONDS`; the sweep (`sweep.py`) then re-sends the job.
- **progress, cancel, log tail**: `context.on_progress(...)`, `context.should_stop()`;
  a failure stores the error and the traceback's tail on the row.
- **resume**: the work skips what it already stored (or reads its run folder's newest
  checkpoint), so a re-sent job continues where the dead one stopped.
- **chains**: a job created with `after_job` waits (not queued) until that job ends; then its
  kind's `release` hook fills in what it needs from the parent, or the job fails with it.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

from celery import shared_task
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections
from django.db.models import F, Q
from django.utils import timezone

from ratings_site.core.errors import ServiceError

from .kinds import JobKind, job_kind, job_kind_register
from .models import Job
from .services import (
    job_cancel_checker,
    job_cancel_requested,
    job_create,
    job_enqueue,
    job_fail,
    job_mark_cancelled,
    job_progress,
    job_start,
    job_succeed,
)

logger = logging.getLogger(__name__)

FINISHED = (Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED)
PLOT_EVERY_SECONDS = 10.0
PARENT_ENDED = "{kind} job #{job} ended {status}: nothing to run after it."


class JobStopped(Exception):
    """Raised by a job's work between chunks when someone asked to cancel the job."""


def heartbeat_stale_after() -> timedelta:
    return timedelta(seconds=settings.JOB_HEARTBEAT_STALE_SECONDS)


def heartbeat_interval() -> float:
    # Several beats per stale window, so one slow UPDATE never makes a live job look dead.
    return max(0.2, min(float(settings.JOB_HEARTBEAT_SECONDS), settings.JOB_HEARTBEAT_STALE_SECONDS / 3))


def run_dir_for(job: Job) -> Path:
    return Path(settings.RUNS_ROOT) / job.kind / f"job-{job.pk}"


def run_dir_remove(job: Job) -> None:
    shutil.rmtree(run_dir_for(job), ignore_errors=True)


@dataclass
class JobContext:
    """What a job's work gets: its row, progress and cancel callbacks, a run folder."""

    job: Job
    on_progress: Callable[..., None]
    should_stop: Callable[[], bool]
    run_dir: Path | None = None

    def check_stop(self) -> None:
        if self.should_stop():
            raise JobStopped()


def job_task(kind: str, work: Callable[[JobContext], dict], *, name: str, stopped=(), **options):
    """Declare a job kind: `work(context) -> result dict` (key "message" becomes the job's
    message). Returns the Celery task that runs it; `name` keeps task names stable.
    `stopped`: exception types (or a function returning them, to import them lazily) that
    mean the work saw a cancel request."""

    def run(task, job_id: int) -> None:
        job_run(job_id=job_id, worker=task.request.hostname or "", beat=not task.request.is_eager)

    run.__name__ = run.__qualname__ = name.rsplit(".", 1)[-1]
    run.__doc__ = work.__doc__
    task = shared_task(name=name, bind=True, acks_late=True, reject_on_worker_lost=True)(run)
    job_kind_register(JobKind(kind=kind, work=work, task=task, stopped=stopped, **options))
    return task


def job_claim(*, job_id: int, worker: str) -> Job | None:
    """Mark the job running for this worker, if it is the job's turn; None otherwise."""
    now = timezone.now()
    silent = Q(heartbeat_at__lt=now - heartbeat_stale_after()) | Q(heartbeat_at__isnull=True)
    claimable = Q(status=Job.Status.QUEUED) | (Q(status=Job.Status.RUNNING) & silent)
    claimed = Job.objects.filter(claimable, pk=job_id).update(
        status=Job.Status.RUNNING, worker=worker[:200], error="", heartbeat_at=now, attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    Job.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    return Job.objects.select_related("study").get(pk=job_id)


@contextlib.contextmanager
def heartbeat(job_id: int, *, enabled: bool = True):
    """Refresh the job's heartbeat from a thread while the block runs."""
    if not enabled:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(heartbeat_interval()):
                Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # the main thread's outcome matters, not a missed beat
            logger.exception("heartbeat of job %s", job_id)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def job_run(*, job_id: int, worker: str, beat: bool = True) -> None:
    job = Job.objects.filter(pk=job_id).only("kind").first()
    if job is None:
        return
    spec = job_kind(job.kind)
    job = job_claim(job_id=job_id, worker=worker)
    if job is None:
        return  # finished, cancelled, or a live worker has it
    context = _context(job, spec)
    try:
        with heartbeat(job_id, enabled=beat):
            outcome = spec.work(context) or {}
    except (JobStopped, *spec.stopped_types()):
        job_mark_cancelled(job_id=job_id, message=spec.cancelled_message)
        jobs_release_after(job_id)
        return
    except ServiceError as exc:
        # An expected refusal (one class only, nothing to sample): the row says why; no retry.
        job_fail(job_id=job_id, exc=exc)
        jobs_release_after(job_id)
        return
    except Exception as exc:
        job_fail(job_id=job_id, exc=exc)
        jobs_release_after(job_id)
        raise
    if spec.run_folder:
        outcome["plots"] = _plots_publish(job_id, context.run_dir, spec.plot)
        outcome["run_dir"] = str(context.run_dir)
    message = str(outcome.pop("message", "finished"))
    job_succeed(job_id=job_id, result=outcome, message=message)
    jobs_release_after(job_id)


def _context(job: Job, spec: JobKind) -> JobContext:
    def should_stop() -> bool:
        return job_cancel_requested(job_id=job.pk)

    if not spec.run_folder:
        def on_progress(done: int, total: int, message: str = "", result: dict | None = None) -> None:
            job_progress(job_id=job.pk, done=done, total=total, message=message, result=result)

        return JobContext(job, on_progress, should_stop)

    # Training asks should_stop() every iteration: one database query per 5 s, not per step.
    should_stop = job_cancel_checker(job_id=job.pk)
    run_dir = run_dir_for(job)
    run_dir.mkdir(parents=True, exist_ok=True)
    last_plot = [0.0]
    latest: dict = {}

    def on_stats(step: int, total: int, stats: dict) -> None:
        latest.update(stats)
        result = {"latest": latest, "run_dir": str(run_dir)}
        if time.monotonic() - last_plot[0] > PLOT_EVERY_SECONDS:
            last_plot[0] = time.monotonic()
            result["plots"] = _plots_publish(job.pk, run_dir, spec.plot)
        elif "plots" in job.result:
            result["plots"] = job.result["plots"]
        job.result = result
        job_progress(job_id=job.pk, done=step, total=total, message=f"step {step} of {total}", result=result)

    return JobContext(job, on_stats, should_stop, run_dir)


def _plots_publish(job_id: int, run_dir: Path, plot: Callable[[Path], list[Path]] | None) -> list[str]:
    """Copy the run's plots into storage, where the admin shows them."""
    if plot is None:
        return []
    names = []
    for path in plot(run_dir):
        name = f"jobs/{job_id}/{path.name}"
        if default_storage.exists(name):
            default_storage.delete(name)
        with open(path, "rb") as fh:
            names.append(default_storage.save(name, fh))
    return names


def jobs_release_after(parent_id: int) -> list[int]:
    """The parent job ended: the jobs waiting for it are queued (their kind's `release`
    fills in what they need from it) or fail with it."""
    parent = Job.objects.get(pk=parent_id)
    released = []
    for waiting in Job.objects.filter(status=Job.Status.QUEUED, queued_at__isnull=True, params__after_job=parent.pk):
        spec = job_kind(waiting.kind)
        try:
            if spec is not None and spec.release is not None:
                extra = spec.release(waiting, parent)  # the kind decides what the parent must have made
            elif parent.status != Job.Status.SUCCEEDED:
                raise ServiceError(PARENT_ENDED.format(kind=parent.get_kind_display(), job=parent.pk, status=parent.status),
                                   code="parent_ended")
            else:
                extra = {}
        except ServiceError as exc:
            job_fail(job_id=waiting.pk, exc=RuntimeError(exc.message))
            continue
        waiting.params = {**waiting.params, **extra}
        waiting.save(update_fields=["params"])
        job_enqueue(job=waiting)
        released.append(waiting.pk)
    return released


@contextlib.contextmanager
def job_inline(*, kind: str, study, message: str):
    """Run work in this process (a request or another task) as a Job row the admin shows:
    status, heartbeat, error and traceback tail.

    The body may set result["_message"] (the job's message) and result["_quiet"] (nothing
    happened: drop the row, so a sync every few minutes does not flood the job list). If
    the process dies, the sweep marks the row failed; the periodic work that started it
    (marketplace sync, publish resume) does it again."""
    job = job_create(kind=kind, study=study)
    job_start(job_id=job.pk)
    result: dict = {}
    try:
        with heartbeat(job.pk):
            yield result
    except BaseException as exc:
        job_fail(job_id=job.pk, exc=exc)
        raise
    if result.pop("_quiet", False):
        Job.objects.filter(pk=job.pk).delete()  # a periodic sync that found nothing leaves no row
        return
    job_succeed(job_id=job.pk, result=result, message=result.pop("_message", message))
