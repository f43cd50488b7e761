"""Open invitation links (issue 12, defect 3): one person clearing their session must not
become several raters of one batch. What the defence does and does not stop is written in
ratings_site/crowd/browser_keys.py; these tests pin both sides."""
import pytest
from django.test import Client

from ratings_site.crowd.browser_keys import COOKIE
from ratings_site.crowd.models import Invitation, Rater
from ratings_site.crowd.services import invitations_create
from ratings_site.studies.models import Assignment
from tests.platform.factories import make_study_with_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_link():
    study = make_study_with_images(n_images=2, n_batches=1, raters=3)
    [inv] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=10)
    return inv


def enter(client, inv):
    return client.post(f"/r/{inv.token}/", {"consent": "yes"}, REMOTE_ADDR="203.0.113.7",
                       HTTP_USER_AGENT="Mozilla/5.0 test")


def test_a_new_session_with_the_same_browser_gets_the_same_rater_not_a_new_slot(open_link):
    client = Client()
    first = enter(client, open_link)
    assert first.status_code == 302 and COOKIE in first.cookies
    for _ in range(2):
        client.cookies.pop("sessionid", None)  # "log out": only the session is gone
        again = enter(client, open_link)
        assert again["Location"] == first["Location"]
    assert Rater.objects.count() == 1 and Assignment.objects.count() == 1
    open_link.refresh_from_db()
    assert open_link.uses == 1


def test_a_tampered_browser_cookie_counts_as_a_new_browser(open_link):
    client = Client()
    enter(client, open_link)
    client.cookies.pop("sessionid", None)
    client.cookies[COOKIE] = "forged:value"
    enter(client, open_link)
    assert Rater.objects.count() == 2


def test_clearing_all_cookies_is_a_new_rater_unless_the_link_is_one_per_network(open_link):
    """The documented limit: a signed cookie cannot survive a person clearing cookies."""
    enter(Client(), open_link)
    enter(Client(), open_link)
    assert Rater.objects.count() == 2  # not stopped by the browser key alone

    Assignment.objects.all().delete()
    Rater.objects.all().delete()
    Invitation.objects.filter(pk=open_link.pk).update(one_per_network=True, uses=0)
    open_link.refresh_from_db()
    for _ in range(3):
        enter(Client(), open_link)
    assert Rater.objects.count() == 1 and Assignment.objects.count() == 1


def test_one_per_network_still_admits_another_address(open_link):
    Invitation.objects.filter(pk=open_link.pk).update(one_per_network=True)
    open_link.refresh_from_db()
    enter(Client(), open_link)
    Client().post(f"/r/{open_link.token}/", {"consent": "yes"}, REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="Mozilla/5.0 test")
    assert Rater.objects.count() == 2


def test_the_per_link_cap_bounds_what_one_leaked_link_costs(open_link):
    Invitation.objects.filter(pk=open_link.pk).update(cap=2)
    assert enter(Client(), open_link).status_code == 302
    assert enter(Client(), open_link).status_code == 302
    refused = enter(Client(), open_link)
    assert refused.status_code == 410 and b"already been used" in refused.content
    assert Rater.objects.count() == 2


def test_only_hashes_are_stored(open_link):
    enter(Client(), open_link)
    rater = Rater.objects.get()
    assert len(rater.browser_key) == 64 and "203.0.113.7" not in rater.network_key
