"""Loaded into a test worker with `--include tests.security.slow_jobs`: every progress report
of every job kind first waits FAULT_PROGRESS_SECONDS, so that a quick job (labels, export) is
still running when a fault test kills its worker. The work itself is the real one."""
import os
import time

from ratings_site.jobs import runner

_job_progress = runner.job_progress


def job_progress_slowly(**kwargs) -> None:
    time.sleep(float(os.environ.get("FAULT_PROGRESS_SECONDS", "0")))
    _job_progress(**kwargs)


runner.job_progress = job_progress_slowly  # runner._context looks it up at call time
