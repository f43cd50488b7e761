import numpy as np
import pandas as pd
import pytest

from quality.degradations import DEGRADATIONS, degrade
from quality.labels import load_labels
from quality.simulate import CrowdConfig, LABEL_COLUMNS, latent_naturalness, main, simulate_crowd


def test_export_has_exactly_the_platform_schema_and_loads(sim_export):
    path, labels, truth = sim_export
    assert list(pd.read_csv(path).columns) == LABEL_COLUMNS
    loaded = load_labels(path)  # same validation path as real labels
    assert len(loaded) == 48 and (loaded["n"] == 3).all()
    assert (path.parent / "SIMULATED.txt").read_text().startswith("These ratings are SIMULATED")


def test_mu_and_sigma_are_mean_and_sample_std_of_three_integer_ratings(sim_export):
    _, labels, truth = sim_export
    for mu, sigma, ratings in zip(labels["mu"], labels["sigma"], truth["ratings"]):
        r = np.array(ratings.split(), dtype=float)
        assert len(r) == 3 and ((0 <= r) & (r <= 10)).all() and (r == np.round(r)).all()
        assert mu == pytest.approx(r.mean())
        assert sigma == pytest.approx(r.std(ddof=1))


def test_subjects_group_the_variants_of_one_face(sim_export):
    _, labels, _ = sim_export
    assert labels.groupby("subject").size().eq(6).all()
    assert set(labels["source"]) == {"studio", "field"}


def test_latent_naturalness_falls_with_strength_for_every_kind():
    config = CrowdConfig()
    for kind in DEGRADATIONS:
        values = [latent_naturalness(kind, s, config) for s in np.linspace(0, 1, 6)]
        assert all(a > b for a, b in zip(values, values[1:])), kind
    assert latent_naturalness("none", 0.0, config) == 9.5


def test_stronger_degradation_gives_lower_mean_rating(astronaut_faces, tmp_path):
    labels, truth = simulate_crowd(astronaut_faces, tmp_path, per_image=30, seed=0, size=32)
    degraded = truth["kind"] != "none"
    bins = pd.cut(truth.loc[degraded, "strength"], [0, 1 / 3, 2 / 3, 1.0], include_lowest=True)
    means = labels.loc[degraded, "mu"].groupby(bins, observed=True).mean().to_numpy()
    assert len(means) == 3 and means[0] > means[1] + 0.5 > means[2] + 1.0
    assert labels.loc[~degraded, "mu"].mean() > means[0]


@pytest.mark.parametrize("kind", sorted(DEGRADATIONS))
def test_each_degradation_changes_the_face_more_when_stronger(astronaut_faces, kind):
    from faces.io import load_rgb
    from runkit.contract import fit_to_size

    face = fit_to_size(load_rgb(astronaut_faces[0].path), 64)
    diffs = []
    for strength in (0.2, 1.0):
        out = degrade(face, kind, strength, np.random.default_rng(1))
        assert out.shape == face.shape and out.dtype == np.uint8
        diffs.append(np.abs(out.astype(int) - face.astype(int)).mean())
    assert diffs[1] > diffs[0] > 0, kind
    assert np.array_equal(degrade(face, kind, 0.0, np.random.default_rng(1)), face)


def test_cli_writes_export(astronaut_faces, tmp_path, capsys):
    faces_root = astronaut_faces[0].path.parent.parent
    assert main(["--faces", str(faces_root), "--out", str(tmp_path), "--per-image", "2", "--size", "32"]) == 0
    assert "SIMULATED 16 rated images from 8 faces" in capsys.readouterr().out
    assert len(load_labels(tmp_path / "labels.csv")) == 16
    assert main(["--faces", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
