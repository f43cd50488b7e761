"""Races on PostgreSQL: two requests for the same lineup at once (a double click, a replayed
request, two tabs) leave one view with one order and one vote."""
import threading

import pytest
from django.db import connection

from ratings_site.lineup.models import LineupView, Vote
from ratings_site.lineup.services import lineup_next, vote_submit
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment

from .lineup_helpers import allocate, make_lineup_study, make_run

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(fn, n=6):
    barrier = threading.Barrier(n)
    results = []

    def run(k):
        try:
            barrier.wait()
            results.append(("ok", fn(k)))
        except ServiceError as exc:
            results.append(("refused", exc.code))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_simultaneous_first_views_share_one_order_and_simultaneous_votes_store_one(tmp_path):
    lu = make_lineup_study(make_run(tmp_path), subjects=2, raters=1)
    token = allocate(lu, "alice").token

    shown = in_threads(lambda k: lineup_next(assignment=Assignment.objects.select_related("batch__study").get(token=token)))
    orders = {tuple(nxt.order) for status, nxt in shown}
    assert len(orders) == 1 and LineupView.objects.count() == 1
    lineup_id = shown[0][1].lineup.pk

    voted = in_threads(lambda k: vote_submit(
        assignment=Assignment.objects.select_related("batch__study").get(token=token), lineup_id=lineup_id, slot=k % 2))
    assert Vote.objects.count() == 1
    stored = Vote.objects.get()
    created = [r for status, r in voted if status == "ok" and r[1]]
    assert len(created) == 1 and created[0][0].pk == stored.pk
    for status, result in voted:  # everyone else: a no-op for the same choice, a refusal for the other
        if status == "refused":
            assert result == "already_voted"
        else:
            assert result[0].pk == stored.pk
    assert sum(1 for status, _ in voted if status == "refused") == sum(1 for k in range(6) if k % 2 != stored.screen_position)
