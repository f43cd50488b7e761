"""Evaluation metrics for LEGAN generators, registered by name (one file per metric).

Images are float tensors (B, 3, H, W) in [-1, 1], RGB, square, any size; every metric
resizes to its own network's input where it has one and streams on the device it is built
for. Pair metrics (update(output, target), values() -> (N,) per pair) and set metrics
(update_real/update_fake, compute(), bootstrap()) are described in base.py.

    name          display name                          kind  backend
    ssim          SSIM                                  pair  pytorch-msssim, 11x11 Gaussian, sigma 1.5
    lpips         LPIPS                                 pair  lpips package, AlexNet (user's weights)
    lpips-proxy   LPIPS-proxy                           pair  dlib-port intermediate levels, no learned weights
    match         match (<backend>, Pearson)            pair  ResNet50-VGGFace2 ($FACES_RESNET50_WEIGHTS) or dlib128
    verified      verified (<backend>, <rule>)          pair  same-person rule of that backend
    quality       quality (Q)                           pair  trained quality model (output only)
    attributes    expression / lighting accuracy        pair  attribute CNN trained on real train-split images
    fid           FID                                   set   Inception-v3 via torch-fidelity (user's weights)
    fd-dlib128    FD-dlib128                            set   Fréchet distance of dlib-port 128-d descriptors

A metric whose library or weights are missing is built anyway with available=False and
unavailable_reason naming what to install and where to put which file; asking it for a
number raises MetricUnavailableError. build_preferred() picks the first available metric of a
kind (fid -> fd-dlib128, lpips -> lpips-proxy) and returns the skipped ones so a table can
say why it shows the proxy.
"""

from __future__ import annotations

import torch

from .attributes import AttributeAccuracy, evaluate_attribute_classifier, train_attribute_classifier
from .base import Metric, MetricUnavailableError, PairMetric, SetMetric
from .bootstrap import bootstrap_interval, bootstrap_means, percentile_interval
from .fid import FID, FDDlib128
from .frechet import frechet_distance, frechet_distance_features
from .lpips import LPIPS, LPIPSProxy
from .match import MatchScore, Verified
from .quality import QualityScore
from .ssim import SSIM

METRICS: dict[str, type[Metric]] = {
    cls.name: cls
    for cls in (SSIM, LPIPS, LPIPSProxy, MatchScore, Verified, QualityScore, AttributeAccuracy, FID, FDDlib128)
}
# For a table column: the real metric first, then its honestly named offline stand-in.
PREFERENCES: dict[str, tuple[str, ...]] = {
    "fid": ("fid", "fd-dlib128"),
    "lpips": ("lpips", "lpips-proxy"),
}

ERR_UNKNOWN = "unknown metric {name!r}; choose one of: {choices}"
ERR_OPTIONS = "metric {name!r} does not take these options: {detail}"


def available_metrics() -> list[str]:
    """Every registered metric name (whether its weights are present is known once it is built)."""
    return sorted(METRICS)


def build_metric(name: str, device: str | torch.device = "cpu", **options) -> Metric:
    """A fresh metric by registry name; options go to its constructor (e.g. checkpoint=, backend=)."""
    if name not in METRICS:
        raise ValueError(ERR_UNKNOWN.format(name=name, choices=", ".join(available_metrics())))
    try:
        return METRICS[name](device, **options)
    except TypeError as exc:  # an option this metric does not have
        raise ValueError(ERR_OPTIONS.format(name=name, detail=exc)) from exc


def build_preferred(kind: str, device: str | torch.device = "cpu", **options) -> tuple[Metric, list[Metric]]:
    """(the first available metric in PREFERENCES[kind], the unavailable ones skipped before it).

    Options are passed to the metric they belong to, as {metric name: {option: value}}; the
    last candidate is returned even when unavailable, so the caller always learns why."""
    names = PREFERENCES.get(kind, (kind,))
    skipped: list[Metric] = []
    for name in names:
        metric = build_metric(name, device, **options.get(name, {}))
        if metric.available or name == names[-1]:
            return metric, skipped
        skipped.append(metric)
    raise AssertionError("unreachable")


__all__ = [
    "FID", "LPIPS", "METRICS", "PREFERENCES", "SSIM", "AttributeAccuracy", "FDDlib128", "LPIPSProxy", "MatchScore",
    "Metric", "MetricUnavailableError", "PairMetric", "QualityScore", "SetMetric", "Verified", "available_metrics",
    "bootstrap_interval", "bootstrap_means", "build_metric", "build_preferred", "evaluate_attribute_classifier",
    "frechet_distance", "frechet_distance_features", "percentile_interval", "train_attribute_classifier",
]
