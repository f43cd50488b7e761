"""Every task the beat schedule names is registered with a freshly started worker's app."""
import json
import subprocess
import sys

from django.conf import settings

PROBE = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ratings_site.settings")
import django; django.setup()
from ratings_site.celery import app
app.loader.import_default_modules()  # what `celery worker` does at start
print(json.dumps(sorted(app.tasks)))
"""


def test_every_beat_schedule_task_is_registered_in_a_fresh_worker_process():
    # A fresh interpreter: this test process may have imported modules a worker never does.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    registered = set(json.loads(out.stdout.strip().splitlines()[-1]))
    named = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert named, "the beat schedule is empty"
    assert named <= registered, sorted(named - registered)
