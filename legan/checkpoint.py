"""Training checkpoints: G, D, both optimizers, AMP scalers, iteration, config and the RNG
state of every process, so that resuming continues exactly where the run stopped.

Names, atomic writes and RNG capture are runkit.checkpoints'. Also `load_generator(path)`:
rebuilds the generator for synthesis from a checkpoint alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from runkit.checkpoints import save_checkpoint as runkit_save
from runkit.contract import InputContract

MSG_BAD_CHECKPOINT = "{path} is not a LEGAN training checkpoint (missing {key!r})"


def legan_contract(config: dict) -> InputContract:
    """What G reads: an aligned, unmasked RGB face at the run's image size in [-1, 1] (the
    masks of the data set weight losses, they do not touch the input). Also the default for
    checkpoints written before contracts were saved."""
    return InputContract(size=int(config["image_size"]), mask="none")


def save_checkpoint(path: Path, *, G, D, opt_G, opt_D, scalers: dict, iteration: int,
                    config: dict, rng_states: list, extra: Optional[dict] = None, keep: int = 0) -> Path:
    """Write atomically and keep only the newest `keep` checkpoints (0: all): runkit's save."""
    payload = {
        "G": G.state_dict(), "D": D.state_dict(),
        "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
        "scalers": {k: s.state_dict() for k, s in scalers.items() if s is not None},
        "iteration": iteration, "config": config, "rng": rng_states,
        "torch_version": torch.__version__, "input_contract": legan_contract(config).to_dict(),
        **(extra or {}),
    }
    return runkit_save(path, payload, keep=keep)


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    payload = torch.load(Path(path), map_location=map_location, weights_only=False)
    for key in ("G", "D", "iteration", "config"):
        if not isinstance(payload, dict) or key not in payload:
            raise ValueError(MSG_BAD_CHECKPOINT.format(path=path, key=key))
    return payload


def checked_contract(payload: dict, path) -> InputContract:
    """The checkpoint's input contract, which must be the one its config implies (ValueError)."""
    expected = legan_contract(payload["config"])
    return InputContract.from_checkpoint(payload, expected, str(path)).require(expected, str(path))


def load_generator(path: Path, map_location="cpu"):
    """(generator in eval mode with its checked `input_contract`, TrainConfig) from a training
    checkpoint."""
    from legan.arch import build_generator
    from legan.config import TrainConfig

    payload = load_checkpoint(path, map_location)
    config = TrainConfig.from_dict(payload["config"])
    contract = checked_contract(payload, path)
    if config.model.arch == "stargan-v2":  # its EMA translator, called like the other generators
        from legan.stargan_v2.translator import translator_from_checkpoint

        G = translator_from_checkpoint(payload, map_location, str(path))
    else:
        G = build_generator(config.model, len(config.expressions), len(config.lightings))
        G.load_state_dict(payload["G"])
        G = G.eval()
    G.input_contract = contract
    return G, config


def load_stargan_v2(path: Path, device="cpu"):
    """The EMA translator of a StarGAN v2 training checkpoint, in eval mode on `device`;
    ValueError for a checkpoint of another architecture."""
    from legan.stargan_v2.translator import translator_from_checkpoint

    payload = load_checkpoint(Path(path), map_location="cpu")
    contract = checked_contract(payload, path)
    translator = translator_from_checkpoint(payload, device, str(path))
    translator.input_contract = contract
    return translator
