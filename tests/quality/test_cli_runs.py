"""`python -m quality.train` as a person runs it: a failed run leaves no empty run folder;
Ctrl-C saves, says how to continue, and --resume finishes the run."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from quality.train_cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--channels", "4", "--depth", "3", "--fc-width", "8", "--batch-size", "4", "--device", "cpu"]


def test_a_failed_run_leaves_no_run_folder(sim_export, tmp_path, capsys):
    path, labels, _ = sim_export
    broken = tmp_path / "labels.csv"
    labels.assign(image_path="nowhere/" + labels["image_path"]).to_csv(broken, index=False)
    runs = tmp_path / "runs"
    assert main(["--labels", str(broken), "--images-root", str(path.parent), "--runs-root", str(runs), "--max-steps", "2", *TINY]) == 2
    assert "--images-root" in capsys.readouterr().err  # the message says what to pass
    assert not runs.exists() or list(runs.iterdir()) == []


def test_the_platform_export_vocabulary_trains(sim_export, tmp_path):
    path, labels, _ = sim_export
    renamed = path.parent / "platform-style.csv"
    labels.rename(columns={"mu": "mean", "sigma": "std", "n": "n_raters"}).to_csv(renamed, index=False)
    assert main(["--labels", str(renamed), "--dry-run", *TINY]) == 0


def test_ctrl_c_saves_says_how_to_resume_and_resume_finishes(sim_export, tmp_path):
    path, _, _ = sim_export
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "quality.train", "--labels", str(path), "--run-dir", str(run_dir), "--max-steps", "150",
               "--checkpoint-every", "100000", *TINY]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run_dir / "stats.jsonl").exists() or not (run_dir / "stats.jsonl").stat().st_size:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "--resume" in err
    saved = sorted((run_dir / "checkpoints").glob("*.pt"))
    assert saved, "no checkpoint saved on Ctrl-C"
    step = int(saved[-1].stem.split("-")[-1])
    assert 0 < step < 150
    done = subprocess.run([sys.executable, "-m", "quality.train", "--run-dir", str(run_dir), "--resume"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run_dir / "metrics.json").exists()
    assert pd.read_json(run_dir / "stats.jsonl", lines=True)["step"].max() == 150
