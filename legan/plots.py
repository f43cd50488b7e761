"""Loss curves (PNG) from a run's JSONL stats: one panel for D's terms, one for G's."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on training machines
import matplotlib.pyplot as plt  # noqa: E402

from runkit.runs import read_stats  # noqa: E402


def plot_losses(stats_path: Path, png_path: Path) -> Path | None:
    """Plot every Loss/D/* and Loss/G/* series against the iteration; None if no stats yet."""
    records = read_stats(stats_path)
    if not records:
        return None
    validation = sorted({k for r in records for k in r if k.startswith("Val/")})
    fig, axes = plt.subplots(1, 3 if validation else 2, figsize=(18 if validation else 12, 4.5))
    if validation:  # held-out pairs (legan.validation): a collapse shows here while training
        for name in validation:
            pts = [(r["iteration"], r[name]) for r in records if name in r]
            axes[2].plot(*zip(*pts), marker=".", label=name[4:])
        axes[2].set_title("validation (held-out subjects)")
        axes[2].set_xlabel("iteration (D steps)")
        axes[2].grid(alpha=0.3)
        axes[2].legend(fontsize=8)
    for ax, phase in zip(axes, ("D", "G")):
        prefix = f"Loss/{phase}/"
        names = sorted({k for r in records for k in r if k.startswith(prefix)})
        for name in names:
            pts = [(r["iteration"], r[name]) for r in records if name in r]
            ax.plot(*zip(*pts), label=name[len(prefix):])
        ax.set_title(f"{phase} losses")
        ax.set_xlabel("iteration (D steps)")
        ax.set_yscale("symlog", linthresh=1e-2)  # terms differ by orders of magnitude
        ax.grid(alpha=0.3)
        if names:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
    return Path(png_path)
