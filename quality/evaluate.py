"""Evaluate Q against crowd labels: metrics JSON, per-image predictions, calibration PNG.

CLI: python -m quality.evaluate --checkpoint RUN/checkpoints/checkpoint-00001000.pt \
        --labels export.csv [--images-root DIR] [--split all|train|val|test] --out-dir DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from faces.errors import UnreadableImageError
from quality.data import QualityDataset
from quality.labels import LabelExportError, load_labels
from quality.metrics import compute_metrics, json_safe
from quality.plots import calibration_plot
from quality.splits import SPLIT_NAMES, split_labels
from runkit.device import select_device


@torch.no_grad()
def predict(model: torch.nn.Module, dataset: QualityDataset, batch_size: int = 64,
            device: torch.device | str | None = None, num_workers: int = 0) -> np.ndarray:
    """Scores (N,) for every item of ``dataset`` in order."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    out = [model(images.to(device)).float().cpu() for images, _, _ in loader]  # each (B,)
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


def evaluate_labels(model: torch.nn.Module, labels: pd.DataFrame, *, batch_size: int = 64,
                    out_dir: str | Path | None = None, name: str = "eval",
                    device: torch.device | str | None = None) -> dict:
    """Metrics of ``model`` on a validated label frame; writes files when out_dir is given."""
    dataset = QualityDataset(labels, image_size=model.config.image_size, cache=False)
    pred = predict(model, dataset, batch_size, device)
    metrics = compute_metrics(pred, labels["mu"].to_numpy(), labels["sigma"].to_numpy())
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}_metrics.json").write_text(json.dumps(json_safe(metrics), indent=2) + "\n")
        frame = labels[["image_path", "mu", "sigma"]].copy()
        frame["pred"] = pred
        frame.to_csv(out / f"{name}_predictions.csv", index=False)
        if len(pred):
            calibration_plot(pred, labels["mu"].to_numpy(), out / f"{name}_calibration.png",
                             title=f"Q calibration ({name}, n={len(pred)})")
    return metrics


def main(argv: list[str] | None = None) -> int:
    from quality.checkpoint import CheckpointError, load_checkpoint, load_quality_model

    parser = argparse.ArgumentParser(prog="python -m quality.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--labels", required=True, help="label export (CSV or Parquet)")
    parser.add_argument("--images-root", default=None)
    parser.add_argument("--split", default="all", choices=("all",) + SPLIT_NAMES,
                        help="evaluate one split, re-derived with the checkpoint's split seed")
    parser.add_argument("--out-dir", default=None, help="default: <checkpoint folder>/../eval")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    try:
        device = select_device("auto")
        model = load_quality_model(args.checkpoint, map_location=device)
        labels = load_labels(args.labels, args.images_root)
        if args.split != "all":
            cfg = load_checkpoint(args.checkpoint)["train_config"]
            seed = cfg["split_seed"] if cfg.get("split_seed") is not None else cfg["seed"]
            labels = split_labels(labels, seed, tuple(cfg["split_fractions"]))[args.split]
        out_dir = Path(args.out_dir) if args.out_dir else Path(args.checkpoint).resolve().parent.parent / "eval"
        metrics = evaluate_labels(model, labels, batch_size=args.batch_size, out_dir=out_dir,
                                  name=args.split, device=device)
    except (CheckpointError, LabelExportError, UnreadableImageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(json_safe(metrics), indent=2))
    print(f"wrote {out_dir}/{args.split}_metrics.json and {args.split}_calibration.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
