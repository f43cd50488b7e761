"""Quality score: the trained quality model Q's prediction per image (0-10 rating scale).

Q reads landmark-hull-masked faces at its own input size, exactly as LEGAN feeds it during
training (legan.loss.LeganLoss._quality): background painted -1 (black) by
legan.loss_terms.apply_mask, then a bilinear resize to Q's image_size. Pass the images' masks
(B, 1, H, W) in {0, 1} when the data has them (LeganDataset items do); without a mask the
whole image is scored, which is only right when Q was trained on unmasked images.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from legan.loss_terms import apply_mask, resize_for

from .base import PairMetric, check_images

MASK_FILL = -1.0
ERR_NO_Q = ("no quality model: pass checkpoint=PATH (a quality run's final.pt or checkpoints/checkpoint-*.pt, "
            "see quality/README.md) or model=<a loaded QualityNet>")
ERR_LOAD = "the quality model could not be loaded from {path}: {detail}"
ERR_MASK = "quality: mask must be (B, 1, H, W) with the images' B, got {shape} for images {images}"


class QualityScore(PairMetric):
    name = "quality"
    display_name = "quality (Q)"
    higher_is_better = True

    def __init__(self, device="cpu", checkpoint: str | os.PathLike | None = None, model: nn.Module | None = None,
                 input_size: int | None = None) -> None:
        super().__init__(device)
        self.checkpoint = str(checkpoint) if checkpoint else None
        if model is None and checkpoint is None:
            self._mark_unavailable(ERR_NO_Q)
            return
        if model is None:
            if not Path(checkpoint).is_file():
                self._mark_unavailable(ERR_LOAD.format(path=checkpoint, detail="file not found"))
                return
            try:
                from quality.checkpoint import load_quality_model

                model = load_quality_model(checkpoint, map_location="cpu")
            except Exception as exc:  # a foreign or corrupt file: name it, keep the reason
                self._mark_unavailable(ERR_LOAD.format(path=checkpoint, detail=exc))
                return
        self._q = model.to(self.device).eval().requires_grad_(False)
        config = getattr(model, "config", None)
        self.input_size = int(input_size or getattr(config, "image_size", 128))

    @torch.no_grad()
    def update(self, output: torch.Tensor, target: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> None:
        """Scores `output` only; `target` is accepted (and ignored) so all pair metrics share one call."""
        self._require_available()
        x = check_images(self.display_name, output).to(self.device)
        if mask is not None:
            if mask.dim() != 4 or mask.shape[0] != x.shape[0] or mask.shape[1] != 1:
                raise ValueError(ERR_MASK.format(shape=tuple(mask.shape), images=tuple(x.shape)))
            mask = mask.to(self.device, torch.float32)
            if mask.shape[-2:] != x.shape[-2:]:
                mask = F.interpolate(mask, size=x.shape[-2:], mode="nearest")
            x = apply_mask(x, mask, MASK_FILL)
        self._append(self._q(resize_for(x, self.input_size)).reshape(-1))  # (B,)
