"""The one job runner: every kind is claimed once, beats, resumes after kill -9, and is
re-sent by the sweep when its message was lost or the broker was down at enqueue."""
import signal
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from ratings_site.celery import app as celery_app
from ratings_site.core.permissions import RESEARCHERS, groups_ensure
from ratings_site.jobs.kinds import job_kinds
from ratings_site.jobs.models import Job
from ratings_site.jobs.runner import job_claim, job_run
from ratings_site.jobs.services import BROKER_UNREACHABLE, job_create, job_enqueue, job_queue
from ratings_site.jobs.sweep import jobs_sweep
from ratings_site.labels.services import labels_job_start
from ratings_site.studies.models import Study

from . import jobkinds
from .factories import make_study_with_images
from .test_labels import finish
from .worker import broker_purge, wait_for, worker_start

WITH_STEPS = ["--include", "tests.platform.jobkinds"]


def _needs_server_db():
    if connection.vendor == "sqlite":
        pytest.skip("a worker process needs a database server (set DATABASE_URL to PostgreSQL)")


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except Exception:
            proc.kill()


@pytest.fixture
def broker_down():
    """Point the Celery app at a port nobody listens on (a real connection refusal)."""
    def set_url(url):
        celery_app.conf.broker_write_url = url
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    set_url("redis://127.0.0.1:1/0")
    yield
    set_url(None)


def _queue_length(queue: str) -> int:
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


@pytest.mark.django_db
def test_every_job_kind_is_declared_with_the_runner():
    kinds = job_kinds()
    inline = {Job.Kind.MARKET_SYNC, Job.Kind.PUBLISH}  # run inside the sync task / a request (job_inline)
    assert set(Job.Kind.values) - inline <= set(kinds), "a job kind is not run by the one runner"
    for spec in kinds.values():
        assert spec.task.acks_late and spec.task.reject_on_worker_lost


@pytest.mark.django_db
def test_a_delivery_claims_a_job_once_and_never_reruns_a_finished_one():
    job = job_create(kind=jobkinds.STEPS, params={"steps": 2, "seconds": 0})
    assert job_claim(job_id=job.pk, worker="w1") is not None
    assert job_claim(job_id=job.pk, worker="w2") is None  # a live worker has it
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert job_claim(job_id=job.pk, worker="w2").worker == "w2"  # its worker went silent
    job_run(job_id=job.pk, worker="w3", beat=False)  # a second delivery while w2 beats: dropped
    assert Job.objects.get(pk=job.pk).worker == "w2"
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    job_run(job_id=job.pk, worker="w3", beat=False)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.message == "2 steps" and job.attempts == 3
    job_run(job_id=job.pk, worker="w4", beat=False)  # finished: never again
    job.refresh_from_db()
    assert job.attempts == 3 and job.worker == "w3"


