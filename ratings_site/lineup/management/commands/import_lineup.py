from django.core.management.base import BaseCommand, CommandError

from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Study

from ...services import lineup_study_import


class Command(BaseCommand):
    help = ("Import a lineup study (human preference, the paper's Table 1) from a comparison run's outputs: "
            "runs/<name>/ of legan.compare, or an evaluation folder of legan.evaluate.")

    def add_arguments(self, parser):
        parser.add_argument("folder", help="runs/<name>/ (with eval/ and evalset/) or a folder with per_pair.csv and outputs/")
        parser.add_argument("--name", help="the study's name (default: 'Lineup: <folder>')")
        parser.add_argument("--subjects", type=int, default=30, help="lineups, one per held-out subject (paper: 30)")
        parser.add_argument("--models", help="comma-separated model folders under outputs/ (default: all)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--evalset", help="the evaluation set folder, when it is not beside the run")
        parser.add_argument("--results", help="legan.compare's results/<name>/ folder: its run.json is recorded and "
                                              "its table1 gets the human-preference column too")
        parser.add_argument("--reference-expression", default="neutral")
        parser.add_argument("--reference-lighting", default="frontal")
        parser.add_argument("--lineups-per-batch", type=int, help="default: every lineup in one batch")
        parser.add_argument("--raters-per-batch", type=int, default=17, help="paper: 17 raters")
        parser.add_argument("--provider", choices=[c for c, _ in Study.Provider.choices], default="self_hosted")
        parser.add_argument("--environment", help="sandbox or production for marketplaces (default sandbox)")
        parser.add_argument("--viewing-seconds", type=int, default=60)
        parser.add_argument("--answer-grace-seconds", type=int, default=60)

    def handle(self, *args, **o):
        models = [m.strip() for m in o["models"].split(",") if m.strip()] if o["models"] else None
        try:
            lineup_study = lineup_study_import(
                folder=o["folder"], name=o["name"] or f"Lineup: {o['folder']}", subjects=o["subjects"], models=models,
                seed=o["seed"], evalset=o["evalset"], results=o["results"], reference_expression=o["reference_expression"],
                reference_lighting=o["reference_lighting"], lineups_per_batch=o["lineups_per_batch"],
                raters_per_batch=o["raters_per_batch"], provider=o["provider"], environment=o["environment"],
                viewing_seconds=o["viewing_seconds"], answer_grace_seconds=o["answer_grace_seconds"],
            )
        except ServiceError as exc:
            raise CommandError(exc.message)
        study = lineup_study.study
        self.stdout.write(f"study {study.pk} '{study.name}' (draft): {study.sample_size} lineups of "
                          f"{', '.join(lineup_study.model_names)} in {study.n_batches} batch(es) x "
                          f"{study.raters_per_batch} raters; launch it in the admin (Studies > Launch)")
