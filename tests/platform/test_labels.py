import io

import krippendorff
import numpy as np
import pandas as pd
import pytest

from ratings_site.jobs.models import Job
from ratings_site.labels.compute import RatingArrays, krippendorff_alpha_interval, labels_compute_arrays
from ratings_site.labels.models import Label, RaterStats
from ratings_site.labels.services import EXPORT_COLUMNS, export_job_start, labels_compute
from ratings_site.studies.models import Study
from ratings_site.studies.services import assignment_allocate, assignment_submit, item_next, rating_submit

from .factories import make_study_with_images, rater


def arrays(rows):
    """rows: (image, rater, score, gold_min or None, gold_max or None)"""
    image, who, score, gmin, gmax = zip(*rows)
    gmin = np.array([np.nan if g is None else g for g in gmin], dtype=float)
    gmax = np.array([np.nan if g is None else g for g in gmax], dtype=float)
    return RatingArrays(
        image_id=np.array(image), rater_id=np.array(who), batch_id=np.zeros(len(rows), dtype=int),
        score=np.array(score, dtype=float), is_gold=~np.isnan(gmin), gold_min=gmin, gold_max=gmax,
    )


def test_mean_and_sample_std_with_ddof_1():
    r = arrays([(1, 10, 4, None, None), (1, 11, 5, None, None), (1, 12, 6, None, None), (2, 10, 7, None, None), (2, 11, 9, None, None)])
    out = labels_compute_arrays(r)
    assert list(out.image_ids) == [1, 2]
    assert out.mean.tolist() == [5.0, 8.0]
    assert out.std[0] == pytest.approx(1.0)  # numpy's default ddof=0 would give 0.8165
    assert out.std[1] == pytest.approx(np.sqrt(2.0))
    assert out.n.tolist() == [3, 2]


def test_single_rating_has_no_std():
    out = labels_compute_arrays(arrays([(1, 10, 4, None, None)]))
    assert np.isnan(out.std[0]) and out.n[0] == 1


def test_gold_items_and_raters_failing_gold_are_excluded():
    r = arrays([
        (1, 10, 5, None, None), (1, 11, 6, None, None), (1, 12, 0, None, None),
        (99, 10, 8, 7, 10), (99, 11, 9, 7, 10), (99, 12, 2, 7, 10),  # rater 12 fails the gold check
    ])
    out = labels_compute_arrays(r, min_pass_rate=1.0)
    assert out.image_ids.tolist() == [1]  # the gold image gets no label
    assert out.mean[0] == pytest.approx(5.5) and out.n[0] == 2
    assert out.raters.excluded.tolist() == [False, False, True]
    assert out.raters.gold_checks.tolist() == [1, 1, 1] and out.raters.gold_passed.tolist() == [1, 1, 0]


def test_rater_mad_from_the_others():
    r = arrays([(1, 10, 2, None, None), (1, 11, 4, None, None), (1, 12, 9, None, None)])
    out = labels_compute_arrays(r)
    # rater 10: |2 - mean(4, 9)| = 4.5 ; rater 11: |4 - 5.5| = 1.5 ; rater 12: |9 - 3| = 6
    assert out.raters.mad_from_others.tolist() == pytest.approx([4.5, 1.5, 6.0])


def test_alpha_matches_the_reliability_matrix_form():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 11, size=40)
    noisy = np.clip(truth[None, :] + rng.integers(-2, 3, size=(3, 40)), 0, 10).astype(float)
    noisy[0, 5] = np.nan  # a missing rating
    expected = krippendorff.alpha(reliability_data=noisy, level_of_measurement="interval")
    image = np.tile(np.arange(40), 3)
    score = noisy.reshape(-1)
    keep = ~np.isnan(score)
    assert krippendorff_alpha_interval(image[keep], score[keep]) == pytest.approx(expected, rel=1e-9)


def test_alpha_is_none_without_pairable_ratings():
    assert krippendorff_alpha_interval(np.array([1, 2]), np.array([3.0, 4.0])) is None


def finish(study, who, scores):
    a = assignment_allocate(study=study, rater=rater(who))
    """Rate a whole batch: `scores` for the study's images in batch order, 9 for gold items."""
    remaining = iter(scores)
    while (nxt := item_next(assignment=a)) is not None:
        rating_submit(assignment=a, item_id=nxt.item.pk, score=9 if nxt.item.gold_id else next(remaining))
    return assignment_submit(assignment=a)


