"""The README's main job, run as a user would on embedded defaults (SQLite, the
filesystem broker, a real worker and gunicorn), in a scratch folder."""
import os
import shlex
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
    assert list(labels.columns[:4]) == ["image_id", "original_name", "image_path", "sha256"]
    assert len(labels) >= 10 and (labels["n_raters"] == 3).all() and labels["mean"].between(0, 10).all()

    # The README's commands for the demo's output, run as written (from a folder holding var/).
    for line in readme_demo_commands():
        argv = shlex.split(line)
        assert argv[0] == "python", line
        done = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    scores = pd.read_csv(tmp_path / "var" / "runs" / "q-demo" / "scores.csv")
    assert len(scores) >= 10 and scores["score"].notna().all()


def readme_demo_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- demo-commands -->", 1)[1].split("<!-- /demo-commands -->", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip().startswith("python ")]


def test_the_readme_lists_commands_for_the_demo_output():
    commands = readme_demo_commands()
    assert any(c.startswith("python -m quality.train") for c in commands) and len(commands) >= 3


def test_the_demo_runs_quick_jobs_and_training_on_separate_workers():
    from ratings_site.demo.processes import worker_commands

    queues = {name: command[command.index("-Q") + 1] for name, command in worker_commands().items()}
    assert queues == {"quick": "celery", "training": "gpu"}
    assert "-B" in worker_commands()["quick"] and "-B" not in worker_commands()["training"]  # one beat
