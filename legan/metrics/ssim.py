"""SSIM per pair: pytorch-msssim's implementation on [0, 1] images.

Gaussian 11x11 window, sigma 1.5, K = (0.01, 0.03), data range 1, population (co)variances,
computed per channel over the window positions that lie fully inside the image ("valid"
convolution) and averaged over channels and positions: the same number as scikit-image's
structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1, channel_axis=...). Images are compared at the size they are given.
"""

from __future__ import annotations

import torch

from .base import PairMetric, to_unit_range

WINDOW = 11
SIGMA = 1.5
ERR_TOO_SMALL = "SSIM needs images of at least {window}x{window} pixels, got {size}x{size}"
ERR_NO_LIBRARY = "the pytorch-msssim package is not installed (pip install pytorch-msssim==1.0.0): {detail}"


class SSIM(PairMetric):
    name = "ssim"
    display_name = "SSIM"
    higher_is_better = True

    def __init__(self, device="cpu") -> None:
        super().__init__(device)
        try:
            from pytorch_msssim import ssim
        except ImportError as exc:
            self._mark_unavailable(ERR_NO_LIBRARY.format(detail=exc))
            return
        self._ssim = ssim

    def _score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        size = output.shape[-1]
        if size < WINDOW:
            raise ValueError(ERR_TOO_SMALL.format(window=WINDOW, size=size))
        return self._ssim(to_unit_range(output), to_unit_range(target), data_range=1.0, size_average=False,
                          win_size=WINDOW, win_sigma=SIGMA, K=(0.01, 0.03))  # (B,)
