"""MTurk through the platform: launch -> Turkers -> sync -> pay/reject/bonus/block -> close.

The MTurk side is ratings_site.marketplace.testing.MTurkDouble behind a real boto3 client
(fake credentials, a .invalid endpoint, botocore's sender replaced: nothing leaves).
"""
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from mturk.client import Environment
from mturk.errors import EnvironmentMismatchError
from mturk.questions import ASSIGNMENT_ID_NOT_AVAILABLE
from ratings_site.crowd.providers import provider_for
from ratings_site.jobs.models import Job
from ratings_site.labels.models import Label, RaterStats
from ratings_site.labels.services import labels_compute
from ratings_site.marketplace import clients
from ratings_site.marketplace.models import MarketplaceSettings, MarketplaceSubmission, PublishedTask
from ratings_site.marketplace.services import production_launch_confirm, publish_resume, submissions_sync
from ratings_site.marketplace.testing import FAKE_AWS_ENV, MTurkDouble, double_client_factory
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment, Study
from ratings_site.studies.services import study_launch

from .factories import make_study_with_images

pytestmark = pytest.mark.django_db
SANDBOX_SUBMIT = "https://workersandbox.mturk.com"
GOOD, BAD = 8, 2  # the gold item accepts 7..10


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch, settings):
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "MTURK_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)

    def refuse(self, request):
        raise AssertionError(f"a test tried to reach the network: {request.url}")

    monkeypatch.setattr("botocore.httpsession.URLLib3Session.send", refuse)
    settings.SITE_URL = "https://ratings.example.org"


@pytest.fixture
def doubles(monkeypatch):
    both = {"sandbox": MTurkDouble(), "production": MTurkDouble()}
    monkeypatch.setattr(clients, "mturk_client_factory", double_client_factory(both))
    return both


@pytest.fixture
def mturk(doubles):
    return doubles["sandbox"]


def mturk_study(*, n_batches=2, raters=2, environment="sandbox", reward="0.50", launch=True, **market):
    study = make_study_with_images(
        n_images=2 * n_batches, n_batches=n_batches, raters=raters, gold=1, launch=False,
        provider="mturk", provider_environment=environment,
    )
    MarketplaceSettings.objects.create(study=study, reward_per_batch=Decimal(reward), **market)
    if launch:
        launch_now(study)
    return study


def launch_now(study):
    from django.db import transaction

    with transaction.atomic():  # the publish task runs on commit, like in production
        study_launch(study=study)
    # pytest-django's test transaction swallows on_commit: run the task's work directly.
    provider_for(Study.objects.get(pk=study.pk)).launch()


def hit_of(study, index=0) -> str:
    return PublishedTask.objects.get(study=study, batch__index=index).external_id


def visit(client, study, **params):
    return client.get(f"/mturk/{study.pk}/", params)


def work_as(client, mturk, study, worker, *, hit_index=0, gold_score=GOOD, score=5, submit_on_mturk=True, assignment_id=None):
    """A Turker accepts the HIT, rates the whole batch through the pages, and submits."""
    hit_id = hit_of(study, hit_index)
    assignment_id = assignment_id or mturk.accept(hit_id, worker)
    response = visit(client, study, assignmentId=assignment_id, hitId=hit_id, workerId=worker, turkSubmitTo=SANDBOX_SUBMIT)
    assert response.status_code == 302, response.content.decode()[:500]
    rate_url = response["Location"]
    assert rate_url.startswith("/rate/")
    assert client.post(rate_url, {"consent": "yes"}).status_code == 302  # consent comes before the first image
    while True:
        page = client.get(rate_url)
        if page.status_code == 302:
            break
        item = page.context["next"].item
        value = gold_score if item.gold_id else score
        assert client.post(rate_url, {"item": item.pk, "score": value}).status_code == 302
    done = client.get(page["Location"])
    if submit_on_mturk:
        mturk.submit(assignment_id)  # the worker's externalSubmit POST
    return assignment_id, done


