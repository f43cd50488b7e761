"""Prolific through the platform, against the local fake of its API (tests/prolific/fake_prolific.py)."""
from decimal import Decimal

import pytest

from prolific.http import ProlificClient, ProlificSettings
from ratings_site.crowd.providers import provider_for
from ratings_site.labels.models import Label
from ratings_site.labels.services import labels_compute
from ratings_site.marketplace import clients
from ratings_site.marketplace.models import MarketplaceSettings, MarketplaceSubmission, PublishedTask
from ratings_site.marketplace.services import cost_sheet, submissions_sync
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment, Study
from ratings_site.studies.services import study_launch, study_pause
from tests.prolific.fake_prolific import FakeProlific

from .factories import make_study_with_images

pytestmark = pytest.mark.django_db
GOOD, BAD = 8, 1


@pytest.fixture
def fake(monkeypatch, settings):
    server = FakeProlific().start()
    monkeypatch.setattr(clients, "prolific_client_factory", lambda: ProlificClient(ProlificSettings(
        token=server.token, base_url=server.base_url, backoff_factor=0.01, max_retries=1)))
    settings.SITE_URL = "https://ratings.example.org"
    yield server
    server.stop()


def prolific_study(*, launch=True, **market):
    study = make_study_with_images(n_images=4, n_batches=2, raters=2, gold=1, launch=False, viewing_seconds=20,
                                   provider="prolific", provider_environment="sandbox")
    market.setdefault("reward_per_batch", Decimal("1.00"))
    MarketplaceSettings.objects.create(study=study, **market)
    if launch:
        from django.db import transaction

        with transaction.atomic():
            study_launch(study=study)
        provider_for(Study.objects.get(pk=study.pk)).launch()
    return study


def prolific_id(study) -> str:
    return PublishedTask.objects.get(study=study, provider="prolific").external_id


def take_part(client, fake, study, pid, *, gold_score=GOOD, score=5, session=None):
    session = session or fake.add_submission(prolific_id(study), pid, status="ACTIVE")["id"]
    response = client.get(f"/prolific/{study.pk}/", {"PROLIFIC_PID": pid, "STUDY_ID": prolific_id(study), "SESSION_ID": session})
    assert response.status_code == 302, response.content.decode()[:400]
    rate_url = response["Location"]
    client.post(rate_url, {"consent": "yes"})  # the consent step comes before the first image
    while (page := client.get(rate_url)).status_code == 200:
        item = page.context["next"].item
        client.post(rate_url, {"item": item.pk, "score": gold_score if item.gold_id else score})
    return session, client.get(page["Location"])


def test_prolific_lifecycle(client, fake):
    study = prolific_study(on_gold_failure="reject", prolific_workspace_id="a" * 24)
    [remote] = fake.studies.values()
    assert remote["status"] == "ACTIVE"
    assert remote["total_available_places"] == 4  # 2 batches x 2 raters
    assert remote["reward"] == 100 and remote["estimated_completion_time"] == 1  # 3 images x 20 s
    assert remote["external_study_url"] == (
        f"https://ratings.example.org/prolific/{study.pk}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
        "&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}")
    code = MarketplaceSettings.objects.get(study=study).prolific_completion_code
    assert remote["completion_codes"][0]["code"] == code

    good_session, done = take_part(client, fake, study, "PIDGOOD")
    html = done.content.decode()
    assert code in html  # the code Prolific expects, not a per-batch code
    relay = Assignment.objects.get(external_assignment_id=good_session).external_submit_to
    back = client.post(relay)
    assert back.status_code == 302 and back["Location"] == f"https://app.prolific.com/submissions/complete?cc={code}"
    bad_session, _ = take_part(client, fake, study, "PIDBAD", gold_score=BAD)

    # Still ACTIVE on Prolific (not back there yet): nothing counts.
    assert submissions_sync(study=study).confirmed == 0
    for session in (good_session, bad_session):
        fake.submissions[session]["status"] = "AWAITING REVIEW"
    report = submissions_sync(study=study)
    assert (report.confirmed, report.rejected) == (2, 0)
    assert fake.submissions[good_session]["status"] == "APPROVED"
    assert fake.submissions[bad_session]["status"] == "REJECTED"
    assert Assignment.objects.filter(verified=True).count() == 2

    provider = provider_for(study)
    good = MarketplaceSubmission.objects.get(worker_id="PIDGOOD")
    assert provider.bonus(good, "0.50") == Decimal("0.50")
    assert len(fake.paid) == 1
    with pytest.raises(ServiceError, match="already sent"):
        provider.bonus(MarketplaceSubmission.objects.get(pk=good.pk), "0.50")
    provider.block(MarketplaceSubmission.objects.get(worker_id="PIDBAD"), "failed checks")
    [group] = fake.groups.values()
    assert group["participant_ids"] == ["PIDBAD"]

    study_pause(study=Study.objects.get(pk=study.pk))
    assert fake.studies[prolific_id(study)]["status"] == "PAUSED"


