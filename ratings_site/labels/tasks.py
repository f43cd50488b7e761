"""Label and export jobs: their work; the runner in ratings_site.jobs does the rest."""
from ratings_site.jobs.models import Job
from ratings_site.jobs.runner import JobContext, job_task

from .services import export_build, labels_compute


def labels_compute_work(context: JobContext) -> dict:
    result = labels_compute(study=context.job.study, on_progress=lambda done, total: context.on_progress(done, total))
    return {**result, "message": f"{result['labels']} labels"}


def export_build_work(context: JobContext) -> dict:
    context.on_progress(0, 1, "writing export")
    result = export_build(job=context.job)
    context.on_progress(1, 1)
    return {**result, "message": f"{result['rows']} rows"}


labels_compute_task = job_task(Job.Kind.LABELS, labels_compute_work, name="ratings_site.labels.tasks.labels_compute_task")
export_build_task = job_task(Job.Kind.EXPORT, export_build_work, name="ratings_site.labels.tasks.export_build_task")
