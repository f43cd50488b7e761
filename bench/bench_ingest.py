"""Rating ingest over real HTTP: concurrent simulated raters against gunicorn on PostgreSQL.

Builds a fresh database (`ratings_bench`), a study with many batches, starts gunicorn with
the production settings, then runs `--raters` concurrent raters (threads, one HTTP session
each) that open an invitation and rate their whole batch through the rating API. In the
same run and on the same server it loads a bare Django view (`/healthz`) with the same
concurrency. Prints ratings/s, p50/p99 latency of the rating POST, and ratings lost
(acknowledged by the server but not in the database; must be 0).

Goal: at least half the bare view's rate, p99 < 50 ms.

    python bench/bench_ingest.py [--raters 24] [--batches 24] [--items 40] [--workers 4]
"""
import argparse
import concurrent.futures as cf
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness import create_images, fresh_database, free_port, wait_healthy  # noqa: E402
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ratings_bench")


def setup_database(batches: int, items: int, raters: int) -> str:
    fresh_database(DB_URL)
    from ratings_site.crowd.models import Invitation
    from ratings_site.crowd.services import invitations_create
    from ratings_site.studies.models import Study
    from ratings_site.studies.services import study_launch

    n = batches * items
    create_images(n)
    study = Study.objects.create(name="bench", sample_size=n, n_batches=batches, raters_per_batch=3)
    study_launch(study=study)
    [link] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=raters)
    return link.token


def start_server(port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": DB_URL, "DJANGO_DEBUG": "0", "CELERY_TASK_ALWAYS_EAGER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ratings_site.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers),
         "-k", "gthread", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    return wait_healthy(proc, f"http://127.0.0.1:{port}/healthz")


def one_rater(base: str, invitation: str, seed: int):
    session = requests.Session()
    session.get(f"{base}/r/{invitation}/")
    start = session.post(f"{base}/r/{invitation}/", data={"csrfmiddlewaretoken": session.cookies.get("csrftoken", ""), "consent": "yes"},
                         headers={"Referer": f"{base}/r/{invitation}/"}, allow_redirects=False)
    token = start.headers["Location"].rstrip("/").split("/")[-1]
    rng = np.random.default_rng(seed)
    latencies, next_latencies, acknowledged, errors = [], [], 0, 0
    while True:
        t0 = time.perf_counter()
        nxt = session.get(f"{base}/api/rate/{token}/next/").json()
        next_latencies.append(time.perf_counter() - t0)
        if nxt["done"]:
            return latencies, next_latencies, acknowledged, errors
        t0 = time.perf_counter()
        response = session.post(f"{base}/api/rate/{token}/ratings/", json={"item": nxt["item"], "score": int(rng.integers(0, 11))})
        latencies.append(time.perf_counter() - t0)
        if response.status_code == 201:
            acknowledged += 1
        else:
            errors += 1


def bare_load(base: str, requests_per_client: int, seed: int):
    session = requests.Session()
    latencies = []
    for _ in range(requests_per_client):
        t0 = time.perf_counter()
        session.get(f"{base}/healthz")
        latencies.append(time.perf_counter() - t0)
    return latencies


def report(name, latencies, wall):
    lat = np.array(latencies) * 1000
    print(f"{name:34s} {len(lat):7d} {len(lat) / wall:10.1f} {np.percentile(lat, 50):8.1f} {np.percentile(lat, 99):8.1f}")
    return len(lat) / wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--raters", type=int, default=24)
    parser.add_argument("--batches", type=int, default=24)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    invitation = setup_database(args.batches, args.items, args.raters)
    port = free_port()
    server = start_server(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        start = time.perf_counter()
        with cf.ThreadPoolExecutor(args.raters) as pool:
            results = list(pool.map(lambda k: one_rater(base, invitation, k), range(args.raters)))
        rating_wall = time.perf_counter() - start
        latencies = [x for lat, _, _, _ in results for x in lat]
        next_latencies = [x for _, lat, _, _ in results for x in lat]
        acknowledged = sum(a for _, _, a, _ in results)
        refused = sum(e for _, _, _, e in results)

        per_client = max(len(latencies) // args.raters, 1)
        start = time.perf_counter()
        with cf.ThreadPoolExecutor(args.raters) as pool:
            bare = [x for lat in pool.map(lambda k: bare_load(base, per_client, k), range(args.raters)) for x in lat]
        bare_wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=20)

    from ratings_site.studies.models import Rating

    stored = Rating.objects.count()
    print(f"gunicorn gthread, {args.workers} workers x 4 threads, PostgreSQL; {args.raters} concurrent raters; "
          f"{os.cpu_count()} CPU cores shared by server and load")
    print(f"{'endpoint':34s} {'requests':>7s} {'req/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s}")
    ours = report("POST /api/rate/<token>/ratings/", latencies, rating_wall)
    report("GET /api/rate/<token>/next/", next_latencies, rating_wall)
    flow = (len(latencies) + len(next_latencies)) / rating_wall
    print(f"{'rating flow (GET next + POST)':34s} {len(latencies) + len(next_latencies):7d} {flow:10.1f}")
    baseline = report("GET /healthz (bare Django view)", bare, bare_wall)
    print(f"ratings acknowledged {acknowledged}, refused {refused}, stored {stored}, lost {acknowledged - stored}")
    print(f"ratings/s vs bare view req/s: {ours / baseline:.2f}; rating-flow req/s vs bare: {flow / baseline:.2f} "
          f"(goal >= 0.5); rating POST p99 {np.percentile(np.array(latencies) * 1000, 99):.1f} ms (goal < 50)")
    print("each rating needs two requests (GET the next item, which starts its window, then POST the answer)")


if __name__ == "__main__":
    main()
