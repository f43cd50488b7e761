"""The cookie-authenticated pages as an attacker meets them: stored XSS in free text shown to
researchers and raters, cross-site POSTs without a CSRF token, and open redirects in `next=`.
"""
import pytest
from django.test import Client

from ratings_site.catalog.models import Image, ImportRun
from ratings_site.crowd.services import invitations_create
from ratings_site.studies.models import Study
from ratings_site.studies.services import assignment_allocate
from tests.platform.factories import make_study_with_images, rater

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = b"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


@pytest.fixture
def study():
    s = make_study_with_images(n_images=2, n_batches=1, raters=3, name=f"Study {XSS}")
    Study.objects.filter(pk=s.pk).update(instructions=f"Rate {XSS}", consent_statement=f"I agree {XSS}",
                                         pay_description=f"$1 {XSS}")
    Image.objects.update(subject=XSS, original_name=f"{XSS}.png")
    return Study.objects.get(pk=s.pk)


def assert_escaped(response):
    assert response.status_code == 200, response.status_code
    assert XSS.encode() not in response.content
    assert b"<script>alert" not in response.content


# --- XSS in free text --------------------------------------------------------------------------


def test_rater_pages_escape_study_title_and_instructions(study):
    [inv] = invitations_create(study=study)
    client = Client()
    page = client.get(f"/r/{inv.token}/")
    assert_escaped(page)
    assert ESCAPED in page.content
    rate = client.get(client.post(f"/r/{inv.token}/", {"consent": "yes"})["Location"])
    assert_escaped(rate)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/studies/study/",
        "/admin/studies/study/{study}/change/",
        "/admin/catalog/image/",
        "/admin/catalog/image/{image}/change/",
        "/admin/catalog/importrun/{run}/change/",
    ],
)
def test_admin_pages_escape_free_text(client, django_user_model, study, url):
    run = ImportRun.objects.create(kind="zip", origin=XSS, report=[{"name": XSS, "status": "failed", "reason": XSS}])
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    page = client.get(url.format(study=study.pk, image=Image.objects.first().pk, run=run.pk))
    assert_escaped(page)


# --- CSRF on cookie-authenticated pages ----------------------------------------------------------


def test_cross_site_post_without_token_is_refused_on_the_rating_page(study):
    assignment = assignment_allocate(study=study, rater=rater("csrf"))
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/rate/{assignment.token}/", {"item": 1, "score": 5})
    assert response.status_code == 403
    assert not assignment.ratings.exists()


def test_cross_site_post_without_token_is_refused_on_invitations_and_admin(study, django_user_model):
    [inv] = invitations_create(study=study)
    assert Client(enforce_csrf_checks=True).post(f"/r/{inv.token}/").status_code == 403
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post("/admin/studies/study/", {"action": "launch", "_selected_action": [study.pk]})
    assert response.status_code == 403


def test_api_with_a_session_cookie_needs_the_csrf_token(study, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.get("/api/studies/").status_code == 200
    assert client.post(f"/api/studies/{study.pk}/pause/").status_code == 403


# --- open redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "https:evil.example"])
def test_admin_login_next_never_leaves_the_site(django_user_model, target, settings):
    settings.AXES_ENABLED = False
    django_user_model.objects.create_superuser("root", password="pw-root-123")
    response = Client().post(f"/admin/login/?next={target}", {"username": "root", "password": "pw-root-123", "next": target})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/"])
def test_admin_logout_and_other_next_parameters_never_leave_the_site(client, django_user_model, target):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    response = client.post(f"/admin/logout/?next={target}")
    assert "evil.example" not in response.get("Location", "")
