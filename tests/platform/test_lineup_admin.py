"""A researcher imports a lineup study in the admin, sees its results and fills the table."""
import pandas as pd
import pytest

from ratings_site.lineup.models import LineupStudy
from ratings_site.studies.models import Study

from .lineup_helpers import allocate, make_run
from .test_lineup import slot_of, vote_all

pytestmark = pytest.mark.django_db


def test_researcher_imports_from_the_admin_sees_results_and_fills_the_column(client, researcher, tmp_path):
    run = make_run(tmp_path, test_subjects=4)
    client.force_login(researcher)
    listing = client.get("/admin/lineup/lineupstudy/")
    assert listing.status_code == 200 and "Import from a comparison run" in listing.content.decode()
    form = {"folder": str(run), "name": "admin lineup", "subjects": 3, "models": "", "evalset": "", "results": "", "seed": 0,
            "raters_per_batch": 1, "lineups_per_batch": "", "provider": "self_hosted", "environment": "",
            "viewing_seconds": 60}
    bad = client.post("/admin/lineup/lineupstudy/import/", {**form, "subjects": 9})
    assert bad.status_code == 200 and "only 4 subject(s) have a reference input" in bad.content.decode()
    assert not Study.objects.exists()
    done = client.post("/admin/lineup/lineupstudy/import/", form)
    assert done.status_code == 302
    lu = LineupStudy.objects.get()
    assert client.get(done["Location"]).content.decode().count("has no counted votes yet") == 1

    from ratings_site.studies.services import study_launch

    study_launch(study=lu.study)
    assert client.get(f"/admin/studies/study/{lu.pk}/change/").status_code == 200  # the study's own page still works
    vote_all(allocate(lu, "alice"), lambda nxt: slot_of(nxt, "legan"))
    page = client.get(f"/admin/lineup/lineupstudy/{lu.pk}/change/").content.decode()
    assert 'id="human-preference"' in page and "<td>legan</td><td>100.0%</td>" in page
    assert "Fleiss&#x27; kappa" in page or "Fleiss' kappa" in page
    filled = client.post("/admin/lineup/lineupstudy/", {"action": "fill_table", "_selected_action": [lu.pk]}, follow=True)
    assert "wrote" in filled.content.decode()
    frame = pd.read_csv(run / "eval" / "table1.csv").set_index("model")
    assert frame.loc["legan", "human_preference"] == 1.0