def test_full_lifecycle_launch_work_sync_pay_bonus_block_close(client, mturk):
    study = mturk_study(n_batches=2, raters=2, on_gold_failure="reject", auto_approval_hours=48)
    assert len(mturk.hits) == 2
    hit = mturk.hits[hit_of(study)]
    assert hit["MaxAssignments"] == 2 and hit["Reward"] == "0.50"
    # Duration: 3 images (2 + gold) x 60 s viewing + the 15-minute margin.
    assert hit["AssignmentDurationInSeconds"] == 3 * 60 + 15 * 60
    assert f"https://ratings.example.org/mturk/{study.pk}/" in hit["Question"]
    assert {b.external_id for b in study.batches.all()} == set(mturk.hits)
    assert Job.objects.filter(kind=Job.Kind.PUBLISH, status=Job.Status.SUCCEEDED).exists()

    good_id, done = work_as(client, mturk, study, "AGOODWORKER1")
    html = done.content.decode()
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in html
    assert f'name="assignmentId" value="{good_id}"' in html
    bad_id, _ = work_as(client, mturk, study, "ABADWORKER22", gold_score=BAD)

    # Submitted here, but nothing counts before MTurk's records confirm it.
    assert not Assignment.objects.filter(verified=True).exists()
    assert labels_compute(study=study)["labels"] == 0

    report = submissions_sync(study=study)
    assert (report.confirmed, report.rejected) == (2, 0)
    assert mturk.assignments[good_id]["AssignmentStatus"] == "Approved"
    assert mturk.assignments[bad_id]["AssignmentStatus"] == "Rejected"
    assert "check images" in mturk.assignments[bad_id]["RequesterFeedback"]
    good = MarketplaceSubmission.objects.get(external_assignment_id=good_id)
    assert (good.verification, good.payment, good.gold_passed, good.gold_checks) == ("confirmed", "approved", 1, 1)
    assert MarketplaceSubmission.objects.get(external_assignment_id=bad_id).payment == "rejected"

    labels_compute(study=study)
    batch_images = set(study.batches.get(index=0).items.filter(gold=None).values_list("image_id", flat=True))
    labels = dict(Label.objects.filter(study=study).values_list("image_id", "n"))
    assert labels == {image: 1 for image in batch_images}  # the gold-failing rater is excluded
    assert RaterStats.objects.get(rater__external_id="ABADWORKER22").excluded

    provider = provider_for(study)
    cost = provider.bonus(good, "0.25", "Careful work")
    assert cost == Decimal("0.30")  # $0.25 + 20% commission (at least $0.01)
    [sent] = mturk.bonuses.values()
    assert (sent["WorkerId"], sent["BonusAmount"], sent["AssignmentId"]) == ("AGOODWORKER1", "0.25", good_id)
    with pytest.raises(ServiceError, match="already sent"):
        provider.bonus(MarketplaceSubmission.objects.get(pk=good.pk), "0.25", "Careful work")
    assert len(mturk.bonuses) == 1
    provider.block(MarketplaceSubmission.objects.get(external_assignment_id=bad_id), "Failed the checks")
    assert mturk.blocks == {"ABADWORKER22": "Failed the checks"}

    assert provider.close() == []
    assert mturk.hits == {}
    assert set(PublishedTask.objects.values_list("status", flat=True)) == {"deleted"}
    # A HIT MTurk no longer has gives a clear message, not a traceback.
    PublishedTask.objects.update(status="published")
    assert provider.close() == [f"HIT {hit_of(study, 0)} no longer exists on MTurk (sandbox); it was marked missing.",
                                f"HIT {hit_of(study, 1)} no longer exists on MTurk (sandbox); it was marked missing."]


def test_preview_shows_instructions_and_allocates_nothing(client, mturk):
    study = mturk_study()
    response = visit(client, study, assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE, hitId=hit_of(study))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Preview" in html and "Instructions" in html and 'id="sample-scale"' in html
    assert "X-Frame-Options" not in response  # MTurk shows the page in its frame
    assert not Assignment.objects.exists()


