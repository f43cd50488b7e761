"""Run-folder artifacts of the colouriser trainer: generator export, plots, sample grids
(checkpoints are runkit.checkpoints')."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from legan.augment.colorize_model import ColorizeNetConfig, UNetGenerator
from runkit.checkpoints import save_checkpoint
from runkit.runs import STATS_NAME, read_stats

GENERATOR_FILE = "generator.pt"
KEEP_CHECKPOINTS = 2  # full checkpoints are ~0.5 GB at the default width
MSG_NOT_A_GENERATOR = "{path} is not a colouriser checkpoint (needs 'G' and 'config'/'net_config' entries)."


def save_generator(path: Path, generator: UNetGenerator, net_config: ColorizeNetConfig, step: int) -> None:
    save_checkpoint(path, {"G": generator.state_dict(), "net_config": net_config.to_dict(), "step": step})


def load_generator(path: str | Path, map_location: str | torch.device = "cpu") -> UNetGenerator:
    """Generator in eval mode from generator.pt or a full training checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Colouriser checkpoint not found: {path}")
    state = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(state, dict) or "G" not in state:
        raise ValueError(MSG_NOT_A_GENERATOR.format(path=path))
    if "net_config" in state:
        net = ColorizeNetConfig(**state["net_config"])
    elif "config" in state and "net" in state["config"]:
        net = ColorizeNetConfig(**state["config"]["net"])
    else:
        raise ValueError(MSG_NOT_A_GENERATOR.format(path=path))
    generator = UNetGenerator(net)
    generator.load_state_dict(state["G"])
    generator.to(map_location).eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    return generator


def _to_uint8(batch: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (B, H, W, 3) uint8 (grey replicated)."""
    if batch.shape[1] == 1:
        batch = batch.repeat(1, 3, 1, 1)
    return ((batch.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def save_sample_grid(path: Path, grey: torch.Tensor, fake: torch.Tensor, real: torch.Tensor) -> None:
    """Rows: grey input, generated colour, real colour; one column per sample."""
    rows = [np.concatenate(list(_to_uint8(t)), axis=1) for t in (grey, fake, real)]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def save_loss_plot(run_dir: Path) -> None:
    records = read_stats(run_dir / STATS_NAME)
    if not records:
        return
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [k for k in records[-1] if k.startswith("Loss/")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    steps = [r["step"] for r in records]
    for name in names:
        ax = axes[0] if name.startswith("Loss/D") else axes[1]
        ax.plot(steps, [r.get(name, np.nan) for r in records], label=name)
    for ax, title in zip(axes, ("discriminator", "generator")):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    (run_dir / "plots").mkdir(exist_ok=True)
    fig.savefig(run_dir / "plots" / "losses.png", dpi=100)
    plt.close(fig)
