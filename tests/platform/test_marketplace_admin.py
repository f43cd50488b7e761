"""The researcher's side in the admin: exact cost before launch, clear refusals, the production gate."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from ratings_site.marketplace.models import MarketplaceSettings

from .test_marketplace_mturk import doubles, fake_aws, mturk, mturk_study, work_as  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
LIST_URL = "/admin/marketplace/marketplacesettings/"


def run_action(client, action, market):
    response = client.post(LIST_URL, {"action": action, "_selected_action": [market.pk]}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def test_change_page_shows_the_exact_cost_fee_by_fee(admin_client, mturk):
    study = mturk_study(launch=False, bonus_amount=Decimal("0.04"), qualifications={"masters": True})
    html = admin_client.get(f"{LIST_URL}{study.marketplace.pk}/change/").content.decode()
    # 4 assignments x $0.50: commission 4 x $0.10, Masters 4 x $0.03 (5% of $0.50, rounded half up)
    for line in ("rewards: 4 assignments x $0.50</td><td>2.00", "at least $0.01 each)</td><td>0.40",
                 "Masters fee (5%)</td><td>0.12", "launch total</td><td>2.52",
                 "with 20% commission)</td><td>0.20"):  # 4 x ($0.04 + the $0.01 minimum commission)
        assert line in html, line


def test_check_launch_and_sync_actions_report_clearly(admin_client, mturk, client):
    study = mturk_study(launch=False, budget_cap=Decimal("2.00"))
    market = study.marketplace
    assert any("Budget exceeded: this launch costs $2.40 but the cap is $2.00" in m for m in run_action(admin_client, "check_launch", market))
    MarketplaceSettings.objects.filter(pk=market.pk).update(budget_cap=None)
    mturk.balance = "0.50"
    assert any("balance is $0.50, too low" in m for m in run_action(admin_client, "check_launch", market))
    mturk.balance = "50.00"
    assert run_action(admin_client, "check_launch", market) == [f"{study}: ready to launch at $2.40."]

    from ratings_site.studies.services import study_launch

    study_launch(study=study)
    assert run_action(admin_client, "publish", market) == [f"{study}: published."]
    assert len(mturk.hits) == 2
    work_as(client, mturk, study, "AADMINSEEN")
    assert run_action(admin_client, "sync", market) == [f"{study}: 1 confirmed, 0 rejected, 0 held for review, 0 slots freed."]


def test_production_confirmation_needs_the_permission(client, researcher, mturk):
    study = mturk_study(launch=False, environment="production")
    market = study.marketplace
    for codename in ("view_marketplacesettings", "change_marketplacesettings"):
        researcher.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(researcher)
    page = client.get("/admin/marketplace/marketplacesettings/")
    assert "confirm_production" not in page.content.decode()  # not offered without its permission
    messages = run_action(client, "confirm_production", market)
    assert messages == ["No action selected."]  # and refused when named anyway
    assert MarketplaceSettings.objects.get(pk=market.pk).production_confirmed_at is None

    researcher.user_permissions.add(Permission.objects.get(codename="launch_production"))
    messages = run_action(client, "confirm_production", market)
    assert messages == [f"{study}: production launch confirmed at $2.40."]
    confirmed = MarketplaceSettings.objects.get(pk=market.pk)
    assert confirmed.production_confirmed_by == researcher and confirmed.production_confirmed_cost == Decimal("2.40")
