"""The adaptive experiment's command and the simulator's heteroscedastic option."""
import json

import numpy as np

from quality.experiments.adaptive import main, oracle_budget_to_match
from quality.simulate import CrowdConfig, image_noise_scale, rate


def test_noise_spread_is_off_by_default_and_varies_spread_when_set():
    rng = np.random.default_rng(0)
    assert {image_noise_scale(CrowdConfig(), rng) for _ in range(50)} == {1.0}
    scales = np.array([image_noise_scale(CrowdConfig(noise_spread=0.5), rng) for _ in range(4000)])
    assert 0.95 < np.median(scales) < 1.05 and np.percentile(scales, 90) / np.percentile(scales, 10) > 3
    biases = np.zeros(30)
    calm = rate(5.0, np.arange(30), biases, CrowdConfig(), rng, noise_scale=0.2)
    wild = rate(5.0, np.arange(30), biases, CrowdConfig(), rng, noise_scale=2.5)
    assert calm.std() < wild.std()


def test_oracle_needs_the_full_budget_when_spreads_are_equal_and_less_when_they_differ():
    assert oracle_budget_to_match(np.full(100, 1.2), 3, 2, 7) >= 0.99
    varied = np.r_[np.full(50, 0.3), np.full(50, 3.0)]
    assert oracle_budget_to_match(varied, 3, 2, 7) < 0.9


def test_experiment_writes_a_labelled_table_plot_and_run_record(tmp_path):
    assert main(["--out", str(tmp_path), "--no-q", "--seeds", "1", "--per-face", "15", "--spreads", "0,1.0"]) == 0
    table = (tmp_path / "table.md").read_text()
    assert "SIMULATED" in table and "fixed 3" in table and "oracle" in table
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["command"].startswith("python -m quality.experiments.adaptive") and run["wall_seconds"] > 0
    assert (tmp_path / "error_vs_ratings.png").stat().st_size > 10_000
