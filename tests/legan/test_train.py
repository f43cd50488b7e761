"""Trainer: run folder artifacts, exact resume, callbacks, learning on a small made-up set, CLI."""

import json
import math

import pytest
import torch
from PIL import Image

from legan import build
from legan.checkpoint import load_checkpoint
from runkit.checkpoints import latest_checkpoint
from legan.config import ConfigError
from legan.loss import LeganLoss, LossConfig
from runkit.runs import read_stats
from legan.train import train
from runkit.loop import TrainingStopped
from legan.train_cli import main as cli_main
from tests.legan.core_fixtures import SIZE, TinyFaceDataset, tiny_config, tiny_identity_net, tiny_quality_net

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def dataset():
    return TinyFaceDataset(n=24)


def _train(cfg, run_dir, dataset, **kw):
    return train(cfg, run_dir=run_dir, dataset=dataset, identity_net=tiny_identity_net(),
                 quality_net=tiny_quality_net(), **kw)


def test_run_folder_holds_config_stats_plots_samples_and_checkpoint(tmp_path, dataset):
    progress = []
    result = _train(tiny_config(max_iterations=4), tmp_path, dataset,
                    on_progress=lambda step, total, stats: progress.append((step, total, stats)))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["loss"]["lambda_cls"] == 20.0 and config["model"]["arch"] == "legan"
    stats = read_stats(tmp_path / "stats.jsonl")
    assert [s["iteration"] for s in stats] == [2, 4]
    names = {"Loss/D/real", "Loss/D/fake", "Loss/D/gp", "Loss/D/cls", "Loss/G/adv", "Loss/G/cls",
             "Loss/G/rec", "Loss/G/id", "Loss/G/qual", "Loss/G/tv"}
    assert names <= set(stats[-1])
    assert [(p[0], p[1]) for p in progress] == [(2, 4), (4, 4)]
    assert (tmp_path / "losses.png").stat().st_size > 0
    grid = Image.open(tmp_path / "samples" / "iter-00000004.png")
    n_targets = 4  # default spread of (expression, lighting) targets
    assert grid.size[0] == SIZE * (1 + 3 * n_targets)  # input + (output, M_e, M_l) per target
    payload = load_checkpoint(result.checkpoint_path)
    assert {"G", "D", "opt_G", "opt_D", "iteration", "config", "rng"} <= set(payload)
    assert payload["iteration"] == 4
    assert payload["input_contract"] == {"size": SIZE, "colour": "rgb", "normalisation": "minus_one_to_one",
                                         "mask": "none"}


def _states_equal(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


class RandomlyAugmented(TinyFaceDataset):
    """Draws from torch's global RNG per item, as legan.augment.RandomAugment does."""

    def __getitem__(self, i):
        item = super().__getitem__(i)
        item["image"] = (item["image"] + 0.05 * torch.randn(item["image"].shape)).clamp(-1, 1)
        return item


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    dataset = RandomlyAugmented(n=24)
    cfg = tiny_config(max_iterations=9, log_every=3, checkpoint_every=100)  # 6 batches/epoch: crosses an epoch
    full = _train(cfg, tmp_path / "full", dataset)
    calls = {"n": 0}

    def stop_after_four():
        calls["n"] += 1
        return calls["n"] == 4

    with pytest.raises(TrainingStopped) as info:
        _train(cfg, tmp_path / "cut", dataset, should_stop=stop_after_four)
    assert info.value.iteration == 4 and info.value.checkpoint.exists()
    resumed = _train(cfg, tmp_path / "cut", dataset, resume=True)
    a, b = load_checkpoint(full.checkpoint_path), load_checkpoint(resumed.checkpoint_path)
    assert a["iteration"] == b["iteration"] == 9
    assert _states_equal(a["G"], b["G"]) and _states_equal(a["D"], b["D"])
    for opt in ("opt_G", "opt_D"):
        sa, sb = a[opt]["state"], b[opt]["state"]
        assert all(_states_equal(sa[i], sb[i]) for i in sa)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "sec_per_iter"} for r in rows]
    assert strip(read_stats(tmp_path / "full" / "stats.jsonl")) == strip(read_stats(tmp_path / "cut" / "stats.jsonl"))


def test_training_reduces_the_discriminators_classification_loss(tmp_path, dataset):
    cfg = tiny_config(max_iterations=60, n_critic=1, log_every=10, sample_every=1000, lr_g=1e-3, lr_d=3e-3)
    cfg.loss.lambda_id = cfg.loss.lambda_qual = 0.0
    _train(cfg, tmp_path, dataset)
    stats = read_stats(tmp_path / "stats.jsonl")
    assert stats[-1]["Loss/D/cls"] < 0.7 * stats[0]["Loss/D/cls"]  # starts at ln 3 + ln 3 = 2.2
    assert all(math.isfinite(v) for s in stats for v in s.values())


