"""Evaluating a trained LEGAN version as a platform job (the lead's `legan.evaluate`), chained
after training when asked (Q, then LEGAN, then evaluation). The table and sample grid go
on the version's admin page and into its metrics.

Bad input (a checkpoint of another kind or image size, a manifest without targets for the
model's attributes, an empty test split) is refused before anything is queued: the start
service runs the evaluation's own checks in a preflight that stops before the first model is
translated. A chained evaluation, whose checkpoint does not exist yet, gets the same checks
as the first thing its job does, and fails with their message.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.module_loading import import_string

from ratings_site.core.errors import ServiceError
from ratings_site.jobs.models import Job
from ratings_site.jobs.runner import JobContext
from ratings_site.jobs.services import job_queue

from .models import LeganModelVersion
from .selectors import legan_version_made_by
from .services import Q_COPY, run_copy_once, storage_local_copy

NOT_A_LEGAN_JOB = "Job #{job} is not a LEGAN training job."
LEGAN_JOB_ENDED = "LEGAN job #{job} ended {status}: nothing to evaluate."
NO_MANIFEST = "The pairs manifest {path} does not exist: give an evaluation set folder or its pairs_<split>.csv."
NO_TARGET = "Say which LEGAN version to evaluate, or which LEGAN job to evaluate after."
BAD_INPUT = "Evaluation refused: {detail}"
EVAL_DIR = "evaluation"


class EvaluationStopped(Exception):
    """The job was cancelled while evaluating."""


class _PreflightDone(Exception):
    """Raised from should_stop once the evaluation's input checks have passed."""


def evaluate_function():
    """The evaluation to run: `legan.evaluate.evaluate_checkpoint` unless the setting names
    another with the same signature."""
    return import_string(settings.LEGAN_EVALUATE_FUNCTION)


def _bad_input_types() -> tuple[type[BaseException], ...]:
    try:
        from legan.evaluate import EvaluationError
    except ImportError:  # an injected evaluation on a checkout without legan.evaluate
        return (ValueError,)
    return (EvaluationError,)


def legan_evaluation_preflight(*, checkpoint: str | Path, pairs_manifest: str | Path) -> None:
    """Run the evaluation's input checks and stop before any model runs; ServiceError with
    the evaluation's own message when the input is bad."""

    def stop_now() -> bool:
        raise _PreflightDone

    with tempfile.TemporaryDirectory(prefix="legan-eval-check-") as scratch:
        try:
            evaluate_function()(checkpoint, pairs_manifest=pairs_manifest, out_dir=scratch, device="cpu", should_stop=stop_now)
        except _PreflightDone:
            return
        except _bad_input_types() as exc:
            raise ServiceError(BAD_INPUT.format(detail=exc), code="bad_evaluation_input")


def _manifest_check(pairs_manifest: str) -> str:
    path = Path(pairs_manifest)
    if not pairs_manifest or not path.exists():
        raise ServiceError(NO_MANIFEST.format(path=pairs_manifest or "(empty)"), code="no_manifest")
    return str(path.resolve())


def legan_evaluation_start(*, pairs_manifest: str, version: LeganModelVersion | None = None,
                           after_job: Job | None = None, user=None) -> Job:
    """Queue an evaluation of `version`, or of the version `after_job` (LEGAN training) will
    make; such a job waits, and starts (or fails) when the training ends."""
    manifest = _manifest_check(pairs_manifest)
    if after_job is not None:
        if after_job.kind != Job.Kind.TRAIN_LEGAN:
            raise ServiceError(NOT_A_LEGAN_JOB.format(job=after_job.pk), code="bad_chain")
        if after_job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
            raise ServiceError(LEGAN_JOB_ENDED.format(job=after_job.pk, status=after_job.status), code="bad_chain")
        version = legan_version_made_by(after_job)
        if version is None:  # released by the runner when the LEGAN job ends (evaluation_release)
            return job_queue(kind=Job.Kind.EVALUATE_LEGAN, params={"pairs_manifest": manifest}, user=user,
                             after_job=after_job)
    if version is None:
        raise ServiceError(NO_TARGET, code="no_version")
    with storage_local_copy(version.checkpoint.name) as checkpoint:
        legan_evaluation_preflight(checkpoint=checkpoint, pairs_manifest=manifest)
    return job_queue(kind=Job.Kind.EVALUATE_LEGAN, params={"pairs_manifest": manifest, "version": version.pk}, user=user)


def evaluation_release(waiting: Job, legan_job: Job) -> dict:
    """The LEGAN job an evaluation waits for ended: evaluate the version it made."""
    version = legan_version_made_by(legan_job)
    if version is None:
        raise ServiceError(LEGAN_JOB_ENDED.format(job=legan_job.pk, status=legan_job.status), code="bad_chain")
    return {"version": version.pk}


def legan_evaluate_body(context: JobContext) -> dict:
    import torch

    job = context.job
    version = LeganModelVersion.objects.select_related("quality_version").get(pk=job.params["version"])
    checkpoint = run_copy_once(version.checkpoint, context.run_dir / f"legan-v{version.number}.pt")
    q_checkpoint = run_copy_once(version.quality_version.checkpoint, context.run_dir / Q_COPY) if version.quality_version else None
    out_dir = context.run_dir / EVAL_DIR
    shutil.rmtree(out_dir, ignore_errors=True)  # an evaluation is short: a re-delivered job starts it over
    out_dir.mkdir(parents=True)
    stop_requested = [False]

    def should_stop() -> bool:
        stop_requested[0] = stop_requested[0] or context.should_stop()
        return stop_requested[0]

    def on_progress(done: int, total: int) -> None:
        context.on_progress(done, total, {"models_done": done})

    try:
        result = evaluate_function()(
            checkpoint, pairs_manifest=job.params["pairs_manifest"], out_dir=out_dir, q_checkpoint=q_checkpoint,
            device="cuda" if torch.cuda.is_available() else "cpu", on_progress=on_progress, should_stop=should_stop,
        )
    except _bad_input_types() as exc:
        raise ValueError(BAD_INPUT.format(detail=exc)) from exc
    except BaseException:
        if stop_requested[0]:
            raise EvaluationStopped
        raise
    files = {}
    for key, path in (("table_csv", result.table_csv), ("table_md", result.table_md), ("grid_png", result.grid_png)):
        name = f"evaluations/legan-v{version.number}/job-{job.pk}/{Path(path).name}"
        with open(path, "rb") as fh:
            files[key] = default_storage.save(name, fh)
    rows = [{k: _plain(v) for k, v in row.items()} for row in result.rows]
    version.metrics = {**(version.metrics or {}), "evaluation": {"job": job.pk, "rows": rows, "files": files}}
    version.save(update_fields=["metrics"])
    return {"version": version.number, "rows": rows, "files": files, "pairs_manifest": job.params["pairs_manifest"]}


def _plain(value):
    """JSON-safe cell: numpy scalars become Python numbers, NaN becomes None."""
    try:
        value = value.item()
    except AttributeError:
        pass
    if isinstance(value, float) and value != value:
        return None
    return value


def legan_evaluation_plots(run_dir: Path) -> list[Path]:
    grids = sorted((run_dir / EVAL_DIR).glob("*.png"))
    return grids[:1]


def legan_evaluation_latest(version: LeganModelVersion) -> Job | None:
    return (
        Job.objects.filter(kind=Job.Kind.EVALUATE_LEGAN, params__version=version.pk)
        .order_by("-created_at").first()
    )
