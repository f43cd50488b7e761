"""The site and a worker as child processes, for the demo."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from ratings_site.env import VAR_DIR

ROOT = Path(__file__).resolve().parents[2]


def _spawn(command: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    # A session of their own: Ctrl-C in the terminal reaches only the demo command, which then
    # stops the children in order, instead of every process dying at once mid-request.
    return subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=open(log, "w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def web_start(port: int, log: Path) -> subprocess.Popen:
    """gunicorn, the production server setup, with a few worker processes."""
    return _spawn(
        [sys.executable, "-m", "gunicorn", "ratings_site.wsgi", "-b", f"127.0.0.1:{port}", "-w", "3", "--timeout", "60"], log
    )


QUICK_QUEUE, TRAINING_QUEUE = "celery", "gpu"


def worker_commands() -> dict[str, list[str]]:
    """Two workers, as in production (docker-compose.yml): quick jobs (labels, exports, the
    beat sweeps) never wait behind a training job on the training queue."""
    schedule = VAR_DIR / "celerybeat-schedule"
    celery = [sys.executable, "-m", "celery", "-A", "ratings_site", "worker", "-P", "solo", "-l", "info"]
    return {
        "quick": [*celery, "-n", "quick@%h", "-Q", QUICK_QUEUE, "-B", "-s", str(schedule)],
        "training": [*celery, "-n", "training@%h", "-Q", TRAINING_QUEUE],
    }


def workers_start(logs: Path) -> list[subprocess.Popen]:
    return [_spawn(command, logs / f"worker-{name}.log") for name, command in worker_commands().items()]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc and proc.poll() is None:
            proc.terminate()
    for proc in procs:
        if proc:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
