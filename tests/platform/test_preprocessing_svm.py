"""Stage I SVM: binning, the train/tune split, versions, scoring, loud failures."""
import io

import joblib
import numpy as np
import pytest
from rest_framework.test import APIClient
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ratings_site.catalog.models import Image
from ratings_site.jobs.models import Job
from ratings_site.labels.models import Label
from ratings_site.preprocessing.models import FaceAnalysis, SvmModelVersion, SvmScore
from ratings_site.core.permissions import groups_ensure
from ratings_site.preprocessing.selection import selection_params
from ratings_site.preprocessing.svm import svm_apply, svm_apply_start, svm_options, svm_train, svm_training_start
from ratings_site.preprocessing.svm_fit import SvmOptions, bin_means, split_sizes
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Study

from .factories import make_images

SYNTHETIC_FEATURES = "synthetic-128"
DIRECTION = np.random.default_rng(42).normal(size=128).astype(np.float32)


def synthetic_features(natural: bool, rng) -> np.ndarray:
    """Two clouds on either side of a hidden direction: linearly separable."""
    side = 1.0 if natural else -1.0
    return (rng.normal(scale=0.3, size=128) + side * DIRECTION).astype(np.float32)


def add_synthetic_analysis(image_id, *, natural, gender, rng, yaw=0.0, features_version=SYNTHETIC_FEATURES, status="ok"):
    fields = dict(image_id=image_id, signature=f"synthetic:{features_version}"[:64], landmarks_backend="synthetic",
                  features_backend="dlib", features_version=features_version, status=status,
                  backends={"landmarks": {"name": "synthetic", "version": "0"}, "features": {"name": "dlib", "version": features_version}})
    if status != "ok":
        return FaceAnalysis.objects.create(**fields, reason="no_face")
    landmarks = synthetic_landmarks()
    return FaceAnalysis.objects.create(
        **fields, bbox=[8.0, 8.0, 56.0, 56.0], detector_score=1.0, n_faces=1, landmarks=landmarks.tolist(), yaw=yaw,
        gender=gender, gender_confidence=0.9, features=FaceAnalysis.pack_features(synthetic_features(natural, rng)), feature_dim=128,
    )


def synthetic_landmarks() -> np.ndarray:
    """(68, 2): a face-like layout for a 64 x 64 image: outline points on an ellipse, the
    two eyes (iBUG 36-41, 42-47) as small rings at eye height."""
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    points = np.stack([32 + 20 * np.cos(angles), 34 + 24 * np.sin(angles)], axis=1)
    ring = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    for start, x in ((36, 24.0), (42, 40.0)):
        points[start : start + 6] = np.stack([x + 3 * np.cos(ring), 28 + 1.5 * np.sin(ring)], axis=1)
    return points


def labelled_stage1(n=40, *, all_natural=False, seed=0, features_version=SYNTHETIC_FEATURES):
    """A stage I study with labels (means) and synthetic features: even ids natural."""
    rng = np.random.default_rng(seed)
    ids = make_images(n, start=seed * 1000)
    study = Study.objects.create(name="stage I", sample_size=n, n_batches=1)
    for k, image_id in enumerate(ids):
        natural = all_natural or k % 2 == 0
        add_synthetic_analysis(image_id, natural=natural, gender="female", rng=rng, features_version=features_version)
        mean = float(rng.uniform(5.0, 9.0) if natural else rng.uniform(0.5, 4.9))
        Label.objects.create(study=study, image_id=image_id, mean=mean, std=1.0, n=3, low_n=False)
    return study, ids


def test_boundary_five_counts_as_natural_and_the_split_keeps_a_tuning_part():
    assert bin_means(np.array([0.0, 4.99, 5.0, 5.01, 10.0])).tolist() == [0, 0, 1, 1, 1]
    assert split_sizes(16_507, SvmOptions()) == (12_000, 4_507)  # the paper's stage I
    assert split_sizes(100, SvmOptions()) == (80, 20)  # small studies keep 20 % to tune C
    assert split_sizes(100, SvmOptions(max_train=30)) == (30, 70)


