"""LEGAN training as a platform job, chained after a Q job or on a chosen Q version, and
face editing with the current LEGAN version."""
from __future__ import annotations

import io
import shutil
from functools import lru_cache
from pathlib import Path

from django.core.files import File
from django.db import transaction

from ratings_site.core.errors import ServiceError
from ratings_site.core.selectors import number_next
from ratings_site.jobs.models import Job
from ratings_site.jobs.runner import JobContext
from ratings_site.jobs.services import job_queue

from .models import LeganModelVersion, QualityModelVersion
from .selectors import legan_version_current, quality_version_current, quality_version_made_by
from .services import Q_COPY, run_copy_once, storage_local_copy

Q_JOB_NOT_Q = "Job #{job} is not a Q training job."
Q_JOB_ENDED = "Q job #{job} ended {status}: nothing to chain LEGAN after."
NO_CURRENT_LEGAN = "No LEGAN version is marked current yet: train LEGAN first."
BAD_CONFIG = "Invalid LEGAN options: {detail}"
UNKNOWN_OPTIONS = "unknown option(s) {unknown}{where}; valid: {valid}"


def legan_unknown_options(config: dict) -> str | None:
    """legan.config.TrainConfig.from_dict drops keys it does not know (old checkpoints carry
    some); a person typing options must hear about a typo instead."""
    from dataclasses import fields

    from legan.config import LossConfig, ModelConfig, TrainConfig

    for data, cls, where in ((config, TrainConfig, ""), (config.get("model"), ModelConfig, " in model"),
                             (config.get("loss"), LossConfig, " in loss")):
        if not isinstance(data, dict):
            continue
        valid = sorted(f.name for f in fields(cls))
        unknown = sorted(set(data) - set(valid))
        if unknown:
            return UNKNOWN_OPTIONS.format(unknown=", ".join(unknown), where=where, valid=", ".join(valid))
    return None


def legan_config_check(config: dict):
    from legan.config import ConfigError, TrainConfig, validate

    unknown = legan_unknown_options(config)
    if unknown:
        raise ServiceError(BAD_CONFIG.format(detail=unknown), code="bad_config")
    try:
        parsed = TrainConfig.from_dict(config)
        validate(parsed, check_q_checkpoint=False)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ServiceError(BAD_CONFIG.format(detail=exc), code="bad_config")
    return parsed


def legan_training_start(*, config: dict, quality_version: QualityModelVersion | None = None,
                         after_job: Job | None = None, user=None) -> Job:
    """Queue LEGAN training. After a Q job: it waits until that job has made its Q version.
    Else on `quality_version`, or the current Q version when the quality loss is on."""
    parsed = legan_config_check(config)
    params = {"config": dict(config)}
    if after_job is not None:
        if after_job.kind != Job.Kind.TRAIN_Q:
            raise ServiceError(Q_JOB_NOT_Q.format(job=after_job.pk), code="bad_chain")
        if after_job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
            raise ServiceError(Q_JOB_ENDED.format(job=after_job.pk, status=after_job.status), code="bad_chain")
        made = quality_version_made_by(after_job)
        if made is None:  # released by the runner when the Q job ends (legan_release)
            return job_queue(kind=Job.Kind.TRAIN_LEGAN, params=params, user=user, after_job=after_job)
        quality_version = made
    if quality_version is None and parsed.loss.lambda_qual > 0:
        quality_version = quality_version_current()
        if quality_version is None:
            raise ServiceError("The quality loss needs a Q version: train Q first or chain after a Q job.", code="no_q")
    params["quality_version"] = quality_version.pk if quality_version else None
    return job_queue(kind=Job.Kind.TRAIN_LEGAN, params=params, user=user)


def legan_release(waiting: Job, q_job: Job) -> dict:
    """The Q job a LEGAN job waits for ended: train on the Q version it made."""
    version = quality_version_made_by(q_job)
    if version is None:
        raise ServiceError(Q_JOB_ENDED.format(job=q_job.pk, status=q_job.status), code="bad_chain")
    return {"quality_version": version.pk}


