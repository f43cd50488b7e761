"""The recognisers of the augmentation experiment, trained from scratch, and their metrics:
a small CNN for expression classification (ROC AUC per class, one vs rest) and the same CNN as
an identity classifier whose embedding is used for face verification (cosine similarity of
every test pair; ROC AUC and TPR at FPR 1%)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score, roc_curve
from torch import nn


@dataclass
class ClassifierConfig:
    width: int = 16
    embed_dim: int = 64
    epochs: int = 15
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3


def _stage(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1),
            nn.MaxPool2d(2)]


class SmallCNN(nn.Module):
    """Three conv stages (width, 2 width, 4 width), global average pool, an embedding layer,
    dropout and a linear classifier (LeakyReLU and dropout, as the paper's expression model)."""

    def __init__(self, n_classes: int, cfg: ClassifierConfig) -> None:
        super().__init__()
        w = cfg.width
        self.features = nn.Sequential(*_stage(3, w), *_stage(w, 2 * w), *_stage(2 * w, 4 * w),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                      nn.Linear(4 * w, cfg.embed_dim), nn.LeakyReLU(0.1))
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.embed_dim, n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (B, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, n_classes)


def train_classifier(images: torch.Tensor, labels: torch.Tensor, n_classes: int, cfg: ClassifierConfig,
                     seed: int, device: torch.device) -> SmallCNN:
    """Cross-entropy, Adam, a fixed number of epochs; initial weights and batch order from `seed`."""
    torch.manual_seed(seed)
    model = SmallCNN(n_classes, cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    order_rng = torch.Generator().manual_seed(seed)
    n = len(images)
    model.train()
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=order_rng)
        for start in range(0, n, cfg.batch_size):
            idx = perm[start:start + cfg.batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(images[idx].to(device)), labels[idx].to(device))
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def _batched(fn, images: torch.Tensor, device: torch.device, batch: int = 256) -> torch.Tensor:
    return torch.cat([fn(images[i:i + batch].to(device)).float().cpu() for i in range(0, len(images), batch)])


def expression_auc(model: SmallCNN, images: torch.Tensor, labels: torch.Tensor, class_names: list[str],
                   device: torch.device) -> dict[str, float]:
    """ROC AUC per class (one vs rest on softmax probabilities) and their mean; NaN for a class
    the test set has no positive (or no negative) of, left out of the mean."""
    probs = _batched(lambda x: model(x).softmax(1), images, device).numpy()
    y = labels.numpy()
    out = {}
    for k, name in enumerate(class_names):
        positives = y == k
        out[name] = float(roc_auc_score(positives, probs[:, k])) if 0 < positives.sum() < len(y) else math.nan
    valid = [v for v in out.values() if not math.isnan(v)]
    out["mean"] = float(np.mean(valid)) if valid else math.nan
    return out


def tpr_at_fpr(genuine: np.ndarray, impostor: np.ndarray, fpr_target: float = 0.01) -> float:
    """Highest true positive rate whose false positive rate is at most `fpr_target`."""
    y = np.r_[np.ones(len(genuine)), np.zeros(len(impostor))]
    fpr, tpr, _ = roc_curve(y, np.r_[genuine, impostor])
    return float(tpr[fpr <= fpr_target].max())


def verification_scores(model: SmallCNN, images: torch.Tensor, subjects: list[str],
                        device: torch.device) -> dict[str, float]:
    """Every unordered pair of test images: cosine similarity of the embeddings, genuine when
    both show the same subject. ROC AUC and TPR at FPR 1%."""
    emb = F.normalize(_batched(model.embed, images, device), dim=1)
    sim = (emb @ emb.T).numpy()
    ids = np.array(subjects)
    iu = np.triu_indices(len(ids), k=1)
    same = (ids[:, None] == ids[None, :])[iu]
    scores = sim[iu]
    genuine, impostor = scores[same], scores[~same]
    auc = float(roc_auc_score(same, scores))
    return {"roc_auc": auc, "tpr_at_fpr_1pct": tpr_at_fpr(genuine, impostor, 0.01),
            "genuine_pairs": int(same.sum()), "impostor_pairs": int((~same).sum())}