@pytest.mark.django_db
def test_svm_learns_a_separable_split_and_scores_images():
    study, ids = labelled_stage1(40)
    options = svm_options({"max_train": 24, "c_grid": [0.001, 0.1, 10.0]})
    version = svm_train(study=study, options=options)
    assert version.number == 1 and version.features_version == SYNTHETIC_FEATURES and version.features_backend == "dlib"
    assert version.counts["train"] == 24 and version.counts["heldout"] == 16
    assert version.counts["natural"] == version.counts["unnatural"] == 20
    assert version.accuracy == 1.0 and version.balanced_accuracy == 1.0
    assert version.confusion == {"labels": ["unnatural", "natural"], "matrix": [[8, 0], [0, 8]]}
    assert [row["C"] for row in version.c_search] == [0.001, 0.1, 10.0] and version.c in (0.001, 0.1, 10.0)

    pipeline = joblib.load(io.BytesIO(version.artifact.read()))
    assert isinstance(pipeline, Pipeline)
    assert isinstance(pipeline.steps[0][1], StandardScaler) and isinstance(pipeline.steps[1][1], LinearSVC)

    # New images with features of the same kind: scored, classes right, metadata written.
    rng = np.random.default_rng(5)
    fresh = make_images(6, source_slug="progan", start=500)
    for k, image_id in enumerate(fresh):
        add_synthetic_analysis(image_id, natural=k < 3, gender="male", rng=rng)
    summary = svm_apply(version=version, image_ids=fresh)
    assert summary["scored"] == 6 and summary["by_class"] == {"natural": 3, "unnatural": 3}
    for k, image_id in enumerate(fresh):
        meta = Image.objects.get(pk=image_id).metadata
        assert meta["svm_class"] == ("natural" if k < 3 else "unnatural") and meta["svm_version"] == 1
        assert (meta["svm_score"] > 0) == (k < 3)
        assert SvmScore.objects.get(version=version, image_id=image_id).label == meta["svm_class"]
    assert svm_apply(version=version, image_ids=fresh)["skipped_already_scored"] == 6

    second = svm_train(study=study, options=options)
    assert second.number == 2  # every training is a new version


@pytest.mark.django_db
def test_training_fails_loudly_with_one_class_or_too_few_images():
    study, _ = labelled_stage1(12, all_natural=True)
    with pytest.raises(ServiceError) as one_class:
        svm_training_start(study=study)
    assert one_class.value.code == "one_class" and "All 12 labelled images with features are 'natural'" in one_class.value.message

    small, _ = labelled_stage1(6, seed=1)
    with pytest.raises(ServiceError) as too_few:
        svm_training_start(study=small)
    assert too_few.value.code == "too_few" and "6 labelled images" in too_few.value.message

    bare = Study.objects.create(name="no features", sample_size=2, n_batches=1)
    with pytest.raises(ServiceError, match="has a face analysis with features"):
        svm_training_start(study=bare)
    with pytest.raises(ServiceError, match="Invalid SVM options"):
        svm_training_start(study=study, params={"c_grid": [-1]})
    assert not Job.objects.filter(kind=Job.Kind.SVM).exists()  # refused before queueing anything


@pytest.mark.django_db
def test_training_and_scoring_jobs_and_the_api(researcher, django_capture_on_commit_callbacks):
    groups_ensure()
    client = APIClient()
    client.force_authenticate(type(researcher).objects.get(pk=researcher.pk))
    study, ids = labelled_stage1(30)

    refused = client.post("/api/svm/train/", {"study": study.pk, "options": {"select_by": "luck"}}, format="json")
    assert refused.status_code == 400 and "select_by" in refused.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/api/svm/train/", {"study": study.pk, "options": {"c_grid": [0.01, 1.0]}}, format="json")
    assert started.status_code == 202
    job = Job.objects.get(pk=started.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["accuracy"] == 1.0 and job.message.startswith("SVM v1: C=")

    listed = client.get("/api/svm/versions/").json()["results"]
    assert listed[0]["number"] == 1 and listed[0]["counts"]["train"] == 24 and "artifact" not in listed[0]

    version = SvmModelVersion.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        apply_job = svm_apply_start(version=version, selection=selection_params(study=study))
    apply_job.refresh_from_db()
    # A draft study's candidates (here: every image) are scored.
    assert apply_job.status == Job.Status.SUCCEEDED and apply_job.result["scored"] == 30
    assert apply_job.progress_done == apply_job.progress_total == 30

    one_class, _ = labelled_stage1(12, all_natural=True, seed=3)
    answer = client.post("/api/svm/train/", {"study": one_class.pk}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "one_class"
