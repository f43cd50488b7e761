"""The one-statement rating path on PostgreSQL, outside a test transaction as in production:
same outcomes as the full service, one query on the happy path."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ratings_site.studies.models import Assignment, ItemView, Rating
from ratings_site.studies.services import assignment_allocate, assignment_consent, item_next

from .factories import make_study_with_images, rater

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served():
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")
    study = make_study_with_images(n_images=3, n_batches=1, viewing_seconds=60, answer_grace_seconds=30)
    assignment = assignment_consent(assignment=assignment_allocate(study=study, rater=rater("fast")))
    return assignment, item_next(assignment=assignment).item.pk


def post(token, item, score):
    return APIClient().post(f"/api/rate/{token}/ratings/", {"item": item, "score": score}, format="json")


def test_happy_path_is_two_queries_stores_the_rating_and_serves_the_next_item(served):
    assignment, item = served
    with CaptureQueriesContext(connection) as queries:
        response = post(assignment.token, item, 7)
    body = response.json()
    assert response.status_code == 201 and {k: body[k] for k in ("item", "score", "created")} == {
        "item": item, "score": 7, "created": True
    }
    # The answer carries the next item (one round trip per image): insert + serve, two statements.
    assert body["next"]["item"] != item and body["next"]["position"] == 2
    assert ItemView.objects.filter(assignment=assignment, item_id=body["next"]["item"]).exists()
    assert len(queries) == 2
    rating = Rating.objects.get(assignment=assignment, item_id=item)
    assert rating.score == 7 and 0 <= rating.response_ms < 60_000


def test_duplicates_late_answers_and_strangers_get_the_services_answers(served):
    assignment, item = served
    assert post(assignment.token, item, 7).status_code == 201
    same = post(assignment.token, item, 7)
    assert same.status_code == 200 and same.json()["created"] is False
    changed = post(assignment.token, item, 3)
    assert changed.status_code == 409 and changed.json()["code"] == "already_rated"

    later = item_next(assignment=assignment).item.pk
    ItemView.objects.filter(assignment=assignment, item_id=later).update(
        served_at=ItemView.objects.get(assignment=assignment, item_id=later).served_at - timedelta(seconds=120))
    late = post(assignment.token, later, 5)
    assert late.status_code == 409 and late.json()["code"] == "window_closed"
    assert post("no-such-token", item, 5).status_code == 404
    Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.ABANDONED)
    assert post(assignment.token, later, 5).status_code == 410
    assert Rating.objects.filter(assignment=assignment).count() == 1


def test_next_item_is_one_query_and_agrees_with_the_service(served):
    assignment, first = served
    client = APIClient()
    with CaptureQueriesContext(connection) as queries:
        again = client.get(f"/api/rate/{assignment.token}/next/").json()
    assert len(queries) == 1
    assert again["item"] == first and again["position"] == 1 and again["total"] == 3
    assert 59 < again["view_seconds_left"] <= 60 and 89 < again["answer_seconds_left"] <= 90
    assert post(assignment.token, first, 4).status_code == 201
    second = client.get(f"/api/rate/{assignment.token}/next/").json()
    assert second["position"] == 2 and ItemView.objects.filter(assignment=assignment).count() == 2
    assert item_next(assignment=assignment).item.pk == second["item"]  # the service sees the same
    # A missed item is skipped, as the service does.
    ItemView.objects.filter(assignment=assignment, item_id=second["item"]).update(
        served_at=ItemView.objects.get(assignment=assignment, item_id=second["item"]).served_at - timedelta(seconds=200))
    third = client.get(f"/api/rate/{assignment.token}/next/").json()
    assert third["position"] == 3
    assert post(assignment.token, third["item"], 6).status_code == 201
    done = client.get(f"/api/rate/{assignment.token}/next/").json()  # the full service submits the batch
    assert done["done"] is True and len(done["completion_code"]) == 8
