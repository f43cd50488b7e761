"""Load on the rating endpoints: simulated raters against the production server configuration.

Starts gunicorn with gunicorn.conf.py on 127.0.0.1 (only), on PostgreSQL, seeds a launched
study with one assignment per simulated rater, and runs N raters as client threads:

- think mode (default): each rater looks at an image for 2-8 s before answering, like a person;
- saturation mode (--saturate): no think time, a closed loop as fast as the server answers.

Each rater asks GET next/, then POSTs its rating; the POST's answer carries the next item
(one round trip per image) unless --two-trips. Bounded by --seconds and --max-requests; stops
by itself. Prints ratings/s, p50/p95/p99 per endpoint and errors, then checks in the database
that every rating a client saw accepted (201, or 200 for a replay) is stored exactly once; a rating
stored whose answer never reached the client is reported (it is not lost: the rater's retry
gets 200).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ratings_bench \\
        .venv/bin/python bench/bench_load.py --raters 200 --seconds 60 [--saturate]

Numbers depend on the machine and on what else runs on it; they are not comparable across
machines. The client threads share the CPU with the server.
"""
from __future__ import annotations

import argparse
import secrets
import collections
import contextlib
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness import free_port, wait_healthy  # noqa: E402
ITEMS_PER_BATCH = int(os.environ.get("BENCH_ITEMS_PER_BATCH", "40"))
RATERS_PER_BATCH = 3


def django_setup() -> None:
    # Settings refuse the development key with DEBUG off: a throwaway key per run, like `make demo`.
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ratings_site.settings")
    # Jobs a finished batch starts (labels) go nowhere: this measures the rating path, and must
    # not leave messages for some other worker on a shared Redis. The server inherits it.
    os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCH_CELERY_BROKER_URL", "memory://")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench_load needs PostgreSQL: set DATABASE_URL=postgres://...@127.0.0.1:5432/<a bench database>")
    import django

    django.setup()


def database_prepare() -> None:
    """Create the bench database if missing and migrate it (the URL's database only)."""
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = psycopg2.connect(dbname="postgres", user=db["USER"], password=db["PASSWORD"] or None, host=db["HOST"], port=db["PORT"] or 5432)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def study_seed(raters: int, seed: int) -> tuple[int, list[str]]:
    """A launched self-hosted study with one active assignment per simulated rater."""
    import io

    from PIL import Image as PILImage

    from ratings_site.catalog.models import Source
    from ratings_site.catalog.services import image_create
    from ratings_site.crowd.services import SELF_HOSTED, rater_get_or_create
    from ratings_site.studies.models import Study
    from ratings_site.studies.services import assignment_allocate, assignment_consent, study_launch

    n_batches = -(-raters // RATERS_PER_BATCH)
    n_images = n_batches * ITEMS_PER_BATCH
    source, _ = Source.objects.get_or_create(slug="bench-load", defaults={"name": "bench load"})
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        buffer = io.BytesIO()
        PILImage.fromarray(rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)).save(buffer, format="PNG")
        image_create(name=f"bench{seed}-{i}.png", data=buffer.getvalue(), source=source)
    study = Study.objects.create(
        name=f"bench load {seed}", sample_size=n_images, n_batches=n_batches, raters_per_batch=RATERS_PER_BATCH,
        viewing_seconds=60, answer_grace_seconds=30, seed=seed,
    )
    study.sources.set([source])
    study = study_launch(study=study)
    tokens = []
    for r in range(raters):
        rater = rater_get_or_create(provider=SELF_HOSTED, environment="live", external_id=f"bench{seed}-{r}")
        # Each simulated rater has read the instructions and consented, as the rater page requires.
        tokens.append(assignment_consent(assignment=assignment_allocate(study=study, rater=rater)).token)
    return study.pk, tokens


def server_start(port: int, workers: int | None) -> subprocess.Popen:
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ratings_site.wsgi", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    return wait_healthy(proc, f"http://127.0.0.1:{port}/healthz")


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = collections.defaultdict(list)  # endpoint -> seconds
        self.errors = collections.Counter()  # "endpoint status" -> count
        self.accepted: list[tuple[str, int]] = []  # (token, item) answered 201
        self.requests = 0
        self.created = 0

    def record(self, endpoint: str, seconds: float, status: int | None) -> None:
        with self.lock:
            self.requests += 1
            self.latency[endpoint].append(seconds)
            if status is None or status >= 400:
                self.errors[f"{endpoint} {status}"] += 1


def rater_loop(base: str, token: str, opts, tally: Tally, stop: threading.Event, rng: random.Random) -> None:
    session = requests.Session()
    nxt = None
    while not stop.is_set():
        if nxt is None:
            start = time.perf_counter()
            try:
                r = session.get(f"{base}/api/rate/{token}/next/", timeout=30)
                status, nxt = r.status_code, r.json()
            except (requests.RequestException, ValueError):
                status, nxt = None, None
            tally.record("GET next", time.perf_counter() - start, status)
            if status is None or status >= 500:
                nxt = None
                stop.wait(1.0)  # the server is down or restarting: try again, as a browser would
                continue
            if status >= 400 or nxt.get("done"):
                return
        if not opts.saturate:
            stop.wait(rng.uniform(2.0, 8.0))  # a person looks at the face before answering
            if stop.is_set():
                return
        item = nxt["item"]
        start = time.perf_counter()
        try:
            r = session.post(f"{base}/api/rate/{token}/ratings/", json={"item": item, "score": rng.randint(0, 10)}, timeout=30)
            status, body = r.status_code, r.json()
        except (requests.RequestException, ValueError):
            status, body = None, {}
        tally.record("POST rating", time.perf_counter() - start, status)
        if status in (200, 201):  # 200: a replay of a rating stored before (e.g. its first answer was lost)
            with tally.lock:
                tally.accepted.append((token, item))
                tally.created += status == 201
        nxt = None if opts.two_trips else body.get("next")
        if tally.requests >= opts.max_requests:
            stop.set()


