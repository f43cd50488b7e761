"""Labels: computing them from a study's valid ratings, and exporting them."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from ratings_site.core.errors import ServiceError
from ratings_site.jobs.models import Job
from ratings_site.jobs.services import job_queue
from ratings_site.studies.models import Assignment, Rating, Study

from .compute import DDOF, RatingArrays, krippendorff_alpha_interval, labels_compute_arrays
from .bulk_write import labels_insert
from .csv_safety import frame_to_csv_bytes
from .models import FLAG_MAD, Label, RaterExclusion, RaterStats

# The export's column schema: stable, so that quality/ and notebooks can rely on it. The same
# words as the API (mean, std); full precision (the admin rounds for display only).
EXPORT_COLUMNS = [
    "image_id", "original_name", "image_path", "sha256", "source", "stratum", "subject",
    "mean", "std", "n_raters", "low_n", "ddof", "study_id",
]
EXPORT_FORMATS = ("csv", "parquet")
EXPORT_BAD_FORMAT = "Unknown export format '{fmt}'; choose csv or parquet."


def ratings_valid_for_labels(study: Study):
    """Ratings that may count: from submitted batches the provider has verified."""
    return Rating.objects.filter(
        assignment__batch__study=study, assignment__status=Assignment.Status.SUBMITTED, assignment__verified=True
    )


def rating_arrays_load(study: Study) -> RatingArrays:
    rows = list(
        ratings_valid_for_labels(study).values_list(
            "item__image_id", "assignment__rater_id", "assignment__batch_id", "score",
            "item__gold_id", "item__gold__min_score", "item__gold__max_score",
        )
    )
    if not rows:
        empty = np.array([], dtype=float)
        return RatingArrays(empty.astype(int), empty.astype(int), empty.astype(int), empty, empty.astype(bool), empty, empty)
    table = pd.DataFrame.from_records(rows).to_numpy(dtype=float, na_value=np.nan)  # None -> NaN, no Python loop
    return RatingArrays(
        image_id=table[:, 0].astype(np.int64),
        rater_id=table[:, 1].astype(np.int64),
        batch_id=table[:, 2].astype(np.int64),
        score=table[:, 3],
        is_gold=~np.isnan(table[:, 4]),
        gold_min=table[:, 5],
        gold_max=table[:, 6],
    )


def _nan_to_none(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def raters_excluded_by_hand(study: Study) -> frozenset[int]:
    """Raters whose newest exclusion decision in this study says: leave them out."""
    latest: dict[int, bool] = {}
    for rater_id, excluded in RaterExclusion.objects.filter(study=study).order_by("decided_at", "id").values_list("rater_id", "excluded"):
        latest[rater_id] = excluded
    return frozenset(r for r, excluded in latest.items() if excluded)


def rater_exclusion_set(*, study: Study, rater, excluded: bool, user=None, reason: str = "") -> RaterExclusion:
    """Exclude a rater from the study's labels (or count them again): one audited decision,
    then the labels are recomputed in the background."""
    with transaction.atomic():
        decision = RaterExclusion.objects.create(study=study, rater=rater, excluded=excluded, reason=reason[:500], decided_by=user)
        RaterStats.objects.filter(study=study, rater=rater).update(excluded_by_hand=excluded)
        transaction.on_commit(lambda: labels_job_start(study_id=study.pk, user=user))
    return decision


def labels_compute(*, study: Study, on_progress=None) -> dict:
    arrays = rating_arrays_load(study)
    by_hand = raters_excluded_by_hand(study)
    result = labels_compute_arrays(arrays, min_pass_rate=study.gold_min_pass_rate, excluded_raters=by_hand)
    needed = study.raters_needed_per_image
    valid = result.valid
    per_batch = {}
    for batch_id, index in study.batches.values_list("id", "index"):
        in_batch = valid & (arrays.batch_id == batch_id)
        # Keyed by the batch number people see (1-based), as in the admin and the API.
        per_batch[str(index + 1)] = krippendorff_alpha_interval(arrays.image_id[in_batch], arrays.score[in_batch])
    agreement = {
        "krippendorff_alpha_interval": krippendorff_alpha_interval(arrays.image_id[valid], arrays.score[valid]),
        "per_batch": per_batch,
        "n_ratings": int(valid.sum()),
        "n_images": int(len(result.image_ids)),
        "excluded_raters": int(result.raters.excluded.sum()),
        "excluded_by_hand": len(by_hand),
        "computed_at": timezone.now().isoformat(),
        "ddof": DDOF,
    }
    r = result.raters
    stats = [
        RaterStats(
            study=study, rater_id=int(r.rater_ids[i]), n_ratings=int(r.n_ratings[i]), gold_checks=int(r.gold_checks[i]),
            gold_passed=int(r.gold_passed[i]), excluded=bool(r.excluded[i]), mad_from_others=_nan_to_none(r.mad_from_others[i]),
            flagged=bool(r.excluded[i] or (np.isfinite(r.mad_from_others[i]) and r.mad_from_others[i] >= FLAG_MAD)),
            excluded_by_hand=int(r.rater_ids[i]) in by_hand,
        )
        for i in range(len(r.rater_ids))
    ]
    # Replace the study's labels as a whole: readers never see a half-written set.
    with transaction.atomic():
        Label.objects.filter(study=study).delete()
        labels_insert(study_id=study.pk, image_ids=result.image_ids, mean=result.mean, std=result.std, n=result.n,
                      low_n=result.n < needed)
        RaterStats.objects.filter(study=study).delete()
        RaterStats.objects.bulk_create(stats, batch_size=5000)
        Study.objects.filter(pk=study.pk).update(agreement=agreement)
    if on_progress:
        on_progress(len(result.image_ids), len(result.image_ids))
    return {"labels": int(len(result.image_ids)), "low_n": int((result.n < needed).sum()), **agreement}


def labels_job_start(*, study_id: int, user=None) -> Job:
    return job_queue(kind=Job.Kind.LABELS, study=Study.objects.get(pk=study_id), user=user)


def image_stratum(metadata: dict, keys: list[str]) -> str:
    """The image's stratum under the study's balancing keys, e.g. "svm_class=natural|gender=f"."""
    return "|".join(f"{key}={metadata.get(key, '')}" for key in keys)


def labels_frame(study: Study) -> pd.DataFrame:
    rows = Label.objects.filter(study=study).values_list(
        "image_id", "image__original_name", "image__display_file", "image__file", "image__sha256", "image__source__slug",
        "image__metadata", "image__subject", "mean", "std", "n", "low_n",
    )
    keys = list(study.strata or [])
    # image_path is what the raters saw: the masked face when there is one.
    rows = [(r[0], r[1], r[2] or r[3], r[4], r[5], image_stratum(r[6] or {}, keys), *r[7:]) for r in rows]
    frame = pd.DataFrame.from_records(
        rows, columns=["image_id", "original_name", "image_path", "sha256", "source", "stratum", "subject", "mean", "std", "n_raters", "low_n"]
    )
    frame["ddof"] = DDOF
    frame["study_id"] = study.pk
    frame = frame.astype({"image_id": "int64", "mean": "float64", "std": "float64", "n_raters": "int64", "low_n": "bool"})
    return frame[EXPORT_COLUMNS]


def export_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return frame_to_csv_bytes(frame)
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise ValueError(EXPORT_BAD_FORMAT.format(fmt=fmt))


def export_job_start(*, study: Study, fmt: str = "csv", user=None) -> Job:
    if fmt not in EXPORT_FORMATS:
        raise ServiceError(EXPORT_BAD_FORMAT.format(fmt=fmt), code="bad_format")
    return job_queue(kind=Job.Kind.EXPORT, study=study, params={"format": fmt}, user=user)


def export_build(*, job: Job) -> dict:
    fmt = job.params.get("format", "csv")
    frame = labels_frame(job.study)
    name = f"exports/study-{job.study_id}/labels-{job.pk}.{fmt}"
    job.artifact.save(name, ContentFile(export_bytes(frame, fmt)), save=True)
    return {"rows": len(frame), "format": fmt, "columns": EXPORT_COLUMNS, "file": job.artifact.name}
