"""Stage I services: train an SVM version from a study's labels, apply it to images."""
from __future__ import annotations

import io
from collections import Counter
from functools import lru_cache
from typing import Callable, Iterable

import joblib
import numpy as np
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from ratings_site.core.errors import ServiceError
from ratings_site.core.selectors import number_next
from ratings_site.jobs.models import Job
from ratings_site.jobs.runner import JobStopped
from ratings_site.jobs.services import job_queue
from ratings_site.labels.models import Label

from . import errors
from .analysis import CHUNK_SIZE, images_metadata_merge, latest_analyses
from .models import FaceAnalysis, SvmModelVersion, SvmScore
from .svm_fit import NATURAL, UNNATURAL, SvmOptions, bin_means, svm_decide, svm_fit


def svm_options(params: dict | None) -> SvmOptions:
    try:
        return SvmOptions.from_params(params)
    except (TypeError, ValueError) as exc:
        raise ServiceError(errors.SVM_BAD_OPTIONS.format(detail=exc), code="bad_options")


def _features_version_choose(image_ids: list[int]) -> str | None:
    versions = Counter(
        FaceAnalysis.objects.filter(image_id__in=image_ids, status=FaceAnalysis.Status.OK, feature_dim__gt=0)
        .values_list("features_version", flat=True)
    )
    return versions.most_common(1)[0][0] if versions else None


def svm_dataset_check(study, options: SvmOptions) -> tuple[list[int], np.ndarray, str]:
    """(image ids, labels (N,) 1 = natural, features version) of the labelled images that
    have features, or a ServiceError saying plainly why the study cannot train an SVM.
    Reads no feature vectors, so a request can afford to ask."""
    labels = dict(Label.objects.filter(study=study, mean__isnull=False).values_list("image_id", "mean"))
    version = options.features_version or _features_version_choose(list(labels))
    if version is None:
        raise ServiceError(errors.SVM_NO_FEATURES.format(study=study), code="no_features")
    ids = sorted(set(
        FaceAnalysis.objects.filter(image_id__in=list(labels), features_version=version, status=FaceAnalysis.Status.OK,
                                    feature_dim__gt=0).values_list("image_id", flat=True)
    ))
    if len(ids) < options.min_images:
        raise ServiceError(
            errors.SVM_TOO_FEW.format(n=len(ids), study=study, features=version, minimum=options.min_images), code="too_few"
        )
    y = bin_means(np.array([labels[i] for i in ids]), options.boundary)
    natural = int(y.sum())
    for label, count in ((NATURAL, natural), (UNNATURAL, len(y) - natural)):
        if count == 0:
            other = UNNATURAL if label == NATURAL else NATURAL
            rule = f">= {options.boundary:g}" if other == NATURAL else f"< {options.boundary:g}"
            raise ServiceError(errors.SVM_ONE_CLASS.format(n=len(y), label=other, rule=rule), code="one_class")
        if count < options.min_per_class:
            raise ServiceError(errors.SVM_CLASS_TOO_SMALL.format(n=count, label=label, minimum=options.min_per_class), code="too_few")
    return ids, y, version


def svm_dataset(study, options: SvmOptions) -> tuple[list[int], np.ndarray, np.ndarray, str]:
    """(image ids, features (N, D), labels (N,), features version): the newest analysis
    with those features per image."""
    ids, y, version = svm_dataset_check(study, options)
    analyses = latest_analyses(ids, features_version=version)
    vectors = [analyses[i].feature_vector() for i in ids]
    expected = Counter(v.size for v in vectors).most_common(1)[0][0]
    for image_id, vector in zip(ids, vectors):
        if vector.size != expected:
            raise ServiceError(errors.SVM_FEATURES_MISMATCH.format(image_id=image_id, dim=vector.size, expected=expected), code="bad_features")
    return ids, np.stack(vectors).astype(np.float32), y, version


def svm_training_start(*, study, params: dict | None = None, user=None):
    options = svm_options(params)
    svm_dataset_check(study, options)  # refuse now, with the reason, rather than in a failed job
    return job_queue(kind=Job.Kind.SVM, study=study, params={"svm": options.to_params()}, user=user)


