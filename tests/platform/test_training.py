"""Training Q as a platform job: permissions, the job record, versions, scoring."""
import io
import signal
import time

import numpy as np
import pytest
from django.db import connection
from PIL import Image as PILImage
from rest_framework.test import APIClient
from skimage import data as skdata

from ratings_site.jobs.models import Job
from ratings_site.jobs.services import job_cancel
from ratings_site.labels.services import labels_compute
from ratings_site.training.models import ImageScore, QualityModelVersion
from ratings_site.training.services import quality_scoring_start, quality_training_start
from ratings_site.jobs.sweep import jobs_sweep

from .factories import make_study_with_images
from .test_labels import finish
from .worker import broker_purge, wait_for, worker_start

TINY = {"max_steps": 6, "batch_size": 4, "log_every": 1, "checkpoint_every": 2, "eval_every": 3, "warmup_steps": 0,
        "model": {"image_size": 32, "channels": 4, "max_channels": 8, "depth": 2, "fc_width": 8}}


def labelled_study(n_images=12, raters=2, **kwargs):
    study = make_study_with_images(n_images=n_images, n_batches=1, raters=raters, **kwargs)
    rng = np.random.default_rng(0)
    for who in range(raters):
        finish(study, f"r{who}", list(rng.integers(0, 11, n_images)))
    labels_compute(study=study)
    return study


@pytest.fixture
def runs_root(settings, tmp_path):
    settings.RUNS_ROOT = str(tmp_path / "runs")
    return tmp_path / "runs"


