"""Device selection for training and inference."""

from __future__ import annotations

import torch

NO_CUDA = "device={device!r} was requested but CUDA is not available"


def select_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """"auto": this process's GPU (cuda:local_rank) when there is one, else the CPU. Asking for
    CUDA on a machine without it is an error, not a silent fallback."""
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device(f"cuda:{local_rank}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(NO_CUDA.format(device=name))
    return torch.device(name)
