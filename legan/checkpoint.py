"""Training checkpoints: G, D, both optimizers, AMP scalers, iteration, config and the RNG
state of every process, so that resuming continues exactly where the run stopped.

Also `load_generator(path)`: rebuilds the generator for synthesis from a checkpoint alone.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Optional

import numpy as np
import torch

CHECKPOINT_PATTERN = "checkpoint-*.pt"
MSG_NO_CHECKPOINT = "no checkpoint (checkpoint-*.pt) found in {path}"
MSG_BAD_CHECKPOINT = "{path} is not a LEGAN training checkpoint (missing {key!r})"
MSG_CUDA_RNG_PARTIAL = ("the checkpoint holds CUDA RNG states for {saved} device(s), this process sees {seen}: "
                        "restored devices {restored}, not restored {skipped}; random draws on those devices "
                        "will differ from the uninterrupted run")

log = logging.getLogger(__name__)


def checkpoint_path(directory: Path, iteration: int) -> Path:
    return Path(directory) / f"checkpoint-{iteration:08d}.pt"


def list_checkpoints(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob(CHECKPOINT_PATTERN))


def latest_checkpoint(directory: Path) -> Path:
    found = list_checkpoints(directory)
    if not found:
        raise FileNotFoundError(MSG_NO_CHECKPOINT.format(path=directory))
    return found[-1]


def capture_rng(extra: Optional[torch.Generator] = None) -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if extra is not None:
        state["targets"] = extra.get_state()
    return state


def restore_rng(state: dict, extra: Optional[torch.Generator] = None) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    restore_cuda_rng(state.get("cuda"))
    if extra is not None and "targets" in state:
        extra.set_state(state["targets"])


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


def save_checkpoint(path: Path, *, G, D, opt_G, opt_D, scalers: dict, iteration: int,
                    config: dict, rng_states: list, extra: Optional[dict] = None, keep: int = 0) -> Path:
    """Write atomically (tmp + rename) and keep only the newest `keep` checkpoints (0: all)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "G": G.state_dict(), "D": D.state_dict(),
        "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
        "scalers": {k: s.state_dict() for k, s in scalers.items() if s is not None},
        "iteration": iteration, "config": config, "rng": rng_states,
        "torch_version": torch.__version__, **(extra or {}),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    if keep > 0:
        for old in list_checkpoints(path.parent)[:-keep]:
            old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    payload = torch.load(Path(path), map_location=map_location, weights_only=False)
    for key in ("G", "D", "iteration", "config"):
        if not isinstance(payload, dict) or key not in payload:
            raise ValueError(MSG_BAD_CHECKPOINT.format(path=path, key=key))
    return payload


def load_generator(path: Path, map_location="cpu"):
    """(generator in eval mode, TrainConfig) from a training checkpoint."""
    from legan.arch import build_generator
    from legan.config import TrainConfig

    payload = load_checkpoint(path, map_location)
    config = TrainConfig.from_dict(payload["config"])
    if config.model.arch == "stargan-v2":  # its EMA translator, called like the other generators
        from legan.stargan_v2 import load_translator

        return load_translator(path, map_location), config
    G = build_generator(config.model, len(config.expressions), len(config.lightings))
    G.load_state_dict(payload["G"])
    return G.eval(), config
