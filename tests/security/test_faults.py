"""Faults under load (issue 12): kill -9 a gunicorn worker, and the whole server, while
simulated raters rate; no rating a client saw accepted may be lost or stored twice.

Runs bench/bench_load.py (the production server configuration, 127.0.0.1 only, bounded) on a
separate database next to the test database (`<name>_load`), which it creates and migrates.
Slow: about a minute per scenario on 2 cores.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("the load runs on PostgreSQL")
    return re.sub(r"/([^/?]+)(\?|$)", lambda m: f"/{m.group(1)}_load{m.group(2)}", url, count=1)


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["web-worker", "web-server"])
def test_no_accepted_rating_is_lost_when_the_web_server_is_killed(fault):
    env = {**os.environ, "DATABASE_URL": load_database_url(), "BENCH_ITEMS_PER_BATCH": "20"}
    run = subprocess.run(
        [sys.executable, "bench/bench_load.py", "--raters", "60", "--seconds", "20", "--kill", fault],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert f"fault injected: {fault}" in out
    accepted = int(re.search(r"accepted ratings: (\d+)", out).group(1))
    assert accepted > 0, out[-2000:]
    assert re.search(r"database check: lost 0, duplicated 0", out), out[-2000:]
