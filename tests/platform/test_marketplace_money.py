"""Money moves through one service: its own permission, an audit row (who, what, amount,
the marketplace's answer), the same for the admin, the API and the sync task. MTurk is the
double behind a real boto3 client (botocore's service model), Prolific its local fake."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient

from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import ML_STAFF, RESEARCHERS, groups_ensure
from ratings_site.marketplace.models import MarketplaceSubmission, MoneyAction
from ratings_site.marketplace.services import submission_bonus, submissions_sync

from .test_marketplace_mturk import BAD, doubles, fake_aws, mturk, mturk_study, work_as  # noqa: F401 (fixtures)
from .test_marketplace_prolific import fake, prolific_study, take_part  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "non_staff", "staff_no_perms", "researcher", "ml_staff", "superuser"]
MAY_DECIDE = {"researcher", "superuser"}


@pytest.fixture
def user_for(django_user_model):
    groups_ensure()

    def make(role):
        if role == "anonymous":
            return None
        if role == "superuser":
            return django_user_model.objects.create_superuser("sue", password="pw-sue-123")
        user = django_user_model.objects.create_user(role, password=f"pw-{role}-123", is_staff=role != "non_staff")
        group = {"researcher": RESEARCHERS, "ml_staff": ML_STAFF}.get(role)
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    return make


def synced_mturk_study(client, mturk):
    study = mturk_study(n_batches=2, raters=2, on_gold_failure="reject", bonus_amount=Decimal("0.25"),
                        bonus_reason="Careful work")
    good_id, _ = work_as(client, mturk, study, "AGOODWORKER1")
    bad_id, _ = work_as(client, mturk, study, "ABADWORKER22", gold_score=BAD)
    submissions_sync(study=study)
    return study, MarketplaceSubmission.objects.get(external_assignment_id=good_id), \
        MarketplaceSubmission.objects.get(external_assignment_id=bad_id)


def test_launch_and_the_syncs_decisions_leave_audit_rows(client, mturk):
    study, good, bad = synced_mturk_study(client, mturk)
    launch = MoneyAction.objects.get(action="launch")
    assert (launch.via, launch.actor, launch.outcome, launch.environment) == ("publish", None, "done", "sandbox")
    assert launch.amount == Decimal("2.40")  # 4 assignments x $0.50 + 20% commission
    approve = MoneyAction.objects.get(action="approve", submission=good)
    assert (approve.via, approve.actor, approve.amount, approve.outcome) == ("marketplace sync", None, Decimal("0.50"), "done")
    reject = MoneyAction.objects.get(action="reject", submission=bad)
    assert reject.outcome == "done" and "check images" in reject.detail
    assert mturk.assignments[bad.external_assignment_id]["AssignmentStatus"] == "Rejected"


@pytest.mark.parametrize("role", ROLES)
def test_admin_bonus_and_block_need_their_own_permission_and_are_audited(role, user_for, client, mturk):
    study, good, bad = synced_mturk_study(client, mturk)
    user = user_for(role)
    if user is not None:
        client.force_login(user)
    client.post("/admin/marketplace/marketplacesubmission/", {"action": "send_bonus", "_selected_action": [good.pk]})
    client.post("/admin/marketplace/marketplacesubmission/", {"action": "block", "_selected_action": [bad.pk]})
    if role in MAY_DECIDE:
        [sent] = mturk.bonuses.values()
        assert (sent["WorkerId"], sent["BonusAmount"]) == ("AGOODWORKER1", "0.25")
        assert mturk.blocks == {"ABADWORKER22": "Blocked by the researcher after review."}
        bonus = MoneyAction.objects.get(action="bonus")
        assert (bonus.actor, bonus.via, bonus.amount, bonus.outcome) == (user, "admin", Decimal("0.25"), "done")
        assert bonus.response.startswith("bonus sent: reference ") and "charged 0.30" in bonus.response  # + commission
        assert MoneyAction.objects.get(action="block").actor == user
    else:
        assert mturk.bonuses == {} and mturk.blocks == {}
        assert not MoneyAction.objects.filter(action__in=["bonus", "block"]).exists()


def test_a_person_without_the_permission_is_refused_by_the_service_itself(client, mturk, user_for):
    study, good, _bad = synced_mturk_study(client, mturk)
    ml = user_for("ml_staff")  # may train models, not pay people
    with pytest.raises(ServiceError) as refused:
        submission_bonus(submission=good, actor=ml, via="api")
    assert refused.value.status == 403 and "pay_bonus" in refused.value.message
    row = MoneyAction.objects.get(action="bonus")
    assert (row.actor, row.outcome) == (ml, "forbidden") and mturk.bonuses == {}
    ml.user_permissions.add(Permission.objects.get(codename="pay_bonus"))
    ml = type(ml).objects.get(pk=ml.pk)  # permission cache
    submission_bonus(submission=good, actor=ml, via="api")
    assert len(mturk.bonuses) == 1


def test_a_refused_marketplace_call_is_audited_with_its_answer(client, mturk, user_for):
    study, good, _bad = synced_mturk_study(client, mturk)
    researcher = user_for("researcher")
    submission_bonus(submission=good, actor=researcher)
    with pytest.raises(ServiceError, match="already sent"):
        submission_bonus(submission=MarketplaceSubmission.objects.get(pk=good.pk), actor=researcher)
    outcomes = list(MoneyAction.objects.filter(action="bonus").order_by("pk").values_list("outcome", "response"))
    assert outcomes[0][0] == "done" and outcomes[1][0] == "failed" and "already sent" in outcomes[1][1]


def test_api_decisions_use_the_same_service_on_prolific(client, fake, user_for):
    study = prolific_study(on_gold_failure="hold", bonus_amount=Decimal("0.50"), bonus_reason="thanks")
    session, _ = take_part(client, fake, study, "PIDHELD", gold_score=1)
    fake.submissions[session]["status"] = "AWAITING REVIEW"
    assert submissions_sync(study=study).held == 1
    held = MarketplaceSubmission.objects.get(worker_id="PIDHELD")
    api = APIClient()
    api.force_authenticate(user_for("staff_no_perms"))
    assert api.post(f"/api/marketplace/submissions/{held.pk}/approve/").status_code == 403
    assert fake.submissions[session]["status"] == "AWAITING REVIEW"

    researcher = user_for("researcher")
    api.force_authenticate(researcher)
    approved = api.post(f"/api/marketplace/submissions/{held.pk}/approve/")
    assert approved.status_code == 200, approved.content
    assert approved.json()["outcome"] == "done" and approved.json()["via"] == "api" and approved.json()["amount"] == "1.00"
    assert fake.submissions[session]["status"] == "APPROVED"
    bonus = api.post(f"/api/marketplace/submissions/{held.pk}/bonus/", {"amount": "0.75"}, format="json")
    assert bonus.status_code == 200 and bonus.json()["amount"] == "0.75" and len(fake.paid) == 1
    again = api.post(f"/api/marketplace/submissions/{held.pk}/bonus/", {}, format="json")
    assert again.status_code == 409 and "already sent" in again.json()["detail"]
    assert list(MoneyAction.objects.filter(submission=held).order_by("pk").values_list("action", "outcome", "actor")) == [
        ("approve", "done", researcher.pk), ("bonus", "done", researcher.pk), ("bonus", "failed", researcher.pk)]
