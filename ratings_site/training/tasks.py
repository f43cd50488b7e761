"""Training and scoring tasks: routed to the `gpu` queue (see CELERY_TASK_ROUTES)."""
from celery import shared_task

from .evaluate_jobs import EvaluationStopped, legan_evaluate_body, legan_evaluation_plots
from .legan_jobs import legan_plots, legan_train_body
from .quality_jobs import quality_plots, quality_train_body
from .runner import training_job_run
from .scoring import quality_score_body


def _stopped():
    from runkit.loop import TrainingStopped

    return TrainingStopped


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def train_quality_task(self, job_id: int) -> None:
    training_job_run(job_id=job_id, worker=self.request.hostname, body=quality_train_body, stopped=_stopped(), plot=quality_plots)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def score_quality_task(self, job_id: int) -> None:
    training_job_run(job_id=job_id, worker=self.request.hostname, body=quality_score_body, stopped=_stopped())


def _legan_stopped():
    from runkit.loop import TrainingStopped

    return TrainingStopped


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def train_legan_task(self, job_id: int) -> None:
    training_job_run(job_id=job_id, worker=self.request.hostname, body=legan_train_body, stopped=_legan_stopped(), plot=legan_plots)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def evaluate_legan_task(self, job_id: int) -> None:
    training_job_run(job_id=job_id, worker=self.request.hostname, body=legan_evaluate_body, stopped=EvaluationStopped,
                     plot=legan_evaluation_plots)
