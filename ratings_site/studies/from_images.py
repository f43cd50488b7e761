"""A study made from a set of uploaded images in one call (the API's script path)."""
from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from ratings_site.catalog.models import Image, Source
from ratings_site.catalog.services import image_create

from ratings_site.core.errors import ServiceError
from .models import Study

NO_IMAGES = "Send at least one image file (field 'images')."
NONE_USABLE = "None of the {n} files is a usable image: {details}"
TAG_PREFIX = "upload_"


def study_create_from_images(*, name: str, files: list[tuple[str, bytes]], source_slug: str = "api-upload", user=None,
                             **design) -> tuple[Study, list[dict]]:
    """Import the files (duplicates are reused) and create a draft study whose sampling rule
    selects exactly these images. Returns the study and a per-file report."""
    if not files:
        raise ServiceError(NO_IMAGES, code="no_images")
    # The design is checked before anything is stored.
    draft = Study(name=name, sample_size=len(files), created_by=user, **design)
    try:
        draft.full_clean(exclude=["created_by", "example_natural", "example_unnatural"])
    except ValidationError as exc:
        raise ServiceError(" ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()), code="invalid")
    slug = slugify(source_slug)[:50] or "api-upload"
    source, _ = Source.objects.get_or_create(slug=slug, defaults={"name": slug})
    # A key of its own per upload: an image shared with another upload keeps both keys.
    tag = f"{TAG_PREFIX}{secrets.token_hex(6)}"
    report, image_ids = [], set()
    for filename, data in files:
        outcome = image_create(name=filename, data=data, source=source, metadata={tag: "yes"})
        report.append({"name": filename, "status": outcome.status, "reason": outcome.reason, "image_id": outcome.image_id})
        if outcome.image_id:
            image_ids.add(outcome.image_id)
    if not image_ids:
        details = "; ".join(f"{r['name']}: {r['reason']}" for r in report)
        raise ServiceError(NONE_USABLE.format(n=len(files), details=details), code="no_usable_images")
    with transaction.atomic():
        for image in Image.objects.select_for_update().filter(pk__in=image_ids).exclude(**{f"metadata__{tag}": "yes"}):
            image.metadata = {**image.metadata, tag: "yes"}  # a duplicate of an earlier import
            image.save(update_fields=["metadata"])
        draft.sample_size = len(image_ids)
        draft.metadata_filter = {tag: "yes"}
        try:
            draft.full_clean(exclude=["created_by", "example_natural", "example_unnatural"])
        except ValidationError as exc:
            raise ServiceError(" ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()), code="invalid")
        draft.save()
    return draft, report