def verify(study_id: int, accepted: list[tuple[str, int]]) -> tuple[int, int, int]:
    """(lost, duplicated, unexpected): accepted ratings missing, stored twice, stored unseen."""
    from django.db import connection
    from django.db.models import Count

    from ratings_site.studies.models import Rating

    connection.close()  # a fresh connection after the run
    stored = collections.Counter(
        {(t, i): n for t, i, n in Rating.objects.filter(assignment__batch__study_id=study_id)
         .values_list("assignment__token", "item_id").annotate(n=Count("id")).values_list("assignment__token", "item_id", "n")}
    )
    seen = set(accepted)
    lost = sum(1 for key in seen if stored.get(key, 0) == 0)
    duplicated = sum(1 for key, n in stored.items() if n > 1)
    unexpected = sum(1 for key in stored if key not in seen)
    return lost, duplicated, unexpected


def gunicorn_workers(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def fault_inject(kind: str, server: subprocess.Popen, port: int, workers: int | None) -> subprocess.Popen:
    """kill -9 in the middle of the load; returns the server process to stop at the end."""
    import signal

    children = gunicorn_workers(server.pid)
    if kind == "web-worker":
        os.kill(children[0], signal.SIGKILL)  # the master starts a new one
        print(f"fault: kill -9 gunicorn worker {children[0]}")
        return server
    for pid in [server.pid, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.wait()
    print(f"fault: kill -9 gunicorn master {server.pid} and its {len(children)} workers; restarting")
    time.sleep(1.0)
    return server_start(port, workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--saturate", action="store_true", help="closed loop without think time")
    parser.add_argument("--two-trips", action="store_true", help="ignore the next item in the POST's answer")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument(
        "--kill", choices=["web-worker", "web-server"], default=None,
        help="fault: halfway through, kill -9 one gunicorn worker, or the whole server (restarted 1 s later)",
    )
    opts = parser.parse_args()

    django_setup()
    database_prepare()
    t0 = time.perf_counter()
    study_id, tokens = study_seed(opts.raters, opts.seed)
    print(f"seeded study {study_id}: {opts.raters} raters, {len(tokens) * ITEMS_PER_BATCH // RATERS_PER_BATCH} images "
          f"({time.perf_counter() - t0:.1f} s)")
    port = free_port()
    server = server_start(port, opts.workers)
    tally, stop = Tally(), threading.Event()
    threads = [
        threading.Thread(target=rater_loop, args=(f"http://127.0.0.1:{port}", token, opts, tally, stop, random.Random(opts.seed + i)), daemon=True)
        for i, token in enumerate(tokens)
    ]
    start = time.perf_counter()
    try:
        for t in threads:
            t.start()
        deadline = start + opts.seconds
        fault_at = start + opts.seconds / 2 if opts.kill else None
        while time.perf_counter() < deadline and any(t.is_alive() for t in threads) and not stop.is_set():
            time.sleep(0.2)
            if fault_at and time.perf_counter() >= fault_at:
                fault_at = None
                server = fault_inject(opts.kill, server, port, opts.workers)
        stop.set()
        for t in threads:
            t.join(timeout=35)
    finally:
        elapsed = time.perf_counter() - start
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    mode = "saturation (no think time)" if opts.saturate else "think time 2-8 s"
    trips = "two round trips per image" if opts.two_trips else "next item in the POST's answer"
    print(f"\n{opts.raters} raters, {mode}, {trips}, {elapsed:.1f} s, gunicorn.conf.py"
          f"{f' with {opts.workers} workers' if opts.workers else ''}, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"accepted ratings: {tally.created}  ->  {tally.created / elapsed:.1f} ratings/s;  requests: {tally.requests}")
    print(f"{'endpoint':12s} {'n':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    for endpoint, values in sorted(tally.latency.items()):
        ms = 1000 * np.asarray(values)
        print(f"{endpoint:12s} {len(ms):7d} {np.percentile(ms, 50):8.1f} {np.percentile(ms, 95):8.1f} "
              f"{np.percentile(ms, 99):8.1f} {ms.max():8.1f}")
    print(f"errors: {dict(tally.errors) or 0}" + (f"  (fault injected: {opts.kill})" if opts.kill else ""))
    lost, duplicated, unexpected = verify(study_id, tally.accepted)
    print(f"database check: lost {lost}, duplicated {duplicated}, stored but never acknowledged {unexpected}")
    if lost or duplicated:
        sys.exit(1)


if __name__ == "__main__":
    main()
