"""Q resumes on another number of GPUs, or on the CPU after a GPU."""

import logging

import torch

from quality.checkpoint import load_checkpoint
from runkit.checkpoints import latest_checkpoint as latest_in
from runkit.checkpoints import restore_cuda_rng as restore_cuda_rng_state
import pytest

from quality.train import TrainingStopped, train
from tests.quality.conftest import tiny_train_config


def _states(n):
    return [torch.full((16,), i, dtype=torch.uint8) for i in range(n)]


def test_only_states_with_a_device_are_restored(monkeypatch, caplog):
    restored = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device="cuda": restored.__setitem__(device, s))
    with caplog.at_level(logging.WARNING, logger="runkit.checkpoints"):
        message = restore_cuda_rng_state(_states(8))
    assert sorted(restored) == [0, 1] and int(restored[1][0]) == 1
    assert "8 device(s)" in message and message in caplog.text


def test_a_gpu_checkpoint_resumes_on_the_cpu(sim_export, tmp_path, caplog):
    path, _, _ = sim_export
    config = tiny_train_config(path, max_steps=4, checkpoint_every=2)
    straight = train(config, run_dir=tmp_path / "straight")
    polls = {"n": 0}

    def stop_after_two():
        polls["n"] += 1
        return polls["n"] > 2

    with pytest.raises(TrainingStopped):
        train(config, run_dir=tmp_path / "resumed", should_stop=stop_after_two)
    ckpt = latest_in(tmp_path / "resumed" / "checkpoints")
    payload = load_checkpoint(ckpt)
    payload["rng"]["cuda"] = _states(3)  # as written by a run that saw 3 GPUs
    torch.save(payload, ckpt)
    with caplog.at_level(logging.WARNING, logger="runkit.checkpoints"):
        resumed = train(config, run_dir=tmp_path / "resumed", resume=True)
    if not torch.cuda.is_available():
        assert "3 device(s), this process sees 0" in caplog.text
    a, b = load_checkpoint(straight.checkpoint_path), load_checkpoint(resumed.checkpoint_path)
    assert b["step"] == 4
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
