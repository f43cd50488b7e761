"""Command line for `python -m quality.train`.

  python -m quality.train --labels export.csv --runs-root runs/q --name baseline
  python -m quality.train --labels export.csv --dry-run
  python -m quality.train --run-dir runs/q/00003-baseline --resume   # config from the run

Ctrl-C stops at the next step boundary after saving a checkpoint (resume with --resume).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
from pathlib import Path

from tqdm import tqdm

from faces.errors import UnreadableImageError
from quality.checkpoint import CheckpointError
from quality.config import ConfigError, TrainConfig
from quality.labels import LabelExportError
from quality.losses import LOSSES
from quality.model import QualityConfig
from quality.train import dry_run, train
from runkit.checkpoints import latest_checkpoint
from runkit.loop import TrainingStopped
from runkit.runs import CHECKPOINTS_DIR, make_run_dir

RESUME_NEEDS_RUN_DIR = "--resume needs --run-dir pointing at an existing run folder"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m quality.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labels", help="label export (CSV or Parquet, platform schema)")
    p.add_argument("--images-root", default=None, help="root for relative image paths "
                   "(default: the export's folder)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--run-dir", default=None, help="exact run folder (required for --resume)")
    where.add_argument("--runs-root", default="runs/q", help="parent of numbered run folders")
    p.add_argument("--name", default=None, help="run name suffix (default: the loss name)")
    p.add_argument("--loss", choices=sorted(LOSSES), default=TrainConfig.loss)
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default=TrainConfig.lr_schedule)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--channels", type=int, default=QualityConfig.channels)
    p.add_argument("--depth", type=int, default=QualityConfig.depth)
    p.add_argument("--fc-width", type=int, default=QualityConfig.fc_width)
    p.add_argument("--no-mirror", action="store_true", help="disable horizontal flips")
    p.add_argument("--eval-every", type=int, default=TrainConfig.eval_every)
    p.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every)
    p.add_argument("--amp", choices=("auto", "off", "bf16", "fp16"), default=TrainConfig.amp)
    p.add_argument("--device", default=TrainConfig.device)
    p.add_argument("--num-workers", type=int, default=TrainConfig.num_workers)
    p.add_argument("--resume", action="store_true", help="continue the newest checkpoint in --run-dir")
    p.add_argument("--dry-run", action="store_true", help="validate config and data, build the "
                   "model, print the parameter count; take no step")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    model = QualityConfig(channels=args.channels, depth=args.depth, fc_width=args.fc_width)
    return TrainConfig(labels=args.labels or "", images_root=args.images_root, loss=args.loss,
                       epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
                       lr=args.lr, lr_schedule=args.lr_schedule, seed=args.seed,
                       mirror=not args.no_mirror, model=model, eval_every=args.eval_every,
                       checkpoint_every=args.checkpoint_every, amp=args.amp, device=args.device,
                       num_workers=args.num_workers)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.resume:
            if not args.run_dir or not (Path(args.run_dir) / "config.json").is_file():
                raise ConfigError(RESUME_NEEDS_RUN_DIR)
            saved = json.loads((Path(args.run_dir) / "config.json").read_text())["train"]
            config = TrainConfig.from_dict(saved)
            print(f"resuming {args.run_dir} with its saved config", file=sys.stderr)
        else:
            config = config_from_args(args)
        if args.dry_run:
            print(json.dumps(dry_run(config), indent=2))
            return 0
        config.validate()
        fresh = not args.run_dir
        run_dir = Path(args.run_dir) if args.run_dir else make_run_dir(args.runs_root, args.name or config.loss)
        try:
            return _run(config, run_dir, args.resume)
        except BaseException:
            if fresh:
                _remove_if_nothing_to_resume(run_dir)
            raise
    except (ConfigError, LabelExportError, UnreadableImageError, CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C: abort without a traceback
        print("aborted", file=sys.stderr)
        return 130


def _remove_if_nothing_to_resume(run_dir: Path) -> None:
    """A run that failed before its first checkpoint leaves no folder behind (a numbered
    folder with nothing to resume only misleads)."""
    if run_dir.is_dir() and latest_checkpoint(run_dir / CHECKPOINTS_DIR) is None:
        shutil.rmtree(run_dir, ignore_errors=True)


def _run(config: TrainConfig, run_dir: Path, resume: bool) -> int:
    print(f"run folder: {run_dir}", file=sys.stderr)
    interrupted = {"flag": False}

    def on_sigint(signum, frame):  # first Ctrl-C: checkpoint and stop; second: abort
        if interrupted["flag"]:
            raise KeyboardInterrupt
        interrupted["flag"] = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    bar = tqdm(total=None, unit="step", dynamic_ncols=True)

    def on_progress(step: int, total: int, stats: dict) -> None:
        bar.total = total
        bar.n = step
        shown = {k.split("/")[-1]: v for k, v in stats.items()
                 if k.startswith(("Loss/Q/", "Metrics/val/mae", "Metrics/val/spearman")) and v is not None}
        bar.set_postfix({k: f"{v:.3f}" for k, v in shown.items()}, refresh=False)
        bar.refresh()

    try:
        result = train(config, run_dir=run_dir, resume=resume, on_progress=on_progress,
                       should_stop=lambda: interrupted["flag"])
    except TrainingStopped as stop:
        bar.close()
        print(f"stopped: {stop}; continue with --run-dir {run_dir} --resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.close()
    print(json.dumps({"run_dir": str(result.run_dir), "checkpoint": str(result.checkpoint_path),
                      **result.metrics}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
