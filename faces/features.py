"""Face descriptors for the naturalness SVM (and identity checks).

Backends:
  "resnet50" - the paper's features: 'avg_pool' (2048-d) of a ResNet-50
               trained on VGGFace2. Weights are the user's file, named by
               `weights_path` or $FACES_RESNET50_WEIGHTS: a TorchScript module
               returning (B, 2048), a torch state_dict with torchvision-style
               names (optionally under "state_dict", "module." prefixes ok), or
               the VGGFace2-pytorch pickle of numpy arrays (*.pkl; pickle can
               run code: only load files you trust).
  "dlib"     - dlib's 128-d face descriptor (face_recognition_model_v1), from
               the 68-point shape; weights ship with face-recognition-models
               (offline default). Same person: euclidean distance < 0.6.
  "auto"     - "resnet50" when a weights path is configured, else "dlib".
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from .errors import BackendUnavailableError
from .landmarks import default_device, dlib_model_path, package_version
from .resnet50 import FEATURE_DIM, ResNet50Config, ResNet50
from .types import FaceResult, FeatureResult

RESNET50_WEIGHTS_ENV = "FACES_RESNET50_WEIGHTS"
DLIB_DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SAME_PERSON_DISTANCE = 0.6

MSG_UNKNOWN_BACKEND = "unknown feature backend {name!r}; choose 'auto', 'resnet50' or 'dlib'"
MSG_NO_WEIGHTS = "the resnet50 feature backend needs a weights file: pass weights_path or set $" + RESNET50_WEIGHTS_ENV
MSG_WEIGHTS_MISSING = "ResNet-50 weights file not found: {path}"
MSG_WEIGHTS_BAD = "could not load ResNet-50 weights from {path}: {detail}"


class FeatureExtractor(Protocol):
    name: str
    version: str
    dim: int

    def extract(self, image_rgb: np.ndarray, face: FaceResult) -> FeatureResult: ...


# ------------------------------------------------------------------------ dlib
@lru_cache(maxsize=1)
def _dlib_descriptor_model():
    import dlib

    return dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_DESCRIPTOR_FILE)))


class DlibDescriptor:
    """dlib's ResNet-34-like 128-d face descriptor."""

    name = "dlib"
    dim = 128

    def __init__(self, num_jitters: int = 0) -> None:
        import dlib

        self._model = _dlib_descriptor_model()
        self.num_jitters = num_jitters
        self.version = (
            f"dlib-{dlib.__version__}/{DLIB_DESCRIPTOR_FILE}"
            f"@face_recognition_models-{package_version('face_recognition_models')}"
        )

    def extract(self, image_rgb: np.ndarray, face: FaceResult) -> FeatureResult:
        import dlib

        x0, y0, x1, y1 = (int(round(v)) for v in face.bbox)
        points = [dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks]
        shape = dlib.full_object_detection(dlib.rectangle(x0, y0, x1, y1), points)
        image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
        vector = np.asarray(self._model.compute_face_descriptor(image, shape, self.num_jitters), np.float32)
        return FeatureResult(vector=vector, backend=self.name, backend_version=self.version)


# -------------------------------------------------------------------- resnet50
@dataclass
class ResNet50FeatureConfig:
    weights_path: str | None = None  # default: $FACES_RESNET50_WEIGHTS
    stride_in_1x1: bool = True  # Caffe/VGGFace2 conversions; False for torchvision-style
    input_size: int = 224
    channel_order: str = "BGR"  # VGGFace2-pytorch feeds BGR
    mean: tuple[float, float, float] = (91.4953, 103.8827, 131.0912)  # in channel_order
    box_expand: float = 1.3  # VGGFace2 protocol: face box enlarged by 30%
    device: str | None = None


