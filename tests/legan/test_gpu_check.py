"""scripts/gpu-check at its CPU size: every check runs and passes, one JSON report and a sample
grid are written, the platform (Django) is never imported, and a failing check fails the run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # about 35 CPU-seconds (the CUDA tests run in the suite itself, so skipped here)
def test_cpu_small_run_passes_and_writes_the_report(tmp_path):
    proc = subprocess.run([str(ROOT / "scripts" / "gpu-check"), "--out", str(tmp_path), "--cpu-small",
                           "--skip", "cuda_tests"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2", "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and report["preset"] == "cpu-small"
    assert set(report["checks"]) == {"imports", "data", "q_train", "q_resume_exact", "legan_train",
                                     "legan_resume_exact", "bench_legan"}
    assert all(c["status"] == "passed" for c in report["checks"].values())
    assert not report["environment"]["django_imported"]
    legan = report["checks"]["legan_train"]
    assert {"Loss/D/gp", "Loss/G/qual", "Loss/G/id"} <= set(legan["last_losses"])
    assert report["figures"]["legan_d_iters_per_s"] > 0 and report["figures"]["legan_paper_hours_estimate"] > 0
    assert {r["arch"] for r in report["checks"]["bench_legan"]["results"]} == {"legan", "stargan"}
    assert (tmp_path / "sample-grid.png").stat().st_size > 0


def test_a_failing_check_makes_the_run_fail_and_is_reported(tmp_path, monkeypatch, capsys):
    import quality.train

    from legan import gpu_check

    def broken(*args, **kwargs):
        raise RuntimeError("loss went NaN")

    monkeypatch.setattr(quality.train, "train", broken)
    assert gpu_check.main(["--out", str(tmp_path), "--cpu-small", "--skip", "cuda_tests,bench"]) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert not report["ok"]
    assert report["checks"]["q_train"]["status"] == "failed" and "loss went NaN" in report["checks"]["q_train"]["error"]
    assert report["checks"]["legan_train"]["status"] == "failed"  # it needs Q
