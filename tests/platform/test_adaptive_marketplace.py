"""Adaptive studies on a marketplace paid per batch (MTurk's double behind real boto3): one
HIT per batch with one assignment, priced by the budget guard, and each next batch's
contents chosen as it is rated."""
from collections import Counter

import pytest

from ratings_site.marketplace.models import MarketplaceSettings, PublishedTask
from ratings_site.marketplace.services import cost_sheet
from ratings_site.studies.models import BatchItem, Study

from .test_marketplace_mturk import fake_aws, doubles, launch_now, mturk, work_as  # noqa: F401 (fixtures)
from .factories import make_study_with_images

pytestmark = pytest.mark.django_db


def test_adaptive_mturk_study_publishes_one_assignment_per_batch_and_fills_batches_as_rated(client, mturk):
    from decimal import Decimal

    study = make_study_with_images(
        n_images=6, n_batches=1, raters=3, gold=1, launch=False, provider="mturk", provider_environment="sandbox",
        adaptive=True, rating_budget=15, items_per_batch=4, min_raters=2, max_raters=4, stop_half_width=0.0,
    )
    study.adaptive_clean()
    study.save()
    market = MarketplaceSettings.objects.create(study=study, reward_per_batch=Decimal("0.40"))
    assert (study.n_batches, study.raters_per_batch) == (4, 1)
    sheet = cost_sheet(market)
    assert "4 assignments x $0.40" in sheet.lines[0].label  # the budget guard prices the batches the budget buys
    launch_now(study)
    hits = PublishedTask.objects.filter(study=study)
    assert hits.count() == 4
    assert all(mturk.hits[h.external_id]["MaxAssignments"] == 1 for h in hits)
    for k in range(4):
        work_as(client, mturk, study, f"W{k}", hit_index=k, score=5 if k % 2 else 2)
    study.refresh_from_db()
    assert study.status == Study.Status.COMPLETE
    per_image = Counter(BatchItem.objects.filter(pool__study=study).values_list("image_id", flat=True))
    assert sum(per_image.values()) == 15 and all(2 <= n <= 4 for n in per_image.values())
