from celery import shared_task

from .sweep import jobs_sweep


@shared_task
def jobs_sweep_task() -> dict:
    """Beat: re-send jobs whose worker died or whose message was lost (every kind)."""
    report = jobs_sweep()
    return {"resent": report.resent, "unsent": report.unsent, "failed": report.failed}