def test_inside_mturks_frame_the_rating_opens_in_a_new_tab(client, mturk):
    study = mturk_study()
    hit_id = hit_of(study)
    aid = mturk.accept(hit_id, "AFRAMED")
    response = client.get(f"/mturk/{study.pk}/", {"assignmentId": aid, "hitId": hit_id, "workerId": "AFRAMED",
                                                 "turkSubmitTo": SANDBOX_SUBMIT}, HTTP_SEC_FETCH_DEST="iframe")
    assert response.status_code == 200
    token = Assignment.objects.get().token
    assert f'href="/rate/{token}/" target="_blank"' in response.content.decode()


def test_bad_parameters_and_foreign_hosts_are_refused(client, mturk):
    study = mturk_study()
    hit_id = hit_of(study)
    assert visit(client, study, hitId=hit_id).status_code == 400  # no assignmentId
    assert visit(client, study, assignmentId="A1", hitId="NOTOURHIT", workerId="W", turkSubmitTo=SANDBOX_SUBMIT).status_code == 404
    evil = visit(client, study, assignmentId="A1", hitId=hit_id, workerId="W", turkSubmitTo="https://evil.example.com")
    assert evil.status_code == 400 and "unexpected site" in evil.content.decode()
    # A production worker link on a sandbox study: refused before any slot is taken.
    prod = visit(client, study, assignmentId="A1", hitId=hit_id, workerId="W", turkSubmitTo="https://www.mturk.com")
    assert prod.status_code == 400 and "sandbox" in prod.content.decode()
    assert not Assignment.objects.exists()


def test_forged_unknown_and_replayed_submissions_never_count(client, mturk):
    study = mturk_study(n_batches=1, raters=4, unverified_grace_minutes=60)
    hit_id = hit_of(study)
    real_id, _ = work_as(client, mturk, study, "AREALWORKER1", score=9)
    # Forged: someone claims the real assignment under another workerId.
    work_as(client, mturk, study, "AFORGER", assignment_id=real_id, score=0, submit_on_mturk=False)
    # Unknown to MTurk: an invented assignment id.
    work_as(client, mturk, study, "AINVENTOR", assignment_id="3INVENTEDASSIGNMENTID000000001", score=1, submit_on_mturk=False)
    assert Assignment.objects.filter(status="submitted").count() == 3

    first = submissions_sync(study=study)
    assert (first.confirmed, first.rejected) == (1, 1)  # the forger's workerId does not match
    forged = MarketplaceSubmission.objects.get(worker_id="AFORGER")
    assert (forged.verification, forged.verification_reason) == ("rejected", "worker_mismatch")
    assert forged.assignment.status == Assignment.Status.REJECTED  # its slot is free again
    # The invented id may be a worker who has not pressed MTurk's submit yet: wait, do not count.
    assert MarketplaceSubmission.objects.get(worker_id="AINVENTOR").verification == "pending"
    labels_compute(study=study)  # meanwhile, only MTurk-confirmed work is in the labels
    assert set(Label.objects.filter(study=study).values_list("n", "mean")) == {(1, 9.0)}
    MarketplaceSettings.objects.filter(study=study).update(unverified_grace_minutes=0)
    second = submissions_sync(study=study)
    invented = MarketplaceSubmission.objects.get(worker_id="AINVENTOR")
    assert (second.rejected, invented.verification, invented.verification_reason) == (1, "rejected", "unknown_assignment")

    # A replayed link of the real worker lands on the same, already submitted work.
    replay = visit(client, study, assignmentId=real_id, hitId=hit_id, workerId="AREALWORKER1", turkSubmitTo=SANDBOX_SUBMIT)
    assert replay.status_code == 302 and replay["Location"].endswith("/done/")
    third = submissions_sync(study=study)
    assert (third.confirmed, third.rejected) == (0, 0)
    assert Assignment.objects.filter(rater__external_id="AREALWORKER1").count() == 1

    labels_compute(study=study)
    assert set(Label.objects.filter(study=study).values_list("n", "mean")) == {(1, 9.0)}  # only the real worker
    assert set(RaterStats.objects.filter(study=study).values_list("rater__external_id", flat=True)) == {"AREALWORKER1"}


