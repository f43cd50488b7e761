"""Identity match score and verification per (output, reference) pair.

The caller chooses the reference passed as `target`: the paper's Table 1 compares with the
corresponding target image; "does the output keep the subject" compares with the *input*
image (what legan.evaluate passes). Both metrics only compare face descriptors, so the
reference may show a different expression or lighting.

match:    Pearson correlation between the two descriptors (the paper's match score).
verified: 1 when the backend's standard rule says "same person", else 0. dlib's rule is a
          Euclidean distance below 0.6 (legan.identity.DLIB_SAME_PERSON_DISTANCE). VGGFace2
          ResNet-50 features have no published universal threshold, so with that backend
          `verified` is unavailable unless the caller sets `threshold` (a Pearson
          correlation at or above which a pair counts as the same person).
"""

from __future__ import annotations

import torch

from legan.identity import DLIB_SAME_PERSON_DISTANCE, same_person_dlib

from .base import PairMetric
from .descriptors import descriptor_backend, pearson_rows

ERR_NO_THRESHOLD = ("the ResNet50-VGGFace2 backend has no standard same-person threshold: pass threshold=<Pearson "
                    "correlation> to count verified pairs, or use backend='dlib'")


class _DescriptorPairMetric(PairMetric):
    def __init__(self, device="cpu", backend: str = "auto", weights_path: str | None = None) -> None:
        super().__init__(device)
        self.backend = descriptor_backend(self.device, backend, weights_path)
        if self.backend.extract is None:
            self._mark_unavailable(self.backend.problem)

    def _descriptors(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        both = self.backend.extract(torch.cat([output, target]))  # (2B, D)
        return both[: output.shape[0]], both[output.shape[0]:]


class MatchScore(_DescriptorPairMetric):
    name = "match"
    higher_is_better = True

    def __init__(self, device="cpu", backend: str = "auto", weights_path: str | None = None) -> None:
        super().__init__(device, backend, weights_path)
        self.display_name = f"match ({self.backend.label}, Pearson)"

    def _score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return pearson_rows(*self._descriptors(output, target))  # (B,)


class Verified(_DescriptorPairMetric):
    name = "verified"
    higher_is_better = True

    def __init__(self, device="cpu", backend: str = "auto", weights_path: str | None = None,
                 threshold: float | None = None) -> None:
        super().__init__(device, backend, weights_path)
        self.threshold = threshold
        if self.backend.name == "dlib":
            self.threshold = DLIB_SAME_PERSON_DISTANCE if threshold is None else threshold
            self.display_name = f"verified (dlib128, distance < {self.threshold:g})"
        else:
            self.display_name = f"verified (ResNet50-VGGFace2, Pearson >= {threshold})"
            if threshold is None and self.available:
                self._mark_unavailable(ERR_NO_THRESHOLD)

    def _score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        a, b = self._descriptors(output, target)
        if self.backend.name == "dlib":
            same = same_person_dlib(a, b, self.threshold)
        else:
            same = pearson_rows(a, b) >= self.threshold
        return same.double()  # (B,) 0/1
