"""Mixed precision and learning-rate schedule set-up for training."""

from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch

def make_autocast(mode: str, device: torch.device
                  ) -> tuple[Callable | None, torch.amp.GradScaler | None, str]:
    """Returns (autocast factory or None, GradScaler or None, resolved mode).

    CPU always runs in fp32: CPU autocast is slow for convolutions and buys nothing here.
    On CUDA 'auto' picks bf16 when supported (no scaler needed), else fp16 + GradScaler.
    """
    if device.type != "cuda" or mode == "off":
        return None, None, "off"
    if mode == "auto":
        mode = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    dtype = torch.bfloat16 if mode == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda") if mode == "fp16" else None
    return (lambda: torch.autocast("cuda", dtype=dtype)), scaler, mode


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, warmup_steps: int,
                   total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then constant or cosine decay to 0 at total_steps."""
    warmup = min(warmup_steps, max(total_steps - 1, 0))

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(total_steps - warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def no_grad_autocast(autocast: Callable | None):
    return autocast() if autocast is not None else contextlib.nullcontext()
