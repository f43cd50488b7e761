"""Evaluate as a platform job: chained after Q and LEGAN, refused before queueing on bad input,
the table and grid on the version's admin page, and a real Celery worker running it.

The evaluation itself is tests/platform/small_evaluation.py, injected through the
LEGAN_EVALUATE_FUNCTION setting: the lead's `legan.evaluate.evaluate_checkpoint` (same
signature) had not landed on main when this was written."""
import csv

import numpy as np
import pytest
from django.db import connection
from PIL import Image as PILImage
from rest_framework.test import APIClient

from ratings_site.jobs.models import Job
from ratings_site.studies.errors import ServiceError
from ratings_site.training.evaluate_jobs import legan_evaluation_start
from ratings_site.training.legan_jobs import legan_training_start
from ratings_site.training.models import LeganModelVersion
from ratings_site.training.services import quality_training_start

from .test_training import TINY, labelled_study
from .test_training_legan import EXPRESSIONS, LIGHTINGS, legan_config, manifest  # noqa: F401 (fixture)
from .worker import broker_purge, wait_for, worker_start

SMALL_EVALUATION = "tests.platform.small_evaluation.small_evaluate_checkpoint"


@pytest.fixture
def runs_root(settings, tmp_path):
    settings.RUNS_ROOT = str(tmp_path / "runs")
    settings.LEGAN_EVALUATE_FUNCTION = SMALL_EVALUATION
    return tmp_path / "runs"