def api_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_researchers_cannot_start_training_but_ml_staff_can(researcher, ml_staff, runs_root, django_capture_on_commit_callbacks):
    study = labelled_study()
    refused = api_for(researcher).post("/api/quality/train/", {"study": study.pk, "config": TINY}, format="json")
    assert refused.status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        accepted = api_for(ml_staff).post("/api/quality/train/", {"study": study.pk, "config": TINY}, format="json")
    assert accepted.status_code == 202
    job = Job.objects.get(pk=accepted.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress_done == job.progress_total == 6
    version = QualityModelVersion.objects.get()
    assert version.is_current and version.job_id == job.pk and len(version.data_hash) == 64
    assert version.config["max_steps"] == 6 and {"val", "test"} <= set(version.metrics)
    assert any(name.endswith("losses.png") for name in job.result["plots"])


@pytest.mark.django_db
def test_bad_training_options_and_missing_labels_are_4xx(ml_staff):
    study = make_study_with_images(n_images=2, n_batches=1)
    client = api_for(ml_staff)
    no_labels = client.post("/api/quality/train/", {"study": study.pk}, format="json")
    assert no_labels.status_code == 400 and "no labels yet" in no_labels.json()["detail"]
    labelled = labelled_study(start=100, name="labelled")
    bad = client.post("/api/quality/train/", {"study": labelled.pk, "config": {"loss": "nope"}}, format="json")
    assert bad.status_code == 400 and "loss must be one of" in bad.json()["detail"]
    unknown = client.post("/api/quality/train/", {"study": labelled.pk, "config": {"lr_typo": 1}}, format="json")
    assert unknown.status_code == 400 and "unknown option" in unknown.json()["detail"]


@pytest.mark.django_db
def test_cancel_stops_the_job_with_a_checkpoint(runs_root, ml_staff):
    study = labelled_study()
    job = Job.objects.create(kind=Job.Kind.TRAIN_Q, study=study, params={"config": TINY}, status=Job.Status.QUEUED)
    job_cancel(job=job)  # cancelled before it ran
    from ratings_site.training.tasks import train_quality_task

    train_quality_task.delay(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and not QualityModelVersion.objects.exists()


def _face_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.django_db
def test_scoring_api_and_scoring_job(researcher, ml_staff, runs_root, django_capture_on_commit_callbacks):
    study = labelled_study()
    client = api_for(researcher)
    face = _face_png(skdata.astronaut())
    none_yet = client.post("/api/quality/score/", {"image": io.BytesIO(face)}, format="multipart")
    assert none_yet.status_code == 409 and "train Q first" in none_yet.json()["detail"]

    with django_capture_on_commit_callbacks(execute=True):
        quality_training_start(study=study, user=ml_staff, config={**TINY, "model": {**TINY["model"], "image_size": 128, "depth": 3}})
    version = QualityModelVersion.objects.get()

    scored = client.post("/api/quality/score/", {"image": io.BytesIO(face)}, format="multipart")
    assert scored.status_code == 200, scored.content
    assert scored.json()["model_version"] == version.number and np.isfinite(scored.json()["score"])

    garbage = client.post("/api/quality/score/", {"image": io.BytesIO(b"not an image")}, format="multipart")
    assert garbage.status_code == 400 and "not a readable image" in garbage.json()["detail"]
    noise = _face_png(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    no_face = client.post("/api/quality/score/", {"image": io.BytesIO(noise)}, format="multipart")
    assert no_face.status_code == 422 and "No usable face" in no_face.json()["detail"]

    with django_capture_on_commit_callbacks(execute=True):
        job = quality_scoring_start(study=study, version=version)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    # The test images are random noise: no face, so every image gets a reason, not a crash.
    assert ImageScore.objects.filter(version=version).count() == 12
    assert job.result["unscored"] == 12


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_worker_resumes_training_from_its_checkpoint(tmp_path, settings, runs_root):
    if connection.vendor == "sqlite":
        pytest.skip("a worker process needs a database server (set DATABASE_URL to PostgreSQL)")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.JOB_HEARTBEAT_STALE_SECONDS = 3
    study = labelled_study(n_images=24)
    env = {"RUNS_ROOT": str(runs_root), "JOB_HEARTBEAT_STALE_SECONDS": "3"}
    broker_purge()
    config = {**TINY, "max_steps": 400, "checkpoint_every": 10, "log_every": 5, "eval_every": 1000}
    worker = worker_start(tmp_path / "w1.log", queues="gpu", extra_env=env)
    try:
        job = quality_training_start(study=study, config=config)
        wait_for(lambda: Job.objects.get(pk=job.pk).progress_done >= 30, timeout=120, what="training progress")
        seen = Job.objects.get(pk=job.pk)
        assert seen.status == Job.Status.RUNNING and seen.worker
        worker.send_signal(signal.SIGKILL)  # kill -9 mid-training
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    killed_at = Job.objects.get(pk=job.pk).progress_done
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING  # left resumable, not failed

    worker = worker_start(tmp_path / "w2.log", queues="gpu", extra_env=env)
    try:
        time.sleep(3.5)  # the heartbeat goes stale; the beat sweep re-sends the job
        assert job.pk in jobs_sweep().resent  # (with the label job still waiting on the celery queue)
        done = wait_for(lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
                        timeout=240, what="the resumed job")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert done.status == Job.Status.SUCCEEDED, done.error + (tmp_path / "w2.log").read_text()[-2000:]
    resumed = done.result["resumed_from_step"]
    assert resumed is not None and 10 <= resumed <= killed_at  # from a checkpoint, not from zero
    assert done.attempts == 2 and done.progress_done == 400
    assert QualityModelVersion.objects.filter(job=done).exists()


@pytest.mark.django_db
def test_uploads_over_the_limit_are_refused_before_any_model_is_asked(researcher, monkeypatch):
    monkeypatch.setattr("ratings_site.training.api.MAX_UPLOAD_BYTES", 1024 * 1024)
    client = api_for(researcher)
    for url, extra in (("/api/quality/score/", {}), ("/api/legan/edit/", {"expression": "smile", "lighting": "front"})):
        too_big = client.post(url, {"image": io.BytesIO(b"\0" * (1024 * 1024 + 1)), **extra}, format="multipart")
        assert too_big.status_code == 400, (url, too_big.content)
        assert "larger than 1 MB" in str(too_big.json()["image"])
        small = client.post(url, {"image": io.BytesIO(b"\0" * 100), **extra}, format="multipart")
        assert small.status_code != 400 or "larger than" not in str(small.json())  # the size alone passes


@pytest.mark.django_db
def test_a_rerun_job_keeps_the_version_its_killed_worker_recorded(tmp_path, settings):
    """A worker killed between recording the Q version and marking its job done gets the job
    re-run; the re-run must not trip over the version already recorded (one version per job)."""
    from ratings_site.training.quality_jobs import quality_version_create

    settings.MEDIA_ROOT = str(tmp_path / "media")
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    job = Job.objects.create(kind=Job.Kind.TRAIN_Q, study=study)
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"weights")
    first = quality_version_create(job=job, checkpoint=checkpoint, config={}, metrics={"a": 1}, data_hash="h")
    again = quality_version_create(job=job, checkpoint=checkpoint, config={}, metrics={"a": 2}, data_hash="h")
    assert again.pk == first.pk and QualityModelVersion.objects.filter(job=job).count() == 1
    assert QualityModelVersion.objects.get().number == first.number