def _version_create(**fields) -> SvmModelVersion:
    for _ in range(5):  # two trainings finishing together: the loser takes the next number
        number = number_next(SvmModelVersion.objects.all())
        try:
            with transaction.atomic():
                return SvmModelVersion.objects.create(number=number, **fields)
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate an SVM version number")


def svm_train(*, study, options: SvmOptions, job=None, on_progress=None) -> SvmModelVersion:
    if job is not None:
        existing = SvmModelVersion.objects.filter(job=job).first()
        if existing:  # a redelivered job whose first run finished the version
            return existing
    ids, features, labels, features_version = svm_dataset(study, options)
    if on_progress:
        on_progress(0, len(options.c_grid), f"training on {len(ids)} images")
    fit = svm_fit(features, labels, options)
    analyses = latest_analyses(ids[:1], features_version=features_version)
    features_backend = analyses[ids[0]].features_backend
    buffer = io.BytesIO()
    joblib.dump(fit.pipeline, buffer)
    version = _version_create(
        study=study, job=job, features_backend=features_backend, features_version=features_version,
        boundary=options.boundary, c=fit.c, accuracy=fit.accuracy, balanced_accuracy=fit.balanced_accuracy,
        confusion=fit.confusion, counts=fit.counts, c_search=fit.c_search, config=options.to_params(),
    )
    version.artifact.save(f"svm/svm-v{version.number}.joblib", ContentFile(buffer.getvalue()), save=True)
    if on_progress:
        on_progress(len(options.c_grid), len(options.c_grid), f"SVM v{version.number}: held-out accuracy {fit.accuracy:.3f}")
    return version


@lru_cache(maxsize=4)
def svm_pipeline_load(version_id: int):
    version = SvmModelVersion.objects.get(pk=version_id)
    with version.artifact.open("rb") as handle:
        pipeline = joblib.load(io.BytesIO(handle.read()))
    version.artifact.close()
    return pipeline


def svm_apply(
    *, version: SvmModelVersion, image_ids: Iterable[int], chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[int, int, str], None] | None = None, should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Score images that have features of the version's kind. Stores an SvmScore per image
    and metadata svm_class / svm_score / svm_version; scored images are skipped on a rerun."""
    pipeline = svm_pipeline_load(version.pk)
    expected = version.counts.get("feature_dim")
    ids = sorted(set(int(i) for i in image_ids))
    done = set(SvmScore.objects.filter(version=version, image_id__in=ids).values_list("image_id", flat=True))
    todo = [i for i in ids if i not in done]
    skipped, unscored = len(done), 0
    for start in range(0, len(todo), chunk_size):
        if should_stop and should_stop():
            raise JobStopped()
        chunk = todo[start : start + chunk_size]
        analyses = latest_analyses(chunk, features_version=version.features_version)
        usable = [i for i in sorted(analyses) if expected is None or analyses[i].feature_dim == expected]
        unscored += len(chunk) - len(usable)
        if usable:
            names, scores = svm_decide(pipeline, np.stack([analyses[i].feature_vector() for i in usable]))
            SvmScore.objects.bulk_create(
                [SvmScore(version=version, image_id=i, label=n, score=float(s)) for i, n, s in zip(usable, names, scores)],
                ignore_conflicts=True,
            )
            images_metadata_merge({
                i: {"svm_class": str(n), "svm_score": round(float(s), 4), "svm_version": version.number}
                for i, n, s in zip(usable, names, scores)
            })
            done.update(usable)
        if on_progress:
            processed = min(start + chunk_size, len(todo)) + skipped
            on_progress(processed, len(ids), f"scored {len(done)} of {len(ids)} images")
    by_class = Counter(SvmScore.objects.filter(version=version, image_id__in=ids).values_list("label", flat=True))
    return {"images": len(ids), "scored": len(done), "skipped_already_scored": skipped,
            "without_matching_features": unscored, "by_class": dict(by_class), "version": version.number}


def svm_apply_start(*, version: SvmModelVersion, selection: dict, user=None):
    return job_queue(kind=Job.Kind.SVM_APPLY, study=version.study, params={"version": version.pk, **selection}, user=user)

