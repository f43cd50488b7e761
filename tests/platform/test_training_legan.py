"""LEGAN as a platform job: chained after a Q job, versions, the edit endpoint."""
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image as PILImage
from rest_framework.test import APIClient
from skimage import data as skdata

from ratings_site.jobs.models import Job
from ratings_site.core.errors import ServiceError
from ratings_site.training.legan_jobs import legan_training_start
from ratings_site.training.models import LeganModelVersion, QualityModelVersion
from ratings_site.training.services import quality_training_start

from .test_training import TINY, labelled_study

pytestmark = pytest.mark.django_db
EXPRESSIONS, LIGHTINGS = ["neutral", "smile"], ["left", "right"]


@pytest.fixture
def runs_root(settings, tmp_path):
    settings.RUNS_ROOT = str(tmp_path / "runs")
    return tmp_path / "runs"


@pytest.fixture
def manifest(tmp_path):
    """A tiny labelled face set: crops of the astronaut photo, each in its own classes."""
    from faces.pipeline import prepare_masked_face

    prepared = prepare_masked_face(skdata.astronaut(), size=32)
    rows = []
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        image = np.clip(prepared.image.astype(int) + rng.integers(-20, 20, prepared.image.shape), 0, 255).astype(np.uint8)
        PILImage.fromarray(image).save(folder / f"{i}.png")
        PILImage.fromarray((prepared.mask * 255).astype(np.uint8)).save(folder / f"{i}_mask.png")
        rows.append({"image_path": f"faces/{i}.png", "mask_path": f"faces/{i}_mask.png", "subject": f"s{i % 4}",
                     "expression": EXPRESSIONS[i % 2], "lighting": LIGHTINGS[(i // 2) % 2]})
    path = tmp_path / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def legan_config(manifest_path):
    return {
        "manifest": str(manifest_path), "expressions": EXPRESSIONS, "lightings": LIGHTINGS, "image_size": 32,
        "model": {"arch": "legan", "g_channels": 8, "g_downsamples": 2, "g_res_blocks": 1, "d_channels": 8, "d_layers": 3},
        "loss": {"lambda_id": 0.0, "quality_input_size": 32}, "batch_size": 4, "n_critic": 2, "max_iterations": 4,
        "num_workers": 0, "log_every": 2, "sample_every": 2, "checkpoint_every": 2, "sample_count": 2, "device": "cpu",
    }


def test_legan_chained_after_a_q_job_uses_the_q_version_it_made(runs_root, manifest, ml_staff, django_capture_on_commit_callbacks):
    study = labelled_study()
    with django_capture_on_commit_callbacks(execute=True):
        q_job = quality_training_start(study=study, config=TINY)
        legan_job = legan_training_start(config=legan_config(manifest), after_job=q_job)
        assert legan_job.status == Job.Status.QUEUED and legan_job.params["after_job"] == q_job.pk
    q_job.refresh_from_db()
    legan_job.refresh_from_db()
    assert q_job.status == Job.Status.SUCCEEDED, q_job.error
    assert legan_job.status == Job.Status.SUCCEEDED, legan_job.error + legan_job.log_tail
    q_version = QualityModelVersion.objects.get(job=q_job)
    version = LeganModelVersion.objects.get(job=legan_job)
    assert version.quality_version == q_version and version.is_current
    assert legan_job.progress_done == 4
    plots = legan_job.result["plots"]
    assert any(p.endswith("losses.png") for p in plots) and any(p.endswith("samples-latest.png") for p in plots)

    # The edit endpoint answers a PNG of the model's size, naming the version.
    client = APIClient()
    client.force_authenticate(ml_staff)
    buffer = io.BytesIO()
    PILImage.fromarray(skdata.astronaut()).save(buffer, format="PNG")
    response = client.post("/api/legan/edit/", {"image": io.BytesIO(buffer.getvalue()), "expression": "smile",
                                                "lighting": "left"}, format="multipart")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Model-Version"] == str(version.number)
    assert PILImage.open(io.BytesIO(response.content)).size == (32, 32)
    unknown = client.post("/api/legan/edit/", {"image": io.BytesIO(buffer.getvalue()), "expression": "angry",
                                               "lighting": "left"}, format="multipart")
    assert unknown.status_code == 400 and "angry" in unknown.json()["detail"]


def test_legan_refuses_bad_options_and_a_failed_q_job(runs_root, manifest):
    with pytest.raises(ServiceError, match="Invalid LEGAN options"):
        legan_training_start(config={**legan_config(manifest), "expressions": []})
    failed = Job.objects.create(kind=Job.Kind.TRAIN_Q, status=Job.Status.FAILED)
    with pytest.raises(ServiceError, match="ended failed"):
        legan_training_start(config=legan_config(manifest), after_job=failed)
    with pytest.raises(ServiceError, match="train Q first"):
        legan_training_start(config=legan_config(manifest))


def test_researchers_cannot_train_legan(researcher, manifest):
    client = APIClient()
    client.force_authenticate(researcher)
    assert client.post("/api/legan/train/", {"config": legan_config(manifest)}, format="json").status_code == 403


def test_admin_form_queues_legan_after_a_q_job(client, ml_staff, researcher, manifest):
    q_job = Job.objects.create(kind=Job.Kind.TRAIN_Q, status=Job.Status.RUNNING)
    form = {"manifest": str(manifest), "expressions": "neutral, smile", "lightings": "left,right",
            "options": '{"image_size": 32, "model": {"g_channels": 8, "d_channels": 8, "d_layers": 3}}', "after_job": q_job.pk}
    client.force_login(researcher)
    client.post("/admin/training/leganmodelversion/train/", form)
    assert not Job.objects.filter(kind=Job.Kind.TRAIN_LEGAN).exists()
    client.force_login(ml_staff)
    response = client.post("/admin/training/leganmodelversion/train/", form)
    job = Job.objects.get(kind=Job.Kind.TRAIN_LEGAN)
    assert response.status_code == 302 and job.params["after_job"] == q_job.pk
    bad = client.post("/admin/training/leganmodelversion/train/", {**form, "options": "{not json"})
    assert b"Not valid JSON" in bad.content
