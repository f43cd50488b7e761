from datetime import timedelta

import pytest
from django.utils import timezone

from ratings_site.studies import errors
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment, BatchItem, Study
from ratings_site.studies.sampling import study_sample_plan
from ratings_site.studies.services import (
    assignment_allocate,
    assignment_submit,
    assignments_expire_stale,
    item_next,
    rating_submit,
    study_launch,
    study_pause,
)

from .factories import make_images, make_study_with_images, rater

pytestmark = pytest.mark.django_db


def rate_all(assignment, score=5):
    while (nxt := item_next(assignment=assignment)) is not None:
        rating_submit(assignment=assignment, item_id=nxt.item.pk, score=score)
    return assignment_submit(assignment=assignment)


# --- sampling ---------------------------------------------------------------------

def test_sampling_balances_strata_and_splits_into_batches():
    make_images(40, metadata=lambda i: {"svm_class": "natural" if i % 2 else "unnatural", "gender": "f" if i % 4 < 2 else "m"})
    study = Study.objects.create(name="s", sample_size=8, n_batches=4, strata=["svm_class", "gender"], seed=3)
    plan = study_sample_plan(study)
    assert plan.ok and len(plan.image_ids) == 8
    assert [s.quota for s in plan.strata] == [2, 2, 2, 2]
    study_launch(study=study)
    sizes = [b.items.count() for b in study.batches.all()]
    assert sizes == [2, 2, 2, 2]
    counts = {}
    for item in BatchItem.objects.filter(batch__study=study).select_related("image"):
        key = (item.image.metadata["svm_class"], item.image.metadata["gender"])
        counts[key] = counts.get(key, 0) + 1
    assert sorted(counts.values()) == [2, 2, 2, 2]


def test_sampling_says_which_stratum_is_short_and_by_how_much():
    make_images(10, metadata=lambda i: {"gender": "f" if i < 8 else "m"})
    study = Study.objects.create(name="s", sample_size=10, n_batches=2, strata=["gender"])
    plan = study_sample_plan(study)
    assert not plan.ok
    assert errors.SAMPLE_SHORT_STRATA.format(quota=5, details="m has 2, short by 3") in plan.problems
    with pytest.raises(ServiceError) as info:
        study_launch(study=study)
    assert "short by 3" in info.value.message
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT and not study.batches.exists()


def test_sampling_filters_by_source_and_metadata():
    make_images(4, metadata={"frontal": "yes"})
    make_images(4, metadata={"frontal": "no"}, start=100)
    make_images(4, source_slug="progan", metadata={"frontal": "yes"}, start=200)
    study = Study.objects.create(name="s", sample_size=4, n_batches=2, metadata_filter={"frontal": "yes"})
    study.sources.set(study.sources.model.objects.filter(slug="stylegan"))
    plan = study_sample_plan(study)
    assert plan.matched == 4 and plan.ok


def test_total_shortfall_is_counted():
    make_images(5)
    study = Study.objects.create(name="s", sample_size=9, n_batches=3)
    assert errors.SAMPLE_SHORT_TOTAL.format(available=5, needed=9, short=4) in study_sample_plan(study).problems


def test_gold_items_are_in_every_batch():
    study = make_study_with_images(n_images=6, n_batches=3, gold=2)
    for batch in study.batches.all():
        assert batch.items.filter(gold__isnull=False).count() == 2
        assert batch.items.count() == 4


# --- allocation ---------------------------------------------------------------------

def test_each_batch_gets_exactly_r_distinct_raters_and_a_fourth_is_refused():
    study = make_study_with_images(n_images=3, n_batches=1, raters=3)
    taken = [assignment_allocate(study=study, rater=rater(name)) for name in ("a", "b", "c")]
    assert len({a.rater_id for a in taken}) == 3 and len({a.batch_id for a in taken}) == 1
    with pytest.raises(ServiceError) as info:
        assignment_allocate(study=study, rater=rater("d"))
    assert info.value.message == errors.NO_BATCH_AVAILABLE and info.value.status == 409
    for a in taken:
        rate_all(a)
    study.refresh_from_db()
    assert study.status == Study.Status.COMPLETE
    with pytest.raises(ServiceError) as info:
        assignment_allocate(study=study, rater=rater("d"))
    assert info.value.code == "not_running"


def test_no_rater_gets_the_same_batch_twice():
    study = make_study_with_images(n_images=4, n_batches=2, raters=2)
    someone = rater("a")
    first = rate_all(assignment_allocate(study=study, rater=someone))
    second = rate_all(assignment_allocate(study=study, rater=someone))
    assert first.batch_id != second.batch_id
    with pytest.raises(ServiceError, match="Every batch"):
        assignment_allocate(study=study, rater=someone)


def test_allocating_again_resumes_the_active_assignment():
    study = make_study_with_images(n_images=4, n_batches=2)
    a = assignment_allocate(study=study, rater=rater("a"))
    assert assignment_allocate(study=study, rater=rater("a")).pk == a.pk


def test_abandoned_slot_is_freed_after_the_timeout():
    study = make_study_with_images(n_images=2, n_batches=1, raters=1, slot_timeout_minutes=30)
    idle = assignment_allocate(study=study, rater=rater("idle"))
    with pytest.raises(ServiceError):
        assignment_allocate(study=study, rater=rater("eager"))
    Assignment.objects.filter(pk=idle.pk).update(last_activity_at=timezone.now() - timedelta(minutes=31))
    taken = assignment_allocate(study=study, rater=rater("eager"))
    assert taken.batch_id == idle.batch_id
    idle.refresh_from_db()
    assert idle.status == Assignment.Status.ABANDONED
    with pytest.raises(ServiceError) as info:
        item_next(assignment=idle)
    assert info.value.status == 410


