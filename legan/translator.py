"""Trained generators behind one interface, for evaluation and comparison.

    translator = load_translator("runs/.../checkpoints/checkpoint-00002000.pt", device)
    out = translator.translate(images, target_expression, target_lighting)   # (B, 3, S, S) in [-1, 1]

LEGAN and StarGAN checkpoints come from legan.train; StarGAN-v2 checkpoints (arch "stargan-v2")
are loaded by legan.stargan_v2, whose translator uses its EMA generator. `NoEditTranslator`
returns its input: the "no edit" row that tells whether a model beats doing nothing;
`MeanFaceTranslator` ignores its input and returns the training split's mean face of the
target condition: the row a generator that collapsed to one face per target would match.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol, Sequence

import torch

MSG_NOT_A_CHECKPOINT = "{path} is not a generator checkpoint of legan.train: {detail}"
MSG_NOT_FOUND = "checkpoint not found: {path}"


class TranslatorError(ValueError):
    """A checkpoint that cannot be used for translation."""


class Translator(Protocol):
    name: str
    expressions: Sequence[str]
    lightings: Sequence[str]
    image_size: int

    def translate(self, images: torch.Tensor, target_expression: torch.Tensor,
                  target_lighting: torch.Tensor) -> torch.Tensor: ...


@dataclass
class GeneratorTranslator:
    """A legan.train generator (LEGAN or StarGAN) in eval mode."""

    name: str
    generator: torch.nn.Module
    expressions: Sequence[str]
    lightings: Sequence[str]
    image_size: int
    arch: str
    device: torch.device

    @torch.no_grad()
    def translate(self, images, target_expression, target_lighting):
        out = self.generator(images.to(self.device), target_expression.to(self.device),
                             target_lighting.to(self.device))
        return out.image.float().cpu()


@dataclass
class NoEditTranslator:
    """Returns the input unchanged: the floor every editing model must clear."""

    expressions: Sequence[str]
    lightings: Sequence[str]
    image_size: int
    name: str = "no edit (input)"
    arch: str = "identity"

    def translate(self, images, target_expression, target_lighting):
        return images.float().cpu()


def checkpoint_arch(path: Path) -> tuple[str, dict]:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(payload, dict) or "config" not in payload:
        raise TranslatorError(MSG_NOT_A_CHECKPOINT.format(path=path, detail="no training config inside"))
    config = payload["config"]
    arch = (config.get("model") or {}).get("arch", "legan") if isinstance(config, dict) else None
    if arch is None:
        raise TranslatorError(MSG_NOT_A_CHECKPOINT.format(path=path, detail="no model architecture in its config"))
    return arch, payload


def load_translator(path: str | Path, device: str | torch.device = "cpu",
                    name: Optional[str] = None) -> Translator:
    path = Path(path)
    if not path.is_file():
        raise TranslatorError(MSG_NOT_FOUND.format(path=path))
    device = torch.device(device)
    arch, payload = checkpoint_arch(path)
    from legan.checkpoint import checked_contract

    try:
        checked_contract(payload, path)
    except (KeyError, ValueError) as exc:
        raise TranslatorError(MSG_NOT_A_CHECKPOINT.format(path=path, detail=exc)) from exc
    if arch == "stargan-v2":
        from legan.checkpoint import load_stargan_v2  # its own generator and EMA

        translator = load_stargan_v2(path, device)
        translator.name = name or arch
        return translator
    from legan.arch import build_generator
    from legan.config import TrainConfig

    try:
        config = TrainConfig.from_dict(payload["config"])
        G = build_generator(config.model, len(config.expressions), len(config.lightings))
        G.load_state_dict(payload["G"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise TranslatorError(MSG_NOT_A_CHECKPOINT.format(path=path, detail=exc)) from exc
    return GeneratorTranslator(name or arch, G.to(device).eval(), list(config.expressions),
                               list(config.lightings), config.image_size, arch, device)


class MeanFaceTranslator:
    """The mean training image of each (expression, lighting); combinations the training split
    lacks get the mean of the lighting's and the expression's means. Input-independent."""

    name = "mean face (train)"
    arch = "mean"

    def __init__(self, manifest: str | Path, expressions: Sequence[str], lightings: Sequence[str],
                 image_size: int) -> None:
        from legan.data.dataset import LeganDataset

        self.expressions, self.lightings, self.image_size = list(expressions), list(lightings), image_size
        data = LeganDataset(manifest, self.expressions, self.lightings, image_size=image_size)
        n_e, n_l = len(self.expressions), len(self.lightings)
        sums = torch.zeros(n_e, n_l, 3, image_size, image_size)
        counts = torch.zeros(n_e, n_l)
        for i in range(len(data)):
            item = data[i]
            sums[item["expression"], item["lighting"]] += item["image"]
            counts[item["expression"], item["lighting"]] += 1
        by_e = sums.sum(1) / counts.sum(1).clamp_min(1)[:, None, None, None]  # (n_e, 3, S, S)
        by_l = sums.sum(0) / counts.sum(0).clamp_min(1)[:, None, None, None]  # (n_l, 3, S, S)
        fallback = (by_e[:, None] + by_l[None]) / 2
        present = (counts > 0)[:, :, None, None, None]
        self.means = torch.where(present, sums / counts.clamp_min(1)[:, :, None, None, None], fallback)

    def translate(self, images, target_expression, target_lighting):
        return self.means[target_expression.cpu(), target_lighting.cpu()]
