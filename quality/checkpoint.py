"""Reading Q checkpoints (model, optimizer, scheduler, grad scaler, step, configs, RNG states and
the input contract). Names, atomic saves and RNG capture are runkit.checkpoints'."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from quality.model import QualityConfig, QualityNet
from runkit.contract import ContractError, InputContract

CHECKPOINT_NOT_FOUND = "Checkpoint {path} does not exist"
CHECKPOINT_INVALID = "{path} is not a quality-model checkpoint ({reason})"


class CheckpointError(ValueError):
    pass


def quality_contract(model_config: QualityConfig) -> InputContract:
    """What Q reads: aligned, landmark-hull-masked RGB faces at its image size in [-1, 1]. Also
    the default for checkpoints written before contracts were saved."""
    return InputContract(size=model_config.image_size, mask="hull")


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(CHECKPOINT_NOT_FOUND.format(path=path))
    try:
        # RNG states hold numpy objects, so this is a full (trusted-file) unpickle.
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise CheckpointError(CHECKPOINT_INVALID.format(path=path, reason=f"{type(err).__name__}: {err}")) from None
    if not isinstance(payload, dict) or "model" not in payload or "model_config" not in payload:
        raise CheckpointError(CHECKPOINT_INVALID.format(path=path, reason="missing model or model_config"))
    return payload


def load_quality_model(path: str | os.PathLike, map_location="cpu") -> QualityNet:
    """Rebuild Q from a checkpoint, in eval mode, with its checked `input_contract` attached."""
    payload = load_checkpoint(path, map_location)
    model = QualityNet(QualityConfig(**payload["model_config"]))
    expected = quality_contract(model.config)
    try:
        model.input_contract = InputContract.from_checkpoint(payload, expected, str(path)).require(expected, str(path))
    except ContractError as err:
        raise CheckpointError(CHECKPOINT_INVALID.format(path=path, reason=err)) from None
    model.load_state_dict(payload["model"])
    return model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu").eval()
