"""Evaluate as a platform job: chained after Q and LEGAN, refused before queueing on bad input,
the table and grid on the version's admin page, and a real Celery worker running it. The
evaluation is the lead's `legan.evaluate.evaluate_checkpoint` on an evaluation set built by
`legan.data.pairs.build_evalset` from made-up faces (tests/legan/evalset_fixtures.py)."""
import io

import pandas as pd
import pytest
import torch
from django.db import connection
from PIL import Image as PILImage
from rest_framework.test import APIClient

from legan.data.pairs import build_evalset
from ratings_site.jobs.models import Job
from ratings_site.core.errors import ServiceError
from ratings_site.training.evaluate_jobs import legan_evaluation_start
from ratings_site.training.legan_jobs import legan_training_start, legan_version_create
from ratings_site.training.models import LeganModelVersion
from ratings_site.training.services import quality_training_start
from tests.legan.evalset_fixtures import EXPRESSIONS, LIGHTINGS, write_face_manifest

from .test_training import TINY, labelled_study
from .test_training_legan import legan_config
from .worker import broker_purge, wait_for, worker_start


@pytest.fixture
def runs_root(settings, tmp_path):
    settings.RUNS_ROOT = str(tmp_path / "runs")
    return tmp_path / "runs"


@pytest.fixture(scope="module")
def evalset(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    return build_evalset(write_face_manifest(root), root / "evalset", expressions=EXPRESSIONS, lightings=LIGHTINGS,
                         test_fraction=0.25, val_fraction=0.25, seed=0)


@pytest.fixture(scope="module")
def legan_checkpoint(evalset, tmp_path_factory):
    """A tiny LEGAN trained once for the module (two iterations) on the set's training split."""
    from legan.data.dataset import LeganDataset
    from legan.train import train
    from tests.legan.core_fixtures import tiny_config, tiny_identity_net, tiny_quality_net

    config = tiny_config(max_iterations=2, log_every=1, expressions=list(EXPRESSIONS), lightings=list(LIGHTINGS))
    dataset = LeganDataset(evalset.manifest("train"), EXPRESSIONS, LIGHTINGS, image_size=32)
    result = train(config, run_dir=tmp_path_factory.mktemp("run"), dataset=dataset, identity_net=tiny_identity_net(),
                   quality_net=tiny_quality_net())
    return result.checkpoint_path, config.to_dict()


def trained_version(legan_checkpoint) -> LeganModelVersion:
    checkpoint, config = legan_checkpoint
    return legan_version_create(job=None, checkpoint=checkpoint, config=config, metrics={}, quality_version=None)


def platform_legan_config(evalset) -> dict:
    return {**legan_config(evalset.manifest("train")), "expressions": list(EXPRESSIONS), "lightings": list(LIGHTINGS),
            "max_iterations": 2}


@pytest.mark.django_db
def test_q_then_legan_then_evaluation_and_the_version_page_shows_the_table(
        runs_root, evalset, ml_staff, client, django_capture_on_commit_callbacks):
    study = labelled_study()
    with django_capture_on_commit_callbacks(execute=True):
        q_job = quality_training_start(study=study, config=TINY)
        legan_job = legan_training_start(config=platform_legan_config(evalset), after_job=q_job)
        evaluation = legan_evaluation_start(pairs_manifest=str(evalset.root), after_job=legan_job)
        assert evaluation.status == Job.Status.QUEUED and evaluation.params["after_job"] == legan_job.pk
    for job in (q_job, legan_job, evaluation):
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, f"{job}: {job.error}"
    version = LeganModelVersion.objects.get(job=legan_job)
    assert evaluation.params["version"] == version.pk
    table = pd.read_csv(runs_root / "evaluate_legan" / f"job-{evaluation.pk}" / "evaluation" / "table1.csv")
    rows = {r["model"]: r for r in evaluation.result["rows"]}
    assert list(rows) == list(table["model"]) and len(rows) == 4  # the model, "no edit", "mean face (train)", "real"
    model = next(m for m in rows if m not in ("no edit", "mean face (train)", "real"))
    assert rows[model]["ssim"] == pytest.approx(table.set_index("model").loc[model, "ssim"])
    assert rows[model]["pairs"] == len(evalset.pairs("test"))
    assert LeganModelVersion.objects.get(pk=version.pk).metrics["evaluation"]["rows"] == evaluation.result["rows"]
    assert evaluation.progress_done == evaluation.progress_total > 0
    assert version.quality_version is not None  # Q's score column came from the chained Q

    client.force_login(ml_staff)
    page = client.get(f"/admin/training/leganmodelversion/{version.pk}/change/").content.decode()
    assert 'id="evaluation-table"' in page and f"{rows[model]['ssim']:.4g}" in page
    assert 'id="evaluation-grid"' in page
    grid = client.get(f"/media/{evaluation.result['files']['grid_png']}")
    assert grid.status_code == 200
    assert PILImage.open(io.BytesIO(b"".join(grid.streaming_content))).width > 0


@pytest.mark.django_db
def other_evalset(evalset, tmp_path, name, edit):
    """A copy of the evaluation set whose test pairs `edit` changes."""
    import shutil

    root = tmp_path / name
    shutil.copytree(evalset.root, root)
    pairs = pd.read_csv(root / "pairs_test.csv", dtype=str, keep_default_na=False)
    edit(pairs).to_csv(root / "pairs_test.csv", index=False)
    return root


def test_bad_input_is_refused_before_anything_is_queued(runs_root, evalset, legan_checkpoint, tmp_path, ml_staff, researcher):
    version = trained_version(legan_checkpoint)
    api = APIClient()
    api.force_authenticate(ml_staff)
    cases = {
        "unknown targets": (other_evalset(evalset, tmp_path, "angry", lambda p: p.assign(target_expression="angry")),
                            "does not know the expression class"),
        "empty test split": (other_evalset(evalset, tmp_path, "empty", lambda p: p.iloc[:0]), "test split has no pairs"),
        "no manifest": (tmp_path / "nowhere" / "pairs_test.csv", "does not exist"),
        "not an evaluation set": (tmp_path, "is not an evaluation set folder"),
    }
    before = Job.objects.count()
    for what, (pairs, message) in cases.items():
        response = api.post("/api/legan/evaluate/", {"version": version.pk, "pairs_manifest": str(pairs)}, format="json")
        assert response.status_code == 400, what
        assert message in response.json()["detail"], (what, response.json())
    # A checkpoint of another kind: the version's file replaced by a Q checkpoint's layout.
    with open(version.checkpoint.path, "wb") as fh:
        torch.save({"model": {}, "model_config": {}}, fh)
    response = api.post("/api/legan/evaluate/", {"version": version.pk, "pairs_manifest": str(evalset.root)}, format="json")
    assert response.status_code == 400 and "not a generator checkpoint" in response.json()["detail"]
    assert Job.objects.count() == before  # nothing queued, nothing ran

    not_legan = Job.objects.create(kind=Job.Kind.TRAIN_Q, status=Job.Status.RUNNING)
    with pytest.raises(ServiceError, match="not a LEGAN training job"):
        legan_evaluation_start(pairs_manifest=str(evalset.root), after_job=not_legan)
    failed = Job.objects.create(kind=Job.Kind.TRAIN_LEGAN, status=Job.Status.FAILED)
    with pytest.raises(ServiceError, match="ended failed"):
        legan_evaluation_start(pairs_manifest=str(evalset.root), after_job=failed)
    api.force_authenticate(researcher)
    assert api.post("/api/legan/evaluate/", {"version": version.pk, "pairs_manifest": "x"}, format="json").status_code == 403


@pytest.mark.django_db
def test_a_chained_evaluation_fails_with_its_training(runs_root, evalset):
    legan_job = Job.objects.create(kind=Job.Kind.TRAIN_LEGAN, status=Job.Status.QUEUED)
    evaluation = legan_evaluation_start(pairs_manifest=str(evalset.root), after_job=legan_job)
    from ratings_site.jobs.services import job_fail
    from ratings_site.jobs.runner import jobs_release_after

    job_fail(job_id=legan_job.pk, exc=RuntimeError("out of memory"))
    jobs_release_after(legan_job.pk)
    evaluation.refresh_from_db()
    assert evaluation.status == Job.Status.FAILED and f"LEGAN job #{legan_job.pk} ended failed" in evaluation.error


@pytest.mark.django_db
def test_admin_action_asks_for_the_evaluation_set_then_queues(
        runs_root, evalset, legan_checkpoint, tmp_path, ml_staff, client, django_capture_on_commit_callbacks):
    version = trained_version(legan_checkpoint)
    client.force_login(ml_staff)
    url = "/admin/training/leganmodelversion/"
    ask = client.post(url, {"action": "evaluate", "_selected_action": [version.pk]})
    assert ask.status_code == 200 and 'id="queue-evaluation"' in ask.content.decode()
    empty = other_evalset(evalset, tmp_path, "empty", lambda p: p.iloc[:0])
    refused = client.post(url, {"action": "evaluate", "_selected_action": [version.pk], "pairs_manifest": str(empty)},
                          follow=True)
    assert "test split has no pairs" in refused.content.decode()
    assert not Job.objects.filter(kind=Job.Kind.EVALUATE_LEGAN).exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "evaluate", "_selected_action": [version.pk], "pairs_manifest": str(evalset.root)})
    job = Job.objects.get(kind=Job.Kind.EVALUATE_LEGAN)
    assert job.status == Job.Status.SUCCEEDED, job.error


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_evaluation(tmp_path, settings, runs_root, evalset, legan_checkpoint):
    if connection.vendor == "sqlite":
        pytest.skip("a worker process needs a database server (set DATABASE_URL to PostgreSQL)")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    version = trained_version(legan_checkpoint)
    broker_purge()
    from ratings_site.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    worker = worker_start(tmp_path / "worker.log", queues="gpu", extra_env={"RUNS_ROOT": str(runs_root)})
    try:
        job = legan_evaluation_start(pairs_manifest=str(evalset.root), version=version)
        done = wait_for(lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
                        timeout=180, what="the evaluation job")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert done.status == Job.Status.SUCCEEDED, done.error + (tmp_path / "worker.log").read_text()[-2000:]
    assert done.worker and len(done.result["rows"]) == 4 and done.result["files"]["grid_png"]  # model, no edit, mean face, real
    assert LeganModelVersion.objects.get(pk=version.pk).metrics["evaluation"]["job"] == done.pk
