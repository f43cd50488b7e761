"""Writes for training: starting jobs, choosing the current model version, scoring."""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.core.files.storage import default_storage
from django.db import transaction

from ratings_site.jobs.models import Job
from ratings_site.jobs.services import job_create, job_enqueue
from ratings_site.labels.models import Label
from ratings_site.studies.errors import ServiceError

from .models import QualityModelVersion

NO_LABELS = "Study '{study}' has no labels yet: compute its labels before training Q."
NO_CURRENT_Q = "No quality model is marked current yet: train Q first."
BAD_CONFIG = "Invalid training options: {detail}"
NOT_AN_IMAGE = "The upload is not a readable image ({detail})."
NO_FACE = "No usable face in the image: {reason}."


def quality_training_start(*, study, user=None, config: dict | None = None) -> Job:
    from quality.config import ConfigError, TrainConfig

    if not Label.objects.filter(study=study, n__gte=2).exists():
        raise ServiceError(NO_LABELS.format(study=study), code="no_labels")
    config = dict(config or {})
    try:
        TrainConfig.from_dict({**config, "labels": "labels.csv"}).validate()
    except (ConfigError, TypeError, ValueError) as exc:
        raise ServiceError(BAD_CONFIG.format(detail=exc), code="bad_config")
    job = job_create(kind=Job.Kind.TRAIN_Q, study=study, params={"config": config}, user=user)
    from .tasks import train_quality_task

    return job_enqueue(job=job, task=train_quality_task)


def quality_version_make_current(*, version: QualityModelVersion) -> QualityModelVersion:
    with transaction.atomic():
        QualityModelVersion.objects.filter(is_current=True).exclude(pk=version.pk).update(is_current=False)
        QualityModelVersion.objects.filter(pk=version.pk).update(is_current=True)
    version.refresh_from_db()
    quality_model_load.cache_clear()
    return version


@contextmanager
def storage_local_copy(name: str):
    """A local path for a stored file: the file itself on local storage, else a temporary copy."""
    try:
        yield default_storage.path(name)
        return
    except NotImplementedError:
        pass
    with tempfile.NamedTemporaryFile(suffix=Path(name).suffix) as tmp, default_storage.open(name, "rb") as src:
        shutil.copyfileobj(src, tmp)
        tmp.flush()
        yield tmp.name


@lru_cache(maxsize=2)
def quality_model_load(version_id: int):
    from quality.checkpoint import load_quality_model

    version = QualityModelVersion.objects.get(pk=version_id)
    with storage_local_copy(version.checkpoint.name) as path:
        return load_quality_model(path)


def quality_current() -> QualityModelVersion:
    version = QualityModelVersion.objects.filter(is_current=True).first()
    if version is None:
        raise ServiceError(NO_CURRENT_Q, code="no_model", status=409)
    return version


def uploaded_image_check(data: bytes) -> None:
    """The import's limits for an uploaded face too: size, pixels (decompression bombs), format."""
    from django.core.exceptions import ValidationError

    from ratings_site.catalog.upload_checks import image_check

    try:
        image_check(data)
    except ValidationError as exc:
        raise ServiceError(exc.messages[0], code="not_an_image")


def face_prepare_for_quality(data: bytes) -> np.ndarray:
    """The canonical preprocessing: the aligned, landmark-masked 128x128 face Q reads."""
    from faces.errors import FaceAnalysisError, UnreadableImageError
    from faces.io import load_rgb
    from faces.pipeline import prepare_masked_face

    try:
        image = load_rgb(data)
    except UnreadableImageError as exc:
        raise ServiceError(NOT_AN_IMAGE.format(detail=exc), code="not_an_image")
    try:
        return prepare_masked_face(image).image
    except FaceAnalysisError as exc:
        raise ServiceError(NO_FACE.format(reason=getattr(exc, "reason", str(exc))), code="no_face", status=422)


def quality_score_upload(*, data: bytes, version: QualityModelVersion | None = None) -> tuple[float, QualityModelVersion]:
    from quality.score import score_images

    uploaded_image_check(data)
    version = version or quality_current()
    face = face_prepare_for_quality(data)
    [score] = score_images(quality_model_load(version.pk), [face])
    return float(score), version


def quality_scoring_start(*, study, version: QualityModelVersion, user=None) -> Job:
    job = job_create(kind=Job.Kind.SCORE_Q, study=study, params={"version": version.pk}, user=user)
    from .tasks import score_quality_task

    return job_enqueue(job=job, task=score_quality_task)
