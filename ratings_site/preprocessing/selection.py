"""Which images a preprocessing job works on: chosen images, whole sources, or a study's."""
from __future__ import annotations

from ratings_site.catalog.models import Image
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import BatchItem
from ratings_site.studies.sampling import study_candidates

from . import errors


def study_image_ids(study) -> list[int]:
    """A launched study's rated images (gold items aside); a draft's candidate images."""
    rated = BatchItem.objects.filter(batch__study=study, gold__isnull=True).values_list("image_id", flat=True)
    ids = sorted(set(rated))
    return ids or sorted(study_candidates(study).values_list("id", flat=True))


def image_ids_select(*, image_ids=None, sources=None, study=None) -> list[int]:
    ids: set[int] = set()
    if image_ids:
        ids.update(Image.objects.filter(pk__in=list(image_ids)).values_list("id", flat=True))
    if sources:
        ids.update(Image.objects.filter(source__in=list(sources)).values_list("id", flat=True))
    if study is not None:
        ids.update(study_image_ids(study))
    if not ids:
        raise ServiceError(errors.NO_IMAGES, code="no_images")
    return sorted(ids)


def selection_params(*, image_ids=None, sources=None, study=None) -> dict:
    """What a job stores to find its images again when it runs (or resumes)."""
    return {
        "images": sorted(int(i) for i in image_ids or []),
        "sources": sorted(s.pk for s in sources or []),
        "study": study.pk if study is not None else None,
    }


def selection_resolve(params: dict) -> list[int]:
    from ratings_site.catalog.models import Source
    from ratings_site.studies.models import Study

    study = Study.objects.filter(pk=params["study"]).first() if params.get("study") else None
    sources = list(Source.objects.filter(pk__in=params.get("sources") or []))
    return image_ids_select(image_ids=params.get("images"), sources=sources, study=study)
