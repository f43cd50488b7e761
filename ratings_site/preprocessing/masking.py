"""Writing the face raters see in stage II and Q reads: eye-aligned, 128x128, with every
pixel outside the 68-landmark convex hull set to black, stored as a PNG in
Image.display_file.

It is faces.pipeline's canonical preprocessing (prepare_masked_face) applied with the
landmarks the image's stored analysis found, so the face is not detected twice and the
mask always matches the analysis the funnel filtered on.
"""
from __future__ import annotations

import io
from typing import Callable, Iterable

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from ratings_site.catalog.models import Image
from ratings_site.jobs.runner import JobStopped

from .analysis import CHUNK_SIZE, images_metadata_merge, latest_analyses
from .models import FaceAnalysis

DISPLAY_SIZE = 128


def masked_face_png(data: bytes, landmarks) -> bytes:
    """PNG bytes of the aligned, hull-masked face for stored (68, 2) image landmarks."""
    from faces.io import load_rgb
    from faces.pipeline import masked_aligned_face
    from faces.types import FaceResult

    image = load_rgb(data)  # (H, W, 3) uint8
    points = np.asarray(landmarks, dtype=np.float32).reshape(68, 2)
    face = FaceResult(bbox=(0.0, 0.0, 0.0, 0.0), score=0.0, landmarks=points, n_faces=1, backend="stored", backend_version="")
    face_image, _mask, _points = masked_aligned_face(image, face, size=DISPLAY_SIZE)  # (128, 128, 3)
    buffer = io.BytesIO()
    PILImage.fromarray(face_image).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def display_face_write(image: Image, analysis: FaceAnalysis) -> str:
    """Store the masked face as the image's display file; returns its storage name."""
    with image.file.open("rb") as handle:
        data = handle.read()
    image.file.close()
    png = masked_face_png(data, analysis.landmarks)
    name = f"display/{image.sha256[:2]}/{image.sha256}.png"
    if image.display_file and default_storage.exists(image.display_file.name):
        default_storage.delete(image.display_file.name)
    if default_storage.exists(name):
        default_storage.delete(name)
    stored = default_storage.save(name, ContentFile(png))
    Image.objects.filter(pk=image.pk).update(display_file=stored)
    return stored


def display_faces_write(
    *, image_ids: Iterable[int], features_version: str | None = None, overwrite: bool = False, chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[int, int, str], None] | None = None, should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Mask every image that has a successful analysis (with these features, when given),
    using its newest one. An image already masked from that analysis is skipped (so a
    resumed job does not redo it)."""
    ids = sorted(set(int(i) for i in image_ids))
    written = skipped = failed = 0
    not_analysed = 0
    reasons: dict[str, int] = {}
    for start in range(0, len(ids), chunk_size):
        if should_stop and should_stop():
            raise JobStopped()
        chunk = ids[start : start + chunk_size]
        analyses = latest_analyses(chunk, features_version=features_version)
        not_analysed += len(chunk) - len(analyses)
        updates = {}
        for image in Image.objects.filter(pk__in=list(analyses)).only("id", "file", "display_file", "sha256", "metadata"):
            analysis = analyses[image.pk]
            if not overwrite and image.display_file and (image.metadata or {}).get("masked_from") == analysis.signature:
                skipped += 1
                continue
            try:
                display_face_write(image, analysis)
            except Exception as exc:  # a vanished file or a degenerate face must not stop the run
                failed += 1
                key = type(exc).__name__
                reasons[key] = reasons.get(key, 0) + 1
                updates[image.pk] = {"masked": "no"}
                continue
            written += 1
            updates[image.pk] = {"masked": "yes", "masked_from": analysis.signature}
        images_metadata_merge(updates)
        if on_progress:
            done = min(start + chunk_size, len(ids))
            on_progress(done, len(ids), f"masked {done} of {len(ids)} images")
    return {"written": written, "skipped_already_masked": skipped, "failed": failed, "failure_reasons": reasons,
            "not_analysed": not_analysed}
