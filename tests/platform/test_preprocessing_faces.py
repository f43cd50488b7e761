"""Face analysis and masking of stored images: records, metadata, reruns, jobs, API."""
import io
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image as PILImage
from rest_framework.test import APIClient
from skimage import data as skdata

from ratings_site.catalog.models import Image, Source
from ratings_site.catalog.services import image_create
from ratings_site.jobs.models import Job
from ratings_site.preprocessing.analysis import AnalysisOptions, faces_analyse, faces_analysis_start
from ratings_site.jobs.sweep import jobs_sweep
from ratings_site.preprocessing.masking import display_faces_write
from ratings_site.preprocessing.models import FaceAnalysis
from ratings_site.core.permissions import groups_ensure

from .factories import png_bytes

DLIB_ONLY = AnalysisOptions(landmarks="dlib", gender="auto", features="dlib")


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def import_faces(source_slug="stylegan", crop=True, noise_seed=7) -> dict[str, int]:
    """The astronaut photo (a real face shipped with scikit-image), its mirror and noise,
    imported the way a researcher's files are."""
    source, _ = Source.objects.get_or_create(slug=source_slug, defaults={"name": source_slug})
    photo = skdata.astronaut()
    if crop:
        photo = photo[20:280, 120:380]  # the head: faster to analyse than the whole 512 x 512
    files = {"astronaut": encode_png(photo), "mirror": encode_png(np.ascontiguousarray(photo[:, ::-1])),
             "noise": png_bytes(noise_seed, size=96)}
    ids = {}
    for name, data in files.items():
        outcome = image_create(name=f"{source_slug}-{name}.png", data=data, source=source)
        assert outcome.status == "imported", outcome
        ids[name] = outcome.image_id
    return ids


def api_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def granted(researcher):
    groups_ensure()
    return type(researcher).objects.get(pk=researcher.pk)  # fresh permission cache


@pytest.mark.django_db
def test_real_faces_are_analysed_and_noise_gets_a_reason():
    ids = import_faces()
    summary = faces_analyse(image_ids=ids.values(), options=DLIB_ONLY)
    assert summary["ok"] == 2 and summary["failed"] == 1 and summary["reasons"] == {"no_face": 1}

    face = FaceAnalysis.objects.get(image_id=ids["astronaut"])
    mirror = FaceAnalysis.objects.get(image_id=ids["mirror"])
    assert face.status == "ok" and face.n_faces == 1 and len(face.landmarks) == 68
    assert face.feature_vector().shape == (128,) and face.features_version.startswith("dlib-")
    assert face.gender in ("female", "male") and 0.0 <= face.gender_confidence <= 1.0
    assert face.landmarks_backend == "dlib" and face.backends["landmarks"]["name"] == "dlib"
    # A mirror turns the head the other way: the yaw changes sign.
    assert abs(face.yaw) > 2 and np.sign(face.yaw) == -np.sign(mirror.yaw)
    x0, _, x1, _ = face.bbox
    assert 0 <= x0 < x1 <= 260

    noise = FaceAnalysis.objects.get(image_id=ids["noise"])
    assert noise.status == "failed" and noise.reason == "no_face" and noise.message
    assert noise.feature_vector() is None

    meta = Image.objects.get(pk=ids["astronaut"]).metadata
    assert meta["face"] == "yes" and meta["frontal"] == ("yes" if abs(face.yaw) < 15 else "no")
    assert meta["yaw"] == pytest.approx(face.yaw, abs=0.01) and meta["gender"] == face.gender
    assert meta["face_signature"] == face.signature
    noise_meta = Image.objects.get(pk=ids["noise"]).metadata
    assert noise_meta["face"] == "no" and noise_meta["face_reason"] == "no_face" and "frontal" not in noise_meta


@pytest.mark.django_db
def test_rerun_skips_same_backends_and_another_backend_is_a_new_record():
    ids = import_faces(crop=True)
    image_ids = [ids["astronaut"], ids["noise"]]
    faces_analyse(image_ids=image_ids, options=DLIB_ONLY)
    again = faces_analyse(image_ids=image_ids, options=DLIB_ONLY)
    assert again["skipped_already_done"] == 2 and FaceAnalysis.objects.count() == 2

    other = faces_analyse(image_ids=image_ids, options=AnalysisOptions(landmarks="dlib", gender=None, features=None))
    assert other["skipped_already_done"] == 0
    rows = FaceAnalysis.objects.filter(image_id=ids["astronaut"]).order_by("created_at")
    assert rows.count() == 2 and rows[0].signature != rows[1].signature
    assert rows[1].features_backend == "" and rows[1].feature_vector() is None and rows[1].gender == ""
    assert rows[0].yaw == pytest.approx(rows[1].yaw)  # same landmarks backend, same pose
    # The latest run's signature is what metadata now reflects; its gender stays from before.
    meta = Image.objects.get(pk=ids["astronaut"]).metadata
    assert meta["face_signature"] == rows[1].signature and meta["gender"] == rows[0].gender


