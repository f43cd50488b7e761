"""Decode each training image once per run.

`DecodeCache` holds the decoded uint8 images and masks of a dataset in shared memory, filled
on first read by whichever process reads the item: the persistent DataLoader workers fill it
for each other and for every later epoch (a per-worker dict would hold one copy per worker).
Size: N x S x S x 4 bytes (33,305 images at 128 px: 2.2 GB), allocated up front.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


class DecodeCache:
    def __init__(self, n: int, size: int) -> None:
        self.images = torch.zeros(n, size, size, 3, dtype=torch.uint8).share_memory_()
        self.masks = torch.zeros(n, size, size, dtype=torch.bool).share_memory_()
        self.filled = torch.zeros(n, dtype=torch.bool).share_memory_()

    def get(self, index: int, load: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """(image (S, S, 3) uint8, mask (S, S) bool): copies, so callers may change them."""
        if bool(self.filled[index]):
            return self.images[index].numpy().copy(), self.masks[index].numpy().copy()
        image, mask = load(index)
        self.images[index] = torch.as_tensor(np.array(image, dtype=np.uint8))  # np.array: may be read-only
        self.masks[index] = torch.as_tensor(np.array(mask, dtype=bool))
        self.filled[index] = True  # written after the pixels: a reader never sees half an image
        return image, mask
