"""Dataset of rated faces for Q, plus the only augmentation the paper allows (mirroring).

The paper: "we only mirror the images as other techniques like translation, rotation and
scaling drastically change their appearance compared to what the Turkers examined."
Mirroring is applied per batch with an explicit generator (``random_mirror``) so that a
resumed run draws exactly the flips the uninterrupted run would have drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from faces.io import load_rgb
from runkit.contract import fit_to_size, to_tensor
from quality.labels import LabelExportError, load_labels  # noqa: F401  (re-exported)
from quality.splits import SPLIT_NAMES, assign_splits, split_labels  # noqa: F401


class QualityDataset(Dataset):
    """Items: (image (3, S, S) float in [-1, 1], mu float32, sigma float32).

    ``labels`` is a validated frame from ``load_labels`` (needs columns path, mu, sigma).
    Images that are not S x S are centre-cropped and resized. With ``cache=True`` decoded
    uint8 images are kept in memory (49 KB each at 128 px), which on CPU makes epochs after the
    first limited by the network instead of PNG decoding.
    """

    def __init__(self, labels: pd.DataFrame, image_size: int = 128, cache: bool = True) -> None:
        self.paths = labels["path"].tolist()
        self.mu = torch.tensor(labels["mu"].to_numpy(np.float32))
        self.sigma = torch.tensor(labels["sigma"].to_numpy(np.float32))
        self.image_size = image_size
        self._cache: dict[int, np.ndarray] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def load_image(self, index: int) -> np.ndarray:
        """(S, S, 3) uint8; raises faces.errors.UnreadableImageError naming the file when it is corrupt."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        image = fit_to_size(load_rgb(self.paths[index]), self.image_size)
        if self._cache is not None:
            self._cache[index] = image
        return image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return to_tensor(self.load_image(index)), self.mu[index], self.sigma[index]


def random_mirror(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image of (B, 3, H, W) horizontally with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5  # (B,)
    if not flip.any():
        return images
    out = images.clone()
    out[flip] = images[flip].flip(-1)
    return out


class EpochBatchSampler(torch.utils.data.Sampler):
    """Batches of a seeded permutation per epoch; can start mid-epoch for exact resume."""

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, start_batch: int = 0) -> None:
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, epoch
        self.start_batch = start_batch

    @staticmethod
    def batches_per_epoch(n: int, batch_size: int) -> int:
        # Drop the ragged last batch (stable batch statistics) unless it is the only one.
        return max(n // batch_size, 1 if n > 0 else 0)

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        """Move a sampler that a persistent DataLoader keeps to another epoch / batch."""
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        for b in range(self.start_batch, self.batches_per_epoch(self.n, self.batch_size)):
            yield order[b * self.batch_size:(b + 1) * self.batch_size]

    def __len__(self) -> int:
        return max(self.batches_per_epoch(self.n, self.batch_size) - self.start_batch, 0)


def make_train_loader(dataset: Dataset, sampler: EpochBatchSampler, *, num_workers: int,
                      pin_memory: bool, prefetch_factor: int = 4) -> torch.utils.data.DataLoader:
    """One loader for the whole run: its workers persist across epochs (no respawn, and each
    worker's decoded-image cache stays warm) and prefetch; move it with sampler.set_position."""
    workers = num_workers > 0
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                                       pin_memory=pin_memory, persistent_workers=workers,
                                       prefetch_factor=prefetch_factor if workers else None)