@pytest.mark.django_db
def test_imported_gender_is_kept_and_a_vanished_file_is_a_reason_not_a_crash():
    source, _ = Source.objects.get_or_create(slug="stylegan", defaults={"name": "StyleGAN"})
    photo = skdata.astronaut()[20:280, 120:380]
    first = image_create(name="a.png", data=encode_png(photo), source=source, metadata={"gender": "F"}).image_id
    gone = image_create(name="gone.png", data=png_bytes(3, size=64), source=source).image_id
    default_storage.delete(Image.objects.get(pk=gone).file.name)

    faces_analyse(image_ids=[first, gone], options=AnalysisOptions(landmarks="dlib", gender="metadata", features=None))
    assert FaceAnalysis.objects.get(image_id=first).gender == "female"  # 'F' from the import, normalised
    lost = FaceAnalysis.objects.get(image_id=gone)
    assert lost.status == "failed" and lost.reason == "unreadable" and "could not be read" in lost.message

    faces_analyse(image_ids=[first], options=DLIB_ONLY)  # a predicted gender replaces it; the import stays
    meta = Image.objects.get(pk=first).metadata
    assert meta["gender_given"] == "F" and meta["gender"] in ("female", "male")


@pytest.mark.django_db
def test_masking_writes_the_aligned_hull_masked_face_as_display_file():
    from faces.pipeline import prepare_masked_face

    ids = import_faces()
    faces_analyse(image_ids=[ids["astronaut"], ids["noise"]], options=DLIB_ONLY)
    summary = display_faces_write(image_ids=[ids["astronaut"], ids["noise"]])
    assert summary["written"] == 1 and summary["not_analysed"] == 1  # noise has no face to mask

    image = Image.objects.get(pk=ids["astronaut"])
    assert image.display_file.name.startswith("display/") and image.shown_file == image.display_file
    shown = np.asarray(PILImage.open(image.display_file.open("rb")).convert("RGB"))
    assert shown.shape == (128, 128, 3)
    assert shown[0, 0].sum() == 0 and shown[-1, -1].sum() == 0  # outside the landmark hull: black
    assert shown[64, 64].sum() > 0
    original = np.asarray(PILImage.open(image.file.open("rb")).convert("RGB"))
    expected = prepare_masked_face(original).image  # the canonical preprocessing Q reads
    assert np.abs(shown.astype(int) - expected.astype(int)).mean() < 1.0
    assert image.metadata["masked"] == "yes"
    assert display_faces_write(image_ids=[ids["astronaut"]])["skipped_already_masked"] == 1


@pytest.mark.django_db
def test_analysis_job_reports_progress_and_a_silent_job_resumes(django_capture_on_commit_callbacks, settings):
    ids = import_faces()
    with django_capture_on_commit_callbacks(execute=True):
        job = faces_analysis_start(image_ids=list(ids.values()), options={"landmarks": "dlib", "features": "dlib"}, mask=True)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.kind == Job.Kind.FACES and job.progress_done == job.progress_total == 3
    assert job.result["ok"] == 2 and job.result["reasons"] == {"no_face": 1} and job.result["masking"]["written"] == 2
    assert "2 faces, 1 failed (no_face 1)" == job.message
    assert FaceAnalysis.objects.filter(job=job).count() == 3

    # A worker died mid-job: the row says running, its heartbeat went quiet, one image is done.
    more = import_faces(source_slug="progan", crop=False, noise_seed=8)
    faces_analyse(image_ids=[more["noise"]], options=DLIB_ONLY)
    with django_capture_on_commit_callbacks(execute=True):
        silent = faces_analysis_start(image_ids=list(more.values()), options={"landmarks": "dlib", "features": "dlib"})
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=silent.pk).update(status=Job.Status.RUNNING, finished_at=None, attempts=1, result={},
                                            sent_at=an_hour_ago, heartbeat_at=an_hour_ago)
    FaceAnalysis.objects.filter(image_id=more["astronaut"]).delete()
    assert jobs_sweep().resent == [silent.pk]
    silent.refresh_from_db()
    assert silent.status == Job.Status.SUCCEEDED and silent.attempts == 2
    assert silent.result["skipped_already_done"] == 2 and silent.result["ok"] == 2
    assert FaceAnalysis.objects.filter(image_id__in=more.values()).count() == 3
    assert jobs_sweep().resent == []  # finished jobs are never re-sent


