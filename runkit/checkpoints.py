"""Checkpoint files of a run: one naming scheme, atomic saves, pruning, and the RNG states a
checkpoint must hold so that a resumed run draws exactly what the uninterrupted one would have.

New checkpoints are named checkpoints/checkpoint-NNNNNNNN.pt (the step, 8 digits). Folders
written before the run kit existed hold ckpt-NNNNNNN.pt (quality) or step_NNNNNNN.pt (the
colouriser); they are still found, so old runs resume.
"""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Optional

import numpy as np
import torch

CHECKPOINT_NAME = re.compile(r"^(?:checkpoint-|ckpt-|step_)(\d+)\.pt$")
MSG_NO_CHECKPOINT = "no checkpoint (checkpoint-*.pt) found in {path}"


def checkpoint_path(directory: str | os.PathLike, step: int) -> Path:
    return Path(directory) / f"checkpoint-{step:08d}.pt"


def checkpoint_step(path: str | os.PathLike) -> int:
    match = CHECKPOINT_NAME.match(Path(path).name)
    if match is None:
        raise ValueError(f"{path} is not named like a checkpoint (checkpoint-NNNNNNNN.pt)")
    return int(match.group(1))


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """The folder's checkpoints, oldest step first."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if CHECKPOINT_NAME.match(p.name)]
    return sorted(found, key=lambda p: (checkpoint_step(p), p.name))


def latest_checkpoint(directory: str | os.PathLike) -> Optional[Path]:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def require_latest_checkpoint(directory: str | os.PathLike) -> Path:
    path = latest_checkpoint(directory)
    if path is None:
        raise FileNotFoundError(MSG_NO_CHECKPOINT.format(path=directory))
    return path


def save_checkpoint(path: str | os.PathLike, payload: dict, keep: int = 0) -> Path:
    """Write atomically (tmp + rename, never half a checkpoint) and keep only the newest `keep`
    checkpoints of the folder (0: all)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    if keep > 0:
        for old in list_checkpoints(path.parent)[:-keep]:
            old.unlink(missing_ok=True)
    return path


def capture_rng(extra: Optional[torch.Generator] = None) -> dict:
    """Python, numpy, torch (and CUDA) global RNG states, plus an optional explicit generator."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if extra is not None:
        state["targets"] = extra.get_state()
    return state


def restore_rng(state: dict, extra: Optional[torch.Generator] = None) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    restore_cuda_rng(state.get("cuda"))
    if extra is not None and "targets" in state:
        extra.set_state(state["targets"])


MSG_CUDA_RNG_PARTIAL = ("the checkpoint holds CUDA RNG states for {saved} device(s), this process sees {seen}: "
                        "restored devices {restored}, not restored {skipped}; random draws on those devices "
                        "will differ from the uninterrupted run")
log = logging.getLogger(__name__)


def restore_cuda_rng(saved: Optional[list]) -> Optional[str]:
    """Restore the saved per-device CUDA RNG states onto the devices this process sees.

    A run may resume on another number of GPUs, or on the CPU after a GPU: the states that
    have a device (0 .. min(saved, seen) - 1) are restored, the rest are reported (logged and
    returned) instead of failing as torch.cuda.set_rng_state_all would.
    """
    saved = list(saved or [])
    seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
    matched = min(len(saved), seen)
    for index in range(matched):
        torch.cuda.set_rng_state(saved[index], device=index)
    if len(saved) == seen:
        return None
    message = MSG_CUDA_RNG_PARTIAL.format(saved=len(saved), seen=seen,
                                          restored=list(range(matched)) or "none",
                                          skipped=list(range(matched, len(saved))) or "none")
    if matched < len(saved):  # fewer devices now: some saved streams are lost
        log.warning(message)
    else:  # more devices now: the extra ones keep their fresh seeds
        log.info(message)
    return message


MSG_RUN_DIR_USED = "{path} already holds checkpoints: resume it (--resume) or train into a new folder"


def refuse_used_run_dir(run_dir: str | os.PathLike, checkpoint_dir: str | os.PathLike, resume: bool,
                        error: type[Exception] = ValueError) -> None:
    """A fresh run must not overwrite another run's checkpoints: raise `error` unless resuming."""
    if not resume and list_checkpoints(checkpoint_dir):
        raise error(MSG_RUN_DIR_USED.format(path=run_dir))