def legan_train_body(context: JobContext) -> dict:
    from legan.config import TrainConfig, validate
    from legan.train import train
    from runkit.checkpoints import list_checkpoints
    from runkit.runs import CHECKPOINTS_DIR

    job = context.job
    version_id = job.params.get("quality_version")
    q_version = QualityModelVersion.objects.get(pk=version_id) if version_id else None
    q_checkpoint = run_copy_once(q_version.checkpoint, context.run_dir / Q_COPY) if q_version else None
    config = TrainConfig.from_dict({**job.params["config"], "q_checkpoint": q_checkpoint,
                                    "progress": False})
    validate(config)
    resumed = list_checkpoints(context.run_dir / CHECKPOINTS_DIR)
    result = train(config, run_dir=context.run_dir, resume=bool(resumed), on_progress=context.on_progress,
                   should_stop=context.should_stop)
    version = legan_version_create(job=job, checkpoint=result.checkpoint_path, config=config.to_dict(),
                                   metrics=result.metrics, quality_version=q_version)
    return {"metrics": result.metrics, "version": version.number,
            "resumed_from": resumed[-1].name if resumed else None, "checkpoint": str(result.checkpoint_path)}


def legan_plots(run_dir: Path) -> list[Path]:
    """The loss plot and the newest sample grid (input, targets, M_e / M_l heat maps)."""
    from runkit.runs import PLOT_NAME, SAMPLES_DIR

    found = [run_dir / PLOT_NAME] if (run_dir / PLOT_NAME).exists() else []
    grids = sorted((run_dir / SAMPLES_DIR).glob("*.png"))
    if grids:
        latest = run_dir / "samples-latest.png"
        shutil.copyfile(grids[-1], latest)
        found.append(latest)
    return found


def legan_version_create(*, job, checkpoint: Path, config: dict, metrics: dict, quality_version) -> LeganModelVersion:
    with transaction.atomic():
        # A worker killed after recording the version but before the job was marked done gets
        # its job re-run: the version it recorded stands (one version per job).
        recorded = LeganModelVersion.objects.select_for_update().filter(job=job).first()
        if recorded is not None:
            return recorded
        number = number_next(LeganModelVersion.objects.all())
        first = legan_version_current() is None
        version = LeganModelVersion(number=number, job=job, quality_version=quality_version, config=config,
                                    metrics=metrics, is_current=first)
        with open(checkpoint, "rb") as fh:
            version.checkpoint.save(f"legan/legan-v{number}.pt", File(fh), save=False)
        version.save()
    return version


@lru_cache(maxsize=2)
def legan_generator_load(version_id: int):
    from legan.checkpoint import load_generator

    version = LeganModelVersion.objects.get(pk=version_id)
    with storage_local_copy(version.checkpoint.name) as path:
        return load_generator(Path(path))


def legan_edit_upload(*, data: bytes, expression: str, lighting: str, version: LeganModelVersion | None = None):
    """Align the uploaded face the way LEGAN's training faces were, translate it to the
    target expression and lighting, return (PNG bytes, version)."""
    import torch
    from faces.align import align_face
    from faces.errors import FaceAnalysisError, UnreadableImageError
    from faces.io import load_rgb
    from faces.landmarks import get_landmark_detector
    from legan.samples import to_uint8
    from legan.synthesis import SynthesisError, class_index, translate
    from runkit.contract import model_input
    from PIL import Image as PILImage

    from .services import NO_FACE, NOT_AN_IMAGE, uploaded_image_check

    uploaded_image_check(data)
    version = version or legan_version_current()
    if version is None:
        raise ServiceError(NO_CURRENT_LEGAN, code="no_model", status=409)
    G, config = legan_generator_load(version.pk)
    try:
        e = class_index(config.expressions, expression, "expression")
        l_ = class_index(config.lightings, lighting, "lighting")
    except SynthesisError as exc:
        raise ServiceError(str(exc), code="unknown_class")
    try:
        image = load_rgb(data)
    except UnreadableImageError as exc:
        raise ServiceError(NOT_AN_IMAGE.format(detail=exc), code="not_an_image")
    try:
        face = get_landmark_detector("auto").detect(image)
    except FaceAnalysisError as exc:
        raise ServiceError(NO_FACE.format(reason=getattr(exc, "reason", str(exc))), code="no_face", status=422)
    contract = G.input_contract  # checked against the checkpoint's config by load_generator
    aligned, _ = align_face(image, face.landmarks, size=contract.size)
    x = model_input(aligned, contract)[None]  # the tensor generate's CLI and training make
    out = translate(G, x, torch.tensor([e]), torch.tensor([l_]))
    buffer = io.BytesIO()
    PILImage.fromarray(to_uint8(out.images[:1])[0]).save(buffer, format="PNG")
    return buffer.getvalue(), version
