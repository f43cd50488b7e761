import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ratings_site.labels.services import labels_compute
from ratings_site.studies.models import Assignment, Study
from ratings_site.studies.services import assignment_allocate, assignment_consent, item_next

from .factories import make_study_with_images, rater
from .test_labels import finish

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(researcher):
    client = APIClient()
    client.force_authenticate(researcher)
    return client


def test_api_requires_authentication():
    assert APIClient().get("/api/studies/").status_code == 403


def test_openapi_schema_is_served_at_a_stable_url(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/studies/", "/api/labels/", "/api/rate/{token}/ratings/", "/api/studies/{id}/exports/"):
        assert path in paths


def test_studies_are_paginated(api):
    for i in range(3):
        Study.objects.create(name=f"s{i}", sample_size=1, n_batches=1)
    body = api.get("/api/studies/").json()
    assert body["count"] == 3 and len(body["results"]) == 3
    assert set(body) >= {"count", "next", "previous", "results"}


def test_launch_and_pause_through_the_api(api):
    make_study_with_images(n_images=2, n_batches=1, launch=False)
    study = Study.objects.get()
    assert api.post(f"/api/studies/{study.pk}/launch/").json()["status"] == "running"
    again = api.post(f"/api/studies/{study.pk}/launch/")
    assert again.status_code == 409 and "draft or paused" in again.json()["detail"]
    assert api.post(f"/api/studies/{study.pk}/pause/").json()["status"] == "paused"


def test_ml_staff_cannot_launch(ml_staff):
    make_study_with_images(n_images=2, n_batches=1, launch=False)
    client = APIClient()
    client.force_authenticate(ml_staff)
    assert client.post(f"/api/studies/{Study.objects.get().pk}/launch/").status_code == 403


def test_batches_progress(api):
    study = make_study_with_images(n_images=4, n_batches=2, raters=3)
    finish(study, "a", [1, 2])
    rows = api.get(f"/api/studies/{study.pk}/batches/").json()
    assert [(r["ratings_done"], r["ratings_needed"], r["submitted"]) for r in rows] == [(2, 6, 1), (0, 6, 0)]


def test_labels_are_filterable(api):
    study = make_study_with_images(n_images=2, n_batches=1, raters=2)
    finish(study, "a", [4, 8])
    labels_compute(study=study)
    all_labels = api.get(f"/api/labels/?study={study.pk}").json()
    assert all_labels["count"] == 2 and all_labels["results"][0]["low_n"] is True
    assert api.get(f"/api/labels/?study={study.pk}&low_n=false").json()["count"] == 0
    assert api.get("/api/labels/?image__source__slug=progan").json()["count"] == 0


def test_export_job_and_download(api, django_capture_on_commit_callbacks):
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    finish(study, "a", [4, 8])
    labels_compute(study=study)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/studies/{study.pk}/exports/", {"format": "csv"}, format="json")
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert api.get(f"/api/jobs/{job_id}/").json()["status"] == "succeeded"
    download = api.get(f"/api/jobs/{job_id}/download/")
    assert download.status_code == 200
    header = b"".join(download.streaming_content).decode().splitlines()[0]
    assert header == "image_id,original_name,image_path,sha256,source,stratum,subject,mean,std,n_raters,low_n,ddof,study_id"
    bad = api.post(f"/api/studies/{study.pk}/exports/", {"format": "xlsx"}, format="json")
    assert bad.status_code == 400


# --- rating endpoints ---------------------------------------------------------------

@pytest.fixture
def token():
    study = make_study_with_images(n_images=3, n_batches=1)
    return assignment_consent(assignment=assignment_allocate(study=study, rater=rater("a"))).token


def test_rating_flow_over_the_api(token):
    client = APIClient()
    seen = []
    while True:
        nxt = client.get(f"/api/rate/{token}/next/").json()
        if nxt["done"]:
            break
        seen.append(nxt["position"])
        response = client.post(f"/api/rate/{token}/ratings/", {"item": nxt["item"], "score": 7}, format="json")
        assert response.status_code == 201
        repeat = client.post(f"/api/rate/{token}/ratings/", {"item": nxt["item"], "score": 7}, format="json")
        assert repeat.status_code == 200 and repeat.json()["created"] is False
    assert seen == [1, 2, 3] and len(nxt["completion_code"]) == 8


@pytest.mark.parametrize(
    "payload, status, code",
    [
        ({"score": 11}, 400, "out_of_range"),
        ({"score": 4.5}, 400, "not_integer"),
        ({"score": "abc"}, 400, "not_integer"),
        ({}, 400, None),
    ],
)
def test_bad_ratings_get_4xx_with_a_reason(token, payload, status, code):
    client = APIClient()
    item = client.get(f"/api/rate/{token}/next/").json()["item"]
    response = client.post(f"/api/rate/{token}/ratings/", {"item": item, **payload}, format="json")
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code and response.json()["detail"]


def test_unknown_token_is_404():
    response = APIClient().post("/api/rate/nope/ratings/", {"item": 1, "score": 3}, format="json")
    assert response.status_code == 404 and response.json()["detail"] == "This rating link is not valid."


def test_rating_endpoint_query_count_is_constant(token):
    client = APIClient()
    assignment = Assignment.objects.get(token=token)
    item = item_next(assignment=assignment).item
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/api/rate/{token}/ratings/", {"item": item.pk, "score": 3}, format="json")
    assert response.status_code == 201
    # assignment with its study, the view, then savepoint/insert/release (the test runs in a
    # transaction; in production the insert is one autocommitted statement).
    assert len(queries) == 5, [q["sql"] for q in queries]
