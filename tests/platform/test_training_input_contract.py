"""The API scores an upload exactly as `python -m quality.score --prepare` scores the same file:
one decoder (EXIF orientation, alpha over white) and the checkpoint's input contract."""
import csv
import io

import numpy as np
import pytest
from PIL import Image as PILImage
from rest_framework.test import APIClient
from skimage import data as skdata

from ratings_site.training.models import QualityModelVersion
from ratings_site.training.services import quality_training_start, storage_local_copy

from .test_training import TINY, labelled_study, runs_root  # noqa: F401  (fixture)


def exif_rotated_jpeg() -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = 6  # stored a quarter turn left: "rotate 90 clockwise to show"
    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(np.rot90(skdata.astronaut(), k=1))).save(
        buffer, format="JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def rgba_png() -> bytes:
    photo = skdata.astronaut()
    alpha = np.full(photo.shape[:2], 255, np.uint8)
    alpha[:, -100:] = np.linspace(255, 0, 100).astype(np.uint8)  # fades out on the right
    buffer = io.BytesIO()
    PILImage.fromarray(np.dstack([photo, alpha]), mode="RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.django_db
def test_api_and_cli_give_the_same_score_for_the_same_file(ml_staff, researcher, runs_root, tmp_path,
                                                          django_capture_on_commit_callbacks):
    from quality.score import main as score_cli

    with django_capture_on_commit_callbacks(execute=True):
        quality_training_start(study=labelled_study(), user=ml_staff, config=TINY)
    version = QualityModelVersion.objects.get()
    client = APIClient()
    client.force_authenticate(researcher)
    files = {"rotated.jpg": exif_rotated_jpeg(), "alpha.png": rgba_png()}
    api = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        response = client.post("/api/quality/score/", {"image": io.BytesIO(data)}, format="multipart")
        assert response.status_code == 200, response.content
        api[name] = response.json()["score"]
    with storage_local_copy(version.checkpoint.name) as checkpoint:
        assert score_cli(["--checkpoint", checkpoint, "--images", str(tmp_path), "--prepare",
                          "--out", str(tmp_path / "scores.csv")]) == 0
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(open(tmp_path / "scores.csv"))}
    for name in files:
        assert rows[name]["error"] == ""
        assert float(rows[name]["score"]) == pytest.approx(api[name], abs=1e-4)  # the CSV keeps 4 decimals
