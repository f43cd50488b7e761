"""Attribute accuracy (beyond the paper): did the output show the target expression and lighting?

A small CNN with an expression head and a lighting head, trained only on real images of the
training split (a manifest read through legan.data.dataset.LeganDataset), judges each
generated image. Its own accuracy on the real images of the held-out test split is stored in
its checkpoint (with the majority-class rate, i.e. what guessing achieves), so a table can say
how far to trust it: a classifier that is right on 60% of real test faces cannot certify 90%.

No horizontal flips in training: they would swap left and right lighting.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from runkit.checkpoints import save_checkpoint

from .base import Metric, check_images

CHECKPOINT_KIND = "legan-attribute-classifier"
HEADS = ("expression", "lighting")
ERR_OVERLAP = ("attribute classifier: the test manifest shares subject(s) {subjects} with the training manifest; "
               "the classifier must never see a test subject")
ERR_NOT_CLASSIFIER = "{path} is not an attribute-classifier checkpoint (kind {kind!r})"
ERR_NO_CHECKPOINT = ("no attribute classifier: train one with legan.metrics.train_attribute_classifier(...) "
                     "and pass checkpoint=PATH")
ERR_LOAD = "the attribute classifier could not be loaded from {path}: {detail}"
ERR_TARGETS = "attributes: target_{head} must hold one class index per image ({n}), got shape {shape}"
ERR_CLASS_RANGE = "attributes: target_{head} indices must be in [0, {count}), got {low}..{high}"
ERR_EMPTY = "attribute classifier: manifest {path} has no rows"


@dataclass
class AttributeCNNConfig:
    image_size: int = 32
    n_expressions: int = 1
    n_lightings: int = 1
    channels: int = 32
    pooled: int = 4  # the last map is pooled to pooled x pooled, not to 1x1: lighting is *where* the light is


class AttributeCNN(nn.Module):
    """forward(x: (B, 3, S, S) in [-1, 1], any S) -> (expression logits (B, E), lighting logits (B, L))."""

    def __init__(self, config: AttributeCNNConfig):
        super().__init__()
        self.config = config
        c = config.channels
        widths = (c, 2 * c, 4 * c)
        layers, in_ch = [], 3
        for width in widths:
            layers += [nn.Conv2d(in_ch, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            in_ch = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(config.pooled))
        self.trunk = nn.Sequential(nn.Flatten(), nn.Dropout(0.3),
                                   nn.Linear(in_ch * config.pooled ** 2, 128), nn.ReLU(inplace=True))
        self.expression_head = nn.Linear(128, config.n_expressions)
        self.lighting_head = nn.Linear(128, config.n_lightings)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.config.image_size
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)
        h = self.trunk(self.features(x))  # (B, 128)
        return self.expression_head(h), self.lighting_head(h)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _load_split(manifest, expressions, lightings, image_size) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, set]:
    """All images of a manifest as tensors: (N, 3, S, S), (N,), (N,), subjects."""
    from legan.data.dataset import LeganDataset

    dataset = LeganDataset(manifest, expressions, lightings, image_size=image_size)
    if len(dataset) == 0:
        raise ValueError(ERR_EMPTY.format(path=manifest))
    items = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([item["image"] for item in items])
    expression = torch.tensor([item["expression"] for item in items])
    lighting = torch.tensor([item["lighting"] for item in items])
    return images, expression, lighting, {item["subject"] for item in items}


@torch.no_grad()
def _accuracy(model: AttributeCNN, images, expression, lighting, device, batch: int = 256) -> dict:
    model.eval()
    hits = {"expression": [], "lighting": []}
    for start in range(0, len(images), batch):
        e_logits, l_logits = model(images[start:start + batch].to(device))
        hits["expression"].append((e_logits.argmax(1).cpu() == expression[start:start + batch]))
        hits["lighting"].append((l_logits.argmax(1).cpu() == lighting[start:start + batch]))
    result = {"n": int(len(images))}
    for head, labels in (("expression", expression), ("lighting", lighting)):
        result[f"{head}_accuracy"] = float(torch.cat(hits[head]).float().mean())
        result[f"{head}_majority"] = float(np.bincount(labels.numpy()).max() / len(labels))  # guessing the commonest class
    return result


def train_attribute_classifier(manifest: str | os.PathLike, expressions: Sequence[str], lightings: Sequence[str],
                               image_size: int = 32, out_path: str | os.PathLike = "attribute_classifier.pt",
                               iterations: int = 400, seed: int = 0, device: str | torch.device = "cpu",
                               test_manifest: str | os.PathLike | None = None, batch_size: int = 64,
                               lr: float = 2e-3, channels: int = 32) -> Path:
    """Train the attribute CNN on the real images of `manifest` (the training split) and save it.

    With `test_manifest` (the held-out split; no subject may appear in both) its accuracy on
    those real images is measured and stored in the checkpoint as `test_accuracy`.
    Returns out_path.
    """
    device = torch.device(device)
    started = time.time()
    images, expression, lighting, train_subjects = _load_split(manifest, expressions, lightings, image_size)
    test = None
    if test_manifest is not None:
        test = _load_split(test_manifest, expressions, lightings, image_size)
        overlap = sorted(train_subjects & test[3])
        if overlap:
            raise ValueError(ERR_OVERLAP.format(subjects=", ".join(overlap[:10])))

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    config = AttributeCNNConfig(image_size=image_size, n_expressions=len(expressions), n_lightings=len(lightings),
                                channels=channels)
    model = AttributeCNN(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(iterations, 1))
    model.train()
    for _ in range(iterations):
        index = torch.randint(0, len(images), (min(batch_size, len(images)),), generator=generator)
        x = images[index]
        # small random shifts (no flips): robustness to the generator's framing
        shift = torch.randint(-2, 3, (2,), generator=generator).tolist()
        x = torch.roll(x, shifts=shift, dims=(2, 3)).to(device)
        e_logits, l_logits = model(x)
        loss = F.cross_entropy(e_logits, expression[index].to(device)) + F.cross_entropy(l_logits, lighting[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()

    payload = {
        "kind": CHECKPOINT_KIND,
        "model": {k: v.cpu() for k, v in model.state_dict().items()},
        "config": asdict(config),
        "expressions": list(expressions),
        "lightings": list(lightings),
        "train_manifest": str(manifest),
        "train_manifest_sha256": _file_sha256(Path(manifest)),
        "train_subjects": sorted(train_subjects),
        "iterations": iterations,
        "seed": seed,
        "train_accuracy": _accuracy(model, images, expression, lighting, device),
        "test_manifest": str(test_manifest) if test_manifest is not None else None,
        "test_accuracy": _accuracy(model, *test[:3], device) if test is not None else None,
        "train_seconds": round(time.time() - started, 1),
    }
    return save_checkpoint(out_path, payload)  # atomic: never half a classifier


def load_attribute_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[AttributeCNN, dict]:
    """(model in eval mode on device, the checkpoint's metadata without the weights)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("kind") != CHECKPOINT_KIND:
        kind = payload.get("kind") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(ERR_NOT_CLASSIFIER.format(path=path, kind=kind))
    model = AttributeCNN(AttributeCNNConfig(**payload["config"]))
    model.load_state_dict(payload["model"])
    meta = {k: v for k, v in payload.items() if k != "model"}
    return model.to(device).eval().requires_grad_(False), meta


def evaluate_attribute_classifier(path: str | os.PathLike, manifest: str | os.PathLike,
                                  device: str | torch.device = "cpu") -> dict:
    """Accuracy of a saved classifier on the real images of a manifest (and the majority-class rates)."""
    model, meta = load_attribute_classifier(path, device)
    images, expression, lighting, _ = _load_split(manifest, meta["expressions"], meta["lightings"],
                                                  meta["config"]["image_size"])
    return _accuracy(model, images, expression, lighting, torch.device(device))


class AttributeAccuracy(Metric):
    """update(output, target_expression, target_lighting): per image, 1 when the classifier's
    prediction equals the target class, else 0. Target indices follow the checkpoint's
    `expressions` / `lightings` order (exposed on the metric). values() -> {"expression": (N,),
    "lighting": (N,)}; `test_accuracy` is the classifier's own accuracy on real held-out faces."""

    name = "attributes"
    display_name = "attribute accuracy (attribute CNN)"
    display_names = {"expression": "expression accuracy (attribute CNN)",
                     "lighting": "lighting accuracy (attribute CNN)"}
    higher_is_better = True
    kind = "pair"

    def __init__(self, device="cpu", checkpoint: str | os.PathLike | None = None) -> None:
        super().__init__(device)
        self._values = {head: [] for head in HEADS}
        self.expressions: list[str] = []
        self.lightings: list[str] = []
        self.test_accuracy: dict | None = None
        if checkpoint is None:
            self._mark_unavailable(ERR_NO_CHECKPOINT)
            return
        if not Path(checkpoint).is_file():
            self._mark_unavailable(ERR_LOAD.format(path=checkpoint, detail="file not found"))
            return
        try:
            self._model, meta = load_attribute_classifier(checkpoint, self.device)
        except Exception as exc:
            self._mark_unavailable(ERR_LOAD.format(path=checkpoint, detail=exc))
            return
        self.expressions, self.lightings = meta["expressions"], meta["lightings"]
        self.test_accuracy = meta.get("test_accuracy")
        self.meta = meta

    def _targets(self, head: str, value, n: int, count: int) -> torch.Tensor:
        t = torch.as_tensor(value).reshape(-1).long()
        if t.shape[0] != n:
            raise ValueError(ERR_TARGETS.format(head=head, n=n, shape=tuple(t.shape)))
        if n and (int(t.min()) < 0 or int(t.max()) >= count):
            raise ValueError(ERR_CLASS_RANGE.format(head=head, count=count, low=int(t.min()), high=int(t.max())))
        return t

    @torch.no_grad()
    def update(self, output: torch.Tensor, target_expression, target_lighting) -> None:
        self._require_available()
        x = check_images(self.display_name, output).to(self.device)
        n = x.shape[0]
        targets = {"expression": self._targets("expression", target_expression, n, len(self.expressions)),
                   "lighting": self._targets("lighting", target_lighting, n, len(self.lightings))}
        logits = dict(zip(HEADS, self._model(x)))
        for head in HEADS:
            self._values[head].append((logits[head].argmax(1).cpu() == targets[head]).double().numpy())

    def values(self) -> dict[str, np.ndarray]:
        self._require_available()
        return {head: np.concatenate(v) if v else np.zeros(0) for head, v in self._values.items()}

    def compute(self) -> dict[str, float]:
        return {head: float(v.mean()) if v.size else float("nan") for head, v in self.values().items()}

    def reset(self) -> None:
        self._values = {head: [] for head in HEADS}

