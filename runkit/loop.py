"""Scaffolding of a training loop: how it stops, what it returns, how it averages its stats."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch


class TrainingStopped(Exception):
    """should_stop() returned True; the checkpoint of `step` was written first (resume=True
    continues). The one class every trainer raises, so a job runner catches one thing."""

    def __init__(self, step: int, checkpoint_path: Optional[Path]) -> None:
        super().__init__(f"training stopped at step {step}; checkpoint {checkpoint_path}")
        self.step, self.checkpoint_path = step, checkpoint_path

    # legan's loops count "iterations": the same number under its own name.
    @property
    def iteration(self) -> int:
        return self.step

    @property
    def checkpoint(self) -> Optional[Path]:
        return self.checkpoint_path


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint_path: Optional[Path]
    metrics: dict


class StatsMeter:
    """Running sums of the loss stats between two log lines (kept on the device: no syncs)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0) + v
            self.counts[k] = self.counts.get(k, 0) + 1

    def state(self) -> dict:
        return {"sums": {k: float(v) for k, v in self.sums.items()}, "counts": dict(self.counts)}

    def load(self, state: dict, device: torch.device) -> None:
        self.sums = {k: torch.tensor(v, device=device) for k, v in state["sums"].items()}
        self.counts = dict(state["counts"])

    def pop_means(self) -> dict[str, float]:
        means = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means