def test_an_assignment_presented_with_another_hit_never_counts(client, mturk):
    study = mturk_study(n_batches=2, raters=2, unverified_grace_minutes=0)
    aid = mturk.accept(hit_of(study, 0), "ASWAPPER")  # accepted HIT 0 ...
    work_as(client, mturk, study, "ASWAPPER", hit_index=1, assignment_id=aid)  # ... but did HIT 1's batch
    report = submissions_sync(study=study)
    assert (report.confirmed, report.rejected, report.freed) == (0, 1, 1)
    assert MarketplaceSubmission.objects.get().verification_reason == "hit_mismatch"
    assert not Assignment.objects.filter(verified=True).exists()


def test_work_submitted_on_mturk_without_finished_ratings_is_rejected(client, mturk):
    study = mturk_study(n_batches=1, raters=2, on_gold_failure="reject")
    hit_id = hit_of(study)
    aid = mturk.accept(hit_id, "ASKIPPER")
    mturk.submit(aid)  # posted MTurk's form without doing the work
    report = submissions_sync(study=study)
    assert report.rejected == 1 and mturk.assignments[aid]["AssignmentStatus"] == "Rejected"


def test_returned_hit_reuses_the_assignment_id_for_the_next_worker(client, mturk):
    study = mturk_study(n_batches=1, raters=2)
    hit_id = hit_of(study)
    aid = mturk.accept(hit_id, "AQUITTER")
    assert visit(client, study, assignmentId=aid, hitId=hit_id, workerId="AQUITTER", turkSubmitTo=SANDBOX_SUBMIT).status_code == 302
    mturk.return_hit(aid)
    assert mturk.accept(hit_id, "ANEXT") == aid  # MTurk hands the same id to someone else
    work_as(client, mturk, study, "ANEXT", assignment_id=aid)
    assert submissions_sync(study=study).confirmed == 1
    keys = set(MarketplaceSubmission.objects.values_list("external_assignment_id", "worker_id", "verification"))
    assert keys == {(aid, "AQUITTER", "pending"), (aid, "ANEXT", "confirmed")}


def test_sandbox_study_cannot_pay_or_block_production_workers(client, doubles, monkeypatch):
    study = mturk_study(n_batches=1, raters=2)
    aid, _ = work_as(client, doubles["sandbox"], study, "AWORKER")
    submissions_sync(study=study)
    sub = MarketplaceSubmission.objects.get()
    # The same worker id as a production record, attached to the sandbox study: refused.
    sub.environment = "production"
    provider = provider_for(study)
    for act in (lambda: provider.bonus(sub, "1.00", "x"), lambda: provider.block(sub, "x"), lambda: provider.approve(sub)):
        with pytest.raises(ServiceError, match="never mix"):
            act()
    assert doubles["production"].requests == [] and doubles["sandbox"].bonuses == {} and doubles["sandbox"].blocks == {}
    # Below the platform, the client refuses a record of the other environment before any call.
    from mturk.assignments import send_bonus
    from mturk.records import AssignmentRef

    with pytest.raises(EnvironmentMismatchError):
        send_bonus(provider.client(), AssignmentRef(aid, hit_of(study), "AWORKER", Environment.PRODUCTION), "1.00", "x")
    # A factory that hands back the wrong environment's client is refused too.
    monkeypatch.setattr(clients, "mturk_client_factory", lambda env: clients._default_mturk_client("production"))
    with pytest.raises(EnvironmentMismatchError):
        clients.mturk_client("sandbox")


def _refused(study) -> str:
    with pytest.raises(ServiceError) as info:
        study_launch(study=study)
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT
    return info.value.message


