"""Lineup studies on the marketplaces: the same entry, allocation and verification as the
naturalness study (MTurk through its double behind boto3; Prolific through its local fake)."""
import pytest

from ratings_site.crowd.providers import provider_for
from ratings_site.lineup.models import Vote
from ratings_site.lineup.results import lineup_results
from ratings_site.marketplace.models import MarketplaceSettings, PublishedTask
from ratings_site.marketplace.services import submissions_sync
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment, Study

from .lineup_helpers import make_lineup_study, make_run
from .test_marketplace_mturk import SANDBOX_SUBMIT, doubles, fake_aws, launch_now, mturk  # noqa: F401 (fixtures)
from .test_marketplace_prolific import fake  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def vote_through_pages(client, entry_response) -> tuple[int, object]:
    """From a marketplace entry to the done page, choosing the first image each time."""
    assert entry_response.status_code == 302, entry_response.content.decode()[:400]
    rate_url = entry_response["Location"]
    vote_url = client.get(rate_url)["Location"]
    instructions = client.get(vote_url)
    assert "Real examples of the target lighting" in instructions.content.decode()  # before the first lineup
    page = client.get(vote_url + "?start=1")
    votes = 0
    while page.status_code == 200:
        assert client.post(vote_url, {"lineup": page.context["lineup"].pk, "choice": 0}).status_code == 302
        votes += 1
        page = client.get(vote_url)
    return votes, client.get(page["Location"])


def test_mturk_lineup_study_hits_work_and_votes_count_only_after_sync(client, mturk, tmp_path):
    lu = make_lineup_study(make_run(tmp_path), subjects=4, per_batch=2, raters=1, launch=False,
                           provider="mturk", environment="sandbox")
    market = MarketplaceSettings.objects.get(study=lu.study)
    assert market.title.startswith("Pick the edited face")
    launch_now(lu.study)
    assert len(mturk.hits) == 2
    hit_id = PublishedTask.objects.get(study=lu.study, batch__index=0).external_id
    assert mturk.hits[hit_id]["AssignmentDurationInSeconds"] == 2 * 60 + 15 * 60  # 2 lineups x 60 s + margin
    preview = client.get(f"/mturk/{lu.study.pk}/", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": hit_id})
    assert preview.status_code == 200 and "pick the one edited image" in preview.content.decode()
    assert not Assignment.objects.exists()
    assignment_id = mturk.accept(hit_id, "AWORKER1")
    entry = client.get(f"/mturk/{lu.study.pk}/", {"assignmentId": assignment_id, "hitId": hit_id,
                                                  "workerId": "AWORKER1", "turkSubmitTo": SANDBOX_SUBMIT})
    votes, done = vote_through_pages(client, entry)
    assert votes == 2
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in done.content.decode()
    assert Assignment.objects.get(external_assignment_id=assignment_id).verified is False
    with pytest.raises(ServiceError, match="no counted votes"):
        lineup_results(lu)
    mturk.submit(assignment_id)
    report = submissions_sync(study=Study.objects.get(pk=lu.study.pk))
    assert report.confirmed == 1
    assert mturk.assignments[assignment_id]["AssignmentStatus"] == "Approved"
    assert lineup_results(lu).votes == 2 == Vote.objects.count()


def test_prolific_lineup_study_participants_vote_and_are_sent_back_with_the_code(client, fake, tmp_path, settings):
    from decimal import Decimal

    from django.db import transaction

    from ratings_site.studies.services import study_launch

    lu = make_lineup_study(make_run(tmp_path), subjects=3, raters=2, launch=False, provider="prolific",
                           environment="sandbox", viewing_seconds=20)
    MarketplaceSettings.objects.filter(study=lu.study).update(reward_per_batch=Decimal("1.00"))
    with transaction.atomic():
        study_launch(study=lu.study)
    provider_for(Study.objects.get(pk=lu.study.pk)).launch()
    [remote] = fake.studies.values()
    assert remote["total_available_places"] == 2
    study_id = PublishedTask.objects.get(study=lu.study, provider="prolific").external_id
    session = fake.add_submission(study_id, "PID1", status="ACTIVE")["id"]
    entry = client.get(f"/prolific/{lu.study.pk}/", {"PROLIFIC_PID": "PID1", "STUDY_ID": study_id, "SESSION_ID": session})
    votes, done = vote_through_pages(client, entry)
    assert votes == 3
    code = MarketplaceSettings.objects.get(study=lu.study).prolific_completion_code
    assert code in done.content.decode()
    fake.submissions[session]["status"] = "AWAITING REVIEW"
    assert submissions_sync(study=Study.objects.get(pk=lu.study.pk)).confirmed == 1
    assert lineup_results(lu).votes == 3
