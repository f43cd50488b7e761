"""The lineup study end to end on embedded defaults, with SIMULATED raters: a FABRICATED
comparison run (degraded real photos standing in for model outputs), imported as a lineup
study, answered over HTTP by simulated raters, its results, and the human-preference
column written into that run's table. Nothing here measures a GAN."""
import shutil
import time

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitations_create
from ratings_site.demo.lineup_raters import lineup_rater_run
from ratings_site.demo.lineup_run import compare_run_fabricate
from ratings_site.demo.processes import stop, wait_http, web_start
from ratings_site.env import VAR_DIR
from ratings_site.studies.services import study_launch

from ...results import results_text
from ...services import lineup_study_import
from ...table import study_table_fill

DEMO_USER, DEMO_PASSWORD = "admin", "admin-demo"
BANNER = "SIMULATED raters on a FABRICATED comparison run: the numbers show the machinery, not any model."


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="Stop after the scripted pass instead of serving.")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--subjects", type=int, default=8, help="lineups (the paper: 30)")
        parser.add_argument("--raters", type=int, default=6, help="simulated raters (the paper: 17 people)")
        parser.add_argument("--seed", type=int, default=0)

    def say(self, text):
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {text}"))

    def handle(self, *args, **o):
        self.say("Database and static files")
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        User = get_user_model()
        if not User.objects.filter(username=DEMO_USER).exists():
            User.objects.create_superuser(DEMO_USER, "admin@example.org", DEMO_PASSWORD)
        run = VAR_DIR / "demo" / "lineup-run"
        shutil.rmtree(run, ignore_errors=True)
        self.say(f"A FABRICATED comparison run in {run} (degraded real photos, not GAN outputs)")
        compare_run_fabricate(run, test_subjects=o["subjects"], size=64, seed=o["seed"])
        lineup_study = lineup_study_import(
            folder=run, name=f"Demo lineup, SIMULATED raters ({time.strftime('%H:%M:%S')})", subjects=o["subjects"],
            seed=o["seed"], raters_per_batch=o["raters"], simulated=True)
        study = study_launch(study=lineup_study.study)
        [link] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=o["raters"], label="simulated raters")
        base_url = f"http://127.0.0.1:{o['port']}"
        self.say(f"Starting the site (gunicorn) on {base_url}; logs in {VAR_DIR / 'logs'}")
        web = web_start(o["port"], VAR_DIR / "logs" / "web-lineup.log")
        try:
            wait_http(f"{base_url}/healthz")
            self.say(f"{o['raters']} SIMULATED raters answer {o['subjects']} lineups each over HTTP")
            rng = np.random.default_rng(o["seed"])
            for k in range(o["raters"]):
                done = lineup_rater_run(base_url, link.token, noise=float(rng.uniform(0.3, 1.0)), rng=rng)
                self.stdout.write(f"  sim-{k}: {done['votes']} votes, completion code {done['completion_code']}")
            lineup_study.refresh_from_db()
            results, written = study_table_fill(lineup_study=lineup_study)
            self.stdout.write(self.style.WARNING(BANNER))
            self.stdout.write(results_text(results))
            for path in written:
                self.stdout.write(f"wrote {path}")
            people = self._study_for_people(run, o)
            self.stdout.write(self.style.SUCCESS(
                f"\nTry a lineup yourself: {base_url}{people}\n"
                f"Results in the admin:   {base_url}/admin/lineup/lineupstudy/{lineup_study.pk}/change/  "
                f"user '{DEMO_USER}', password '{DEMO_PASSWORD}'\n"))
            if o["no_serve"]:
                return
            self.stdout.write("Serving; press Ctrl-C to stop.")
            while web.poll() is None:
                time.sleep(1)
            raise CommandError("the site stopped; see the logs")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping.")
        finally:
            stop(web)

    def _study_for_people(self, run, o) -> str:
        lineup_study = lineup_study_import(folder=run, name="Demo lineup: try it yourself", subjects=min(5, o["subjects"]),
                                           seed=o["seed"] + 1, raters_per_batch=20, simulated=False)
        study_launch(study=lineup_study.study)
        [link] = invitations_create(study=lineup_study.study, kind=Invitation.Kind.OPEN, cap=20, label="demo")
        return f"/r/{link.token}/"
