"""Forged marketplace claims (issue 12, defect 2): invented MTurk ids must not take a HIT's
slots for good, and never complete a study.

MTurk is the in-process double behind a real boto3 client (nothing leaves the machine).
"""
from datetime import timedelta

import pytest
from django.utils import timezone

from ratings_site.jobs.models import Job
from ratings_site.marketplace.models import MarketplaceSettings, MarketplaceSubmission
from ratings_site.marketplace.services import submissions_sync
from ratings_site.studies.models import Assignment, Study
from tests.platform.test_marketplace_mturk import (  # noqa: F401  (fixtures)
    SANDBOX_SUBMIT,
    doubles,
    fake_aws,
    hit_of,
    mturk,
    mturk_study,
    visit,
    work_as,
)

pytestmark = pytest.mark.django_db


def forge(client, mturk, study, n):
    for i in range(n):
        work_as(client, mturk, study, f"AFORGED{i}", assignment_id=f"3FORGEDASSIGNMENT{i:013d}", submit_on_mturk=False)


def labels_jobs(study):
    return Job.objects.filter(study=study, kind=Job.Kind.LABELS).count()


def test_forged_workers_never_complete_the_study(client, mturk):
    study = mturk_study(n_batches=1, raters=3)
    forge(client, mturk, study, 3)
    assert Assignment.objects.filter(status="submitted").count() == 3
    study.refresh_from_db()
    assert study.status == Study.Status.RUNNING  # unconfirmed work does not fill a batch
    assert labels_jobs(study) == 0


def test_forged_reservations_expire_and_a_real_worker_gets_the_slot(client, mturk):
    study = mturk_study(n_batches=1, raters=3)
    forge(client, mturk, study, 3)
    hit_id = hit_of(study)
    real_id = mturk.accept(hit_id, "AREAL0")
    blocked = visit(client, study, assignmentId=real_id, hitId=hit_id, workerId="AREAL0", turkSubmitTo=SANDBOX_SUBMIT)
    assert blocked.status_code == 409  # reserved: the claims may still be real workers

    # The reservation runs out, even though no sync ran (a broken beat, missing credentials).
    Assignment.objects.filter(status="submitted").update(submitted_at=timezone.now() - timedelta(minutes=16))
    work_as(client, mturk, study, "AREAL0", assignment_id=real_id)
    assert Assignment.objects.filter(rater__external_id="AREAL0", status="submitted").exists()


def test_sync_discards_forged_claims_and_completes_on_confirmed_work_only(client, mturk):
    study = mturk_study(n_batches=1, raters=3)
    MarketplaceSettings.objects.filter(study=study).update(unverified_grace_minutes=0)
    forge(client, mturk, study, 2)
    report = submissions_sync(study=study)
    assert report.rejected == 2
    assert set(MarketplaceSubmission.objects.values_list("verification", flat=True)) == {"rejected"}

    for worker in ("AREAL1", "AREAL2", "AREAL3"):
        work_as(client, mturk, study, worker)
    study.refresh_from_db()
    assert study.status == Study.Status.RUNNING and labels_jobs(study) == 0  # submitted, not yet confirmed

    report = submissions_sync(study=study)
    assert report.confirmed == 3
    study.refresh_from_db()
    assert study.status == Study.Status.COMPLETE


def test_replayed_forged_link_gets_no_second_slot(client, mturk):
    study = mturk_study(n_batches=1, raters=3)
    hit_id = hit_of(study)
    params = dict(assignmentId="3FORGEDASSIGNMENT0000000000001", hitId=hit_id, workerId="AFORGED", turkSubmitTo=SANDBOX_SUBMIT)
    first = visit(client, study, **params)
    second = visit(client, study, **params)
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert Assignment.objects.count() == 1
