"""Running a training job so that it survives a killed worker.

The task is delivered with late acks, so a worker that dies mid-run leaves the message
unacknowledged and the broker hands it out again; a beat sweep also re-sends jobs whose
worker went silent. Either way the job starts again here, finds its run folder and
resumes from the newest checkpoint. A second delivery while a live worker still sends
heartbeats is dropped, and a finished job is never run twice.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from ratings_site.jobs.models import Job
from ratings_site.jobs.services import (
    job_cancel_checker,
    job_fail,
    job_mark_cancelled,
    job_progress,
    job_start,
    job_succeed,
)

FINISHED = (Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED)
PLOT_EVERY_SECONDS = 10.0


def heartbeat_stale_after() -> timedelta:
    return timedelta(seconds=settings.TRAINING_HEARTBEAT_STALE_SECONDS)


def run_dir_for(job: Job) -> Path:
    return Path(settings.RUNS_ROOT) / job.kind / f"job-{job.pk}"


@dataclass
class JobContext:
    job: Job
    run_dir: Path
    on_progress: Callable[[int, int, dict], None]
    should_stop: Callable[[], bool]


def _should_run(job: Job) -> bool:
    if job.status in FINISHED:
        return False
    if job.status == Job.Status.RUNNING and job.heartbeat_at:
        return timezone.now() - job.heartbeat_at > heartbeat_stale_after()
    return True


def _publish_plots(job_id: int, run_dir: Path, plot: Callable[[Path], list[Path]] | None) -> list[str]:
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


def training_job_run(
    *, job_id: int, worker: str, body: Callable[[JobContext], dict], stopped: type[BaseException],
    plot: Callable[[Path], list[Path]] | None = None,
) -> None:
    job = Job.objects.get(pk=job_id)
    if not _should_run(job):
        return
    job = job_start(job_id=job_id, worker=worker)
    run_dir = run_dir_for(job)
    run_dir.mkdir(parents=True, exist_ok=True)
    last_plot = [0.0]
    latest: dict = {}

    def on_progress(step: int, total: int, stats: dict) -> None:
        latest.update(stats)
        result = {"latest": latest, "run_dir": str(run_dir)}
        if time.monotonic() - last_plot[0] > PLOT_EVERY_SECONDS:
            last_plot[0] = time.monotonic()
            result["plots"] = _publish_plots(job_id, run_dir, plot)
        elif "plots" in job.result:
            result["plots"] = job.result["plots"]
        job.result = result
        job_progress(job_id=job_id, done=step, total=total, message=f"step {step} of {total}", result=result)

    # Training asks should_stop() every iteration: one database query per 5 s, not per step.
    context = JobContext(job, run_dir, on_progress, job_cancel_checker(job_id=job_id))
    try:
        outcome = body(context)
    except stopped:
        job_mark_cancelled(job_id=job_id, message="cancelled; the run folder keeps its last checkpoint")
        _release_chained(job_id)
        return
    except Exception as exc:
        job_fail(job_id=job_id, exc=exc)
        _release_chained(job_id)
        raise
    outcome["plots"] = _publish_plots(job_id, run_dir, plot)
    outcome["run_dir"] = str(run_dir)
    job_succeed(job_id=job_id, result=outcome, message="finished")
    _release_chained(job_id)


def _release_chained(job_id: int) -> None:
    """Jobs queued to run after this one (LEGAN after Q, evaluation after LEGAN) start now,
    or fail with it."""
    from .evaluate_jobs import legan_evaluations_release
    from .legan_jobs import legan_jobs_release
    from .models import LeganModelVersion, QualityModelVersion

    job = Job.objects.get(pk=job_id)
    if job.kind == Job.Kind.TRAIN_Q:
        legan_jobs_release(q_job=job, version=QualityModelVersion.objects.filter(job=job).first())
    elif job.kind == Job.Kind.TRAIN_LEGAN:
        legan_evaluations_release(legan_job=job, version=LeganModelVersion.objects.filter(job=job).first())


def run_dir_remove(job: Job) -> None:
    shutil.rmtree(run_dir_for(job), ignore_errors=True)
