"""What researchers meet in the admin: the study page's buttons, invitation link, live
numbers and plots; flagged raters and their exclusion; jobs that refresh and resume."""
import os

import pytest
from django.contrib.auth.models import Permission

from ratings_site.crowd.models import Invitation
from ratings_site.jobs.models import Job
from ratings_site.labels.models import Label, RaterExclusion, RaterStats
from ratings_site.labels.services import labels_compute
from ratings_site.studies.models import Study

from .factories import make_study_with_images
from .test_browser import CHROMIUM, browser  # noqa: F401  (the module-scoped fixture)
from .test_labels import finish
from .test_rater_page import save_screenshot

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _login(page, live_server, user, password):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_study_page_launches_shows_the_invitation_link_refreshes_live_and_pauses(live_server, browser, researcher, settings):
    settings.ADMIN_LIVE_REFRESH_MS = 300
    study = make_study_with_images(n_images=2, n_batches=1, raters=2, launch=False)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    _login(page, live_server, "rita", "pw-rita-123")
    page.goto(f"{live_server.url}/admin/studies/study/{study.pk}/change/")
    page.click("#study-launch")
    assert page.locator("#live-status").inner_text() == "running"
    link = page.locator("#invitation-link").input_value()
    invitation = Invitation.objects.get(study=study)
    assert link == f"{live_server.url}/r/{invitation.token}/"  # absolute, ready to send
    assert invitation.cap == 2  # as many raters as the study has places
    page.click("#copy-invitation")
    page.wait_for_function("document.querySelector('#copy-done').textContent === 'Copied.'")
    assert page.evaluate("navigator.clipboard.readText()") == link
    # A rater finishes while the page is open: the numbers change without a reload.
    page.wait_for_function("document.querySelector('#live-raters').textContent === '0 / 2'")
    finish(study, "a", [3, 9])
    page.wait_for_function("document.querySelector('#live-raters').textContent === '1 / 2'")
    assert page.locator("#batch-1 .submitted").inner_text() == "1"  # batches numbered from 1
    for name in ("ratings", "fill", "agreement"):
        page.wait_for_function("n => { const i = document.querySelector('#plot-' + n); return i.complete && i.naturalWidth > 0; }", arg=name)
    save_screenshot(page, "study-page.png")
    page.click("#study-pause")
    assert page.locator("#live-status").inner_text() == "paused"
    assert page.locator("#study-resume").is_visible()
    page.click("#study-resume")
    assert Study.objects.get(pk=study.pk).status == Study.Status.RUNNING
    context.close()


@pytest.mark.django_db
def test_plots_are_pngs_and_live_json_numbers_batches_from_one(client, researcher):
    study = make_study_with_images(n_images=2, n_batches=2, raters=1)
    finish(study, "a", [4])
    client.force_login(researcher)
    for name in ("ratings", "fill", "agreement"):
        response = client.get(f"/admin/studies/study/{study.pk}/plots/{name}.png")
        assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"/admin/studies/study/{study.pk}/plots/nope.png").status_code == 404
    live = client.get(f"/admin/studies/study/{study.pk}/live.json").json()
    assert [b["number"] for b in live["batches"]] == [1, 2] and live["raters_submitted"] == 1
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(researcher)
    assert [b["number"] for b in api.get(f"/api/studies/{study.pk}/batches/").json()] == [1, 2]
    assert client.get(f"/admin/studies/study/{study.pk}/launch/").status_code == 405  # buttons POST


@pytest.mark.django_db
def test_flagged_raters_column_filter_exclusion_action_and_evidence(client, researcher, django_capture_on_commit_callbacks):
    study = make_study_with_images(n_images=2, n_batches=1, raters=5, gold=1)
    for who, scores in {"a": [4, 8], "b": [5, 8], "d": [5, 7], "e": [6, 9]}.items():
        finish(study, who, scores)
    odd = finish(study, "c", [10, 0])
    labels_compute(study=study)
    client.force_login(researcher)
    flagged = client.get("/admin/labels/raterstats/", {"flagged__exact": "1"})
    assert flagged.status_code == 200
    assert list(flagged.context["cl"].result_list.values_list("rater_id", flat=True)) == [odd.rater_id]
    stats = RaterStats.objects.get(rater=odd.rater)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/labels/raterstats/", {"action": "exclude_from_labels", "_selected_action": [stats.pk]},
                               follow=True)
    assert b"recomputed" in response.content
    assert RaterExclusion.objects.get().decided_by == researcher
    assert sorted(Label.objects.values_list("mean", flat=True)) == [5.0, 8.0]
    evidence = client.get(f"/admin/crowd/rater/{odd.rater_id}/change/").content.decode()
    assert "Gold items" in evidence and "FLAGGED" in evidence and "excluded from labels by hand" in evidence
    assert "others&#x27; mean" in evidence or "others' mean" in evidence
    # Rounded for reading in the admin.
    labels_page = client.get("/admin/labels/label/").content.decode()
    assert "5.00" in labels_page


@pytest.mark.django_db
def test_exclusion_needs_its_permission(client, django_user_model, django_capture_on_commit_callbacks):
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    finish(study, "a", [4, 8])
    labels_compute(study=study)
    viewer = django_user_model.objects.create_user("vic", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_raterstats"))
    client.force_login(viewer)
    client.post("/admin/labels/raterstats/", {"action": "exclude_from_labels", "_selected_action": [RaterStats.objects.get().pk]})
    assert not RaterExclusion.objects.exists()


@pytest.mark.django_db
def test_failed_job_has_resume_and_a_live_json(client, ml_staff, django_capture_on_commit_callbacks):
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    finish(study, "a", [4, 8])
    job = Job.objects.create(kind=Job.Kind.LABELS, study=study, status=Job.Status.FAILED, error="RuntimeError: worker lost")
    client.force_login(ml_staff)
    page = client.get(f"/admin/jobs/job/{job.pk}/change/").content.decode()
    assert 'id="job-resume"' in page
    assert client.get(f"/admin/jobs/job/{job.pk}/live.json").json()["resumable"] is True
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/jobs/job/{job.pk}/resume/")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and Label.objects.filter(study=study).count() == 2
    again = client.post(f"/admin/jobs/job/{job.pk}/resume/", follow=True)
    assert b"Only a failed or cancelled job can be resumed" in again.content