def test_generator_steps_reduce_the_cycle_reconstruction_loss(dataset):
    """G alone (D silenced, no cls / id / qual) learns to map G(G(x, f_b), f_a) back to x."""
    cfg = tiny_config()
    G, D = build.build_networks(cfg, torch.device("cpu"))
    for p in D.parameters():
        torch.nn.init.zeros_(p)
    loss = LeganLoss(G, D, n_expressions=3,
                     config=LossConfig(lambda_cls=0, lambda_id=0, lambda_qual=0, lambda_tv=0))
    opt = torch.optim.Adam(G.parameters(), 3e-3, betas=(0.5, 0.999))
    rng = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True, generator=rng)
    history = []
    for _ in range(3):
        for raw in loader:
            opt.zero_grad()
            history.append(loss.accumulate_gradients("G", build.prepare_batch(raw, torch.device("cpu"), rng, 3, 3))
                           ["Loss/G/rec"].item())
            opt.step()
    assert sum(history[-3:]) / 3 < 0.5 * sum(history[:3]) / 3


def test_stargan_baseline_trains_with_and_without_quality_loss(tmp_path, dataset):
    with_q = _train(tiny_config("stargan", max_iterations=2), tmp_path / "q", dataset)
    cfg = tiny_config("stargan", max_iterations=2)
    cfg.loss.lambda_qual = 0.0
    without_q = train(cfg, run_dir=tmp_path / "noq", dataset=dataset, identity_net=tiny_identity_net())
    assert "Loss/G/qual" in with_q.metrics and "Loss/G/qual" not in without_q.metrics
    grid = Image.open(tmp_path / "q" / "samples" / "iter-00000002.png")
    assert grid.size[0] == SIZE * (1 + 4)  # StarGAN has no masks: input + one output per target


def test_invalid_options_fail_before_training(tmp_path, dataset):
    with pytest.raises(ConfigError, match="multiple of the number of processes|positive"):
        _train(tiny_config(batch_size=0), tmp_path, dataset)
    with pytest.raises(ConfigError, match="expression"):
        _train(tiny_config(expressions=[]), tmp_path, dataset)
    with pytest.raises(ConfigError, match="fewer than one batch"):
        _train(tiny_config(batch_size=32), tmp_path, dataset)
    cfg = tiny_config()
    with pytest.raises(ConfigError, match="--q-checkpoint"):
        train(cfg, run_dir=tmp_path, dataset=dataset, identity_net=tiny_identity_net())
    assert not (tmp_path / "checkpoints").exists()


def test_a_fresh_run_refuses_a_folder_that_already_has_checkpoints(tmp_path, dataset):
    cfg = tiny_config(max_iterations=1)
    cfg.loss.lambda_id = cfg.loss.lambda_qual = 0.0
    train(cfg, run_dir=tmp_path, dataset=dataset)
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        train(cfg, run_dir=tmp_path, dataset=dataset)


def test_cli_reports_missing_manifest_clearly(tmp_path, capsys):
    code = cli_main(["--manifest", str(tmp_path / "nope.csv"), "--expressions", "a,b", "--lightings", "x",
                     "--no-quality-loss", "--outdir", str(tmp_path)])
    assert code == 2
    assert "manifest not found" in capsys.readouterr().err


def test_cli_dry_run_builds_everything_without_training(tmp_path, monkeypatch, capsys, dataset):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image_path,subject,expression,lighting\n")
    monkeypatch.setattr(build, "build_dataset", lambda config: dataset)
    code = cli_main(["--manifest", str(manifest), "--expressions", "neutral,smile,surprise",
                     "--lightings", "front,left,right", "--no-quality-loss", "--no-identity-loss",
                     "--image-size", "32", "--batch-size", "4", "--g-channels", "8", "--d-channels", "8",
                     "--d-layers", "3", "--g-res-blocks", "1", "--outdir", str(tmp_path / "runs"), "--dry-run"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checks"]["output_shape"] == [1, 3, 32, 32] and report["checks"]["batches_per_epoch"] == 6
    assert not (tmp_path / "runs").exists()


def test_cli_trains_into_a_numbered_run_folder(tmp_path, monkeypatch, dataset):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image_path,subject,expression,lighting\n")
    monkeypatch.setattr(build, "build_dataset", lambda config: dataset)
    args = ["--manifest", str(manifest), "--expressions", "neutral,smile,surprise", "--lightings", "front,left,right",
            "--no-quality-loss", "--no-identity-loss", "--image-size", "32", "--batch-size", "4",
            "--g-channels", "8", "--d-channels", "8", "--d-layers", "3", "--g-res-blocks", "1",
            "--max-iterations", "2", "--n-critic", "2", "--log-every", "1", "--num-workers", "0",
            "--outdir", str(tmp_path / "runs"), "--no-progress", "--device", "cpu"]
    assert cli_main(args) == 0 and cli_main(args) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["00000-legan", "00001-legan"]
    assert latest_checkpoint(tmp_path / "runs" / "00001-legan" / "checkpoints").name == "checkpoint-00000002.pt"
    assert cli_main(["--resume", str(tmp_path / "runs" / "00000-legan"), "--max-iterations", "4"]) == 0
    assert load_checkpoint(latest_checkpoint(tmp_path / "runs" / "00000-legan" / "checkpoints"))["iteration"] == 4