def test_prolific_claims_it_does_not_know_never_count(client, fake):
    study = prolific_study()
    real, _ = take_part(client, fake, study, "PIDREAL", score=9)
    fake.submissions[real]["status"] = "AWAITING REVIEW"
    take_part(client, fake, study, "PIDFORGER", session="0" * 24, score=0)  # a session Prolific never made
    other = fake.add_submission(prolific_id(study), "PIDSOMEONE", status="AWAITING REVIEW")["id"]
    take_part(client, fake, study, "PIDTHIEF", session=other, score=0)  # someone else's session
    report = submissions_sync(study=study)
    assert (report.confirmed, report.rejected, report.freed) == (1, 2, 2)
    reasons = dict(MarketplaceSubmission.objects.values_list("worker_id", "verification_reason"))
    assert reasons == {"PIDREAL": "verified", "PIDFORGER": "unknown_submission", "PIDTHIEF": "participant_mismatch"}
    labels_compute(study=study)
    assert set(Label.objects.filter(study=study).values_list("n", "mean")) == {(1, 9.0)}


def test_prolific_entry_refuses_other_studies_and_missing_parameters(client, fake):
    study = prolific_study()
    missing = client.get(f"/prolific/{study.pk}/", {"PROLIFIC_PID": "P"})
    assert missing.status_code == 400 and "STUDY_ID" in missing.content.decode()
    other = client.get(f"/prolific/{study.pk}/", {"PROLIFIC_PID": "P", "STUDY_ID": "f" * 24, "SESSION_ID": "s"})
    assert other.status_code == 404
    assert not Assignment.objects.exists()


def test_prolific_launch_refusals(fake, monkeypatch, settings):
    study = prolific_study(launch=False, budget_cap=Decimal("3.00"), reward_per_batch=Decimal("0.05"))

    def refused():
        with pytest.raises(ServiceError) as info:
            study_launch(study=Study.objects.get(pk=study.pk))
        return info.value.message

    message = refused()
    assert "below Prolific's minimum of 6.00/hour" in message
    assert "Budget exceeded" not in message  # 4 x 0.05 x 1.3333 = 0.27 fits
    MarketplaceSettings.objects.filter(study=study).update(reward_per_batch=Decimal("1.00"))
    assert "Budget exceeded: this launch costs $5.33 but the cap is $3.00" in refused()
    sheet = cost_sheet(MarketplaceSettings.objects.get(study=study))
    assert [line.amount for line in sheet.lines] == [Decimal("4.00"), Decimal("1.33"), Decimal("5.33")]
    MarketplaceSettings.objects.filter(study=study).update(budget_cap=None)
    monkeypatch.setattr(clients, "prolific_client_factory", clients._default_prolific_client)
    monkeypatch.delenv("PROLIFIC_TOKEN", raising=False)
    assert "The Prolific API token is missing" in refused()
    monkeypatch.setenv("PROLIFIC_TOKEN", "t")
    monkeypatch.delenv("PROLIFIC_BASE_URL", raising=False)
    assert "Prolific has no sandbox" in refused()
    assert fake.studies == {} and Study.objects.get(pk=study.pk).status == Study.Status.DRAFT
