"""The sweep (Celery beat, every JOB_SWEEP_SECONDS): the one place that finds jobs nobody is
running and sends them again, for every job kind.

- A **running** job whose heartbeat went silent (worker killed, machine lost) is re-sent;
  the runner's claim lets exactly one delivery resume it.
- A **queued** job whose message never reached the broker (broker down at enqueue) or was
  lost since (broker restarted without its data) is re-sent; re-sends of one job back off
  (1, 2, 4 ... 64 stale windows) so a long queue is not flooded with copies.
- A running job of a kind without a task (work run inline by a request or another task,
  such as a marketplace sync) cannot be re-sent: it is marked failed, and the periodic work
  that started it does it again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from .kinds import job_kind
from .models import Job
from .runner import heartbeat_stale_after
from .services import job_send

logger = logging.getLogger(__name__)

WORKER_LOST = "The worker running this job stopped answering; the periodic work that started it runs it again."
SEND_GRACE_SECONDS = 5  # a job committed a moment ago is still being sent by its request
MAX_BACKOFF_DOUBLINGS = 6


@dataclass
class SweepReport:
    resent: list[int] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)  # the broker is still unreachable
    failed: list[int] = field(default_factory=list)


def _resend_due(job: Job, now: datetime) -> bool:
    if job.sent_at is None:
        return True
    if job.heartbeat_at is not None and job.sent_at <= job.heartbeat_at:
        return True  # a worker took the last message and then went silent
    wait = heartbeat_stale_after() * 2 ** min(max(job.sends - 1, 0), MAX_BACKOFF_DOUBLINGS)
    return now - job.sent_at > wait


def jobs_sweep() -> SweepReport:
    now = timezone.now()
    stale = now - heartbeat_stale_after()
    silent_running = Q(status=Job.Status.RUNNING) & (Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True))
    lost_queued = Q(status=Job.Status.QUEUED, queued_at__lt=now - timezone.timedelta(seconds=SEND_GRACE_SECONDS)) & (
        Q(sent_at__isnull=True) | Q(sent_at__lt=stale)
    )
    report = SweepReport()
    for job in Job.objects.filter(silent_running | lost_queued).order_by("pk"):
        if job_kind(job.kind) is None:
            if job.status == Job.Status.RUNNING:
                Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
                    status=Job.Status.FAILED, error=WORKER_LOST, finished_at=now)
                report.failed.append(job.pk)
            continue
        if not _resend_due(job, now):
            continue
        (report.resent if job_send(job_id=job.pk) else report.unsent).append(job.pk)
    if report.resent or report.failed or report.unsent:
        logger.info("job sweep: re-sent %s, broker refused %s, failed %s", report.resent, report.unsent, report.failed)
    return report
