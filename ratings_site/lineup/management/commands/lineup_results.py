import json

from django.core.management.base import BaseCommand, CommandError

from ratings_site.core.errors import ServiceError

from ...models import LineupStudy
from ...results import lineup_results, results_text
from ...table import study_table_fill


class Command(BaseCommand):
    help = ("A lineup study's results (human preference per model with bootstrap intervals, Fleiss' kappa, "
            "position bias, Q vs votes); --write-table fills the human-preference column of the comparison table.")

    def add_arguments(self, parser):
        parser.add_argument("study", type=int, help="the study id")
        parser.add_argument("--write-table", action="store_true",
                            help="write the column into table1.csv/md of the run the study came from")
        parser.add_argument("--also", action="append", default=[], metavar="FOLDER",
                            help="another folder whose table1.csv/md gets the column (e.g. results/table1-cpu)")
        parser.add_argument("--allow-unfinished", action="store_true", help="a provisional column from a running study")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **o):
        lineup_study = LineupStudy.objects.select_related("study").filter(pk=o["study"]).first()
        if lineup_study is None:
            raise CommandError(f"study {o['study']} is not a lineup study")
        try:
            if o["write_table"] or o["also"]:
                results, written = study_table_fill(lineup_study=lineup_study, extra_folders=o["also"],
                                                    allow_unfinished=o["allow_unfinished"])
            else:
                results, written = lineup_results(lineup_study), []
        except ServiceError as exc:
            raise CommandError(exc.message)
        self.stdout.write(json.dumps(results.as_dict(), indent=2) if o["json"] else results_text(results))
        for path in written:
            self.stdout.write(f"wrote {path}")
