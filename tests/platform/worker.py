"""Start a real Celery worker process against the test database and broker."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def broker_purge() -> None:
    from ratings_site.celery import app

    with app.connection_for_write() as conn:
        for queue in ("celery", "gpu"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # the queue may not exist yet
                pass


def worker_start(log_path: Path, queues: str = "celery", extra_env: dict | None = None,
                 extra_args: list[str] | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "ratings_site", "worker", "-P", "solo", "-Q", queues, "-l", "info",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"test-{os.getpid()}@%h",
        *(extra_args or []),
    ]
    log = open(log_path, "w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
