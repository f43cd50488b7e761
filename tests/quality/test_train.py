import json

import pytest
import torch

from quality.checkpoint import load_checkpoint, load_quality_model
from runkit.checkpoints import latest_checkpoint
from quality.config import ConfigError
from quality.train import dry_run, train
from runkit.loop import TrainingStopped
from tests.quality.conftest import tiny_train_config


def test_training_run_leaves_a_complete_artifact(sim_export, tmp_path):
    path, labels, _ = sim_export
    progress = []
    result = train(tiny_train_config(path), run_dir=tmp_path / "run",
                   on_progress=lambda step, total, stats: progress.append((step, total, stats)))
    run = result.run_dir
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["loss"] == "mse" and config["total_steps"] == 8
    assert sum(config["splits"].values()) == len(labels)
    records = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    assert "Loss/Q/mse" in records[0] and "Metrics/val/spearman" in records[1]
    assert (run / "losses.png").stat().st_size > 0 and (run / "metrics.png").stat().st_size > 0
    assert (run / "eval" / "test_calibration.png").is_file()
    assert set(result.metrics) >= {"val", "test"}
    assert progress[-1][:2] == (8, 8)
    ckpt = load_checkpoint(result.checkpoint_path)
    assert ckpt["step"] == 8 and {"model", "optimizer", "scheduler", "rng", "train_config"} <= set(ckpt)
    assert ckpt["input_contract"] == {"size": 32, "colour": "rgb", "normalisation": "minus_one_to_one", "mask": "hull"}
    model = load_quality_model(result.checkpoint_path)
    assert not model.training
    # offset = training-split mean rating
    assert model.output_offset.item() == pytest.approx(ckpt["model_config"]["output_offset"])


@pytest.mark.parametrize("loss", ["mse", "paper"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(sim_export, tmp_path, loss):
    path, _, _ = sim_export
    config = tiny_train_config(path, loss=loss, max_steps=10)  # 9 batches/epoch: crosses an epoch
    straight = train(config, run_dir=tmp_path / "straight")

    polls = {"n": 0}

    def stop_after_five():
        polls["n"] += 1
        return polls["n"] > 5  # polled before each step: stops with 5 steps done

    with pytest.raises(TrainingStopped) as stopped:
        train(config, run_dir=tmp_path / "resumed", should_stop=stop_after_five)
    assert stopped.value.step == 5 and stopped.value.checkpoint_path.is_file()
    resumed = train(config, run_dir=tmp_path / "resumed", resume=True)

    a = load_checkpoint(straight.checkpoint_path)
    b = load_checkpoint(resumed.checkpoint_path)
    assert a["step"] == b["step"] == 10
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    for key in ("exp_avg", "exp_avg_sq"):
        for idx, state in a["optimizer"]["state"].items():
            assert torch.equal(state[key], b["optimizer"]["state"][idx][key])
    steps = [json.loads(x)["step"] for x in (tmp_path / "resumed" / "stats.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and len(steps) == len(set(steps))


def test_should_stop_raises_and_leaves_a_checkpoint(sim_export, tmp_path):
    path, _, _ = sim_export
    with pytest.raises(TrainingStopped):
        train(tiny_train_config(path), run_dir=tmp_path / "run", should_stop=lambda: True)
    ckpt = latest_checkpoint(tmp_path / "run" / "checkpoints")
    assert ckpt is not None and load_checkpoint(ckpt)["step"] == 0


def test_existing_run_needs_resume_and_the_same_config(sim_export, tmp_path):
    path, _, _ = sim_export
    with pytest.raises(TrainingStopped):
        train(tiny_train_config(path), run_dir=tmp_path / "run", should_stop=lambda: True)
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        train(tiny_train_config(path), run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="differs in lr"):
        train(tiny_train_config(path, lr=0.5), run_dir=tmp_path / "run", resume=True)


def test_dry_run_validates_and_takes_no_step(sim_export, tmp_path):
    path, labels, _ = sim_export
    report = dry_run(tiny_train_config(path))
    assert report["parameters"] > 0 and report["device"] == "cpu" and report["amp"] == "off"
    assert sum(report["splits"].values()) == len(labels)
    with pytest.raises(ConfigError, match="loss must be one of"):
        dry_run(tiny_train_config(path, loss="huber"))


def test_cli_dry_run_prints_parameter_count(sim_export, capsys):
    from quality.train_cli import main

    path, _, _ = sim_export
    assert main(["--labels", str(path), "--dry-run", "--channels", "4", "--depth", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] > 0
    assert main(["--labels", str(path.parent / "missing.csv"), "--dry-run"]) == 2
    assert "does not exist" in capsys.readouterr().err
