"""Checkpoints: model, optimizer, scheduler, grad scaler, step, configs and RNG states."""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from quality.model import QualityConfig, QualityNet

CHECKPOINT_DIR = "checkpoints"
_CKPT_NAME = re.compile(r"^ckpt-(\d+)\.pt$")

CHECKPOINT_NOT_FOUND = "Checkpoint {path} does not exist"
CHECKPOINT_INVALID = "{path} is not a quality-model checkpoint ({reason})"
CUDA_RNG_PARTIAL = ("the checkpoint holds CUDA RNG states for {saved} device(s), this process sees {seen}: "
                    "restored devices {restored}, not restored {skipped}")

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    pass


def capture_rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    restore_cuda_rng_state(state.get("cuda"))


def restore_cuda_rng_state(saved: list | None) -> str | None:
    """Restore the per-device CUDA RNG states that have a device here (a run may resume on
    another number of GPUs, or on the CPU after a GPU); log and return what was not restored
    instead of failing as torch.cuda.set_rng_state_all would."""
    saved = list(saved or [])
    seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
    matched = min(len(saved), seen)
    for index in range(matched):
        torch.cuda.set_rng_state(saved[index], device=index)
    if len(saved) == seen:
        return None
    message = CUDA_RNG_PARTIAL.format(saved=len(saved), seen=seen, restored=list(range(matched)) or "none",
                                      skipped=list(range(matched, len(saved))) or "none")
    (log.warning if matched < len(saved) else log.info)(message)
    return message


def checkpoint_path(run_dir: str | os.PathLike, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"ckpt-{step:07d}.pt"


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind
    return path


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT_NAME.match(p.name))]
    return max(found)[1] if found else None


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
    """Rebuild Q from a checkpoint (ckpt-*.pt or final.pt); returned in eval mode."""
    payload = load_checkpoint(path, map_location)
    model = QualityNet(QualityConfig(**payload["model_config"]))
    model.load_state_dict(payload["model"])
    return model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu").eval()
