"""Label and export jobs run on a real Celery worker process (Redis broker in CI)."""
import signal

import pytest
from django.db import connection

from ratings_site.jobs.models import Job
from ratings_site.labels.models import Label
from ratings_site.labels.services import export_job_start, labels_job_start

from .factories import make_study_with_images
from .test_labels import finish
from .worker import broker_purge, wait_for, worker_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path, settings):
    if connection.vendor == "sqlite":
        pytest.skip("a worker process needs a database server (set DATABASE_URL to PostgreSQL)")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    broker_purge()
    proc = worker_start(tmp_path / "worker.log")
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except Exception:
        proc.kill()
    print((tmp_path / "worker.log").read_text()[-3000:])


def test_label_and_export_jobs_run_on_a_worker(worker):
    study = make_study_with_images(n_images=2, n_batches=1, raters=2)
    finish(study, "a", [3, 9])
    finish(study, "b", [5, 9])  # the study completes and queues a label job by itself

    auto = wait_for(lambda: Job.objects.filter(study=study, kind=Job.Kind.LABELS, status=Job.Status.SUCCEEDED).first(),
                    what="the label job queued on completion")
    assert auto.worker.startswith("test-")  # the worker that ran it is recorded
    assert auto.progress_done == auto.progress_total == 2
    assert sorted(Label.objects.filter(study=study).values_list("mean", flat=True)) == [4.0, 9.0]

    job = labels_job_start(study_id=study.pk)
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED, what="a label job")

    export = export_job_start(study=study, fmt="csv")
    done = wait_for(lambda: Job.objects.filter(pk=export.pk, status=Job.Status.SUCCEEDED).first(), what="the export job")
    assert done.result["rows"] == 2
    assert done.artifact.read().decode().startswith("image_id,original_name,image_path,")