def evaluation_set(folder, *, size=32, n=4, expressions=EXPRESSIONS, lightings=LIGHTINGS, split="test"):
    """pairs_<split>.csv and its images: n held-out pairs (input, target) of `size` px."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        for role in ("input", "target"):
            PILImage.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}_{role}.png")
        rows.append({"subject": f"t{i}", "input_path": f"{i}_input.png", "target_path": f"{i}_target.png",
                     "target_expression": expressions[i % len(expressions)], "target_lighting": lightings[i % len(lightings)]})
    path = folder / f"pairs_{split}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["subject", "input_path", "target_path", "target_expression", "target_lighting"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def trained_version(manifest_path, capture) -> LeganModelVersion:
    config = {**legan_config(manifest_path), "loss": {"lambda_id": 0.0, "lambda_qual": 0.0, "quality_input_size": 32}}
    with capture(execute=True):
        job = legan_training_start(config=config)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return LeganModelVersion.objects.get(job=job)


@pytest.mark.django_db
def test_q_then_legan_then_evaluation_and_the_version_page_shows_the_table(
        runs_root, manifest, tmp_path, ml_staff, client, django_capture_on_commit_callbacks):  # noqa: F811
    pairs = evaluation_set(tmp_path / "evalset")
    study = labelled_study()
    with django_capture_on_commit_callbacks(execute=True):
        q_job = quality_training_start(study=study, config=TINY)
        legan_job = legan_training_start(config=legan_config(manifest), after_job=q_job)
        evaluation = legan_evaluation_start(pairs_manifest=str(pairs), after_job=legan_job)
        assert evaluation.status == Job.Status.QUEUED and evaluation.params["after_job"] == legan_job.pk
    for job in (q_job, legan_job, evaluation):
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, f"{job}: {job.error}"
    version = LeganModelVersion.objects.get(job=legan_job)
    assert evaluation.params["version"] == version.pk
    rows = {r["model"]: r for r in evaluation.result["rows"]}
    assert set(rows) == {"legan", "real"} and 0 <= rows["legan"]["ssim"] <= 1 and rows["legan"]["n_pairs"] == 4
    assert version.__class__.objects.get(pk=version.pk).metrics["evaluation"]["rows"] == evaluation.result["rows"]
    assert evaluation.progress_done == evaluation.progress_total == 2

    client.force_login(ml_staff)
    page = client.get(f"/admin/training/leganmodelversion/{version.pk}/change/").content.decode()
    assert 'id="evaluation-table"' in page and f"{rows['legan']['ssim']:.4g}" in page
    grid_url = evaluation.result["files"]["grid_png"]
    assert 'id="evaluation-grid"' in page
    grid = client.get(f"/media/{grid_url}")
    assert grid.status_code == 200
    assert PILImage.open(__import__("io").BytesIO(b"".join(grid.streaming_content))).size == (4 * 32, 3 * 32)


@pytest.mark.django_db
def test_bad_input_is_refused_before_anything_is_queued(
        runs_root, manifest, tmp_path, ml_staff, researcher, django_capture_on_commit_callbacks):  # noqa: F811
    version = trained_version(manifest, django_capture_on_commit_callbacks)
    api = APIClient()
    api.force_authenticate(ml_staff)
    cases = {
        "other image size": (evaluation_set(tmp_path / "big", size=64), "the model works at 32 px"),
        "unknown targets": (evaluation_set(tmp_path / "angry", expressions=["angry"]), "target class(es) ['angry']"),
        "empty test split": (evaluation_set(tmp_path / "empty", n=0), "test split has no pairs"),
        "no manifest": (tmp_path / "nowhere" / "pairs_test.csv", "does not exist"),
    }
    before = Job.objects.count()
    for what, (pairs, message) in cases.items():
        response = api.post("/api/legan/evaluate/", {"version": version.pk, "pairs_manifest": str(pairs)}, format="json")
        assert response.status_code == 400, what
        assert message in response.json()["detail"], (what, response.json())
    # A checkpoint of another kind: the version's file replaced by a Q checkpoint-like payload.
    import torch

    with open(version.checkpoint.path, "wb") as fh:
        torch.save({"model": {}, "config": {"image_size": 32}}, fh)
    response = api.post("/api/legan/evaluate/", {"version": version.pk, "pairs_manifest": str(evaluation_set(tmp_path / "ok"))},
                        format="json")
    assert response.status_code == 400 and "not a LEGAN generator checkpoint" in response.json()["detail"]
    assert Job.objects.count() == before  # nothing queued, nothing ran

    not_legan = Job.objects.create(kind=Job.Kind.TRAIN_Q, status=Job.Status.RUNNING)
    with pytest.raises(ServiceError, match="not a LEGAN training job"):
        legan_evaluation_start(pairs_manifest=str(tmp_path / "ok" / "pairs_test.csv"), after_job=not_legan)
    failed = Job.objects.create(kind=Job.Kind.TRAIN_LEGAN, status=Job.Status.FAILED)
    with pytest.raises(ServiceError, match="ended failed"):
        legan_evaluation_start(pairs_manifest=str(tmp_path / "ok" / "pairs_test.csv"), after_job=failed)
    api.force_authenticate(researcher)
    assert api.post("/api/legan/evaluate/", {"version": version.pk, "pairs_manifest": "x"}, format="json").status_code == 403


@pytest.mark.django_db
def test_a_chained_evaluation_fails_with_its_training(runs_root, tmp_path, manifest, django_capture_on_commit_callbacks):  # noqa: F811
    pairs = evaluation_set(tmp_path / "evalset")
    legan_job = Job.objects.create(kind=Job.Kind.TRAIN_LEGAN, status=Job.Status.QUEUED)
    evaluation = legan_evaluation_start(pairs_manifest=str(pairs), after_job=legan_job)
    from ratings_site.jobs.services import job_fail
    from ratings_site.training.runner import _release_chained

    job_fail(job_id=legan_job.pk, exc=RuntimeError("out of memory"))
    _release_chained(legan_job.pk)
    evaluation.refresh_from_db()
    assert evaluation.status == Job.Status.FAILED and f"LEGAN job #{legan_job.pk} ended failed" in evaluation.error


@pytest.mark.django_db
def test_admin_action_asks_for_the_evaluation_set_then_queues(
        runs_root, manifest, tmp_path, ml_staff, client, django_capture_on_commit_callbacks):  # noqa: F811
    version = trained_version(manifest, django_capture_on_commit_callbacks)
    client.force_login(ml_staff)
    url = "/admin/training/leganmodelversion/"
    ask = client.post(url, {"action": "evaluate", "_selected_action": [version.pk]})
    assert ask.status_code == 200 and 'id="queue-evaluation"' in ask.content.decode()
    refused = client.post(url, {"action": "evaluate", "_selected_action": [version.pk],
                                "pairs_manifest": str(evaluation_set(tmp_path / "big", size=64))}, follow=True)
    assert "the model works at 32 px" in refused.content.decode()
    assert not Job.objects.filter(kind=Job.Kind.EVALUATE_LEGAN).exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "evaluate", "_selected_action": [version.pk],
                          "pairs_manifest": str(evaluation_set(tmp_path / "ok"))})
    job = Job.objects.get(kind=Job.Kind.EVALUATE_LEGAN)
    assert job.status == Job.Status.SUCCEEDED, job.error


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_evaluation(tmp_path, settings, runs_root, manifest, django_capture_on_commit_callbacks):  # noqa: F811
    if connection.vendor == "sqlite":
        pytest.skip("a worker process needs a database server (set DATABASE_URL to PostgreSQL)")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    version = trained_version(manifest, django_capture_on_commit_callbacks)
    pairs = evaluation_set(tmp_path / "evalset")
    broker_purge()
    from ratings_site.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    worker = worker_start(tmp_path / "worker.log", queues="gpu",
                          extra_env={"RUNS_ROOT": str(runs_root), "LEGAN_EVALUATE_FUNCTION": SMALL_EVALUATION})
    try:
        job = legan_evaluation_start(pairs_manifest=str(pairs), version=version)
        done = wait_for(lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
                        timeout=180, what="the evaluation job")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert done.status == Job.Status.SUCCEEDED, done.error + (tmp_path / "worker.log").read_text()[-2000:]
    assert done.worker and {r["model"] for r in done.result["rows"]} == {"legan", "real"}
    assert LeganModelVersion.objects.get(pk=version.pk).metrics["evaluation"]["job"] == done.pk
