"""Lineup studies (the paper's human preference): import from a comparison run, the rater's
lineups in a fresh order, votes under the naturalness study's rules, results and the table."""
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from ratings_site.jobs.models import Job
from ratings_site.lineup import errors
from ratings_site.lineup.importing import LineupImportError
from ratings_site.lineup.models import Candidate, Lineup, LineupStudy, LineupView, TargetExample, Vote
from ratings_site.lineup.results import lineup_results
from ratings_site.lineup.services import lineup_next, lineup_study_import, vote_submit
from ratings_site.lineup.table import MD_HEADER, study_table_fill
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Assignment, Study
from ratings_site.studies.services import assignment_submit

from .lineup_helpers import MODELS, allocate, make_lineup_study, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(tmp_path) -> Path:
    return make_run(tmp_path)


def vote_all(assignment, pick):
    """Answer every lineup of the batch; pick(next) -> screen slot."""
    while (nxt := lineup_next(assignment=assignment)) is not None:
        vote_submit(assignment=assignment, lineup_id=nxt.lineup.pk, slot=pick(nxt))
    return assignment_submit(assignment=Assignment.objects.get(pk=assignment.pk))


def slot_of(nxt, model):
    names = dict(Candidate.objects.filter(lineup=nxt.lineup).values_list("id", "model_name"))
    return [names[c] for c in nxt.order].index(model)


# --- import ---------------------------------------------------------------------------------

def test_import_builds_one_lineup_per_subject_with_every_models_output_and_real_examples(run):
    lu = make_lineup_study(run, subjects=4, launch=False)
    study = lu.study
    assert (study.status, study.sample_size, study.n_batches, study.raters_per_batch) == ("draft", 4, 1, 2)
    assert lu.model_names == MODELS
    lineups = list(Lineup.objects.filter(lineup_study=lu))
    assert len(lineups) == 4 and len({x.subject for x in lineups}) == 4
    per_pair = pd.read_csv(run / "eval" / "per_pair.csv", dtype=str).set_index("pair_id")
    for lineup in lineups:
        pair = per_pair.loc[lineup.pair_id]
        # The reference is the subject's real photo with bright light and a neutral expression.
        assert (pair.input_expression, pair.input_lighting) == ("neutral", "frontal")
        assert lineup.reference.read() == (run / "evalset" / pair.input_path).read_bytes()
        assert (lineup.target_expression, lineup.target_lighting) != ("neutral", "frontal")
        candidates = {c.model_name: c for c in lineup.candidates.all()}
        assert sorted(candidates) == sorted(MODELS)
        for model, c in candidates.items():
            assert c.image.read() == (run / "eval" / "outputs" / model / f"{lineup.pair_id}.png").read_bytes()
            assert c.q_score == pytest.approx(float(pair[f"{model}:quality"]))
    wanted = {("expression", x.target_expression) for x in lineups} | {("lighting", x.target_lighting) for x in lineups}
    examples = {(e.kind, e.value): e for e in TargetExample.objects.filter(lineup_study=lu)}
    assert set(examples) == wanted
    test_faces = {p.name for p in (run / "evalset" / "images").glob("s*.png")}
    train_bytes = {p.read_bytes() for p in (run / "evalset" / "images").glob("t*.png")}
    for e in examples.values():  # never a test subject: an example must not give the answer away
        assert e.image.read() in train_bytes and Path(e.image.name).name not in test_faces
    assert lu.provenance["command"].startswith("ratings_site.demo.lineup_run")


def test_import_is_reproducible_by_seed_and_launches_without_sampling(run):
    a = make_lineup_study(run, subjects=3, seed=7, launch=False, name="a")
    b = make_lineup_study(run, subjects=3, seed=7, launch=False, name="b")
    pairs = lambda lu: list(Lineup.objects.filter(lineup_study=lu).order_by("index").values_list("pair_id", flat=True))  # noqa: E731
    assert pairs(a) == pairs(b)
    lu = make_lineup_study(run, subjects=5, per_batch=2, launch=True, name="c")
    assert lu.study.status == Study.Status.RUNNING and lu.study.batches.count() == 3
    assert sorted(Lineup.objects.filter(lineup_study=lu).values_list("batch__index", flat=True)) == [0, 0, 1, 1, 2]


