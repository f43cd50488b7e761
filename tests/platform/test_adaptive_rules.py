"""Hypothesis over random rating histories on the real database: whatever raters do (rate any
score, drop out, come back), the one-statement allocation picks what the rule in
quality/adaptive_rule.py picks (whose own property tests check the rules), the running totals
the statement ranks by stay equal to the ratings' own, and the database never holds a rater twice on an image or more raters on an image than the maximum."""
import itertools
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from quality.adaptive_rule import priority
from ratings_site.studies.adaptive import pool_load, study_rule
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import AdaptiveImage, Assignment, BatchItem, GoldItem, Study
from ratings_site.studies.services import assignment_allocate, assignment_consent, assignments_expire_stale, study_launch

from .factories import make_images, rater

pytestmark = pytest.mark.django_db(transaction=True)
_unique = itertools.count(50_000, 100)

actions = st.lists(
    st.tuples(st.integers(0, 3), st.one_of(st.integers(0, 10), st.just("leave"))), min_size=1, max_size=40
)


def make_study(half_width: float, gold: bool) -> Study:
    start = next(_unique)
    tag = str(start)
    make_images(8, start=start, metadata=lambda i: {"batch": tag, "g": "a" if i % 2 else "b"})
    study = Study.objects.create(
        name=f"adaptive {tag}", sample_size=8, metadata_filter={"batch": tag}, strata=["g"], adaptive=True,
        rating_budget=30, items_per_batch=3, min_raters=2, max_raters=4, stop_half_width=half_width, seed=start,
    )
    if gold:
        [image_id] = make_images(1, source_slug="progan", start=start + 99)
        GoldItem.objects.create(study=study, image_id=image_id, min_score=0, max_score=10)
    return study_launch(study=study)


def check_database(study: Study) -> None:
    items = list(BatchItem.objects.filter(pool__study=study).select_related("assignment"))
    pairs = Counter((i.image_id, i.assignment.rater_id) for i in items)
    assert not pairs or max(pairs.values()) == 1, "a rater had the same image twice"
    live = Counter(i.image_id for i in items if i.assignment.status in ("active", "submitted"))
    assert not live or max(live.values()) <= study.max_raters
    # The triggers' running totals (what the statement ranks by) equal the ratings' own.
    truth = pool_load(study)
    kept = list(AdaptiveImage.objects.filter(study=study).order_by("id").values_list("n", "s1", "s2", "taken"))
    assert np.allclose(np.array(kept, dtype=float).T, [truth.state.n, truth.state.s1, truth.state.s2, truth.state.taken])


@pytest.fixture(autouse=True)
def _postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement allocation is PostgreSQL's")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=actions, half_width=st.floats(0.5, 2.5), gold=st.booleans())
def test_sql_allocation_follows_the_rule_over_random_histories(history, half_width, gold):
    study = make_study(half_width, gold)
    client = APIClient()
    for who, action in history:
        study.refresh_from_db()
        if study.status != Study.Status.RUNNING:
            break
        person = rater(f"p{study.pk}-{who}")
        if action == "leave":
            current = Assignment.objects.filter(batch__study=study, rater=person, status="active").first()
            if current:
                Assignment.objects.filter(pk=current.pk).update(last_activity_at=timezone.now() - timedelta(hours=2))
                assignments_expire_stale(study=study)
            continue
        try:
            assignment = assignment_allocate(study=study, rater=person)
        except ServiceError:
            continue
        assignment_consent(assignment=assignment)  # the rating API serves nothing before consent
        study.refresh_from_db()
        before = pool_load(study, person.pk)
        rule = study_rule(study)
        filled = set(BatchItem.objects.filter(assignment=assignment).values_list("id", flat=True))
        body = client.get(f"/api/rate/{assignment.token}/next/").json()
        check_database(study)
        if body["done"]:
            continue
        item = BatchItem.objects.get(pk=body["item"])
        if item.pk not in filled and item.pool_id is not None:
            # A new fill: the statement's choice is the rule's (or ties it on priority).
            chosen = int(np.flatnonzero(before.ids == item.pool_id)[0])
            from quality.adaptive_rule import choose

            expected = choose(before.state, rule, before.mine)
            assert expected is not None
            keys = priority(before.state, rule)
            assert chosen == expected or abs(keys[chosen] - keys[expected]) < 1e-9
        response = client.post(f"/api/rate/{assignment.token}/ratings/", {"item": item.pk, "score": action}, format="json")
        assert response.status_code in (200, 201), response.json()
    check_database(study)
