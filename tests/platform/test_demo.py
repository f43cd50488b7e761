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


def run_notebook(path: Path, env: dict) -> None:
    """Execute a notebook top to bottom in a fresh kernel, as `jupyter nbconvert --execute` does."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


@pytest.mark.slow
@pytest.mark.worker
def test_notebook_runs_on_the_demos_output(tmp_path):
    """The notebook cannot rot: it runs on a demo's label export and a Q trained on it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT")}
    env.update(RATINGS_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="ratings_site.settings")
    demo = subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve", "--port", str(free_port()), "--per-image", "3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    export, media = tmp_path / "var" / "demo" / "labels.csv", tmp_path / "var" / "media"
    train = subprocess.run(
        [sys.executable, "-m", "quality.train", "--labels", str(export), "--images-root", str(media),
         "--runs-root", str(tmp_path / "runs" / "q"), "--max-steps", "4", "--batch-size", "4", "--device", "cpu"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]

    notebook = run_notebook(ROOT / "notebooks" / "labels_and_quality.ipynb", {
        "LABELS_EXPORT": str(export), "LABELS_IMAGES_ROOT": str(media), "Q_RUNS": str(tmp_path / "runs" / "q"),
    })
    printed = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "Spearman(Q, mean) =" in printed, printed[-2000:]

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