def _media_files(settings):
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("breakage, message", [
    ("not_a_run", "is not a comparison run"),
    ("no_evalset", "no evaluation set for"),
    ("missing_output", "1 output image(s) missing"),
    ("corrupt_output", "is not a readable image"),
    ("columns", "lacks column(s) ['target_lighting']"),
    ("too_many_subjects", "only 5 subject(s) have a reference input (neutral, frontal)"),
    ("unknown_model", "no outputs for model(s) ['stargan_v3']"),
    ("one_model", "a lineup needs at least 2 models"),
    ("no_example", "no real photo of the target lighting 'left'"),
    ("batch_too_large", "9 lineups per batch is more than the 5 lineups there are"),
    ("bad_results", "has no table1.csv: --results names legan.compare's results/<name>/ folder"),
])
def test_bad_run_folders_are_refused_with_a_reason_and_nothing_is_written(run, tmp_path, settings, breakage, message):
    kwargs = {"folder": run, "name": "broken", "subjects": 5}
    if breakage == "not_a_run":
        kwargs["folder"] = tmp_path
    elif breakage == "no_evalset":
        (run / "evalset" / "evalset.json").unlink()
    elif breakage == "missing_output":
        # Subject s00 keeps one usable pair (so it is chosen), whose stargan output is gone.
        frame = pd.read_csv(run / "eval" / "per_pair.csv", dtype=str)
        usable = frame[(frame.subject == "s00") & (frame.input_expression == "neutral") & (frame.input_lighting == "frontal")]
        frame[(frame.subject != "s00") | (frame.pair_id == usable.pair_id.iloc[0])].to_csv(run / "eval" / "per_pair.csv", index=False)
        (run / "eval" / "outputs" / "stargan" / f"{usable.pair_id.iloc[0]}.png").unlink()
    elif breakage == "corrupt_output":
        for p in (run / "eval" / "outputs" / "legan").glob("*.png"):
            p.write_bytes(b"not a png")
    elif breakage == "columns":
        pd.read_csv(run / "eval" / "per_pair.csv").drop(columns="target_lighting").to_csv(run / "eval" / "per_pair.csv", index=False)
    elif breakage == "too_many_subjects":
        kwargs["subjects"] = 6
    elif breakage == "unknown_model":
        kwargs["models"] = ["legan", "stargan_v3"]
    elif breakage == "one_model":
        kwargs["models"] = ["legan"]
    elif breakage == "no_example":
        train = pd.read_csv(run / "evalset" / "train.csv")
        train[train.lighting != "left"].to_csv(run / "evalset" / "train.csv", index=False)
        frame = pd.read_csv(run / "eval" / "per_pair.csv", dtype=str)
        # every lineup targets left light, so an example of it is needed
        frame[frame.target_lighting == "left"].to_csv(run / "eval" / "per_pair.csv", index=False)
    elif breakage == "batch_too_large":
        kwargs["lineups_per_batch"] = 9
    elif breakage == "bad_results":
        kwargs["results"] = tmp_path
    with pytest.raises(LineupImportError) as info:
        lineup_study_import(**kwargs)
    assert message in info.value.message
    assert not Study.objects.exists() and not LineupStudy.objects.exists() and not Candidate.objects.exists()
    assert _media_files(settings) == []


