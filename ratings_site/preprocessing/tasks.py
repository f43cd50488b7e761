"""Preprocessing job kinds: their work only. The runner in ratings_site.jobs claims, beats,
cancels and resumes them; each body skips the work already stored (images analysed with the
same backends, images already scored), so a re-sent job continues where the first stopped."""
from ratings_site.core.errors import ServiceError
from ratings_site.jobs.models import Job
from ratings_site.jobs.runner import JobContext, job_task


def faces_body(context: JobContext) -> dict:
    from .analysis import CHUNK_SIZE, AnalysisOptions, faces_analyse
    from .masking import display_faces_write
    from .selection import selection_resolve

    params = context.job.params
    ids = selection_resolve(params["selection"])
    summary = faces_analyse(
        image_ids=ids, options=AnalysisOptions.from_params(params.get("analysis")), job_id=context.job.pk,
        chunk_size=int(params.get("chunk_size") or CHUNK_SIZE), on_progress=context.on_progress, should_stop=context.should_stop,
    )
    if params.get("mask"):
        summary["masking"] = display_faces_write(image_ids=ids, on_progress=context.on_progress, should_stop=context.should_stop)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary["reasons"].items()))
    summary["message"] = f"{summary['ok']} faces, {summary['failed']} failed" + (f" ({reasons})" if reasons else "")
    return summary


def svm_train_body(context: JobContext) -> dict:
    from .svm import svm_options, svm_train

    job = context.job
    version = svm_train(study=job.study, options=svm_options(job.params.get("svm")), job=job, on_progress=context.on_progress)
    return {
        "version": version.number, "version_id": version.pk, "C": version.c, "accuracy": version.accuracy,
        "balanced_accuracy": version.balanced_accuracy, "confusion": version.confusion, "counts": version.counts,
        "message": f"SVM v{version.number}: C={version.c:g}, held-out accuracy {version.accuracy:.3f}",
    }


def svm_apply_body(context: JobContext) -> dict:
    from .models import SvmModelVersion
    from .selection import selection_resolve
    from .svm import svm_apply

    params = context.job.params
    version = SvmModelVersion.objects.filter(pk=params["version"]).first()
    if version is None:
        raise ServiceError("The SVM version of this job was deleted.", code="gone")
    summary = svm_apply(version=version, image_ids=selection_resolve(params), on_progress=context.on_progress,
                        should_stop=context.should_stop)
    summary["message"] = f"scored {summary['scored']} of {summary['images']} images with SVM v{version.number}"
    return summary


def stage2_body(context: JobContext) -> dict:
    from .models import Stage2Run
    from .stage2 import stage2_build

    run = Stage2Run.objects.select_related("svm_version", "study").get(pk=context.job.params["run"])
    return stage2_build(run=run, on_progress=context.on_progress, should_stop=context.should_stop)


CANCELLED = "cancelled; finished images stay stored and a new job skips them"

faces_analyse_task = job_task(Job.Kind.FACES, faces_body, name="ratings_site.preprocessing.tasks.faces_analyse_task",
                              cancelled_message=CANCELLED)
svm_train_task = job_task(Job.Kind.SVM, svm_train_body, name="ratings_site.preprocessing.tasks.svm_train_task",
                          cancelled_message=CANCELLED)
svm_apply_task = job_task(Job.Kind.SVM_APPLY, svm_apply_body, name="ratings_site.preprocessing.tasks.svm_apply_task",
                          cancelled_message=CANCELLED)
stage2_build_task = job_task(Job.Kind.STAGE2, stage2_body, name="ratings_site.preprocessing.tasks.stage2_build_task",
                             cancelled_message=CANCELLED)
