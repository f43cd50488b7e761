"""Resuming on another number of GPUs, or on the CPU after a GPU: the CUDA RNG states that have
a device are restored, the others are reported, and training continues."""

import logging

import pytest
import torch

from legan.checkpoint import load_checkpoint
from runkit.checkpoints import latest_checkpoint, restore_cuda_rng
from legan.train import train
from runkit.loop import TrainingStopped
from tests.legan.core_fixtures import TinyFaceDataset, tiny_config, tiny_identity_net, tiny_quality_net

torch.set_num_threads(1)


def _fake_cuda_states(n: int) -> list:
    # A CUDA generator's state is a 16-byte ByteTensor (seed + offset); different per device.
    return [torch.tensor(list(range(i, i + 16)), dtype=torch.uint8) for i in range(n)]


class FakeCuda:
    """torch.cuda as seen by a process with `count` devices, recording set_rng_state calls."""

    def __init__(self, monkeypatch, count: int) -> None:
        self.restored = {}
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "set_rng_state", self._set)

    def _set(self, state, device="cuda"):
        self.restored[device] = state.clone()


def test_fewer_devices_restore_the_matching_states_and_warn(monkeypatch, caplog):
    cuda = FakeCuda(monkeypatch, count=1)
    saved = _fake_cuda_states(4)
    with caplog.at_level(logging.WARNING, logger="runkit.checkpoints"):
        message = restore_cuda_rng(saved)
    assert list(cuda.restored) == [0] and torch.equal(cuda.restored[0], saved[0])
    assert "4 device(s)" in message and "sees 1" in message and "[1, 2, 3]" in message
    assert message in caplog.text


def test_more_devices_restore_every_saved_state(monkeypatch):
    cuda = FakeCuda(monkeypatch, count=4)
    saved = _fake_cuda_states(2)
    message = restore_cuda_rng(saved)
    assert sorted(cuda.restored) == [0, 1] and torch.equal(cuda.restored[1], saved[1])
    assert "restored devices [0, 1]" in message


def test_same_device_count_restores_all_silently(monkeypatch):
    cuda = FakeCuda(monkeypatch, count=2)
    assert restore_cuda_rng(_fake_cuda_states(2)) is None and sorted(cuda.restored) == [0, 1]


def test_a_checkpoint_from_two_gpus_resumes_on_the_cpu_exactly(tmp_path, caplog):
    dataset = TinyFaceDataset(n=24)
    cfg = tiny_config(max_iterations=6, log_every=3, checkpoint_every=100)
    nets = dict(dataset=dataset, identity_net=tiny_identity_net(), quality_net=tiny_quality_net())
    full = train(cfg, run_dir=tmp_path / "full", **nets)
    calls = {"n": 0}

    def stop_after_three():
        calls["n"] += 1
        return calls["n"] == 3

    with pytest.raises(TrainingStopped):
        train(cfg, run_dir=tmp_path / "cut", should_stop=stop_after_three, **nets)
    # Make the checkpoint look like it was written by a run on 2 GPUs.
    path = latest_checkpoint(tmp_path / "cut" / "checkpoints")
    payload = load_checkpoint(path)
    for rng in payload["rng"]:
        rng["cuda"] = _fake_cuda_states(2)
    torch.save(payload, path)

    with caplog.at_level(logging.WARNING, logger="runkit.checkpoints"):
        resumed = train(cfg, run_dir=tmp_path / "cut", resume=True, **nets)
    if not torch.cuda.is_available():
        assert "2 device(s), this process sees 0" in caplog.text
    a, b = load_checkpoint(full.checkpoint_path), load_checkpoint(resumed.checkpoint_path)
    assert b["iteration"] == 6
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