def test_beat_sweep_expires_stale_assignments():
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    a = assignment_allocate(study=study, rater=rater("x"))
    assert assignments_expire_stale(now=timezone.now() + timedelta(minutes=29)) == 0
    assert assignments_expire_stale(now=timezone.now() + timedelta(minutes=31)) == 1
    a.refresh_from_db()
    assert a.status == Assignment.Status.ABANDONED


def test_paused_study_takes_no_new_raters_and_resumes():
    study = make_study_with_images(n_images=2, n_batches=1)
    study_pause(study=study)
    with pytest.raises(ServiceError) as info:
        assignment_allocate(study=study, rater=rater("a"))
    assert info.value.code == "not_running"
    study_launch(study=study)
    assert assignment_allocate(study=study, rater=rater("a"))


def test_launching_twice_is_refused():
    study = make_study_with_images(n_images=2, n_batches=1)
    with pytest.raises(ServiceError) as info:
        study_launch(study=study)
    assert info.value.status == 409
    assert study.batches.count() == 1


# --- ratings --------------------------------------------------------------------------

@pytest.fixture
def assignment():
    study = make_study_with_images(n_images=4, n_batches=1, viewing_seconds=60, answer_grace_seconds=30)
    return assignment_allocate(study=study, rater=rater("a"))


@pytest.mark.parametrize("bad", [11, -1, "12", 99])
def test_rating_outside_the_scale_is_refused(assignment, bad):
    nxt = item_next(assignment=assignment)
    with pytest.raises(ServiceError) as info:
        rating_submit(assignment=assignment, item_id=nxt.item.pk, score=bad)
    assert info.value.code == "out_of_range"
    assert not assignment.ratings.exists()


@pytest.mark.parametrize("bad", [7.5, "7.5", "seven", None, True, [], ""])
def test_non_integer_rating_is_refused(assignment, bad):
    nxt = item_next(assignment=assignment)
    with pytest.raises(ServiceError) as info:
        rating_submit(assignment=assignment, item_id=nxt.item.pk, score=bad)
    assert info.value.message == errors.SCORE_NOT_INTEGER


def test_rating_for_an_image_outside_the_batch_is_refused(assignment):
    other = make_study_with_images(n_images=1, n_batches=1, start=500, name="other")
    foreign = BatchItem.objects.filter(batch__study=other).first()
    with pytest.raises(ServiceError) as info:
        rating_submit(assignment=assignment, item_id=foreign.pk, score=5)
    assert info.value.message == errors.ITEM_NOT_IN_BATCH


def test_rating_an_item_not_yet_shown_is_refused(assignment):
    unseen = assignment.batch.items.order_by("-position").first()
    with pytest.raises(ServiceError) as info:
        rating_submit(assignment=assignment, item_id=unseen.pk, score=5)
    assert info.value.code == "not_served"


def test_rating_after_the_window_is_refused(assignment):
    nxt = item_next(assignment=assignment)
    late = nxt.served_at + timedelta(seconds=60 + 30 + 1)
    with pytest.raises(ServiceError) as info:
        rating_submit(assignment=assignment, item_id=nxt.item.pk, score=5, now=late)
    assert info.value.code == "window_closed"
    # After the image is hidden (60 s) the rater can still answer within the grace period.
    rating, created = rating_submit(assignment=assignment, item_id=nxt.item.pk, score=5, now=nxt.served_at + timedelta(seconds=75))
    assert created and rating.response_ms == 75_000


def test_resubmitting_the_same_rating_is_idempotent_and_a_change_is_refused(assignment):
    nxt = item_next(assignment=assignment)
    first, created = rating_submit(assignment=assignment, item_id=nxt.item.pk, score=6)
    again, created_again = rating_submit(assignment=assignment, item_id=nxt.item.pk, score="6")
    assert created and not created_again and first.pk == again.pk
    with pytest.raises(ServiceError) as info:
        rating_submit(assignment=assignment, item_id=nxt.item.pk, score=2)
    assert info.value.message == errors.ALREADY_RATED.format(score=6)
    assert assignment.ratings.count() == 1


def test_missed_item_is_skipped_and_batch_can_be_submitted(assignment):
    first = item_next(assignment=assignment)
    later = first.served_at + timedelta(seconds=200)
    nxt = item_next(assignment=assignment, now=later)
    assert nxt.item.pk != first.item.pk and nxt.position == 2


def test_submit_before_finishing_is_refused(assignment):
    item_next(assignment=assignment)
    with pytest.raises(ServiceError) as info:
        assignment_submit(assignment=assignment)
    assert info.value.code == "not_finished"


def test_finished_rater_cannot_rate_again(assignment):
    done = rate_all(assignment)
    assert done.status == Assignment.Status.SUBMITTED and done.verified and len(done.completion_code) == 8
    item = done.batch.items.first()
    with pytest.raises(ServiceError) as info:
        rating_submit(assignment=done, item_id=item.pk, score=3)
    assert info.value.message == errors.ASSIGNMENT_FINISHED


@pytest.mark.django_db
def test_study_create_validates_before_writing(django_user_model):
    from django.core.exceptions import ValidationError

    from ratings_site.catalog.models import Source
    from ratings_site.studies.services import study_create

    source, _ = Source.objects.get_or_create(slug="stylegan", defaults={"name": "StyleGAN"})
    owner = django_user_model.objects.create_user("owner", password="pw-owner-123")
    study = study_create(name="Stage I", sample_size=6, n_batches=2, raters_per_batch=3, sources=[source], user=owner)
    assert study.status == Study.Status.DRAFT and study.created_by == owner and list(study.sources.all()) == [source]
    with pytest.raises(ValidationError):
        study_create(name="", sample_size=6, n_batches=2)
    assert Study.objects.count() == 1
