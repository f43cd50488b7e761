"""Validation during training: the collapse measures and their place in a run's stats."""

import numpy as np
import torch
from skimage.metrics import structural_similarity

from legan.validation import input_dependence, self_match, ssim_per_image


def _faces(n=6, seed=0):
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_identity_outputs_match_their_inputs_and_collapse_does_not():
    x = _faces()
    groups = ["g"] * len(x)
    assert self_match(x, x, groups) == (1.0, 1 / 6)
    assert input_dependence(x, x, groups) == 1.0
    collapsed = x.mean(0, keepdim=True).expand_as(x) + 1e-4 * _faces(seed=1)
    assert input_dependence(collapsed, x, groups) < 0.01


def test_groups_smaller_than_two_are_ignored():
    x = _faces(2)
    assert np.isnan(self_match(x, x, ["a", "b"])[0])


def test_ssim_matches_scikit_image():
    x, y = _faces(2, 0), _faces(2, 1)
    ref = structural_similarity(((x[0] + 1) / 2).permute(1, 2, 0).numpy(), ((y[0] + 1) / 2).permute(1, 2, 0).numpy(),
                                channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert abs(ssim_per_image(x, y)[0] - ref) < 1e-6
