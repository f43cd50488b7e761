"""Lineup studies for tests: a fabricated comparison run, imported through the real service."""
from __future__ import annotations

from pathlib import Path

from ratings_site.demo.lineup_run import compare_run_fabricate
from ratings_site.lineup.services import lineup_study_import
from ratings_site.studies.services import assignment_allocate, study_launch

from .factories import rater

MODELS = ["legan", "stargan", "stargan_qual", "stargan_v2"]


def make_run(tmp_path: Path, *, test_subjects: int = 5, **kw) -> Path:
    return compare_run_fabricate(tmp_path / "run", test_subjects=test_subjects, train_subjects=2, size=16, **kw)


def make_lineup_study(run: Path, *, subjects: int = 4, raters: int = 2, per_batch=None, launch: bool = True, **kw):
    lineup_study = lineup_study_import(folder=run, name=kw.pop("name", "lineup test"), subjects=subjects,
                                       raters_per_batch=raters, lineups_per_batch=per_batch, **kw)
    if launch:
        study_launch(study=lineup_study.study)
        lineup_study.refresh_from_db()
    return lineup_study


def allocate(lineup_study, name: str):
    return assignment_allocate(study=lineup_study.study, rater=rater(name))