@pytest.mark.django_db
def test_a_chained_job_waits_and_is_released_by_its_parent(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        parent = job_queue(kind=jobkinds.STEPS, params={"steps": 1, "seconds": 0})
        child = job_queue(kind=jobkinds.STEPS, params={"steps": 1, "seconds": 0}, after_job=parent)
    parent.refresh_from_db()
    child.refresh_from_db()
    # The parent ran (eagerly) and released the child, which ran in turn.
    assert parent.status == child.status == Job.Status.SUCCEEDED


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_sweep_resends_silent_jobs_of_every_kind():
    _needs_server_db()
    broker_purge()
    old = timezone.now() - timedelta(hours=1)
    jobs = [Job.objects.create(kind=kind, status=Job.Status.RUNNING, heartbeat_at=old, sent_at=old - timedelta(minutes=1),
                               sends=1, queued_at=old) for kind in job_kinds()]
    report = jobs_sweep()
    assert sorted(report.resent) == sorted(j.pk for j in jobs)
    # The messages are with the broker, on each kind's queue.
    assert _queue_length("celery") + _queue_length("gpu") == len(jobs)
    assert jobs_sweep().resent == []  # not sent again while the copy is fresh
    broker_purge()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_queued_job_whose_message_was_lost_is_resent(tmp_path, settings):
    _needs_server_db()
    settings.JOB_HEARTBEAT_STALE_SECONDS = 2
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    finish(study, "a", [3, 9])  # completes the study, which queues a label job
    job = Job.objects.get(study=study, kind=Job.Kind.LABELS)
    broker_purge()  # the broker restarted without its data: the message is gone
    assert job.sent_at is not None and jobs_sweep().resent == []  # sent a moment ago
    time.sleep(5.2)  # past the stale window and the grace a just-queued job gets
    worker = worker_start(tmp_path / "worker.log", extra_env={"JOB_HEARTBEAT_STALE_SECONDS": "2"})
    try:
        assert jobs_sweep().resent == [job.pk]
        done = wait_for(lambda: Job.objects.filter(pk=job.pk, status=Job.Status.SUCCEEDED).first(), what="the re-sent job")
    finally:
        _stop(worker)
    assert done.sends == 2 and done.message == "2 labels"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_broker_down_at_enqueue_answers_clearly_and_the_sweep_sends_later(tmp_path, settings, broker_down, client,
                                                                          django_user_model):
    _needs_server_db()
    groups_ensure()
    researcher = django_user_model.objects.create_user("rita", password="pw-rita-123", is_staff=True)
    researcher.groups.add(Group.objects.get(name=RESEARCHERS))
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)  # the launch itself survives the broker being down

    # The rater's last request completes the study; the label job cannot be sent.
    finish(study, "a", [3, 9])
    labels = Job.objects.get(study=study, kind=Job.Kind.LABELS)
    assert labels.status == Job.Status.QUEUED and labels.sent_at is None
    assert labels.message.startswith(BROKER_UNREACHABLE[:40])

    api = APIClient()
    api.force_authenticate(researcher)
    export = api.post(f"/api/studies/{study.pk}/exports/", {"format": "csv"}, format="json")
    assert export.status_code == 202, export.content
    assert "task queue could not be reached" in export.json()["message"]

    client.force_login(researcher)
    page = client.post("/admin/studies/study/", {"action": "compute_labels", "_selected_action": [study.pk]}, follow=True)
    assert page.status_code == 200
    assert "task queue could not be reached" in page.content.decode()
    unsent = list(Job.objects.filter(sent_at__isnull=True).values_list("pk", flat=True))
    assert len(unsent) == 3
    time.sleep(5.1)  # past the grace a just-committed job gets
    assert sorted(jobs_sweep().unsent) == sorted(unsent)  # still down: nothing lost, nothing crashes

    celery_app.conf.broker_write_url = None  # the broker is back
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    broker_purge()
    worker = worker_start(tmp_path / "worker.log")
    try:
        assert sorted(jobs_sweep().resent) == sorted(unsent)
        wait_for(lambda: Job.objects.filter(pk__in=unsent, status=Job.Status.SUCCEEDED).count() == 3, what="the jobs sent late")
    finally:
        _stop(worker)
    assert not Job.objects.filter(pk__in=unsent, message__startswith=BROKER_UNREACHABLE[:20]).exists()


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_job_resumes_within_a_minute_with_the_default_settings(tmp_path):
    """Beat runs inside the second worker (-B) with the shipped schedule and timings: nobody
    calls the sweep by hand."""
    _needs_server_db()
    broker_purge()
    first = worker_start(tmp_path / "w1.log", extra_args=WITH_STEPS)
    try:
        job = job_queue(kind=jobkinds.STEPS, params={"steps": 40, "seconds": 0.25})
        wait_for(lambda: Job.objects.get(pk=job.pk).progress_done >= 4, timeout=60, what="the first steps")
        first.send_signal(signal.SIGKILL)  # kill -9 mid-job
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    killed = Job.objects.get(pk=job.pk)
    assert killed.status == Job.Status.RUNNING and killed.progress_done < 40
    killed_at = time.monotonic()
    second = worker_start(tmp_path / "w2.log", extra_args=[*WITH_STEPS, "-B", "-s", str(tmp_path / "beat-schedule")])
    try:
        done = wait_for(lambda: Job.objects.filter(pk=job.pk, status=Job.Status.SUCCEEDED).first(), timeout=90,
                        what="the job to resume and finish")
    finally:
        _stop(second)
    resumed_after = time.monotonic() - killed_at - (40 - killed.progress_done) * 0.25
    print(f"resumed {resumed_after:.1f} s after kill -9")
    assert resumed_after < 60
    assert done.attempts == 2 and done.result["starts"][0] == 0 and done.result["starts"][1] >= 4  # continued, not restarted


@pytest.mark.django_db
def test_an_inline_job_whose_process_died_is_marked_failed_by_the_sweep():
    from ratings_site.jobs.sweep import WORKER_LOST

    old = timezone.now() - timedelta(hours=1)
    silent = Job.objects.create(kind=Job.Kind.MARKET_SYNC, status=Job.Status.RUNNING, heartbeat_at=old)
    live = Job.objects.create(kind=Job.Kind.PUBLISH, status=Job.Status.RUNNING, heartbeat_at=timezone.now())
    report = jobs_sweep()
    assert report.failed == [silent.pk] and report.resent == []
    silent.refresh_from_db()
    live.refresh_from_db()
    assert silent.status == Job.Status.FAILED and silent.error == WORKER_LOST and silent.finished_at is not None
    assert live.status == Job.Status.RUNNING
