"""The two metric shapes every backend implements, and the checks they share.

Pair metrics score each generated image against one reference image (per-image values, so a
caller can bootstrap them); set metrics compare two distributions of images (real, fake).
Both stream (update per batch, read at the end) on any device, and both carry an honest
display name plus, when their weights or libraries are missing, `available = False` and the
reason, never a number computed from something else under the same name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

def hub_weights_path(filename: str, env: str) -> Path:
    """A third-party weights file: where $env names it, else in torch's hub cache
    (torch.hub.get_dir()/checkpoints/filename, read at call time so tests can repoint it)."""
    override = os.environ.get(env)
    return Path(override) if override else Path(torch.hub.get_dir()) / "checkpoints" / filename

ERR_SHAPE = "{metric}: expected images of shape (B, 3, H, W) with H == W, got {shape}"
ERR_RANGE = ("{metric}: images must be float RGB in [-1, 1]; got values in [{low:.3g}, {high:.3g}] "
             "(a [0, 1] or [0, 255] image must be mapped to [-1, 1] first)")
ERR_PAIR = "{metric}: output and target differ in shape: {a} vs {b}"
ERR_UNAVAILABLE = "{metric} is unavailable: {reason}"
ERR_EMPTY = "{metric}: no images were given (update() was never called)"
RANGE_SLACK = 1e-3  # float noise on a tanh output never reaches this


class MetricUnavailableError(RuntimeError):
    """Raised when an unavailable metric is asked for a number."""


def check_images(metric: str, x: torch.Tensor) -> torch.Tensor:
    """Validate a (B, 3, H, W) [-1, 1] batch and return it as float32, detached."""
    if not torch.is_tensor(x) or x.dim() != 4 or x.shape[1] != 3 or x.shape[2] != x.shape[3]:
        raise ValueError(ERR_SHAPE.format(metric=metric, shape=tuple(getattr(x, "shape", ()))))
    x = x.detach().float()
    if x.numel():
        low, high = float(x.min()), float(x.max())
        if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
            raise ValueError(ERR_RANGE.format(metric=metric, low=low, high=high))
    return x.clamp(-1.0, 1.0)


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]."""
    return (x + 1.0) * 0.5


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> [0, 255] uint8, rounded as an image file would store it."""
    return (to_unit_range(x) * 255.0).round().clamp(0, 255).to(torch.uint8)


class Metric:
    """What every metric says about itself."""

    name: str = ""  # registry key, e.g. "fd-dlib128"
    display_name: str = ""  # what a table prints, e.g. "FD-dlib128"
    higher_is_better: bool = True
    kind: str = ""  # "pair" or "set"

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.available = True
        self.unavailable_reason = ""

    def _mark_unavailable(self, reason: str) -> None:
        self.available = False
        self.unavailable_reason = reason

    def _require_available(self) -> None:
        if not self.available:
            raise MetricUnavailableError(ERR_UNAVAILABLE.format(metric=self.display_name,
                                                                reason=self.unavailable_reason))

    def describe(self) -> dict:
        return {"name": self.name, "display_name": self.display_name, "kind": self.kind,
                "higher_is_better": self.higher_is_better, "available": self.available,
                "unavailable_reason": self.unavailable_reason}

    def __repr__(self) -> str:
        state = "available" if self.available else f"unavailable: {self.unavailable_reason}"
        return f"<{type(self).__name__} {self.display_name!r} on {self.device} ({state})>"


class PairMetric(Metric):
    """update(output, target) per batch; values() -> (N,) one number per pair, in update order."""

    kind = "pair"

    def __init__(self, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        self._values: list[np.ndarray] = []

    def _score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) x (B, 3, H, W) on self.device -> (B,)."""
        raise NotImplementedError

    @torch.no_grad()
    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        self._require_available()
        output = check_images(self.display_name, output).to(self.device)
        target = check_images(self.display_name, target).to(self.device)
        if output.shape != target.shape:
            raise ValueError(ERR_PAIR.format(metric=self.display_name, a=tuple(output.shape), b=tuple(target.shape)))
        self._append(self._score(output, target))

    def _append(self, scores: torch.Tensor) -> None:
        self._values.append(scores.detach().double().cpu().numpy().reshape(-1))

    def values(self) -> np.ndarray:
        self._require_available()
        return np.concatenate(self._values) if self._values else np.zeros(0)

    def compute(self) -> float:
        """The mean over all pairs so far."""
        values = self.values()
        if values.size == 0:
            raise ValueError(ERR_EMPTY.format(metric=self.display_name))
        return float(values.mean())

    def reset(self) -> None:
        self._values = []


class SetMetric(Metric):
    """update_real(x) / update_fake(x) per batch store one feature vector per image;
    compute() is a distance between the two feature sets, bootstrap() resamples them."""

    kind = "set"
    higher_is_better = False

    def __init__(self, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        self._real: list[np.ndarray] = []
        self._fake: list[np.ndarray] = []

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) on self.device -> (B, D)."""
        raise NotImplementedError

    def _distance(self, real: np.ndarray, fake: np.ndarray) -> float:
        raise NotImplementedError

    @torch.no_grad()
    def _extract(self, x: torch.Tensor) -> np.ndarray:
        self._require_available()
        x = check_images(self.display_name, x).to(self.device)
        return self._features(x).double().cpu().numpy()

    def update_real(self, x: torch.Tensor) -> None:
        self._real.append(self._extract(x))

    def update_fake(self, x: torch.Tensor) -> None:
        self._fake.append(self._extract(x))

    def features(self) -> tuple[np.ndarray, np.ndarray]:
        """(N_real, D), (N_fake, D) float64."""
        self._require_available()
        if not self._real or not self._fake:
            raise ValueError(ERR_EMPTY.format(metric=self.display_name))
        return np.concatenate(self._real), np.concatenate(self._fake)

    def compute(self) -> float:
        real, fake = self.features()
        return float(self._distance(real, fake))

    def bootstrap(self, n: int = 1000, seed: int = 0) -> np.ndarray:
        """(n,) distances, each between the real and the fake set resampled (independently,
        with replacement, at their own sizes): the spread a percentile interval is read from."""
        real, fake = self.features()
        rng = np.random.default_rng(seed)
        out = np.empty(n)
        for i in range(n):
            out[i] = self._distance(real[rng.integers(0, len(real), len(real))],
                                    fake[rng.integers(0, len(fake), len(fake))])
        return out

    def reset(self) -> None:
        self._real, self._fake = [], []
