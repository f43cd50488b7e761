"""Attribute labels: one-hot condition maps and the split of D's attribute logits.

An attribute vector f = (c_e, c_l) is the concatenation of a one-hot expression code
(n_expressions entries) and a one-hot lighting code (n_lightings entries); D's attribute
head predicts k = n_expressions + n_lightings logits, expression logits first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def class_names(text: str) -> list[str]:
    """Class names as a command line gives them: comma-separated, spaces and empty names dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]


def one_hot_maps(labels: torch.Tensor, n_classes: int, height: int, width: int) -> torch.Tensor:
    """(B,) int class ids -> (B, n_classes, H, W) float one-hot tiled over the image."""
    one_hot = F.one_hot(labels.long(), n_classes).float()  # (B, n)
    return one_hot[:, :, None, None].expand(-1, -1, height, width)  # (B, n, H, W)


def split_attribute_logits(logits: torch.Tensor, n_expressions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, k) -> expression logits (B, n_e), lighting logits (B, k - n_e)."""
    return logits[:, :n_expressions], logits[:, n_expressions:]


def sample_targets(batch_size: int, n_expressions: int, n_lightings: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniformly random target expression and lighting ids, each (B,) int64 on the CPU.

    Uniform (rather than StarGAN's permutation of the batch labels) so that rare expressions
    are asked for as often as common ones: the training data is skewed towards neutral/smile.
    """
    expression = torch.randint(n_expressions, (batch_size,), generator=generator)
    lighting = torch.randint(n_lightings, (batch_size,), generator=generator)
    return expression, lighting
