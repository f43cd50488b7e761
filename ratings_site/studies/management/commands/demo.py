"""The main job on embedded defaults: site + worker + a seeded demo study a person can
open and rate, and a scripted end-to-end pass with simulated raters that ends with
exported labels."""
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from scipy.stats import spearmanr

from ratings_site.catalog.models import Image, Source
from ratings_site.catalog.services import images_import_manifest
from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitations_create
from ratings_site.studies.selectors import study_task_summary
from ratings_site.demo.faces import demo_faces_write
from ratings_site.demo.processes import stop, wait_http, web_start, workers_start
from ratings_site.demo.raters import SimulatedRater, rater_run
from ratings_site.env import VAR_DIR
from ratings_site.jobs.models import Job
from ratings_site.labels.services import export_job_start
from ratings_site.studies.models import BatchItem
from ratings_site.studies.services import study_create, study_launch

DEMO_USER, DEMO_PASSWORD = "admin", "admin-demo"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--shared-data", action="store_true", help="Use real faces from ../shared/data when present.")
        parser.add_argument("--no-serve", action="store_true", help="Stop after the scripted pass instead of serving.")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--per-image", type=int, default=12, help="Degraded variants per source face.")
        parser.add_argument("--batches", type=int, default=4)
        parser.add_argument("--seed", type=int, default=0)

    def say(self, text):
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {text}"))

    def handle(self, *args, **o):
        self.say("Database and static files")
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._admin_user()
        workdir = VAR_DIR / "demo"
        images = self._images(workdir, o)
        base_url = f"http://127.0.0.1:{o['port']}"
        logs = VAR_DIR / "logs"
        self.say(f"Starting the site (gunicorn) on {base_url} and Celery workers for quick jobs and training; logs in {logs}")
        web, workers = web_start(o["port"], logs / "web.log"), workers_start(logs)
        try:
            wait_http(f"{base_url}/healthz")
            self._scripted_pass(base_url, images, workdir, o)
            link = self._study_for_people(images, o)
            adaptive_link = self.adaptive_study_for_people(len(images), o["seed"])
            self.stdout.write(self.style.SUCCESS(
                f"\nRate faces yourself:   {base_url}{link}\n"
                f"... adaptive study:    {base_url}{adaptive_link}  (raters go where labels are least certain)\n"
                f"Admin (researchers):   {base_url}/admin/  user '{DEMO_USER}', password '{DEMO_PASSWORD}'\n"
                f"API schema:            {base_url}/api/schema/\n"
            ))
            if o["no_serve"]:
                return
            self.stdout.write("Serving; press Ctrl-C to stop.")
            while web.poll() is None and all(w.poll() is None for w in workers):
                time.sleep(1)
            raise CommandError("the site or a worker stopped; see the logs")
        except KeyboardInterrupt:
            # Ctrl-C: stop cleanly. Everything made so far stays; running the demo again reuses it.
            self.stdout.write("\nStopping (run the demo again to continue; imported images are kept).")
        finally:
            stop(web, *workers)

    def _admin_user(self):
        User = get_user_model()
        if not User.objects.filter(username=DEMO_USER).exists():
            User.objects.create_superuser(DEMO_USER, "admin@example.org", DEMO_PASSWORD)

    def _images(self, workdir: Path, o) -> pd.DataFrame:
        """Degraded variants of real faces with a known latent naturalness, imported."""
        from quality.simulate import faces_from_folder, simulate_crowd

        self.say("Making demo images (quality.simulate degrades real faces by known amounts)")
        faces_dir = workdir / "faces"
        shutil.rmtree(faces_dir, ignore_errors=True)
        count = demo_faces_write(faces_dir, use_shared=o["shared_data"])
        sim_dir = workdir / "simulated"
        _, truth = simulate_crowd(faces_from_folder(faces_dir), sim_dir, per_image=o["per_image"], seed=o["seed"])
        source, _ = Source.objects.get_or_create(slug="demo", defaults={"name": "Demo (degraded real faces)"})
        manifest = truth.assign(path=truth["image_path"], source=source.slug)[["path", "source", "kind", "strength", "latent"]]
        manifest.to_csv(sim_dir / "manifest.csv", index=False)
        outcome = images_import_manifest(manifest=sim_dir / "manifest.csv")
        self.stdout.write(f"{count} source faces -> {len(truth)} images; imported {outcome.run.imported}, "
                          f"already there {outcome.run.duplicates}, failed {outcome.run.failed}")
        rows = Image.objects.filter(source=source).values_list("id", "metadata")
        return pd.DataFrame([{"image_id": i, "latent": float(m["latent"])} for i, m in rows])

    def _scripted_pass(self, base_url, images: pd.DataFrame, workdir: Path, o):
        n_batches = min(o["batches"], len(images))
        study = study_create(
            name=f"Demo: simulated raters ({time.strftime('%H:%M:%S')})", sample_size=len(images),
            n_batches=n_batches, raters_per_batch=3, seed=o["seed"], sources=Source.objects.filter(slug="demo"),
        )
        study = study_launch(study=study)
        [link] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=study_task_summary(study).places)
        latent = dict(zip(images.image_id, images.latent))
        item_latent = {item_id: latent[image_id] for item_id, image_id in
                       BatchItem.objects.filter(batch__study=study).values_list("id", "image_id")}
        self.say(f"Scripted pass: {n_batches * 3} simulated raters rate {len(images)} images in {n_batches} batches over HTTP")
        rng = np.random.default_rng(o["seed"])
        started = time.monotonic()
        for k in range(n_batches * 3):
            rater = SimulatedRater(name=f"sim-{k}", bias=float(rng.normal(0, 0.8)))
            done = rater_run(base_url, link.token, rater, item_latent, rng)
            self.stdout.write(f"  {done['rater']}: {done['ratings']} ratings, completion code {done['completion_code']}")
        self.stdout.write(f"  {len(images) * 3} ratings in {time.monotonic() - started:.1f} s")
        self.say("Waiting for the worker to compute labels, then exporting them")
        job = self._wait(Job.objects.filter(study=study, kind=Job.Kind.LABELS))
        export = self._wait(Job.objects.filter(pk=export_job_start(study=study, fmt="csv").pk))
        target = workdir / "labels.csv"
        target.write_bytes(export.artifact.read())
        frame = pd.read_csv(target)
        truth = frame.image_id.map(latent)
        rho = spearmanr(frame["mean"], truth).statistic
        alpha = job.result.get("krippendorff_alpha_interval")
        self.stdout.write(self.style.SUCCESS(
            f"Exported {len(frame)} labels to {target} (media root {settings.MEDIA_ROOT}).\n"
            f"  Krippendorff's alpha {alpha:.3f}; Spearman(mean, simulator's latent) {rho:.3f}; "
            f"average std {frame['std'].mean():.2f}"
        ))

    def _wait(self, jobs, timeout=180):
        """The first of `jobs` to finish; a failed one stops the demo with its error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = jobs.filter(status__in=[Job.Status.SUCCEEDED, Job.Status.FAILED]).first()
            if job and job.status == Job.Status.FAILED:
                raise CommandError(f"job #{job.pk} failed: {job.error}")
            if job:
                return job
            time.sleep(0.5)
        raise CommandError("the worker did not finish in time; see var/logs/worker-quick.log and worker-training.log")

    @staticmethod
    def adaptive_study_for_people(available: int, seed: int, *, size: int = 8, items_per_batch: int = 4) -> str:
        """An adaptive study over the demo's images: 2 to 4 raters per image, a budget of 3
        per image on average, stopping once a label's 90% interval is within ±1 point."""
        size = min(size, available)
        study = study_create(
            name="Demo: adaptive, rate it yourself", sample_size=size, seed=seed + 2, adaptive=True,
            rating_budget=3 * size, items_per_batch=items_per_batch, min_raters=2, max_raters=4, stop_half_width=1.0,
            sources=Source.objects.filter(slug="demo"),
        )  # full_clean derives the batches the budget buys
        study_launch(study=study)
        [link] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=50, label="demo adaptive")
        return f"/r/{link.token}/"

    def _study_for_people(self, images: pd.DataFrame, o) -> str:
        ranked = images.sort_values("latent")
        study = study_create(
            name="Demo: rate it yourself", sample_size=min(12, len(images)), n_batches=1, raters_per_batch=3, seed=o["seed"] + 1,
            sources=Source.objects.filter(slug="demo"),
            example_natural_id=int(ranked.image_id.iloc[-1]), example_unnatural_id=int(ranked.image_id.iloc[0]),
        )
        study_launch(study=study)
        # The link admits exactly as many raters as the study has places; the next one sees "study full".
        summary = study_task_summary(study)
        [link] = invitations_create(study=study, kind=Invitation.Kind.OPEN, cap=summary.places, label="demo")
        self.stdout.write(f"  rate-it-yourself study: {summary.for_researchers}")
        return f"/r/{link.token}/"
