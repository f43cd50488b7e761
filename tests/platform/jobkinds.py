"""A job kind for the runner's tests: N steps of a given length, resumable (it continues
from the last step it reported). A worker loads it with `--include tests.platform.jobkinds`."""
import time

from ratings_site.jobs.runner import JobContext, job_task

STEPS = "test_steps"


def steps_work(context: JobContext) -> dict:
    params = context.job.params
    first = int((context.job.result or {}).get("done", 0))
    starts = list((context.job.result or {}).get("starts", [])) + [first]
    for step in range(first, params["steps"]):
        context.check_stop()
        time.sleep(params.get("seconds", 0.1))
        context.on_progress(step + 1, params["steps"], f"step {step + 1}", {"done": step + 1, "starts": starts})
    return {"done": params["steps"], "starts": starts, "message": f"{params['steps']} steps"}


steps_task = job_task(STEPS, steps_work, name="tests.platform.jobkinds.steps_task")
