"""Stage II: the funnel from sources to a balanced, masked study; admin pages; and the
whole stage I -> stage II flow with simulated raters on a real worker."""
import io
import signal

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test import Client
from PIL import Image as PILImage

from ratings_site.catalog.models import Image, Source
from ratings_site.catalog.services import image_create
from ratings_site.jobs.models import Job
from ratings_site.labels.models import Label
from ratings_site.labels.services import export_job_start
from ratings_site.preprocessing.models import FaceAnalysis, Stage2Run, SvmModelVersion
from ratings_site.core.permissions import groups_ensure
from ratings_site.preprocessing.stage2 import stage2_start
from ratings_site.preprocessing.svm import svm_options, svm_train, svm_training_start
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import BatchItem, Study
from ratings_site.studies.sampling import study_sample_plan
from ratings_site.studies.services import assignment_allocate, assignment_submit, item_next, rating_submit, study_launch

from .factories import png_bytes, rater
from .test_preprocessing_faces import import_faces
from .test_preprocessing_svm import add_synthetic_analysis, labelled_stage1
from .worker import broker_purge, wait_for, worker_start

# k -> (natural?, gender): natural x female, unnatural x female, natural x male, unnatural x male, ...
PATTERN = [(k % 2 == 0, "female" if (k // 2) % 2 == 0 else "male") for k in range(64)]


def synthetic_source(slug, n, *, rng, features_version, start, extra=()):
    """n analysed, frontal images following PATTERN, plus `extra` special cases."""
    source, _ = Source.objects.get_or_create(slug=slug, defaults={"name": slug})
    ids = []
    for k in range(n + len(extra)):
        outcome = image_create(name=f"{slug}-{k}.png", data=png_bytes(start + k, size=64), source=source)
        assert outcome.status == "imported"
        natural, gender = PATTERN[k % len(PATTERN)]
        case = extra[k - n] if k >= n else {}
        add_synthetic_analysis(outcome.image_id, natural=natural, gender=gender, rng=rng, features_version=features_version, **case)
        ids.append(outcome.image_id)
    return source, ids


def rate_all(study, who, score_of):
    """One simulated rater takes a batch and rates every image with score_of(image_id)."""
    a = assignment_allocate(study=study, rater=rater(who))
    while (nxt := item_next(assignment=a)) is not None:
        image_id = BatchItem.objects.get(pk=nxt.item.pk).image_id
        rating_submit(assignment=a, item_id=nxt.item.pk, score=score_of(image_id))
    return assignment_submit(assignment=a)


@pytest.fixture
def svm_version(db):
    study, _ = labelled_stage1(40)
    return svm_train(study=study, options=svm_options({"c_grid": [0.1]}))


@pytest.mark.django_db
def test_funnel_builds_a_balanced_masked_study_and_reports_short_strata(svm_version, django_capture_on_commit_callbacks):
    rng = np.random.default_rng(1)
    progan, _ = synthetic_source("progan", 10, rng=rng, features_version=svm_version.features_version, start=2000,
                                 extra=[{"yaw": 30.0}, {"status": "failed"}])
    forensics, _ = synthetic_source("faceforensics", 8, rng=rng, features_version=svm_version.features_version, start=3000)

    with django_capture_on_commit_callbacks(execute=True):
        run = stage2_start(sources=[progan, forensics], svm_version=svm_version, n_batches=2, raters_per_batch=2)
    run.refresh_from_db()
    assert run.status == Stage2Run.Status.DONE and run.job.status == Job.Status.SUCCEEDED, run.job.error
    funnel = run.funnel
    assert funnel["total"] == {"imported": 20, "face_found": 19, "frontal": 18, "svm_scored": 18, "gender_known": 18,
                               "masked": 18, "sampled": 16}
    assert funnel["by_source"]["progan"]["imported"] == 12 and funnel["by_source"]["faceforensics"]["frontal"] == 8
    assert funnel["available_per_stratum"] == {"natural x female": 5, "natural x male": 4, "unnatural x female": 5,
                                               "unnatural x male": 4}
    assert [(s["stratum"], s["quota"], s["short"]) for s in funnel["strata"]] == [
        ("natural x female", 4, 0), ("natural x male", 4, 0), ("unnatural x female", 4, 0), ("unnatural x male", 4, 0)]
    assert run.problems == []

    study = run.study
    assert study.status == Study.Status.DRAFT and study.strata == ["svm_class", "gender"]
    assert study.metadata_filter == {"face": "yes", "frontal": "yes", "masked": "yes", "svm_version": svm_version.number}
    assert study.sample_size == 16 and study.n_batches == 2 and study.raters_per_batch == 2
    assert set(study.sources.all()) == {progan, forensics}
    plan = study_sample_plan(study)
    assert plan.ok and len(plan.image_ids) == 16
    sampled = Image.objects.filter(pk__in=plan.image_ids)
    assert all(i.display_file.name.startswith("display/") for i in sampled)  # raters see the masked face
    with sampled[0].display_file.open("rb") as handle:
        assert PILImage.open(handle).size == (128, 128)
    study_launch(study=study)
    assert study.batches.count() == 2

    # Asking for more than the strata hold: the study is still made, the shortfall reported.
    with django_capture_on_commit_callbacks(execute=True):
        greedy = stage2_start(sources=[progan, forensics], svm_version=svm_version, sample_size=40, n_batches=2)
    greedy.refresh_from_db()
    assert greedy.status == Stage2Run.Status.DONE and greedy.funnel["total"]["sampled"] == 0
    assert any("natural x male has 4, short by 6" in p for p in greedy.problems)
    assert greedy.funnel["masking"]["skipped_already_masked"] == 18  # the first run's masks are reused

    # A source whose images are all perceived female: both male strata are reported empty.
    deepfake, _ = synthetic_source("deepfake", 2, rng=rng, features_version=svm_version.features_version, start=3500)
    with django_capture_on_commit_callbacks(execute=True):
        lopsided = stage2_start(sources=[deepfake], svm_version=svm_version, n_batches=2)
    lopsided.refresh_from_db()
    assert lopsided.problems == ["Stratum natural x male has no image at all: the sample cannot be balanced across it.",
                                 "Stratum unnatural x male has no image at all: the sample cannot be balanced across it."]


@pytest.mark.django_db
def test_stage2_refuses_bad_requests(svm_version, researcher):
    with pytest.raises(ServiceError, match="at least one source"):
        stage2_start(sources=[], svm_version=svm_version)
    source, _ = Source.objects.get_or_create(slug="progan", defaults={"name": "ProGAN"})
    with pytest.raises(ServiceError, match="needs 'dlib' features"):
        stage2_start(sources=[source], svm_version=svm_version, analysis={"features": "resnet50"})

    groups_ensure()
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(type(researcher).objects.get(pk=researcher.pk))
    answer = client.post("/api/stage2/", {"sources": [], "svm_version": svm_version.pk}, format="json")
    assert answer.status_code == 400
    answer = client.post("/api/stage2/", {"sources": [source.pk], "svm_version": 999}, format="json")
    assert answer.status_code == 400 and "svm_version" in answer.json()


@pytest.mark.django_db
def test_admin_pages_show_funnel_versions_and_start_jobs(svm_version, researcher, django_capture_on_commit_callbacks):
    groups_ensure()
    rng = np.random.default_rng(2)
    source, _ = synthetic_source("progan", 8, rng=rng, features_version=svm_version.features_version, start=4000)
    browser = Client()
    browser.force_login(researcher)

    page = browser.get(f"/admin/preprocessing/svmmodelversion/{svm_version.pk}/change/")
    assert page.status_code == 200 and b"Held-out confusion matrix" in page.content and b"<td>natural</td>" in page.content
    assert browser.get("/admin/preprocessing/faceanalysis/").status_code == 200
    assert b"Analyse faces" in browser.get("/admin/preprocessing/faceanalysis/").content
    assert browser.get("/admin/preprocessing/faceanalysis/analyse/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        answer = browser.post("/admin/preprocessing/stage2run/build/", {
            "name": "II", "sources": [source.pk], "svm_version": svm_version.pk, "n_batches": 2, "raters_per_batch": 3, "seed": 0,
        })
    assert answer.status_code == 302
    run = Stage2Run.objects.get()
    page = browser.get(f"/admin/preprocessing/stage2run/{run.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "face found" in html and "all sources" in html and "natural x female" in html

    # The image and study admins carry the preprocessing actions.
    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/admin/catalog/image/", {"action": "analyse_images", "_selected_action": [Image.objects.first().pk]})
    assert Job.objects.filter(kind=Job.Kind.FACES).count() == 1
    form = browser.get("/admin/preprocessing/svmmodelversion/train/")
    assert form.status_code == 200 and b"12000" in form.content


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_stage1_to_stage2_with_simulated_raters_on_a_worker(tmp_path, settings):
    """Stage I ratings -> labels -> SVM -> stage II funnel (real face analysis of the new
    photos in the worker) -> masked study -> ratings -> labels -> the export Q trains on."""
    if connection.vendor == "sqlite":
        pytest.skip("a worker process needs a database server (set DATABASE_URL to PostgreSQL)")
    from faces.features import DlibDescriptor

    settings.MEDIA_ROOT = str(tmp_path / "media")
    dlib_features = DlibDescriptor().version  # synthetic rows pose as real dlib features
    rng = np.random.default_rng(3)

    # Stage I: 24 StyleGAN-like images, synthetic features; raters find the even ones natural.
    stage1_source, stage1_ids = synthetic_source("stylegan", 24, rng=rng, features_version=dlib_features, start=5000)
    stage1 = Study.objects.create(name="stage I", sample_size=24, n_batches=2, raters_per_batch=2)
    stage1.sources.set([stage1_source])
    study_launch(study=stage1)
    natural = {i: PATTERN[k][0] for k, i in enumerate(stage1_ids)}

    broker_purge()
    worker = worker_start(tmp_path / "worker.log")
    try:
        for who in ("a", "b", "c", "d"):  # 2 batches x 2 raters
            rate_all(stage1, who, lambda image_id: 8 if natural[image_id] else 2)
        wait_for(lambda: Label.objects.filter(study=stage1).count() == 24, timeout=60, what="stage I labels from the worker")

        job = svm_training_start(study=stage1, params={"c_grid": [0.01, 1.0]})
        job = wait_for(lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(), what="SVM training")
        assert job.status == Job.Status.SUCCEEDED, job.error
        version = SvmModelVersion.objects.get()
        assert version.accuracy == 1.0 and version.features_version == dlib_features

        # Stage II sources: synthetic analysed images plus real photos nobody analysed yet.
        progan, _ = synthetic_source("progan", 16, rng=rng, features_version=dlib_features, start=6000)
        photos = import_faces(source_slug="faceforensics")
        forensics = Source.objects.get(slug="faceforensics")
        run = stage2_start(sources=[progan, forensics], svm_version=version, n_batches=2, raters_per_batch=2)
        done = wait_for(lambda: Job.objects.filter(pk=run.job_id, status__in=["succeeded", "failed"]).first(),
                        timeout=90, what="the stage II build")
        assert done.status == Job.Status.SUCCEEDED, done.error
        run.refresh_from_db()
        real = {r.image_id: r for r in FaceAnalysis.objects.filter(image_id__in=photos.values())}
        assert real[photos["astronaut"]].status == "ok" and real[photos["noise"]].reason == "no_face"
        assert real[photos["astronaut"]].job_id == run.job_id  # analysed by the worker, in this build
        assert run.funnel["by_source"]["faceforensics"]["imported"] == 3
        assert run.funnel["by_source"]["faceforensics"]["face_found"] == 2
        assert run.funnel["total"]["sampled"] == run.study.sample_size >= 16

        stage2 = run.study
        study_launch(study=stage2)
        for who in ("e", "f", "g", "h"):
            rate_all(stage2, who, lambda image_id: 5)
        wait_for(lambda: Label.objects.filter(study=stage2).count() == stage2.sample_size, timeout=60, what="stage II labels")
        export = export_job_start(study=stage2, fmt="csv")
        export = wait_for(lambda: Job.objects.filter(pk=export.pk, status="succeeded").first(), what="the export")
        frame = pd.read_csv(io.BytesIO(export.artifact.read()))
        assert len(frame) == stage2.sample_size and frame["image_path"].str.startswith("display/").all()
        assert set(frame["mean"]) == {5.0} and set(frame["n_raters"]) == {2}
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except Exception:
            worker.kill()
        print((tmp_path / "worker.log").read_text()[-3000:])