def test_a_failure_part_way_through_writing_leaves_no_rows_and_no_files(run, settings, monkeypatch):
    def boom(self, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(TargetExample, "save", boom)  # after every lineup's files were written
    with pytest.raises(RuntimeError, match="disk full"):
        lineup_study_import(folder=run, name="x", subjects=3)
    assert not Study.objects.exists() and not Lineup.objects.exists()
    assert _media_files(settings) == []


def test_import_command_reports_the_study_and_refuses_bad_input_with_its_message(run, tmp_path):
    from django.core.management import CommandError, call_command
    from io import StringIO

    out = StringIO()
    call_command("import_lineup", str(run), "--subjects", "3", "--raters-per-batch", "5", "--name", "cmd", stdout=out)
    assert "3 lineups of legan, stargan, stargan_qual, stargan_v2 in 1 batch(es) x 5 raters" in out.getvalue()
    with pytest.raises(CommandError, match="is not a comparison run"):
        call_command("import_lineup", str(tmp_path / "nowhere"))
    assert Study.objects.count() == 1


# --- serving and voting ------------------------------------------------------------------------

def test_each_rater_gets_a_fresh_random_order_recorded_with_each_vote(tmp_path):
    lu = make_lineup_study(make_run(tmp_path, test_subjects=8), subjects=8, raters=6)
    orders = []
    for k in range(6):
        assignment = allocate(lu, f"r{k}")
        seen = []

        def pick(nxt):
            seen.append(nxt.order)
            return k % 4

        vote_all(assignment, pick)
        votes = list(Vote.objects.filter(assignment=assignment).order_by("lineup__position"))
        assert len(votes) == 8
        for vote, order in zip(votes, seen):
            names = dict(Candidate.objects.filter(lineup=vote.lineup).values_list("id", "model_name"))
            assert sorted(order) == sorted(names)  # a permutation of the lineup's candidates
            assert vote.order == [names[c] for c in order]  # what the rater saw, left to right
            assert vote.screen_position == k % 4 and vote.candidate_id == order[k % 4]
            assert vote.candidate.model_name == vote.order[vote.screen_position]
        orders.append(seen)
    per_lineup = list(zip(*orders))
    # 6 raters x 8 lineups: identical orders everywhere would be chance 1 in 24^40.
    assert any(len({tuple(o) for o in orders_of_lineup}) > 1 for orders_of_lineup in per_lineup)
    assert len({tuple(o) for o in per_lineup[0]}) > 1 or len({tuple(o) for o in per_lineup[1]}) > 1


def test_vote_rules_window_replay_duplicate_and_misassigned(tmp_path):
    lu = make_lineup_study(make_run(tmp_path), subjects=4, per_batch=2, raters=2, viewing_seconds=60)
    a = allocate(lu, "alice")
    other_batch = Lineup.objects.filter(lineup_study=lu).exclude(batch_id=a.batch_id).first()
    mine = list(Lineup.objects.filter(batch_id=a.batch_id).order_by("position"))
    with pytest.raises(ServiceError) as info:
        vote_submit(assignment=a, lineup_id=mine[0].pk, slot=0)
    assert (info.value.message, info.value.status) == (errors.LINEUP_NOT_SERVED, 409)
    with pytest.raises(ServiceError) as info:
        vote_submit(assignment=a, lineup_id=other_batch.pk, slot=0)
    assert (info.value.message, info.value.status) == (errors.LINEUP_NOT_IN_BATCH, 403)
    nxt = lineup_next(assignment=a)
    assert nxt.lineup == mine[0] and lineup_next(assignment=a).order == nxt.order  # a reload keeps the order
    for bad in (4, -1, "x", None, True):
        with pytest.raises(ServiceError) as info:
            vote_submit(assignment=a, lineup_id=nxt.lineup.pk, slot=bad)
        assert info.value.message == errors.CHOICE_NOT_IN_LINEUP
    with pytest.raises(ServiceError, match="still need an answer"):
        assignment_submit(assignment=a)
    vote, created = vote_submit(assignment=a, lineup_id=nxt.lineup.pk, slot=2)
    assert created and vote.response_ms >= 0
    again, created = vote_submit(assignment=a, lineup_id=nxt.lineup.pk, slot=2)  # a replayed request
    assert (again.pk, created) == (vote.pk, False)
    with pytest.raises(ServiceError) as info:
        vote_submit(assignment=a, lineup_id=nxt.lineup.pk, slot=1)
    assert (info.value.message, info.value.status) == (errors.ALREADY_VOTED, 409)
    # The second lineup: too late after viewing (60 s) + grace (60 s).
    second = lineup_next(assignment=a)
    later = second.served_at + timedelta(seconds=121)
    with pytest.raises(ServiceError) as info:
        vote_submit(assignment=a, lineup_id=second.lineup.pk, slot=0, now=later)
    assert info.value.code == "window_closed" and "closed 1 s ago" in info.value.message
    assert lineup_next(assignment=a, now=later) is None  # missed, not served again
    submitted = assignment_submit(assignment=a, now=later)
    assert submitted.status == Assignment.Status.SUBMITTED and submitted.verified
    with pytest.raises(ServiceError) as info:
        vote_submit(assignment=Assignment.objects.get(pk=a.pk), lineup_id=second.lineup.pk, slot=0)
    assert info.value.code == "finished"
    assert Vote.objects.filter(assignment=a).count() == 1


def test_images_only_inside_the_window_only_to_their_rater_and_by_slot(client, tmp_path):
    lu = make_lineup_study(make_run(tmp_path), subjects=2, raters=2)
    a, b = allocate(lu, "alice"), allocate(lu, "bob")
    nxt = lineup_next(assignment=a)
    url = lambda token, slot: f"/lineup/{token}/image/{nxt.lineup.pk}/{slot}/"  # noqa: E731
    got = client.get(url(a.token, 1))
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == Candidate.objects.get(pk=nxt.order[1]).image.read()
    assert b"".join(client.get(url(a.token, "ref")).streaming_content) == nxt.lineup.reference.read()
    assert client.get(url(b.token, 1)).status_code == 403  # bob has not been shown it
    assert client.get(url(a.token, 9)).status_code == 404
    LineupView.objects.filter(assignment=a).update(served_at=timezone.now() - timedelta(seconds=66))
    late = client.get(url(a.token, 1))
    assert late.status_code == 403 and "viewing time for this lineup is over" in late.content.decode()


def test_self_hosted_rater_flow_through_the_pages_completes_the_study_without_labels(client, tmp_path):
    from ratings_site.crowd.models import Invitation
    from ratings_site.crowd.services import invitations_create

    lu = make_lineup_study(make_run(tmp_path), subjects=3, raters=1)
    [link] = invitations_create(study=lu.study, kind=Invitation.Kind.OPEN, cap=2)
    page = client.get(f"/r/{link.token}/")
    html = page.content.decode()
    assert "Real examples of the target expressions" in html
    for e in TargetExample.objects.filter(lineup_study=lu):
        assert f"/lineup/example/{link.token}/{e.pk}/" in html
        assert client.get(f"/lineup/example/{link.token}/{e.pk}/").status_code == 200
    started = client.post(f"/r/{link.token}/")
    rate_url = started["Location"]
    assert rate_url.startswith("/rate/")
    vote_url = client.get(rate_url)["Location"]
    assert vote_url.startswith("/lineup/")
    answered = 0
    while True:
        page = client.get(vote_url)
        if page.status_code == 302:
            break
        assert page.status_code == 200 and "Which edited image matches best?" in page.content.decode()
        assert client.post(vote_url, {"lineup": page.context["lineup"].pk, "choice": 0}).status_code == 302
        answered += 1
    assert answered == 3
    done = client.get(page["Location"])
    assert done.status_code == 200 and "You answered 3 of 3 images." in done.content.decode()
    assert client.get(f"{rate_url}done/")["Location"].endswith("/done/")
    study = Study.objects.get(pk=lu.study.pk)
    assert study.status == Study.Status.COMPLETE
    assert not Job.objects.filter(study=study, kind=Job.Kind.LABELS).exists()


# --- results ------------------------------------------------------------------------------------

def fleiss_by_hand(table: np.ndarray) -> float:
    n = table.sum(axis=1)[0]
    p_j = table.sum(axis=0) / table.sum()
    p_i = ((table ** 2).sum(axis=1) - n) / (n * (n - 1))
    return float((p_i.mean() - (p_j ** 2).sum()) / (1 - (p_j ** 2).sum()))


def test_results_shares_intervals_kappa_position_bias_and_q_correlation(tmp_path):
    lu = make_lineup_study(make_run(tmp_path, test_subjects=6), subjects=6, raters=5)
    rng = np.random.default_rng(3)
    preference = {"legan": 0.55, "stargan_qual": 0.25, "stargan": 0.15, "stargan_v2": 0.05}
    for k in range(5):
        vote_all(allocate(lu, f"r{k}"), lambda nxt: slot_of(nxt, rng.choice(list(preference), p=list(preference.values()))))
    res = lineup_results(lu)
    table = np.zeros((6, 4), dtype=int)
    index = {lid: i for i, lid in enumerate(Lineup.objects.filter(lineup_study=lu).order_by("index").values_list("id", flat=True))}
    for lineup_id, model in Vote.objects.values_list("lineup_id", "candidate__model_name"):
        table[index[lineup_id], MODELS.index(model)] += 1
    assert res.votes == 30 and res.raters == 5 and res.lineups_with_votes == 6
    by = {m.model: m for m in res.models}
    assert sum(m.share for m in res.models) == pytest.approx(1.0)
    for j, model in enumerate(MODELS):
        assert by[model].votes == table[:, j].sum()
        assert by[model].share == pytest.approx(table[:, j].sum() / 30)
        assert by[model].share_lo <= by[model].share <= by[model].share_hi
    assert res.kappa == pytest.approx(fleiss_by_hand(table))
    assert res.observed_agreement == pytest.approx((((table ** 2).sum(axis=1) - 5) / 20).mean())
    assert (res.kappa_lineups, res.kappa_raters_per_lineup) == (6, 5)
    assert sum(res.position_votes) == 30 and res.position_p is not None
    assert res.q_images == 24 and -1 <= res.q_spearman <= 1
    assert by["legan"].mean_q > by["stargan_v2"].mean_q


def test_position_bias_is_detected_when_raters_always_pick_the_first_image(tmp_path):
    lu = make_lineup_study(make_run(tmp_path, test_subjects=6), subjects=6, raters=4)
    for k in range(4):
        vote_all(allocate(lu, f"r{k}"), lambda nxt: 0)
    res = lineup_results(lu)
    assert res.position_votes == [24, 0, 0, 0]
    assert res.position_p < 1e-6
    # The order is random per rater, so picking by position spreads the votes across models.
    assert max(m.votes for m in res.models) < 24


def test_unverified_or_unsubmitted_votes_do_not_count(tmp_path):
    lu = make_lineup_study(make_run(tmp_path), subjects=2, raters=2)
    a = allocate(lu, "alice")
    nxt = lineup_next(assignment=a)
    vote_submit(assignment=a, lineup_id=nxt.lineup.pk, slot=0)
    with pytest.raises(ServiceError, match="no counted votes"):
        lineup_results(lu)


def test_human_preference_column_written_from_a_finished_study_only_and_replaced_on_rerun(tmp_path):
    run = make_run(tmp_path, test_subjects=4)
    lu = make_lineup_study(run, subjects=4, raters=2, models=["legan", "stargan", "stargan_v2"])
    a = allocate(lu, "alice")
    vote_all(a, lambda nxt: slot_of(nxt, "legan"))
    with pytest.raises(ServiceError, match="is running: fill the human-preference column from a finished study"):
        study_table_fill(lineup_study=lu)
    vote_all(allocate(lu, "bob"), lambda nxt: slot_of(nxt, "stargan"))
    lu.refresh_from_db()
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    for name in ("table1.csv", "table1.md"):
        (results_dir / name).write_bytes((run / "eval" / name).read_bytes())
    for _ in range(2):  # a second run replaces the column
        res, written = study_table_fill(lineup_study=LineupStudy.objects.get(pk=lu.pk), extra_folders=[results_dir])
    assert len(written) == 4
    for folder in (run / "eval", results_dir):
        frame = pd.read_csv(folder / "table1.csv").set_index("model")
        assert frame.loc["legan", "human_preference"] == pytest.approx(0.5)
        assert frame.loc["stargan", "human_preference"] == pytest.approx(0.5)
        assert frame.loc["stargan_v2", "human_preference"] == 0
        assert pd.isna(frame.loc["stargan_qual", "human_preference"])  # not in the lineups
        assert list(frame.columns).count("human_preference") == 1
        md = (folder / "table1.md").read_text()
        assert md.count(MD_HEADER) == 1 and md.count("- human preference:") == 1
        legan_row = next(line for line in md.splitlines() if line.startswith("| legan |"))
        assert legan_row.endswith("| 50.0% [50.0%, 50.0%] |")
        assert next(line for line in md.splitlines() if line.startswith("| real |")).endswith("| – |")
        assert "human raters; 8 votes by 2 raters on 4 lineups" in md


def test_the_rating_api_cannot_submit_a_lineup_batch_with_lineups_open(client, tmp_path):
    lu = make_lineup_study(make_run(tmp_path), subjects=2, raters=1)
    a = allocate(lu, "alice")
    response = client.get(f"/api/rate/{a.token}/next/")
    assert response.status_code == 409 and "2 image(s) still need an answer" in response.content.decode()
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.ACTIVE
    vote_all(a, lambda nxt: 0)
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.SUBMITTED


def test_lineup_page_and_vote_take_a_bounded_number_of_queries(client, tmp_path, django_assert_max_num_queries):
    lu = make_lineup_study(make_run(tmp_path, test_subjects=8), subjects=8, raters=1)
    a = allocate(lu, "alice")
    url = f"/lineup/{a.token}/?start=1"
    client.get(url)
    page = client.get(url)
    with django_assert_max_num_queries(8):
        page = client.get(url)
    with django_assert_max_num_queries(10):
        assert client.post(f"/lineup/{a.token}/", {"lineup": page.context["lineup"].pk, "choice": 1}).status_code == 302
