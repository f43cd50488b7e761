"""Training and scoring job kinds, on the `gpu` queue (see CELERY_TASK_ROUTES): their work
only; the runner in ratings_site.jobs keeps a run folder per job, so a re-sent job resumes
from its newest checkpoint."""
from ratings_site.jobs.models import Job
from ratings_site.jobs.runner import job_task

from .evaluate_jobs import EvaluationStopped, evaluation_release, legan_evaluate_body, legan_evaluation_plots
from .legan_jobs import legan_plots, legan_release, legan_train_body
from .quality_jobs import quality_plots, quality_train_body
from .scoring import quality_score_body

CANCELLED = "cancelled; the run folder keeps its last checkpoint"


def _stopped() -> tuple[type[BaseException], ...]:  # called when a job runs: torch loads on workers only
    from runkit.loop import TrainingStopped  # the one class quality/, legan/ and the colouriser raise

    return (TrainingStopped, EvaluationStopped)


train_quality_task = job_task(
    Job.Kind.TRAIN_Q, quality_train_body, name="ratings_site.training.tasks.train_quality_task", stopped=_stopped,
    run_folder=True, plot=quality_plots, cancelled_message=CANCELLED)
score_quality_task = job_task(
    Job.Kind.SCORE_Q, quality_score_body, name="ratings_site.training.tasks.score_quality_task", stopped=_stopped,
    run_folder=True, cancelled_message=CANCELLED)
train_legan_task = job_task(
    Job.Kind.TRAIN_LEGAN, legan_train_body, name="ratings_site.training.tasks.train_legan_task", stopped=_stopped,
    run_folder=True, plot=legan_plots, cancelled_message=CANCELLED, release=legan_release)
evaluate_legan_task = job_task(
    Job.Kind.EVALUATE_LEGAN, legan_evaluate_body, name="ratings_site.training.tasks.evaluate_legan_task",
    stopped=_stopped, run_folder=True, plot=legan_evaluation_plots, cancelled_message=CANCELLED,
    release=evaluation_release)
