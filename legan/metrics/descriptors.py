"""Face descriptors for the match score: the paper's ResNet-50 (VGGFace2) 'avg_pool' features
when the user has the weights, else dlib's 128-d descriptor through the PyTorch port.

"auto" picks resnet50 when a weights path is given or $FACES_RESNET50_WEIGHTS is set (as
faces.features does); a configured but unusable file makes the metric unavailable, it does
not quietly switch to dlib.

Images are the aligned LEGAN crops; neither backend detects or re-aligns. ResNet-50 gets
the crop resized to 224x224, BGR, minus the VGGFace2 channel means (faces.features'
ResNet50FeatureConfig), without the VGGFace2 protocol's 1.3x box enlargement: the crop is
what LEGAN generates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .dlib_backbone import dlib_network_or_problem

BACKENDS = ("auto", "resnet50", "dlib")
BACKEND_LABELS = {"resnet50": "ResNet50-VGGFace2", "dlib": "dlib128"}
ERR_BACKEND = "unknown descriptor backend {name!r}; choose one of " + ", ".join(BACKENDS)


@dataclass
class DescriptorBackend:
    name: str  # "resnet50" or "dlib"
    extract: Callable[[torch.Tensor], torch.Tensor] | None  # (B, 3, H, W) [-1, 1] -> (B, D)
    problem: str = ""  # why extract is None

    @property
    def label(self) -> str:
        return BACKEND_LABELS[self.name]


def resolve_backend(backend: str, weights_path: str | None) -> str:
    if backend not in BACKENDS:
        raise ValueError(ERR_BACKEND.format(name=backend))
    if backend == "auto":
        from faces.features import resnet50_weights

        return "resnet50" if resnet50_weights(weights_path) else "dlib"
    return backend


def _resnet50_extractor(device: torch.device, weights_path: str | None):
    from faces.errors import BackendUnavailableError
    from faces.features import MSG_NO_WEIGHTS, ResNet50FeatureConfig, load_resnet50, resnet50_weights

    path = resnet50_weights(weights_path)
    if not path:
        return None, MSG_NO_WEIGHTS
    config = ResNet50FeatureConfig(weights_path=path)
    try:
        model = load_resnet50(path, config.stride_in_1x1, str(device))
    except BackendUnavailableError as exc:
        return None, str(exc)
    mean = torch.tensor(config.mean, device=device).view(1, 3, 1, 1)
    bgr = config.channel_order.upper() == "BGR"
    size = config.input_size

    def extract(x: torch.Tensor) -> torch.Tensor:
        x = (x + 1.0) * 127.5  # (B, 3, H, W) RGB 0..255
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > size)
        if bgr:
            x = x.flip(1)
        out = model(x - mean)
        if isinstance(out, (tuple, list)):  # TorchScript models may return (features, logits)
            out = out[0]
        return out.reshape(x.shape[0], -1)  # (B, 2048)

    return extract, ""


def descriptor_backend(device: torch.device, backend: str = "auto", weights_path: str | None = None) -> DescriptorBackend:
    name = resolve_backend(backend, weights_path)
    if name == "resnet50":
        extract, problem = _resnet50_extractor(device, weights_path)
        return DescriptorBackend(name, extract, problem)
    net, problem = dlib_network_or_problem(device)
    return DescriptorBackend(name, net, problem)


def pearson_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each row of a with the same row of b: (B, D) x (B, D) -> (B,)."""
    a = a.double() - a.double().mean(dim=1, keepdim=True)
    b = b.double() - b.double().mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
