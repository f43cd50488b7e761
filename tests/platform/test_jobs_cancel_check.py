"""Training asks whether its job was cancelled every iteration; the database is asked at most
once per interval, and a cancel is still seen within that interval."""
import pytest

from ratings_site.jobs.models import Job
from ratings_site.jobs.services import job_cancel, job_cancel_checker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.mark.django_db
def test_cancel_check_queries_at_most_once_per_interval(django_assert_num_queries):
    job = Job.objects.create(kind=Job.Kind.TRAIN_Q)
    clock = Clock()
    should_stop = job_cancel_checker(job_id=job.pk, every_seconds=5, clock=clock)
    with django_assert_num_queries(1):
        for _ in range(1000):  # a thousand iterations within 5 s: one query
            assert should_stop() is False
            clock.now += 0.004
    job_cancel(job=job)
    clock.now = 104.9
    with django_assert_num_queries(0):
        assert should_stop() is False  # not looked yet: the next look is due at 105
    clock.now = 105.0
    with django_assert_num_queries(1):
        assert should_stop() is True
    clock.now = 500.0
    with django_assert_num_queries(0):
        assert should_stop() is True  # once seen, no more queries


@pytest.mark.django_db
def test_the_first_call_always_asks_and_the_interval_comes_from_settings(settings, django_assert_num_queries):
    settings.JOB_CANCEL_CHECK_SECONDS = 0
    job = Job.objects.create(kind=Job.Kind.TRAIN_Q, cancel_requested=True)
    should_stop = job_cancel_checker(job_id=job.pk, clock=Clock())
    with django_assert_num_queries(1):
        assert should_stop() is True
    other = Job.objects.create(kind=Job.Kind.TRAIN_Q)
    every_call = job_cancel_checker(job_id=other.pk, clock=Clock())
    with django_assert_num_queries(3):
        for _ in range(3):
            every_call()
