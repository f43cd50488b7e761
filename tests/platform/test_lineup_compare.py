"""A lineup study from a real `legan.compare --preset smoke` run (trained models, real
evaluation outputs, a real Q), through the command line, to the filled comparison table."""
from io import StringIO

import pandas as pd
import pytest
import torch
from django.core.management import call_command

from legan.compare import DEFAULT_MODELS, main
from ratings_site.lineup.models import Lineup, LineupStudy
from ratings_site.studies.services import study_launch
from tests.legan.evalset_fixtures import write_ckplus_folder

from .lineup_helpers import allocate
from .test_lineup import slot_of, vote_all

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module")
def compare_run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("compare")
    write_ckplus_folder(root / "data" / "ckplus48", subjects=12)
    main(["--preset", "smoke", "--data-root", str(root / "data"), "--datasets", "ckplus48",
          "--runs", str(root / "runs"), "--results", str(root / "results"), "--name", "t"])
    return root


def test_import_vote_and_fill_the_table_of_a_real_compare_run(compare_run):
    out = StringIO()
    call_command("import_lineup", str(compare_run / "runs" / "t"), "--subjects", "2", "--raters-per-batch", "2",
                 "--name", "smoke lineup", "--results", str(compare_run / "results" / "t"), stdout=out)
    lu = LineupStudy.objects.get()
    assert lu.model_names == sorted(DEFAULT_MODELS)
    assert lu.provenance["command"].startswith("python -m legan.compare --preset smoke")
    evalset = pd.read_csv(compare_run / "runs" / "t" / "evalset" / "pairs_test.csv", dtype=str).set_index("pair_id")
    for lineup in Lineup.objects.filter(lineup_study=lu):
        assert evalset.loc[lineup.pair_id, "input_expression"] == "neutral"
        assert lineup.candidates.count() == len(DEFAULT_MODELS)
        assert all(c.q_score is not None for c in lineup.candidates.all())  # the run's own Q
    assert {e.kind for e in lu.examples.all()} == {"expression", "lighting"}
    study_launch(study=lu.study)
    vote_all(allocate(lu, "alice"), lambda nxt: slot_of(nxt, "legan"))
    vote_all(allocate(lu, "bob"), lambda nxt: slot_of(nxt, "stargan_qual"))
    out = StringIO()
    call_command("lineup_results", str(lu.pk), "--write-table", stdout=out)
    text = out.getvalue()
    assert "legan" in text and "50.0%" in text and "Fleiss' kappa" in text
    assert text.count("wrote ") == 4  # the run's eval/ table and results/t/
    for folder in (compare_run / "runs" / "t" / "eval", compare_run / "results" / "t"):
        table = pd.read_csv(folder / "table1.csv").set_index("model")
        assert table.loc["legan", "human_preference"] == 0.5 and table.loc["stargan", "human_preference"] == 0
        assert pd.isna(table.loc["real", "human_preference"])
        md = (folder / "table1.md").read_text()
        header = next(line for line in md.splitlines() if line.startswith("| model |"))
        assert header.endswith("| human preference (lineup votes) ↑ |") and "| FD-dlib128 ↓ |" in header
        assert all(line.count("|") == header.count("|") for line in md.splitlines() if line.startswith("| "))
