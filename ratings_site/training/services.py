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

from ratings_site.core.errors import ServiceError
from ratings_site.jobs.models import Job
from ratings_site.jobs.services import job_queue
from ratings_site.labels.models import Label

from .models import QualityModelVersion

NO_LABELS = "Study '{study}' has no labels yet: compute its labels before training Q."
NO_CURRENT_Q = "No quality model is marked current yet: train Q first."
BAD_CONFIG = "Invalid training options: {detail}"
NOT_AN_IMAGE = "The upload is not a readable image ({detail})."
NO_FACE = "No usable face in the image: {reason}."


# A split smaller than this gives metrics too noisy to compare models with.
MIN_MEANINGFUL_SPLIT = 30
SMALL_SPLIT = "The {split} split holds only {n} image(s): its metrics mean little (at least {minimum} recommended)."


def quality_config_check(config: dict):
    from quality.config import ConfigError, TrainConfig

    try:
        parsed = TrainConfig.from_dict({**config, "labels": "labels.csv"})
        parsed.validate()
    except (ConfigError, TypeError, ValueError) as exc:
        raise ServiceError(BAD_CONFIG.format(detail=exc), code="bad_config")
    return parsed


def quality_split_sizes(*, study, config: dict | None = None) -> dict[str, int]:
    """How many labelled images each split would get: the trainer's own split rule on the
    labels it would train on (at least two ratings and a spread)."""
    from quality.splits import SPLIT_NAMES, assign_splits

    from ratings_site.labels.services import labels_frame

    parsed = quality_config_check(dict(config or {}))
    frame = labels_frame(study)
    frame = frame[frame["n_raters"] >= 2].dropna(subset=["std"])
    if frame.empty:
        return {name: 0 for name in SPLIT_NAMES}
    seed = parsed.split_seed if parsed.split_seed is not None else parsed.seed
    try:
        counts = assign_splits(frame, seed, tuple(parsed.split_fractions)).value_counts()
    except ValueError as exc:  # fractions the trainer's own split rule refuses
        raise ServiceError(BAD_CONFIG.format(detail=exc), code="bad_config")
    return {name: int(counts.get(name, 0)) for name in SPLIT_NAMES}


def quality_split_warnings(sizes: dict[str, int]) -> list[str]:
    return [
        SMALL_SPLIT.format(split=name, n=n, minimum=MIN_MEANINGFUL_SPLIT)
        for name, n in sizes.items() if name != "train" and 0 < n < MIN_MEANINGFUL_SPLIT or (name == "test" and n == 0)
    ]


def quality_training_start(*, study, user=None, config: dict | None = None) -> Job:
    if not Label.objects.filter(study=study, n__gte=2).exists():
        raise ServiceError(NO_LABELS.format(study=study), code="no_labels")
    config = dict(config or {})
    quality_config_check(config)
    warnings = quality_split_warnings(quality_split_sizes(study=study, config=config))
    return job_queue(kind=Job.Kind.TRAIN_Q, study=study, params={"config": config, "warnings": warnings}, user=user)


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


Q_COPY = "quality.pt"


def run_copy_once(field, target: Path) -> str:
    """A stored file copied beside a job's run once: a resumed job reads the very same bytes
    (a LEGAN run keeps the Q it started with even if Q's current version changes)."""
    if not target.exists():
        with field.open("rb") as src, open(target.with_suffix(".tmp"), "wb") as dst:
            shutil.copyfileobj(src, dst)
        target.with_suffix(".tmp").replace(target)
    return str(target)


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


def face_prepare_for_quality(data: bytes, contract=None) -> np.ndarray:
    """The face Q reads, prepared as its checkpoint's input contract says (the CLI's --prepare
    goes through the same quality.score.prepare_face); Q's default contract without one."""
    from faces.errors import FaceAnalysisError, UnreadableImageError
    from quality.score import prepare_face
    from runkit.contract import InputContract

    try:
        return prepare_face(data, contract or InputContract(size=128, mask="hull"))
    except UnreadableImageError as exc:
        raise ServiceError(NOT_AN_IMAGE.format(detail=exc), code="not_an_image")
    except FaceAnalysisError as exc:
        raise ServiceError(NO_FACE.format(reason=getattr(exc, "reason", str(exc))), code="no_face", status=422)


def quality_score_upload(*, data: bytes, version: QualityModelVersion | None = None) -> tuple[float, QualityModelVersion]:
    from quality.score import input_contract, score_images

    uploaded_image_check(data)
    version = version or quality_current()
    model = quality_model_load(version.pk)
    face = face_prepare_for_quality(data, input_contract(model))
    [score] = score_images(model, [face])
    return float(score), version


def quality_scoring_start(*, study, version: QualityModelVersion, user=None) -> Job:
    return job_queue(kind=Job.Kind.SCORE_Q, study=study, params={"version": version.pk}, user=user)
