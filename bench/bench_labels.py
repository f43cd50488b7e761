"""Labels for a stage-II-sized study: 37,267 images x 3 ratings.

Times the platform's label computation (ratings_site.labels.compute: mean, ddof=1 std, n,
gold checks, each rater's deviation from the others) beside a plain pandas groupby
(mean/std/count only) on the same data, in the same run; then Krippendorff's alpha.
Goal: the label computation under 1 s.

With --end-to-end (needs PostgreSQL in DATABASE_URL; a bench database, it writes there) it
also times the whole path a researcher waits for: read the ratings from PostgreSQL, compute,
write the labels (ratings_site.labels.services.labels_compute), beside a pandas round trip on
the same rows in the same run (read_sql, groupby mean/std/count, bulk write of Label rows).

    python bench/bench_labels.py [--images 37267] [--repeats 5]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ratings_bench python bench/bench_labels.py --end-to-end
"""
import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ratings_site.labels.compute import RatingArrays, krippendorff_alpha_interval, labels_compute_arrays  # noqa: E402


def make_ratings(n_images: int, raters_per_image: int = 3, n_batches: int = 72, seed: int = 0) -> RatingArrays:
    rng = np.random.default_rng(seed)
    latent = rng.uniform(0, 10, n_images)
    image = np.repeat(np.arange(n_images), raters_per_image)
    batch = image % n_batches
    # 3 raters per batch, distinct: rater id = batch * 3 + slot
    rater = batch * raters_per_image + np.tile(np.arange(raters_per_image), n_images)
    score = np.clip(np.rint(latent[image] + rng.normal(0, 1, len(image))), 0, 10)
    n = len(image)
    nan = np.full(n, np.nan)
    return RatingArrays(image, rater, batch, score, np.zeros(n, bool), nan, nan)


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=37_267)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--end-to-end", action="store_true", help="also time read-compute-write on PostgreSQL")
    args = parser.parse_args()
    r = make_ratings(args.images)
    frame = pd.DataFrame({"image": r.image_id, "score": r.score})

    ours, best, median = timed(lambda: labels_compute_arrays(r), args.repeats)
    base, base_best, base_median = timed(lambda: frame.groupby("image")["score"].agg(["mean", "std", "count"]), args.repeats)
    alpha, a_best, a_median = timed(lambda: krippendorff_alpha_interval(r.image_id, r.score), args.repeats)

    assert np.allclose(ours.mean, base["mean"].to_numpy()) and np.allclose(ours.std, base["std"].to_numpy())
    print(f"{args.images} images x 3 ratings = {len(r.score)} ratings")
    print(f"{'what':46s} {'best s':>8s} {'median s':>9s}")
    print(f"{'platform labels (mean, std, n, gold, MAD)':46s} {best:8.4f} {median:9.4f}")
    print(f"{'pandas groupby mean/std/count (baseline)':46s} {base_best:8.4f} {base_median:9.4f}")
    print(f"{'Krippendorff alpha (interval), whole study':46s} {a_best:8.4f} {a_median:9.4f}   alpha={alpha:.3f}")
    print(f"ratio platform / pandas: {median / base_median:.2f}x ; goal < 1 s: {'met' if median < 1 else 'MISSED'}")
    if args.end_to_end:
        end_to_end(r, args.repeats)


