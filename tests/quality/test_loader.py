"""Q's loader lives for the whole run: workers persist across epochs, and results do not depend
on the number of workers."""

import os

import torch

from quality.checkpoint import load_checkpoint
from quality.data import EpochBatchSampler, make_train_loader
from quality.train import train
from tests.quality.conftest import tiny_train_config


def test_workers_persist_across_epochs_and_follow_the_sampler():
    class Pid(torch.utils.data.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return torch.tensor([os.getpid(), i])

    sampler = EpochBatchSampler(6, 2, seed=1, epoch=0)
    loader = make_train_loader(Pid(), sampler, num_workers=2, pin_memory=False)
    seen = []
    for epoch, start in ((0, 0), (1, 1)):
        sampler.set_position(epoch, start)
        seen.append(torch.cat(list(loader)))
    assert set(seen[0][:, 0].tolist()) == set(seen[1][:, 0].tolist())  # the same worker processes
    assert len(seen[1]) == 4  # epoch 1 started at its second batch
    assert seen[1][:, 1].tolist() == [i for b in list(EpochBatchSampler(6, 2, 1, 1, 1)) for i in b]


def test_two_workers_train_the_same_weights_as_none(sim_export, tmp_path):
    path, _, _ = sim_export
    runs = [train(tiny_train_config(path, max_steps=12, num_workers=w), run_dir=tmp_path / f"w{w}") for w in (0, 2)]
    a, b = (load_checkpoint(r.checkpoint_path)["model"] for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
