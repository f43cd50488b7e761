"""Next-item latency: the paper's fixed design against the adaptive design, in one run.

Builds a fresh database (`ratings_bench_adaptive`), N images, and two studies over them: a
fixed one (3 raters per batch of 20) and an adaptive one (budget 3N, batches of 20, min 2,
max 7, no early stop). Raters then rate batch after batch through the same calls the rating
API makes (`item_next_fast`, `rating_insert_fast`: one statement each on the happy path),
alternating fixed and adaptive batches so both see the same machine load, until 2N ratings
per design. Prints the next-item call's latency (p50, p90, p99, mean), overall and over the
last tenth of the run (the adaptive statement ranks every image in the pool, so it costs
more as the study fills), and ratings per second.

    python bench/bench_adaptive.py [--images 1000]
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness import create_images, fresh_database  # noqa: E402
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ratings_bench_adaptive")


def setup(n: int):
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    fresh_database(DB_URL)
    from ratings_site.studies.models import Study
    from ratings_site.studies.services import study_launch

    create_images(n, metadata=lambda i: {"g": "ab"[i % 2]})
    fixed = Study.objects.create(name="fixed", sample_size=n, n_batches=n // 20, raters_per_batch=3, strata=["g"])
    adaptive = Study(name="adaptive", sample_size=n, strata=["g"], adaptive=True, rating_budget=3 * n,
                     items_per_batch=20, min_raters=2, max_raters=7, stop_half_width=0.0)
    adaptive.adaptive_clean()
    adaptive.save()
    studies = study_launch(study=fixed), study_launch(study=adaptive)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as a live database has them
    return studies


def rate_batch(study, rater, rng, timings: list, inserts: list | None = None) -> int:
    from ratings_site.studies.fast_rating import item_next_fast, rating_insert_fast
    from ratings_site.studies.services import assignment_allocate, assignment_submit

    assignment = assignment_allocate(study=study, rater=rater)
    rated = 0
    while True:
        start = time.perf_counter()
        nxt = item_next_fast(token=assignment.token)
        timings.append(time.perf_counter() - start)
        if nxt is None:
            break
        start = time.perf_counter()
        assert rating_insert_fast(token=assignment.token, item_id=nxt["item"], score=int(rng.integers(0, 11)))
        if inserts is not None:
            inserts.append(time.perf_counter() - start)
        rated += 1
    timings.pop()  # the batch's end falls back to the full service: not the happy path
    assignment_submit(assignment=assignment)
    return rated


def trigger_cost(fixed, rng, n: int) -> str:
    """What the running-total triggers cost the fixed design's rating insert: the same fixed
    batches with the rating trigger on and off, interleaved."""
    from django.db import connection

    from ratings_site.crowd.services import SELF_HOSTED, rater_get_or_create

    on, off = [], []
    for k in range(min(20, n // 20)):
        for enabled, bucket in ((True, on), (False, off)):
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE studies_rating {'ENABLE' if enabled else 'DISABLE'} TRIGGER studies_pool_rating")
            rater = rater_get_or_create(provider=SELF_HOSTED, environment="live", external_id=f"trigger-{enabled}-{k}")
            rate_batch(fixed, rater, rng, [], bucket)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE studies_rating ENABLE TRIGGER studies_pool_rating")
    on_ms, off_ms = np.array(on) * 1000, np.array(off) * 1000
    return (f"fixed rating insert with the pool trigger p50 {np.percentile(on_ms, 50):.2f} ms (mean {on_ms.mean():.2f}), "
            f"without p50 {np.percentile(off_ms, 50):.2f} ms (mean {off_ms.mean():.2f}); {len(on_ms)} inserts each")


def summary(name: str, timings: list, seconds: float, ratings: int) -> str:
    ms = np.array(timings) * 1000
    tail = ms[-max(len(ms) // 10, 1):]
    return (f"{name:9s} next-item p50 {np.percentile(ms, 50):6.2f} ms  p90 {np.percentile(ms, 90):6.2f}  "
            f"p99 {np.percentile(ms, 99):6.2f}  mean {ms.mean():6.2f}  | last tenth p50 {np.percentile(tail, 50):6.2f} "
            f"p99 {np.percentile(tail, 99):6.2f}  | {ratings / seconds:7.1f} ratings/s ({len(ms)} requests)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args(argv)
    n = args.images - args.images % 20
    fixed, adaptive = setup(n)
    from ratings_site.crowd.services import SELF_HOSTED, rater_get_or_create

    rng = np.random.default_rng(0)
    results = {"fixed": ([], 0.0, 0), "adaptive": ([], 0.0, 0)}
    for k in range(2 * n // 20):
        for name, study in (("fixed", fixed), ("adaptive", adaptive)):
            timings, seconds, ratings = results[name]
            rater = rater_get_or_create(provider=SELF_HOSTED, environment="live", external_id=f"{name}-{k}")
            start = time.perf_counter()
            ratings += rate_batch(study, rater, rng, timings)
            results[name] = (timings, seconds + time.perf_counter() - start, ratings)
    print(f"{n} images, {2 * n} ratings per design, PostgreSQL, one process (baseline: the fixed design, same run)")
    for name, (timings, seconds, ratings) in results.items():
        print(summary(name, timings, seconds, ratings))
    fixed_p50 = np.percentile(results["fixed"][0], 50)
    print(f"adaptive / fixed next-item p50: {np.percentile(results['adaptive'][0], 50) / fixed_p50:.1f}x")
    print(trigger_cost(fixed, rng, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