def load_resnet50(path: str | os.PathLike, stride_in_1x1: bool = True, map_location: str = "cpu") -> torch.nn.Module:
    """Load a user's ResNet-50 (TorchScript, state_dict or VGGFace2 .pkl) in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise BackendUnavailableError(MSG_WEIGHTS_MISSING.format(path=path))
    try:
        if path.suffix == ".pkl":
            with open(path, "rb") as handle:
                raw = pickle.load(handle, encoding="latin1")
            state = {k: torch.as_tensor(np.asarray(v)) for k, v in raw.items()}
        elif path.suffix == ".pt2":  # torch.export archive of a features model
            return torch.export.load(str(path)).module().to(map_location)
        elif _is_torchscript(path):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return torch.jit.load(str(path), map_location=map_location).eval()
        else:
            state = torch.load(str(path), map_location=map_location, weights_only=True)
        state = _unwrap_state_dict(state)
        num_classes = int(state["fc.weight"].shape[0]) if "fc.weight" in state else 0
        model = ResNet50(ResNet50Config(num_classes=num_classes, stride_in_1x1=stride_in_1x1))
        model.load_state_dict(state, strict=True)
    except BackendUnavailableError:
        raise
    except Exception as error:  # any format/key/shape problem -> one clear message
        raise BackendUnavailableError(MSG_WEIGHTS_BAD.format(path=path, detail=error)) from error
    return model.to(map_location).eval()


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives hold compiled code; plain torch.save zips do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/", 1)[-1].startswith("code/") for name in archive.namelist())


def _unwrap_state_dict(state):
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TypeError(f"expected a state_dict, got {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items() if not k.endswith("num_batches_tracked")}


@lru_cache(maxsize=2)
def _cached_resnet50(path: str, stride_in_1x1: bool, device: str) -> torch.nn.Module:
    return load_resnet50(path, stride_in_1x1, device)


def square_face_crop(image_rgb: np.ndarray, bbox, expand: float, size: int) -> np.ndarray:
    """Square crop of side expand*max(box w, h) around the box centre, resized
    to (size, size); regions beyond the image are filled by edge replication."""
    x0, y0, x1, y1 = bbox
    side = expand * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    scale = size / side
    matrix = np.array([[scale, 0.0, size / 2.0 - scale * cx], [0.0, scale, size / 2.0 - scale * cy]])
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if scale < 1:  # area-average first, then place
        small = cv2.resize(image_rgb, None, fx=scale, fy=scale, interpolation=interp)
        matrix = np.array([[1.0, 0.0, size / 2.0 - scale * cx], [0.0, 1.0, size / 2.0 - scale * cy]])
        return cv2.warpAffine(small, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.warpAffine(image_rgb, matrix, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def resnet50_weights(weights_path: str | os.PathLike | None = None) -> str | None:
    """The ResNet-50 weights file: the one given, else $FACES_RESNET50_WEIGHTS, else None."""
    return (str(weights_path) if weights_path else None) or os.environ.get(RESNET50_WEIGHTS_ENV) or None


class ResNet50Features:
    """'avg_pool' 2048-d features of a VGGFace2 ResNet-50 from the user's file."""

    name = "resnet50"
    dim = FEATURE_DIM

    def __init__(self, config: ResNet50FeatureConfig | None = None) -> None:
        self.config = config or ResNet50FeatureConfig()
        path = resnet50_weights(self.config.weights_path)
        if not path:
            raise BackendUnavailableError(MSG_NO_WEIGHTS)
        self.device = self.config.device or default_device()
        self.model = _cached_resnet50(str(path), self.config.stride_in_1x1, self.device)
        self.version = f"resnet50/{Path(path).name}@sha256:{_file_digest(str(path))}"

    def preprocess(self, crops: list[np.ndarray]) -> torch.Tensor:
        batch = np.stack(crops).astype(np.float32)  # (B, S, S, 3) RGB
        if self.config.channel_order.upper() == "BGR":
            batch = batch[..., ::-1]
        batch = batch - np.asarray(self.config.mean, np.float32)
        return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).to(self.device)  # (B, 3, S, S)

    @torch.no_grad()
    def extract_many(self, images_rgb: list[np.ndarray], faces: list[FaceResult]) -> np.ndarray:
        crops = [
            square_face_crop(image, face.bbox, self.config.box_expand, self.config.input_size)
            for image, face in zip(images_rgb, faces)
        ]
        out = self.model(self.preprocess(crops))
        if isinstance(out, (tuple, list)):  # TorchScript models may return (features, logits)
            out = out[0]
        return out.reshape(len(crops), -1).float().cpu().numpy()  # (B, 2048)

    def extract(self, image_rgb: np.ndarray, face: FaceResult) -> FeatureResult:
        vector = self.extract_many([image_rgb], [face])[0]
        return FeatureResult(vector=vector.astype(np.float32), backend=self.name, backend_version=self.version)


@lru_cache(maxsize=4)
def _file_digest(path: str) -> str:
    """Short content hash of a weights file, recorded with every result."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------- factory
def get_feature_extractor(name: str = "auto", weights_path: str | None = None) -> FeatureExtractor:
    if name == "auto":
        name = "resnet50" if resnet50_weights(weights_path) else "dlib"
    if name == "resnet50":
        return ResNet50Features(ResNet50FeatureConfig(weights_path=weights_path))
    if name == "dlib":
        return DlibDescriptor()
    raise ValueError(MSG_UNKNOWN_BACKEND.format(name=name))