def study_seed_from(r: RatingArrays):
    """A submitted, verified study in PostgreSQL holding exactly these ratings."""
    import hashlib
    import secrets

    from django.utils import timezone

    from ratings_site.catalog.models import Image, Source
    from ratings_site.crowd.models import Rater
    from ratings_site.studies.models import Assignment, Batch, BatchItem, Rating, Study

    tag = secrets.token_hex(4)
    source, _ = Source.objects.get_or_create(slug="bench-labels", defaults={"name": "bench labels"})
    n_images = int(r.image_id.max()) + 1
    images = Image.objects.bulk_create(
        [Image(file=f"bench/{tag}/{i}.png", sha256=hashlib.sha256(f"{tag}-{i}".encode()).hexdigest(), source=source,
               original_name=f"{i}.png", width=16, height=16) for i in range(n_images)],
        batch_size=5000,
    )
    n_batches = int(r.batch_id.max()) + 1
    study = Study.objects.create(name=f"bench labels {tag}", sample_size=n_images, n_batches=n_batches, raters_per_batch=3,
                                 status=Study.Status.COMPLETE)
    batches = Batch.objects.bulk_create([Batch(study=study, index=b) for b in range(n_batches)])
    items = BatchItem.objects.bulk_create(
        [BatchItem(batch=batches[i % n_batches], image=images[i], position=i // n_batches) for i in range(n_images)],
        batch_size=5000,
    )
    raters = Rater.objects.bulk_create(
        [Rater(provider="bench", external_id=f"{tag}-{k}") for k in range(int(r.rater_id.max()) + 1)]
    )
    now = timezone.now()
    assignments = {}
    for rater_id, batch_id in sorted(set(zip(r.rater_id.tolist(), r.batch_id.tolist()))):
        assignments[(rater_id, batch_id)] = Assignment(batch=batches[batch_id], rater=raters[rater_id],
                                                       status=Assignment.Status.SUBMITTED, verified=True, submitted_at=now)
    Assignment.objects.bulk_create(list(assignments.values()), batch_size=5000)
    Rating.objects.bulk_create(
        [Rating(assignment=assignments[(int(rt), int(b))], item=items[int(im)], score=int(sc), created_at=now, response_ms=1000)
         for im, rt, b, sc in zip(r.image_id, r.rater_id, r.batch_id, r.score)],
        batch_size=10000,
    )
    return study


def pandas_round_trip(study) -> int:
    """read_sql -> groupby -> bulk write, the baseline a researcher could write in a notebook."""
    from django.db import connection, transaction

    from ratings_site.labels.models import Label

    sql = """
        SELECT bi.image_id, r.score FROM studies_rating r
        JOIN studies_assignment a ON a.id = r.assignment_id
        JOIN studies_batch b ON b.id = a.batch_id
        JOIN studies_batchitem bi ON bi.id = r.item_id
        WHERE b.study_id = %s AND a.status = 'submitted' AND a.verified
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [study.pk])
        frame = pd.DataFrame(cursor.fetchall(), columns=["image_id", "score"])
    agg = frame.groupby("image_id")["score"].agg(["mean", "std", "count"])
    with transaction.atomic():
        Label.objects.filter(study=study).delete()
        Label.objects.bulk_create(
            [Label(study=study, image_id=int(i), mean=float(m), std=None if pd.isna(s) else float(s), n=int(n), low_n=bool(n < 3))
             for i, m, s, n in agg.itertuples()],
            batch_size=5000,
        )
    return len(agg)


def end_to_end(r: RatingArrays, repeats: int) -> None:
    import os

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("--end-to-end needs DATABASE_URL=postgres://... (a bench database: it writes there)")
    # Settings refuse the development key with DEBUG off: a throwaway key per run, like `make demo`.
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ratings_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from ratings_site.labels.models import Label
    from ratings_site.labels.services import labels_compute

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    study = study_seed_from(r)
    print(f"\nend to end on PostgreSQL (seeded {len(r.score)} ratings in {time.perf_counter() - start:.1f} s)")
    summary, best, median = timed(lambda: labels_compute(study=study), repeats)
    platform_labels = dict(Label.objects.filter(study=study).values_list("image_id", "mean"))
    n, p_best, p_median = timed(lambda: pandas_round_trip(study), repeats)
    pandas_labels = dict(Label.objects.filter(study=study).values_list("image_id", "mean"))
    assert summary["labels"] == n == len(platform_labels) and all(
        abs(platform_labels[k] - pandas_labels[k]) < 1e-9 for k in platform_labels
    )
    print(f"{'what':46s} {'best s':>8s} {'median s':>9s}")
    print(f"{'platform: read PG, labels + agreement, write':46s} {best:8.3f} {median:9.3f}")
    print(f"{'pandas round trip: read_sql, groupby, write':46s} {p_best:8.3f} {p_median:9.3f}")
    print(f"ratio platform / pandas round trip: {median / p_median:.2f}x ; goal < 1 s: {'met' if median < 1 else 'MISSED'}"
          f" ; no slower than the round trip: {'met' if median <= p_median else 'MISSED'}")


if __name__ == "__main__":
    main()