@pytest.mark.django_db
def test_labels_compute_on_a_finished_study_and_export_schema(django_capture_on_commit_callbacks):
    study = make_study_with_images(n_images=2, n_batches=1, raters=3, gold=1)
    finish(study, "a", [4, 8])
    finish(study, "b", [5, 8])
    with django_capture_on_commit_callbacks(execute=True):
        finish(study, "c", [6, 8])
    study.refresh_from_db()
    assert study.status == Study.Status.COMPLETE
    # Completion queued a label job (eager here) that already computed the labels.
    assert Job.objects.filter(study=study, kind=Job.Kind.LABELS, status=Job.Status.SUCCEEDED).exists()
    summary = labels_compute(study=study)
    assert summary["labels"] == 2 and summary["low_n"] == 0
    # Scores by item position were [4, 8], [5, 8], [6, 8]; gold answers are excluded.
    labels = sorted(Label.objects.filter(study=study).values_list("mean", "std", "n"))
    assert labels == [(5.0, pytest.approx(1.0), 3), (8.0, 0.0, 3)]
    assert RaterStats.objects.filter(study=study, excluded=False).count() == 3
    study.refresh_from_db()
    assert set(study.agreement["per_batch"]) == {"1"}  # batch numbers as people see them

    with django_capture_on_commit_callbacks(execute=True):
        job = export_job_start(study=study, fmt="parquet")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    frame = pd.read_parquet(io.BytesIO(job.artifact.read()))
    assert list(frame.columns) == EXPORT_COLUMNS
    assert len(frame) == 2 and set(frame["ddof"]) == {1} and frame["n_raters"].tolist() == [3, 3]
    # One vocabulary with the API (mean, std), the name the image was imported under, full precision.
    assert sorted(frame["mean"].tolist()) == [5.0, 8.0]
    assert set(frame["original_name"]) <= {f"img{i}.png" for i in range(10)} and set(frame["source"]) == {"stylegan"}

    with django_capture_on_commit_callbacks(execute=True):
        csv_job = export_job_start(study=study, fmt="csv")
    csv_job.refresh_from_db()
    frame_csv = pd.read_csv(io.BytesIO(csv_job.artifact.read()))
    assert list(frame_csv.columns) == EXPORT_COLUMNS
    assert frame_csv["mean"].tolist() == frame["mean"].tolist()


@pytest.mark.django_db
def test_labels_flag_images_with_fewer_than_r_ratings():
    study = make_study_with_images(n_images=2, n_batches=1, raters=3)
    finish(study, "a", [4, 8])
    finish(study, "b", [5, 8])
    labels_compute(study=study)
    assert set(Label.objects.filter(study=study).values_list("low_n", "n")) == {(True, 2)}


@pytest.mark.django_db
def test_unverified_or_unfinished_ratings_do_not_count():
    study = make_study_with_images(n_images=2, n_batches=1, raters=3)
    finished = finish(study, "a", [4, 8])
    partial = assignment_allocate(study=study, rater=rater("b"))
    rating_submit(assignment=partial, item_id=item_next(assignment=partial).item.pk, score=0)
    type(finished).objects.filter(pk=finished.pk).update(verified=False)
    labels_compute(study=study)
    assert Label.objects.filter(study=study).count() == 0


@pytest.mark.django_db
def test_a_deviant_rater_is_flagged_and_excluding_them_is_audited_reversible_and_recomputes_labels(
    django_capture_on_commit_callbacks, researcher
):
    from ratings_site.labels.models import RaterExclusion
    from ratings_site.labels.services import rater_exclusion_set

    study = make_study_with_images(n_images=2, n_batches=1, raters=5)
    for who, scores in {"a": [4, 8], "b": [5, 8], "d": [5, 7], "e": [6, 9]}.items():
        finish(study, who, scores)
    odd = finish(study, "c", [10, 0])  # far from the others on both images
    labels_compute(study=study)
    stats = {s.rater_id: s for s in RaterStats.objects.filter(study=study)}
    assert stats[odd.rater_id].flagged and not stats[odd.rater_id].excluded
    assert sum(s.flagged for s in stats.values()) == 1
    before = dict(Label.objects.filter(study=study).values_list("image_id", "mean"))

    with django_capture_on_commit_callbacks(execute=True):
        rater_exclusion_set(study=study, rater=odd.rater, excluded=True, user=researcher, reason="random answers")
    after = dict(Label.objects.filter(study=study).values_list("image_id", "mean"))
    assert sorted(after.values()) == [5.0, 8.0] and after != before
    excluded = RaterStats.objects.get(study=study, rater=odd.rater)
    assert excluded.excluded_by_hand and excluded.mad_from_others is not None  # the evidence stays
    assert set(Label.objects.filter(study=study).values_list("n", flat=True)) == {4}

    with django_capture_on_commit_callbacks(execute=True):
        rater_exclusion_set(study=study, rater=odd.rater, excluded=False, user=researcher, reason="checked: fine")
    assert dict(Label.objects.filter(study=study).values_list("image_id", "mean")) == pytest.approx(before)
    trail = list(RaterExclusion.objects.filter(study=study).order_by("decided_at").values_list("excluded", "decided_by__username", "reason"))
    assert trail == [(True, "rita", "random answers"), (False, "rita", "checked: fine")]


@pytest.mark.django_db
def test_export_keeps_full_precision_and_names_each_image_stratum(django_capture_on_commit_callbacks):
    from ratings_site.studies.services import study_launch

    from .factories import make_images

    make_images(2, metadata=lambda i: {"gender": "fm"[i % 2]})
    study = study_launch(study=Study.objects.create(name="strata", sample_size=2, n_batches=1, raters_per_batch=3, strata=["gender"]))
    finish(study, "a", [4, 8])
    finish(study, "b", [5, 8])
    finish(study, "c", [5, 9])
    labels_compute(study=study)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_job_start(study=study, fmt="csv")
    job.refresh_from_db()
    frame = pd.read_csv(io.BytesIO(job.artifact.read()))
    assert sorted(frame["mean"].tolist()) == pytest.approx([14 / 3, 25 / 3], abs=1e-12)  # not rounded
    assert sorted(frame["stratum"]) == ["gender=f", "gender=m"]
    assert (frame["n_raters"] == 3).all()
