"""Distribution distances between real and generated images (set metrics).

FID: the Fréchet distance over Inception-v3 pool features (2048-d), with torch-fidelity's
FeatureExtractorInceptionV3 (the TF-Inception port torchmetrics' FrechetInceptionDistance
and clean-fid's "legacy" mode use; it resizes to 299 the way TF1 did). It needs, on the
user's machine, the packages torch-fidelity and torchvision (torch-fidelity imports it) and
the weights file `weights-inception-2015-12-05-6726825d.pth` (torch-fidelity's release
file) in `$TORCH_HOME/hub/checkpoints/` (torch.hub.get_dir()), or anywhere named by
$LEGAN_FID_INCEPTION_WEIGHTS or the `weights_path` option. The path is always passed to
torch-fidelity, which downloads only when given none, so nothing reaches the network.

FD-dlib128 (offline default): the same Fréchet distance over the 128-d descriptors of the
project's PyTorch port of dlib's face ResNet. It measures how far the generated faces'
identity-feature distribution is from the real one; it is not FID and is never called so.

Both keep every image's features, so bootstrap() can resample them; the features' Gaussian
fits are unbiased (N - 1) covariances as in FID. With fewer images than feature dimensions
the covariance is singular: the distance is still defined but biased upwards; compare
models only at equal set sizes.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import torch

from .base import SetMetric, hub_weights_path, to_uint8
from .dlib_backbone import dlib_network_or_problem
from .frechet import frechet_distance_features

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch_fidelity URL_INCEPTION_V3's file
INCEPTION_ENV = "LEGAN_FID_INCEPTION_WEIGHTS"
ERR_FID = ("FID (Inception-v3 via torch-fidelity) needs: {problems}; install with `pip install torch-fidelity==0.4.0 "
           "torchvision` (a torchvision built for this torch) and place {file} in {folder} (or set ${env})")


def default_inception_path() -> Path:
    return hub_weights_path(INCEPTION_FILE, INCEPTION_ENV)


class _FrechetSetMetric(SetMetric):
    def _distance(self, real: np.ndarray, fake: np.ndarray) -> float:
        return frechet_distance_features(real, fake)


class FID(_FrechetSetMetric):
    name = "fid"
    display_name = "FID"

    def __init__(self, device="cpu", weights_path: str | os.PathLike | None = None) -> None:
        super().__init__(device)
        self.weights_path = Path(weights_path) if weights_path else default_inception_path()
        problems = [f"the '{m}' package is not importable" for m in ("torch_fidelity", "torchvision")
                    if importlib.util.find_spec(m) is None]
        if not self.weights_path.is_file():  # checked first: torch-fidelity would download
            problems.append(f"Inception weights not found at {self.weights_path}")
        if problems:
            self._mark_unavailable(ERR_FID.format(problems="; ".join(problems), file=INCEPTION_FILE,
                                                  folder=self.weights_path.parent, env=INCEPTION_ENV))
            return
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

            self._net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                    feature_extractor_weights_path=str(self.weights_path))
            self._net = self._net.to(self.device).eval()
        except Exception as exc:
            self._mark_unavailable(f"FID's Inception-v3 could not be loaded: {type(exc).__name__}: {exc}")

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self._net(to_uint8(x))[0].reshape(x.shape[0], -1)  # (B, 2048)


class FDDlib128(_FrechetSetMetric):
    name = "fd-dlib128"
    display_name = "FD-dlib128"

    def __init__(self, device="cpu") -> None:
        super().__init__(device)
        self._net, problem = dlib_network_or_problem(self.device)
        if problem:
            self._mark_unavailable(problem)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self._net(x)  # (B, 128)