def test_launch_refused_with_clear_messages(mturk, settings, monkeypatch):
    study = mturk_study(launch=False, budget_cap=Decimal("2.00"))
    # 2 batches x 2 raters x ($0.50 + $0.10 commission) = $2.40
    assert "Budget exceeded: this launch costs $2.40 but the cap is $2.00" in _refused(study)
    MarketplaceSettings.objects.filter(study=study).update(budget_cap=Decimal("10.00"))
    mturk.balance = "1.00"
    assert "The MTurk account balance is $1.00, too low for this launch ($2.40)" in _refused(study)
    mturk.balance = "100.00"
    settings.SITE_URL = "http://ratings.example.org"
    assert "SITE_URL is http://ratings.example.org: MTurk only shows pages served over HTTPS" in _refused(study)
    settings.SITE_URL = "https://ratings.example.org"
    MarketplaceSettings.objects.filter(study=study).update(reward_per_batch=Decimal("0.00"))
    assert "below MTurk's minimum ($0.01)" in _refused(study)
    MarketplaceSettings.objects.filter(study=study).update(reward_per_batch=Decimal("0.50"))
    monkeypatch.setattr(clients, "mturk_client_factory", clients._default_mturk_client)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    assert "MTurk credentials are missing: No AWS credentials found" in _refused(study)
    assert mturk.hits == {} and not PublishedTask.objects.exists()


def test_production_launch_needs_a_permitted_confirmation_at_the_current_cost(mturk, doubles, researcher, django_user_model):
    study = mturk_study(launch=False, environment="production")
    market = study.marketplace
    assert "must confirm it (Marketplace settings > Confirm production launch) at the current cost of $2.40" in _refused(study)
    with pytest.raises(ServiceError, match="Only a user with the 'launch production' permission"):
        production_launch_confirm(market=market, user=researcher)
    boss = django_user_model.objects.create_user("boss", password="pw-boss-123", is_staff=True)
    boss.user_permissions.add(Permission.objects.get(codename="launch_production"))
    boss = django_user_model.objects.get(pk=boss.pk)
    production_launch_confirm(market=market, user=boss)
    MarketplaceSettings.objects.filter(pk=market.pk).update(reward_per_batch=Decimal("0.60"))
    assert "confirmed at $2.40 but now costs $2.88: confirm it again" in _refused(study)
    production_launch_confirm(market=MarketplaceSettings.objects.get(pk=market.pk), user=boss)
    launch_now(study)
    assert len(doubles["production"].hits) == 2 and mturk.hits == {}  # production HITs, none in the sandbox


def test_publishing_resumes_after_a_failure_part_way(mturk):
    mturk.fail_create_at = {2}
    study = mturk_study(n_batches=3, raters=2, launch=False)
    from django.db import transaction

    with transaction.atomic():
        study_launch(study=study)
    with pytest.raises(ServiceError, match="MTurk refused: Simulated outage"):
        publish_resume(study=Study.objects.get(pk=study.pk))
    assert len(mturk.hits) == 1
    assert PublishedTask.objects.exclude(external_id="").count() == 1  # stored the moment it existed
    failed = Job.objects.get(kind=Job.Kind.PUBLISH)
    assert failed.status == Job.Status.FAILED and "Simulated outage" in failed.error

    publish_resume(study=Study.objects.get(pk=study.pk))
    assert len(mturk.hits) == 3  # the first HIT was not created twice
    assert sorted(study.batches.values_list("external_id", flat=True)) == sorted(mturk.hits)
    creates = [op for op in mturk.requests if op == "CreateHIT"]
    assert len(creates) == 4  # 1 ok + 1 failed, then the 2 missing ones


def test_pause_expires_hits_and_resume_extends_them(mturk):
    from ratings_site.studies.services import study_pause

    study = mturk_study(n_batches=1, raters=2)
    study_pause(study=study)
    hit = mturk.hits[hit_of(study)]
    assert hit["HITStatus"] != "Assignable"
    assert PublishedTask.objects.get().status == "paused"
    study_launch(study=Study.objects.get(pk=study.pk))
    assert mturk.hits[hit_of(study)]["HITStatus"] == "Assignable"


def test_beat_task_syncs_running_studies(client, mturk):
    from ratings_site.marketplace.tasks import marketplace_sync_task

    study = mturk_study(n_batches=1, raters=2)
    work_as(client, mturk, study, "ABEAT")
    summary = marketplace_sync_task.delay().get()
    assert summary[study.pk]["confirmed"] == 1
    assert Assignment.objects.get().verified
