"""The training DataLoader: per-item seeded randomness, persistent workers, pinned memory.

    loader = make_loader(dataset, sampler, batch_size=b, num_workers=4, seed=0, rank=r, pin_memory=True)

- Items are fetched by (index, epoch) keys (legan.distributed.ResumableSampler); `SeededItems`
  seeds torch's, numpy's and Python's global RNGs from (seed, epoch, index) around each item,
  so random augmentations are the same whatever the number of workers, across resumes, and
  (the keys being different) different on each rank. The caller's RNG state is restored after.
- Workers persist across epochs (no respawn, caches stay warm) and prefetch batches; their
  own seeds also differ per rank (`worker_seed_base`).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

_MIX = 0x9E3779B97F4A7C15  # odd 64-bit constant: spreads nearby (seed, epoch, index) apart


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for one item of one epoch."""
    x = (seed * 1_000_003 + epoch) * 2_147_483_647 + index
    return (x * _MIX) % (2**63 - 1)


def worker_seed_base(seed: int, rank: int) -> int:
    """Seed of the loader's generator, from which DataLoader derives its worker seeds."""
    return seed * 1_000_003 + 7_919 * rank + 1


class SeededItems(Dataset):
    """dataset[index] with the global RNGs seeded from (seed, epoch, index); keys are (index, epoch)."""

    def __init__(self, dataset, seed: int) -> None:
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        index, epoch = key
        s = item_seed(self.seed, epoch, index)
        saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
        torch.default_generator.manual_seed(s)  # the CPU generator only: CUDA streams untouched
        np.random.seed(s % 2**32)
        random.seed(s)
        try:
            return self.dataset[index]
        finally:
            torch.set_rng_state(saved[0])
            np.random.set_state(saved[1])
            random.setstate(saved[2])


def make_loader(dataset, sampler, *, batch_size: int, num_workers: int, seed: int, rank: int,
                pin_memory: bool, prefetch_factor: int = 4) -> DataLoader:
    workers = num_workers > 0
    return DataLoader(SeededItems(dataset, seed), batch_size=batch_size, sampler=sampler,
                      num_workers=num_workers, drop_last=True, pin_memory=pin_memory,
                      persistent_workers=workers, prefetch_factor=prefetch_factor if workers else None,
                      generator=torch.Generator().manual_seed(worker_seed_base(seed, rank)))
