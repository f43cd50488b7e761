"""ML staff start training from forms that check every option before anything is queued."""
import pytest
from rest_framework.test import APIClient

from ratings_site.jobs.models import Job
from ratings_site.training.services import MIN_MEANINGFUL_SPLIT, quality_split_sizes

from .test_training import labelled_study
from .test_training_legan import legan_config, manifest  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _action(client, study, **form):
    return client.post("/admin/studies/study/", {"action": "train_quality", "_selected_action": [study.pk], **form})


def test_train_q_form_shows_defaults_and_warns_about_small_splits(client, ml_staff):
    study = labelled_study(n_images=12)
    client.force_login(ml_staff)
    page = _action(client, study)
    assert page.status_code == 200 and not Job.objects.exists()  # a form, not a queued job
    html = page.content.decode()
    assert 'name="epochs"' in html and 'value="30"' in html and 'value="hinge"' in html  # TrainConfig's defaults
    sizes = quality_split_sizes(study=study)
    assert sum(sizes.values()) == 12 and sizes["test"] < MIN_MEANINGFUL_SPLIT
    assert 'id="split-warnings"' in html and "test split holds only" in html


def test_train_q_form_refuses_bad_options_and_queues_good_ones(client, ml_staff):
    study = labelled_study(n_images=12)
    client.force_login(ml_staff)
    good = {"train_q_submit": "1", "loss": "hinge", "epochs": 2, "batch_size": 4, "lr": 0.001, "weight_decay": 0, "seed": 1,
            "train_fraction": 0.8, "val_fraction": 0.1, "test_fraction": 0.1, "mirror": "on", "options": "{}"}
    bad = _action(client, study, **{**good, "train_fraction": 0.9})  # fractions no longer sum to 1
    assert bad.status_code == 200 and "split" in bad.content.decode().lower() and not Job.objects.exists()
    typo = _action(client, study, **{**good, "options": '{"warmup_stepz": 5}'})
    assert "unknown option" in typo.content.decode() and not Job.objects.exists()
    queued = _action(client, study, **good)
    job = Job.objects.get(kind=Job.Kind.TRAIN_Q)
    assert queued.status_code == 302 and queued["Location"].endswith(f"/admin/jobs/job/{job.pk}/change/")
    assert job.params["config"]["epochs"] == 2 and job.params["config"]["split_fractions"] == [0.8, 0.1, 0.1]
    assert any("holds only" in w for w in job.params["warnings"])


def test_legan_unknown_options_are_refused_before_queueing_with_the_valid_list(ml_staff, manifest):  # noqa: F811
    client = APIClient()
    client.force_authenticate(ml_staff)
    config = legan_config(manifest)
    for broken, where in (({**config, "epochz": 3}, "epochz"), ({**config, "model": {**config["model"], "g_chanels": 8}}, "g_chanels")):
        response = client.post("/api/legan/train/", {"config": broken}, format="json")
        assert response.status_code == 400, response.content
        detail = response.json()["detail"]
        assert where in detail and "valid:" in detail and ("epochs" in detail or "g_channels" in detail)
    assert not Job.objects.filter(kind=Job.Kind.TRAIN_LEGAN).exists()
