"""Beat task: re-send training jobs whose worker went silent (killed, lost), so they
resume from their last checkpoint on another worker."""
from celery import shared_task

from ratings_site.jobs.models import Job
from ratings_site.jobs.services import jobs_stale

from .runner import heartbeat_stale_after


def _task_for(kind: str):
    from . import tasks

    return {
        Job.Kind.TRAIN_Q: tasks.train_quality_task,
        Job.Kind.SCORE_Q: tasks.score_quality_task,
        Job.Kind.TRAIN_LEGAN: tasks.train_legan_task,
        Job.Kind.EVALUATE_LEGAN: tasks.evaluate_legan_task,
    }.get(kind)


def training_jobs_resume_stale() -> list[int]:
    resent = []
    for job in jobs_stale(kinds=[Job.Kind.TRAIN_Q, Job.Kind.SCORE_Q, Job.Kind.TRAIN_LEGAN, Job.Kind.EVALUATE_LEGAN], stale_after=heartbeat_stale_after()):
        task = _task_for(job.kind)
        if task is not None:
            task.delay(job.pk)
            resent.append(job.pk)
    return resent


@shared_task
def training_jobs_resume_stale_task() -> list[int]:
    return training_jobs_resume_stale()
