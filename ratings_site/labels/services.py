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
from .models import Label, RaterStats

# The export's column schema: stable, so that quality/ and notebooks can rely on it.
EXPORT_COLUMNS = ["image_id", "image_path", "sha256", "source", "subject", "mu", "sigma", "n", "low_n", "ddof", "study_id"]
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


def labels_compute(*, study: Study, on_progress=None) -> dict:
    arrays = rating_arrays_load(study)
    result = labels_compute_arrays(arrays, min_pass_rate=study.gold_min_pass_rate)
    needed = study.raters_needed_per_image
    valid = result.valid
    per_batch = {}
    for batch_id, index in study.batches.values_list("id", "index"):
        in_batch = valid & (arrays.batch_id == batch_id)
        per_batch[str(index)] = krippendorff_alpha_interval(arrays.image_id[in_batch], arrays.score[in_batch])
    agreement = {
        "krippendorff_alpha_interval": krippendorff_alpha_interval(arrays.image_id[valid], arrays.score[valid]),
        "per_batch": per_batch,
        "n_ratings": int(valid.sum()),
        "n_images": int(len(result.image_ids)),
        "excluded_raters": int(result.raters.excluded.sum()),
        "computed_at": timezone.now().isoformat(),
        "ddof": DDOF,
    }
    r = result.raters
    stats = [
        RaterStats(
            study=study, rater_id=int(r.rater_ids[i]), n_ratings=int(r.n_ratings[i]), gold_checks=int(r.gold_checks[i]),
            gold_passed=int(r.gold_passed[i]), excluded=bool(r.excluded[i]), mad_from_others=_nan_to_none(r.mad_from_others[i]),
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


def labels_frame(study: Study) -> pd.DataFrame:
    rows = Label.objects.filter(study=study).values_list(
        "image_id", "image__display_file", "image__file", "image__sha256", "image__source__slug", "image__subject",
        "mean", "std", "n", "low_n",
    )
    # image_path is what the raters saw: the masked face when there is one.
    rows = [(r[0], r[1] or r[2], *r[3:]) for r in rows]
    frame = pd.DataFrame.from_records(
        rows, columns=["image_id", "image_path", "sha256", "source", "subject", "mu", "sigma", "n", "low_n"]
    )
    frame["ddof"] = DDOF
    frame["study_id"] = study.pk
    frame = frame.astype({"image_id": "int64", "mu": "float64", "sigma": "float64", "n": "int64", "low_n": "bool"})
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
