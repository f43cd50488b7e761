"""The README's main job, run as a user would on embedded defaults (SQLite, the
filesystem broker, a real worker and gunicorn), in a scratch folder."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.worker
def test_demo_runs_end_to_end_and_exports_labels(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT")}
    env.update(RATINGS_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="ratings_site.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve", "--port", str(free_port()), "--per-image", "6"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Rate faces yourself" in result.stdout
    labels = pd.read_csv(tmp_path / "var" / "demo" / "labels.csv")
    assert list(labels.columns[:3]) == ["image_id", "image_path", "sha256"]
    assert len(labels) >= 10 and (labels["n"] == 3).all() and labels["mu"].between(0, 10).all()


@pytest.mark.slow
def test_lineup_demo_runs_simulated_raters_end_to_end_and_fills_the_table(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT")}
    env.update(RATINGS_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="ratings_site.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "demo_lineup", "--no-serve", "--port", str(free_port()), "--subjects", "5",
         "--raters", "4"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "SIMULATED raters on a FABRICATED comparison run" in result.stdout
    assert "20 votes by 4 raters on 5 of 5 lineups" in result.stdout
    table = pd.read_csv(tmp_path / "var" / "demo" / "lineup-run" / "eval" / "table1.csv").set_index("model")
    shares = table["human_preference"].dropna()
    assert len(shares) == 4 and abs(shares.sum() - 1) < 1e-9
    # The simulated raters prefer sharper images, and the fabricated models differ only in blur.
    assert shares.idxmax() == "legan"
    assert "SIMULATED raters (demo), not people" in (tmp_path / "var" / "demo" / "lineup-run" / "eval" / "table1.md").read_text()
