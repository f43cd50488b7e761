"""The rating page and admin pages through Django's test client (the browser tests
drive the same pages in Chromium)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitations_create
from ratings_site.studies.models import Assignment, Study

from .factories import make_study_with_images

pytestmark = pytest.mark.django_db


def start(client, invitation):
    response = client.post(f"/r/{invitation.token}/", {"consent": "yes"})
    assert response.status_code == 302, response.content
    return response["Location"]


def test_invitation_shows_instructions_then_starts_a_batch(client):
    study = make_study_with_images(n_images=2, n_batches=1)
    [inv] = invitations_create(study=study)
    page = client.get(f"/r/{inv.token}/")
    assert b"Instructions" in page.content and b"60 seconds" in page.content
    url = start(client, inv)
    rate = client.get(url)
    assert rate.status_code == 200 and b"Image <b>1</b> of <b>2</b>" in rate.content
    assert rate.content.count(b'name="score"') == 11


def test_single_use_invitation_admits_one_rater_but_lets_them_back_in(client, django_user_model):
    study = make_study_with_images(n_images=2, n_batches=2)
    [inv] = invitations_create(study=study)
    first = start(client, inv)
    assert start(client, inv) == first  # same browser: same rater, same batch
    stranger = type(client)()
    refused = stranger.post(f"/r/{inv.token}/", {"consent": "yes"})
    assert refused.status_code == 410 and b"already been used" in refused.content


def test_open_invitation_respects_its_cap(client):
    study = make_study_with_images(n_images=4, n_batches=4, raters=1)
    [inv] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=2)
    for _ in range(2):
        start(type(client)(), inv)
    assert type(client)().post(f"/r/{inv.token}/", {"consent": "yes"}).status_code == 410


def test_rating_page_post_redirect_get_and_completion_code(client):
    study = make_study_with_images(n_images=2, n_batches=1)
    [inv] = invitations_create(study=study)
    url = start(client, inv)
    for _ in range(2):
        page = client.get(url)
        item = page.context["next"].item.pk
        response = client.post(url, {"item": item, "score": "7"})
        assert response.status_code == 302 and response["Location"] == url
    done = client.get(url, follow=True)
    code = Assignment.objects.get().completion_code
    assert code.encode() in done.content


def test_rating_page_shows_a_clear_error_for_a_bad_score(client):
    study = make_study_with_images(n_images=2, n_batches=1)
    [inv] = invitations_create(study=study)
    url = start(client, inv)
    item = client.get(url).context["next"].item.pk
    response = client.post(url, {"item": item, "score": "12"})
    assert response.status_code == 400 and b"between 0 and 10" in response.content


def test_image_is_served_only_inside_the_window(client):
    study = make_study_with_images(n_images=2, n_batches=1)
    [inv] = invitations_create(study=study)
    url = start(client, inv)
    page = client.get(url)
    image = client.get(page.context["image_url"])
    assert image.status_code == 200 and image["Cache-Control"] == "private, no-store"
    view = Assignment.objects.get().views.get()
    type(view).objects.filter(pk=view.pk).update(served_at=view.served_at.replace(year=2000))
    assert client.get(page.context["image_url"]).status_code == 403


def test_anonymous_users_get_no_admin(client):
    assert client.get("/admin/studies/study/").status_code == 302


def test_admin_list_pages_keep_their_query_counts(client, researcher):
    for i in range(3):
        make_study_with_images(n_images=2, n_batches=1, start=100 * i, name=f"s{i}")
    client.force_login(researcher)
    counts = {}
    for url in ("/admin/studies/study/", "/admin/catalog/image/", "/admin/labels/label/", "/admin/jobs/job/"):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[url] = len(queries)
    # Constant in the number of rows: session, user, perms, count, page rows (no N+1).
    assert all(n <= 12 for n in counts.values()), counts
    make_study_with_images(n_images=2, n_batches=1, start=900, name="one more")
    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/studies/study/")
    assert len(queries) == counts["/admin/studies/study/"]


def test_admin_study_page_shows_preview_and_progress(client, researcher):
    study = make_study_with_images(n_images=4, n_batches=2)
    client.force_login(researcher)
    page = client.get(f"/admin/studies/study/{study.pk}/change/")
    assert page.status_code == 200
    assert b"images match the filters" in page.content and b"0 / 6" in page.content


def test_admin_launch_action(client, researcher):
    make_study_with_images(n_images=2, n_batches=1, launch=False)
    study = Study.objects.get()
    client.force_login(researcher)
    client.post("/admin/studies/study/", {"action": "launch", "_selected_action": [study.pk]})
    study.refresh_from_db()
    assert study.status == Study.Status.RUNNING


def test_admin_import_form(client, researcher, tmp_path, settings):
    from .factories import png_bytes

    settings.IMAGE_IMPORT_ROOTS = [str(tmp_path)]
    (tmp_path / "a.png").write_bytes(png_bytes(1))
    (tmp_path / "b.txt").write_text("nope")
    client.force_login(researcher)
    from ratings_site.catalog.models import Source

    response = client.post(
        "/admin/catalog/image/import/", {"folder": str(tmp_path), "source": Source.objects.get(slug="progan").pk}, follow=True
    )
    assert b"Imported 1, duplicates 0, failed 1" in response.content
    empty = client.post("/admin/catalog/image/import/", {})
    assert b"Give exactly one of" in empty.content


def test_every_page_describes_the_task_from_one_summary(client, researcher):
    """Instructions, the admin and the marketplaces take task counts from study_task_summary."""
    import re

    from ratings_site.marketplace.prolific_provider import ProlificProvider
    from ratings_site.studies.selectors import study_task_summary

    study = make_study_with_images(n_images=5, n_batches=2, raters=3, gold=1, viewing_seconds=30)
    summary = study_task_summary(study)
    assert summary.images_per_task == 4  # 3 of the 5 images in the larger batch, plus the gold item
    assert summary.expected_minutes == 2 and summary.places == 6
    [inv] = invitations_create(study=study)
    page = client.get(f"/r/{inv.token}/").content.decode()
    assert re.search(r'id="task-summary">4 images', page) and "about 2 min" in page
    client.force_login(researcher)
    admin_page = client.get(f"/admin/studies/study/{study.pk}/change/").content.decode()
    assert "2 batches of up to 4 images" in admin_page and "6 rater places" in admin_page
    assert ProlificProvider(study).estimated_minutes() == summary.expected_minutes
