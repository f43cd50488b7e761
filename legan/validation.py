"""Validation during training: a fixed held-out batch of pairs, scored every N iterations, so a
collapsed generator shows while it trains and not after.

The batch comes from an evaluation set's validation pairs (legan.data.pairs: subjects that
neither the GANs nor the test table see). Reported under `Val/`:

  Val/ssim_target       SSIM (11x11 Gaussian, sigma 1.5) between output and the real target
  Val/l1_target         mean absolute difference to the target, in [0, 2] pixel units
  Val/self_match        share of outputs whose most similar candidate input (pixel Pearson) is
                        their own input, among pairs asking the same (input, target) conditions
                        of different subjects
  Val/self_match_chance what self_match would be by chance (1 / candidates, averaged)
  Val/input_dependence  std of the outputs across subjects / std of their inputs, per
                        (input, target) group: ~0 when every input gives the same face
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from legan.data.dataset import image_to_tensor, load_face
from legan.data.manifest import resolve_path


def ssim_per_image(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """SSIM of (N, 3, H, W) images in [-1, 1] (scikit-image's, Gaussian window, as the metric)."""
    from skimage.metrics import structural_similarity

    a = ((x.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()
    b = ((y.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()
    return np.array([structural_similarity(p, q, channel_axis=2, data_range=1.0, gaussian_weights=True,
                                           sigma=1.5, use_sample_covariance=False) for p, q in zip(a, b)])


def pearson_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, D), (M, D) -> (N, M) Pearson correlations of the rows."""
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-8)
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-8)
    return a @ b.T


def self_match_hits(outputs: torch.Tensor, inputs: torch.Tensor, groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: 1 when the output is closer (pixel Pearson) to its own input than to any other
    input of its group, else 0; NaN where the group has one member. Also the chance level 1/n."""
    groups = np.asarray([str(g) for g in groups])
    hits = np.full(len(groups), np.nan)
    chance = np.full(len(groups), np.nan)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) < 2:
            continue
        corr = pearson_matrix(outputs[idx].flatten(1).float(), inputs[idx].flatten(1).float())  # (n, n)
        hits[idx] = (corr.argmax(1) == torch.arange(len(idx))).float().numpy()
        chance[idx] = 1.0 / len(idx)
    return hits, chance


def self_match(outputs: torch.Tensor, inputs: torch.Tensor, groups: Sequence) -> tuple[float, float]:
    """(share of outputs closest to their own input within their group, chance level)."""
    hits, chance = self_match_hits(outputs, inputs, groups)
    if np.isnan(hits).all():
        return float("nan"), float("nan")
    return float(np.nanmean(hits)), float(np.nanmean(chance))


def pair_groups(pairs) -> list[str]:
    """Pairs that ask the same of different subjects: same input and same target conditions."""
    return [f"{a}/{b}>{c}/{d}" for a, b, c, d in zip(pairs["input_expression"], pairs["input_lighting"],
                                                    pairs["target_expression"], pairs["target_lighting"])]


def input_dependence(outputs: torch.Tensor, inputs: torch.Tensor, groups: Sequence) -> float:
    groups = np.asarray([str(g) for g in groups])
    ratios = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) < 2:
            continue
        spread_in = inputs[idx].float().std(0).mean()
        if spread_in > 1e-6:
            ratios.append(float(outputs[idx].float().std(0).mean() / spread_in))
    return float(np.mean(ratios)) if ratios else float("nan")


class Validator:
    """Scores a generator on a fixed batch of validation pairs (at most `count`, spread evenly)."""

    def __init__(self, pairs_csv: str | Path, expressions: Sequence[str], lightings: Sequence[str],
                 image_size: int, count: int = 96) -> None:
        import pandas as pd

        pairs_csv = Path(pairs_csv)
        pairs = pd.read_csv(pairs_csv, dtype=str, keep_default_na=False)
        pairs = pairs[pairs["target_expression"].isin(expressions) & pairs["target_lighting"].isin(lightings)]
        if pairs.empty:
            raise ValueError(f"{pairs_csv} has no pairs with targets among the trained classes")
        if len(pairs) > count:  # whole groups, largest first: self-match needs several subjects per group
            groups = pd.Series(pair_groups(pairs), index=pairs.index)
            keep, total = set(), 0
            for group, size in groups.value_counts().items():  # largest first, ties in first-seen order
                if total + size <= count:
                    keep.add(group)
                    total += size
            pairs = pairs[groups.isin(keep)]
        root = pairs_csv.parent
        load = lambda p: image_to_tensor(load_face(resolve_path(root, p), image_size)[0])  # noqa: E731
        self.inputs = torch.stack([load(p) for p in pairs["input_path"]])  # (N, 3, S, S)
        self.targets = torch.stack([load(p) for p in pairs["target_path"]])
        self.expression = torch.tensor([list(expressions).index(v) for v in pairs["target_expression"]])
        self.lighting = torch.tensor([list(lightings).index(v) for v in pairs["target_lighting"]])
        self.groups = pair_groups(pairs)

    @torch.no_grad()
    def __call__(self, G: torch.nn.Module, device: torch.device, batch_size: int = 32) -> dict[str, float]:
        was_training = G.training
        G.eval()
        try:
            outs = [G(self.inputs[i:i + batch_size].to(device), self.expression[i:i + batch_size].to(device),
                      self.lighting[i:i + batch_size].to(device)).image.float().cpu()
                    for i in range(0, len(self.inputs), batch_size)]
        finally:
            G.train(was_training)
        out = torch.cat(outs).clamp(-1, 1)
        match, chance = self_match(out, self.inputs, self.groups)
        return {"Val/ssim_target": float(ssim_per_image(out, self.targets).mean()),
                "Val/l1_target": float((out - self.targets).abs().mean()),
                "Val/self_match": match, "Val/self_match_chance": chance,
                "Val/input_dependence": input_dependence(out, self.inputs, self.groups)}


def build_validator(pairs_csv: Optional[str], expressions, lightings, image_size: int) -> Optional[Validator]:
    return Validator(pairs_csv, expressions, lightings, image_size) if pairs_csv else None