@pytest.mark.django_db
def test_api_lists_analyses_and_starts_jobs_with_reasons_for_bad_input(granted, django_capture_on_commit_callbacks):
    ids = import_faces()
    client = api_for(granted)
    bad = client.post("/api/face-analyses/run/", {"images": [ids["astronaut"]], "options": {"landmarks": "magic"}}, format="json")
    assert bad.status_code == 400 and "landmarks='magic'" in bad.json()["detail"]
    assert client.post("/api/face-analyses/run/", {}, format="json").status_code == 400
    assert client.post("/api/face-analyses/run/", {"images": [999999]}, format="json").status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/api/face-analyses/run/", {"images": list(ids.values()), "options": {"landmarks": "dlib", "features": "dlib"}},
                              format="json")
    assert started.status_code == 202 and started.json()["kind"] == "faces"
    failed = client.get("/api/face-analyses/", {"status": "failed"}).json()
    assert failed["count"] == 1 and failed["results"][0]["reason"] == "no_face"
    one = client.get("/api/face-analyses/", {"image": ids["astronaut"]}).json()["results"][0]
    assert one["feature_dim"] == 128 and len(one["landmarks"]) == 68 and "features" not in one


@pytest.mark.django_db
def test_only_granted_staff_run_face_analysis(researcher, ml_staff, django_user_model):
    ids = import_faces()
    outsider = django_user_model.objects.create_user("otto", password="pw-otto-123", is_staff=True)
    assert api_for(outsider).post("/api/face-analyses/run/", {"images": [ids["noise"]]}, format="json").status_code == 403
    # Researchers run preprocessing; ML staff may look but not start it.
    assert api_for(researcher).post("/api/face-analyses/run/", {"images": [ids["noise"]]}, format="json").status_code == 202
    assert api_for(ml_staff).get("/api/face-analyses/").status_code == 200
    assert api_for(ml_staff).post("/api/face-analyses/run/", {"images": [ids["noise"]]}, format="json").status_code == 403


@pytest.mark.django_db
def test_a_cancelled_job_stops_before_its_next_chunk():
    from ratings_site.preprocessing.selection import selection_params
    from ratings_site.preprocessing.tasks import faces_analyse_task

    ids = import_faces()
    job = Job.objects.create(kind=Job.Kind.FACES, cancel_requested=True, params={
        "selection": selection_params(image_ids=ids.values()), "analysis": DLIB_ONLY.to_params(), "mask": False})
    faces_analyse_task.delay(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and "new job skips them" in job.message
    assert not FaceAnalysis.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_a_job_that_another_worker_finishes(tmp_path, settings):
    import signal

    from django.db import connection

    from .worker import broker_purge, wait_for, worker_start

    if connection.vendor == "sqlite":
        pytest.skip("a worker process needs a database server (set DATABASE_URL to PostgreSQL)")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.JOB_HEARTBEAT_STALE_SECONDS = 2
    env = {"JOB_HEARTBEAT_STALE_SECONDS": "2"}
    source, _ = Source.objects.get_or_create(slug="stylegan", defaults={"name": "StyleGAN"})
    photo = skdata.astronaut()
    ids = [image_create(name=f"crop{k}.png", data=encode_png(photo[10 + 4 * k : 300 + 4 * k, 110:390]), source=source).image_id
           for k in range(12)]

    broker_purge()
    first = worker_start(tmp_path / "w1.log", extra_env=env)
    try:
        job = faces_analysis_start(image_ids=ids, options={"landmarks": "dlib", "features": "dlib"}, chunk_size=2)
        wait_for(lambda: Job.objects.get(pk=job.pk).progress_done >= 2, timeout=60, what="the first chunks")
        first.send_signal(signal.SIGKILL)  # kill -9 mid-job
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    stopped = Job.objects.get(pk=job.pk)
    assert stopped.status == Job.Status.RUNNING and 2 <= stopped.progress_done < 12
    analysed_before = FaceAnalysis.objects.filter(job=job).count()

    second = worker_start(tmp_path / "w2.log", extra_env=env)
    try:
        resent = wait_for(lambda: jobs_sweep().resent, timeout=20, what="the silent job to go stale")
        assert resent == [job.pk]
        done = wait_for(lambda: Job.objects.filter(pk=job.pk, status=Job.Status.SUCCEEDED).first(), timeout=60, what="the resumed job")
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=20)
        except Exception:
            second.kill()
    assert done.attempts == 2 and done.result["skipped_already_done"] == analysed_before
    assert FaceAnalysis.objects.filter(image_id__in=ids).count() == 12  # nothing analysed twice
    assert done.result["ok"] == 12
