"""Scoring a study's images with a chosen Q version (a GPU-queue job)."""
from __future__ import annotations

from ratings_site.jobs.runner import JobContext
from ratings_site.catalog.models import Image
from ratings_site.core.errors import ServiceError

from .models import ImageScore, QualityModelVersion
from .services import face_prepare_for_quality, quality_model_load

CHUNK = 64


def study_images(study) -> list[int]:
    if study.adaptive:  # the whole pool, rated or not: Q's view of unrated images counts too
        return list(study.pool.order_by("image_id").values_list("image_id", flat=True))
    return list(
        Image.objects.filter(batchitem__batch__study=study, batchitem__gold__isnull=True).distinct().order_by("id").values_list("id", flat=True)
    )


def quality_score_body(context: JobContext) -> dict:
    from quality.score import input_contract, score_images

    job = context.job
    version = QualityModelVersion.objects.get(pk=job.params["version"])
    model = quality_model_load(version.pk)
    done = set(ImageScore.objects.filter(version=version).values_list("image_id", flat=True))
    todo = [i for i in study_images(job.study) if i not in done]  # resumable: scored images stay scored
    total = len(todo) + len(done)
    for start in range(0, len(todo), CHUNK):
        if context.should_stop():
            from runkit.loop import TrainingStopped

            raise TrainingStopped(len(done), None)
        faces, ids, failures = [], [], []
        for image in Image.objects.filter(pk__in=todo[start : start + CHUNK]):
            try:
                faces.append(face_prepare_for_quality(image.file.read(), input_contract(model)))
                ids.append(image.pk)
            except ServiceError as exc:
                failures.append(ImageScore(image=image, version=version, score=None, reason=exc.message[:200]))
            finally:
                image.file.close()
        scores = score_images(model, faces) if faces else []
        ImageScore.objects.bulk_create(
            [ImageScore(image_id=i, version=version, score=float(s)) for i, s in zip(ids, scores)] + failures,
            ignore_conflicts=True,
        )
        done.update(ids)
        done.update(f.image_id for f in failures)
        context.on_progress(len(done), total, {"scored": len(done)})
    if job.study.adaptive:
        from ratings_site.studies.adaptive import adaptive_q_predictions_store

        scored = dict(ImageScore.objects.filter(version=version, score__isnull=False).values_list("image_id", "score"))
        adaptive_q_predictions_store(study=job.study, predictions=scored, version=str(version.number))
    unscored = ImageScore.objects.filter(version=version, score__isnull=True).count()
    return {"scored": total - unscored, "unscored": unscored, "version": version.number}
